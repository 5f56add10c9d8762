/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event descriptions of the real boot chains (issue 10), on the project's own
 * captures (tests/data/captures/ovmf-sb-grub: Secure Boot on, shim -> GRUB ->
 * kernel; ovmf-sdboot-uki: systemd-boot -> UKI) and on the public real-hardware
 * logs in ../shared/eventlogs (skipped when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "eventlog.h"
#include "util.h"

static eventlog *load(const char *dir_env, const char *rel)
{
    const char *dir = getenv(dir_env);
    char path[4096];
    uint8_t *buf = NULL;
    size_t size;
    eventlog *log = NULL;
    bg_err err = {{0}};
    if (!dir)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (read_file(path, EVENTLOG_MAX_SIZE, &buf, &size, &err) < 0)
        return NULL;
    assert_int_equal(eventlog_parse(buf, size, &log, &err), 0);
    free(buf);
    return log;
}

/* The description of the first event with pcr/type whose description contains
 * `part`, or NULL. */
static const char *find(const eventlog *log, uint32_t pcr, uint32_t type, const char *part,
                        const eventlog_event **ret_ev)
{
    static char d[512];
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        if (ev->pcr != pcr || ev->type != type)
            continue;
        eventlog_event_describe(ev, d, sizeof d);
        if (strstr(d, part)) {
            if (ret_ev)
                *ret_ev = ev;
            return d;
        }
    }
    return NULL;
}

#define GUID_GLOBAL "8be4df61-93ca-11d2-aa0d-00e098032b8c "
#define GUID_DB     "d719b2cb-3d3a-4596-a3bc-dad00e67656f "
#define GUID_SHIM   "605dab50-e046-4300-abb6-3dd810dd8b23 "

static void test_secure_boot_grub(void **state)
{
    (void)state;
    eventlog *log = load("BOOTGATE_TEST_DATA", "captures/ovmf-sb-grub/eventlog.bin");
    const eventlog_event *ev = NULL;
    const char *d;
    if (!log)
        skip();
    static const struct {
        uint32_t pcr, type;
        const char *want;
    } v[] = {
        /* PCR 7: the Secure Boot state and databases (OVMF_VARS_4M.ms.fd) */
        {7, EV_EFI_VARIABLE_DRIVER_CONFIG, GUID_GLOBAL "SecureBoot: enabled"},
        {7, EV_EFI_VARIABLE_DRIVER_CONFIG,
         GUID_GLOBAL "PK: 1 entry (1 X.509: Debian UEFI Secure Boot (PK/KEK key))"},
        {7, EV_EFI_VARIABLE_DRIVER_CONFIG,
         GUID_GLOBAL "KEK: 2 entries (2 X.509: Debian UEFI Secure Boot (PK/KEK key), Microsoft "
                     "Corporation KEK CA 2011)"},
        {7, EV_EFI_VARIABLE_DRIVER_CONFIG,
         GUID_DB "db: 2 entries (2 X.509: Microsoft Windows Production PCA 2011, Microsoft "
                 "Corporation UEFI CA 2011)"},
        {7, EV_EFI_VARIABLE_DRIVER_CONFIG, GUID_DB "dbx: 1 entry (1 SHA-256)"},
        /* the db certificate that verified shim, shim's certificate for GRUB */
        {7, EV_EFI_VARIABLE_AUTHORITY,
         GUID_DB "db: authority CN=Microsoft Corporation UEFI CA 2011"},
        {7, EV_EFI_VARIABLE_AUTHORITY, GUID_SHIM "MokListRT: authority CN=Debian Secure Boot CA"},
        {7, EV_EFI_VARIABLE_AUTHORITY, GUID_SHIM "SbatLevel: sbat,1,"},
        /* PCR 14: shim's MOK lists */
        {14, EV_IPL, "MokList"},
        {14, EV_IPL, "MokListX"},
        {14, EV_IPL, "MokListTrusted"},
        /* PCR 8: GRUB's commands and the kernel command line */
        {8, EV_IPL, "grub_cmd: source (hd0,gpt1)/EFI/debian/grub.cfg"},
        {8, EV_IPL, "grub_cmd: linux /EFI/debian/vmlinuz console=ttyS0,115200"},
        {8, EV_IPL, "kernel_cmdline: /EFI/debian/vmlinuz console=ttyS0,115200"},
        {8, EV_IPL, "grub_cmd: initrd /EFI/debian/initrd.img"},
        {8, EV_IPL, "grub_cmd: boot"},
        /* PCR 9: the files GRUB read */
        {9, EV_IPL, "(hd0,gpt1)/EFI/debian/grub.cfg"},
        {9, EV_IPL, "/EFI/debian/vmlinuz"},
        {9, EV_IPL, "/EFI/debian/initrd.img"},
        /* PCR 4: shim, GRUB (as shim loaded it), the kernel (shim's verification) */
        {4, EV_EFI_BOOT_SERVICES_APPLICATION, "File(\\EFI\\BOOT\\BOOTX64.EFI)"},
        {4, EV_EFI_BOOT_SERVICES_APPLICATION, "File(\\EFI\\BOOT\\grubx64.efi)"},
        {4, EV_EFI_BOOT_SERVICES_APPLICATION, "image at 0x"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        d = find(log, v[i].pcr, v[i].type, v[i].want, NULL);
        if (!d)
            fail_msg("no PCR %u event described as \"%s\"", v[i].pcr, v[i].want);
    }
    /* GRUB's strings: the digest is SHA-256 of the command without prefix. */
    assert_non_null(find(log, 8, EV_IPL, "grub_cmd: boot", &ev));
    const eventlog_digest *dg = eventlog_event_digest(ev, TPMALG_SHA256);
    uint8_t want[32];
    assert_non_null(dg);
    EVP_Digest("boot", 4, want, NULL, EVP_sha256(), NULL);
    assert_memory_equal(dg->bytes, want, 32);
    /* The grub.cfg event's digest is the file's (committed beside the log). */
    assert_non_null(find(log, 9, EV_IPL, "grub.cfg", &ev));
    {
        const char *dir = getenv("BOOTGATE_TEST_DATA");
        char path[4096];
        uint8_t *cfg = NULL;
        size_t n;
        bg_err err = {{0}};
        snprintf(path, sizeof path, "%s/captures/ovmf-sb-grub/grub.cfg", dir);
        assert_int_equal(read_file(path, 1 << 20, &cfg, &n, &err), 0);
        EVP_Digest(cfg, n, want, NULL, EVP_sha256(), NULL);
        free(cfg);
        dg = eventlog_event_digest(ev, TPMALG_SHA256);
        assert_memory_equal(dg->bytes, want, 32);
    }
    eventlog_free(log);
}

static void test_systemd_boot(void **state)
{
    (void)state;
    eventlog *log = load("BOOTGATE_TEST_DATA", "captures/ovmf-sdboot-uki/eventlog.bin");
    if (!log)
        skip();
    assert_non_null(
        find(log, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, GUID_GLOBAL "SecureBoot: disabled", NULL));
    assert_non_null(find(log, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, GUID_GLOBAL "PK: empty", NULL));
    assert_non_null(
        find(log, 4, EV_EFI_BOOT_SERVICES_APPLICATION, "File(\\EFI\\Linux\\bootgate.efi)", NULL));
    /* systemd-boot and systemd-stub: the command line (PCR 12), UKI sections (11) */
    assert_non_null(find(log, 12, EV_IPL, "console=ttyS0,115200", NULL));
    assert_non_null(find(log, 11, EV_IPL, ".linux", NULL));
    assert_non_null(find(log, 11, EV_IPL, ".cmdline", NULL));
    assert_non_null(find(log, 9, EV_EVENT_TAG, "LOADED_IMAGE::LoadOptions", NULL));
    eventlog_free(log);
}

/* Real hardware (../shared/eventlogs/SOURCES.md): every Secure Boot variable
 * decodes; nothing is "malformed". */
static void test_shared_logs(void **state)
{
    (void)state;
    static const struct {
        const char *file, *want;
        uint32_t pcr, type;
    } v[] = {
        {"arch-linux.bin", GUID_DB "dbx: 77 entries (77 SHA-256)", 7,
         EV_EFI_VARIABLE_DRIVER_CONFIG},
        {"arch-linux.bin", "db: 12 entries (3 X.509: Joe Richey (DB)", 7,
         EV_EFI_VARIABLE_DRIVER_CONFIG},
        {"moklisttrusted.bin", GUID_GLOBAL "SecureBoot: enabled", 7, EV_EFI_VARIABLE_DRIVER_CONFIG},
        {"moklisttrusted.bin", "db: authority CN=Microsoft Corporation UEFI CA 2011", 7,
         EV_EFI_VARIABLE_AUTHORITY},
        {"postcode.bin", "Shim: authority CN=Canonical Ltd. Master Certificate Authority", 7,
         EV_EFI_VARIABLE_AUTHORITY},
        {"gce-ubuntu-2104-log.bin", "SbatLevel: sbat,1,2021030218", 7, EV_EFI_VARIABLE_AUTHORITY},
        {"bootorder.bin", "grub_cmd: [ -e (hd0,gpt15)/boot/grub/grub.cfg ]", 8, EV_IPL},
    };
    size_t loaded = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "eventlogs/%s", v[i].file);
        eventlog *log = load("BOOTGATE_SHARED", rel);
        if (!log)
            continue;
        loaded++;
        if (!find(log, v[i].pcr, v[i].type, v[i].want, NULL))
            fail_msg("%s: no PCR %u event described as \"%s\"", v[i].file, v[i].pcr, v[i].want);
        for (size_t k = 0; k < log->n_events; k++) {
            char d[512];
            eventlog_event_describe(&log->events[k], d, sizeof d);
            if (strstr(d, "malformed"))
                fail_msg("%s event %zu: %s", v[i].file, k, d);
        }
        eventlog_free(log);
    }
    if (!loaded)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secure_boot_grub),
        cmocka_unit_test(test_systemd_boot),
        cmocka_unit_test(test_shared_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
