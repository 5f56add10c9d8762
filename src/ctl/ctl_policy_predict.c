/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl policy predict: the baseline of a new image before it boots.
 * A reference log of the current image is edited where the new image's
 * components are measured, then replayed:
 *  - PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION: the PE Authenticode hash the
 *    firmware measures for the image it starts (TCG PC Client PFP 10.4.4);
 *  - PCR 9, EV_EVENT_TAG "Linux initrd" / "LOADED_IMAGE::LoadOptions": Linux's
 *    EFI stub (drivers/firmware/efi/libstub, efi_measure_tagged_event) hashes
 *    the initrd bytes and its LoadOptions;
 *  - PCR 11, EV_IPL: systemd-stub measures each UKI section as two events, the
 *    section name (with its NUL) and then the section contents (VirtualSize
 *    bytes as loaded, i.e. zero-filled past the raw data).
 * Only events already in the reference are edited: an image that adds or
 * drops measured components needs a capture from a real boot. */
#include "ctl_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authenticode.h"
#include "ctl.h"
#include "ctl_policy_predict_grub.h"
#include "ctl_policy_predict_sbvar.h"
#include "policy.h"
#include "proto.h"
#include "util.h"

static int file_sha256(const char *path, uint8_t out[32])
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    bg_err err = {{0}};
    if (read_file(path, 1u << 30, &buf, &size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (EVP_Digest(buf, size, out, NULL, EVP_sha256(), NULL) != 1)
        return ctl_error(CTL_EXIT_RUNTIME, "sha256 failed");
    return CTL_EXIT_OK;
}

/* Linux EFI stub (drivers/firmware/efi/libstub/efi-stub-helper.c,
 * efi_measure_tagged_event): the command line is measured as the
 * LOADED_IMAGE LoadOptions bytes, which a boot loader passes as UTF-16LE with
 * a terminating NUL. Non-ASCII command lines are refused rather than guessed. */
static int cmdline_sha256(const char *cmdline, uint8_t out[32])
{
    size_t n = strlen(cmdline);
    if (n > 65536)
        return ctl_usage_error("policy predict", "--cmdline too long");
    _cleanup_(freep) uint8_t *u = calloc(n + 1, 2);
    if (!u)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)cmdline[i] >= 0x80)
            return ctl_usage_error("policy predict", "--cmdline: ASCII only");
        u[2 * i] = (uint8_t)cmdline[i];
    }
    if (EVP_Digest(u, 2 * (n + 1), out, NULL, EVP_sha256(), NULL) != 1)
        return ctl_error(CTL_EXIT_RUNTIME, "sha256 failed");
    return CTL_EXIT_OK;
}

static eventlog_digest *sha256_slot(eventlog_event *ev)
{
    return (eventlog_digest *)eventlog_event_digest(ev, TPMALG_SHA256);
}

/* The last event matching pcr/type (and description substring when given). */
static eventlog_event *find_last(eventlog *log, uint32_t pcr, uint32_t type, const char *desc)
{
    char d[256];
    for (size_t i = log->n_events; i-- > 0;) {
        eventlog_event *ev = &log->events[i];
        if (ev->pcr != pcr || ev->type != type)
            continue;
        if (desc) {
            eventlog_event_describe(ev, d, sizeof d);
            if (!strstr(d, desc))
                continue;
        }
        return ev;
    }
    return NULL;
}

static int substitute(eventlog *log, uint32_t pcr, uint32_t type, const char *desc,
                      const uint8_t digest[32], const char *what)
{
    eventlog_event *ev = find_last(log, pcr, type, desc);
    eventlog_digest *d = ev ? sha256_slot(ev) : NULL;
    char tb[16];
    const char *tn = eventlog_type_name(type);
    if (!tn)
        snprintf(tb, sizeof tb, "0x%08x", type), tn = tb;
    if (!d || d->size != 32)
        return ctl_error(CTL_EXIT_FAIL,
                         "%s: the reference log has no PCR %u %s%s%s%s event with a sha256 "
                         "digest to substitute",
                         what, pcr, tn, desc ? " \"" : "", desc ? desc : "", desc ? "\"" : "");
    memcpy(d->bytes, digest, 32);
    return CTL_EXIT_OK;
}

/* The UKI sections systemd-stub measures into PCR 11 (src/boot/efi/stub.c,
 * unified_sections[] minus .pcrsig, which carries signatures of PCR 11). */
static const char *const uki_measured[] = {".linux", ".osrel", ".cmdline", ".initrd",  ".splash",
                                           ".dtb",   ".uname", ".sbat",    ".pcrpkey", NULL};

static bool uki_is_measured(const char *name)
{
    for (size_t i = 0; uki_measured[i]; i++)
        if (!strcmp(uki_measured[i], name))
            return true;
    return false;
}

/* Section contents as the stub hashes them: VirtualSize bytes, zero-filled
 * beyond SizeOfRawData. */
static int section_sha256(const uint8_t *img, const pe_section *s, uint8_t out[32])
{
    static const uint8_t zeros[4096];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t raw = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
    size_t pad = s->virtual_size - raw;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, img + s->raw_offset, raw) == 1;
    while (ok && pad > 0) {
        size_t n = pad < sizeof zeros ? pad : sizeof zeros;
        ok = EVP_DigestUpdate(ctx, zeros, n) == 1;
        pad -= n;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EIO;
}

/* Sections every systemd-stub version measures (since v246). */
static bool uki_always_measured(const char *name)
{
    static const char *const always[] = {".linux",  ".osrel", ".cmdline", ".initrd",
                                         ".splash", ".dtb",   NULL};
    for (size_t i = 0; always[i]; i++)
        if (!strcmp(always[i], name))
            return true;
    return false;
}

static const pe_section *find_section(const pe_section *s, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].name, name))
            return &s[i];
    return NULL;
}

/* Edits the reference for a new UKI: PCR 4 (the UKI and, when the stub
 * started the kernel through LoadImage, the embedded kernel), PCR 11
 * sections, and PCR 9 initrd / command line unless given explicitly. */
static int predict_uki(eventlog *log, const char *path, bool initrd_given, bool cmdline_given)
{
    _cleanup_(freep) uint8_t *img = NULL;
    _cleanup_(freep) pe_section *secs = calloc(AUTHENTICODE_MAX_SECTIONS, sizeof *secs);
    size_t size;
    bg_err err = {{0}};
    uint8_t d[32];
    char desc[256];
    int n, r;

    if (!secs)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if (read_file(path, AUTHENTICODE_MAX_SIZE, &img, &size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if ((n = pe_sections(img, size, secs, AUTHENTICODE_MAX_SECTIONS, &err)) < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", path, bg_err_msg(&err));
    const pe_section *linux_sec = find_section(secs, n, ".linux");
    if (!linux_sec)
        return ctl_error(CTL_EXIT_FAIL, "%s: no .linux section, not a UKI", path);

    /* PCR 11: every content event of a section the reference measured. */
    size_t edited = 0;
    char prev[256] = "";
    for (size_t i = 0; i < log->n_events; i++) {
        eventlog_event *ev = &log->events[i];
        if (ev->pcr != 11 || ev->type != EV_IPL)
            continue;
        eventlog_event_describe(ev, desc, sizeof desc);
        if (strcmp(desc, prev)) { /* the name event; its content event follows */
            snprintf(prev, sizeof prev, "%s", desc);
            continue;
        }
        prev[0] = 0;
        const pe_section *s = find_section(secs, n, desc);
        if (!s)
            return ctl_error(CTL_EXIT_FAIL,
                             "%s has no %s section but the reference measured one; capture "
                             "this image from a real boot",
                             path, desc);
        eventlog_digest *dg = (eventlog_digest *)eventlog_event_digest(ev, TPMALG_SHA256);
        if (!dg || dg->size != 32 || section_sha256(img, s, dg->bytes) < 0)
            return ctl_error(CTL_EXIT_FAIL, "PCR 11 event %u: no sha256 digest", ev->index);
        edited++;
    }
    if (!edited)
        return ctl_error(CTL_EXIT_FAIL, "the reference log has no UKI section measurements in "
                                        "PCR 11; it is not a systemd-stub boot");
    for (int i = 0; i < n; i++) {
        bool seen = false;
        if (!uki_is_measured(secs[i].name))
            continue;
        for (size_t j = 0; j < log->n_events && !seen; j++)
            if (log->events[j].pcr == 11 && log->events[j].type == EV_IPL) {
                eventlog_event_describe(&log->events[j], desc, sizeof desc);
                seen = !strcmp(desc, secs[i].name);
            }
        /* .uname, .sbat and .pcrpkey are measured only by newer stubs
         * (v254+): the reference tells whether this stub does. */
        if (!seen && uki_always_measured(secs[i].name))
            return ctl_error(CTL_EXIT_FAIL,
                             "%s adds a %s section the reference does not measure; capture "
                             "this image from a real boot",
                             path, secs[i].name);
        if (!seen)
            fprintf(stderr,
                    "bootgatectl: note: %s has a %s section the reference stub did not "
                    "measure; assuming the same stub\n",
                    path, secs[i].name);
    }

    /* PCR 4: the UKI itself, then (systemd-stub before v254) the kernel it
     * loads from memory, whose device path is a VenMedia node. */
    eventlog_event *last = NULL, *before = NULL;
    for (size_t i = 0; i < log->n_events; i++)
        if (log->events[i].pcr == 4 && log->events[i].type == EV_EFI_BOOT_SERVICES_APPLICATION) {
            before = last;
            last = &log->events[i];
        }
    if (!last)
        return ctl_error(CTL_EXIT_FAIL, "the reference log has no PCR 4 boot application");
    eventlog_event_describe(last, desc, sizeof desc);
    eventlog_event *uki_ev = last;
    if (!strncmp(desc, "VenMedia(", 9) && before) {
        uint8_t k[32];
        if (linux_sec->raw_size < linux_sec->virtual_size)
            return ctl_error(CTL_EXIT_FAIL, "%s: .linux section is truncated", path);
        if (authenticode_digest(img + linux_sec->raw_offset, linux_sec->virtual_size, TPMALG_SHA256,
                                k, sizeof k, &err) < 0)
            return ctl_error(CTL_EXIT_FAIL, "%s .linux: %s", path, bg_err_msg(&err));
        eventlog_digest *dg = (eventlog_digest *)eventlog_event_digest(last, TPMALG_SHA256);
        if (!dg || dg->size != 32)
            return ctl_error(CTL_EXIT_FAIL, "PCR 4 event %u: no sha256 digest", last->index);
        memcpy(dg->bytes, k, 32);
        uki_ev = before;
    }
    if (authenticode_digest(img, size, TPMALG_SHA256, d, sizeof d, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", path, bg_err_msg(&err));
    eventlog_digest *dg = (eventlog_digest *)eventlog_event_digest(uki_ev, TPMALG_SHA256);
    if (!dg || dg->size != 32)
        return ctl_error(CTL_EXIT_FAIL, "PCR 4 event %u: no sha256 digest", uki_ev->index);
    memcpy(dg->bytes, d, 32);

    /* PCR 9: the stub hands .initrd and .cmdline to the kernel's EFI stub. */
    const pe_section *s;
    if (!initrd_given && (s = find_section(secs, n, ".initrd"))) {
        if (section_sha256(img, s, d) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "sha256 failed");
        if ((r = substitute(log, 9, EV_EVENT_TAG, "Linux initrd", d, ".initrd")) != CTL_EXIT_OK)
            return r;
    }
    if (!cmdline_given && (s = find_section(secs, n, ".cmdline"))) {
        size_t len = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
        const uint8_t *c = img + s->raw_offset;
        const uint8_t *nul = memchr(c, 0, len);
        _cleanup_(freep) char *text = strndup((const char *)c, nul ? (size_t)(nul - c) : len);
        if (!text)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        if ((r = cmdline_sha256(text, d)) != CTL_EXIT_OK)
            return r;
        if ((r = substitute(log, 9, EV_EVENT_TAG, "LOADED_IMAGE::LoadOptions", d, ".cmdline")) !=
            CTL_EXIT_OK)
            return r;
    }
    return CTL_EXIT_OK;
}

/* --systemd-boot: a systemd-boot reference has, in PCR 4, the boot loader the
 * firmware started and then the UKI (\EFI\Linux\...) systemd-boot started
 * (and the kernel the stub loaded): the first application is systemd-boot's. */
static int predict_sdboot(eventlog *log, const char *path)
{
    eventlog_event *apps[2] = {NULL, NULL};
    char desc[256];
    size_t n = 0;
    for (size_t i = 0; i < log->n_events && n < 2; i++)
        if (log->events[i].pcr == 4 && log->events[i].type == EV_EFI_BOOT_SERVICES_APPLICATION)
            apps[n++] = &log->events[i];
    if (n < 2)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 4: the reference log has %zu boot applications; a "
                         "systemd-boot boot has the loader and the UKI",
                         n);
    eventlog_event_describe(apps[1], desc, sizeof desc);
    if (!strstr(desc, "\\EFI\\Linux\\") && !strstr(desc, "\\EFI\\linux\\"))
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 4: the reference's second boot application (event %u, %s) is not "
                         "a UKI from \\EFI\\Linux: not a systemd-boot boot this tool knows",
                         apps[1]->index, desc);
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    uint8_t d[32];
    bg_err err = {{0}};
    if (read_file(path, AUTHENTICODE_MAX_SIZE, &buf, &size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (authenticode_digest(buf, size, TPMALG_SHA256, d, sizeof d, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "PCR 4: %s: %s", path, bg_err_msg(&err));
    eventlog_digest *dg = sha256_slot(apps[0]);
    if (!dg || dg->size != 32)
        return ctl_error(CTL_EXIT_FAIL, "PCR 4 event %u: no sha256 digest", apps[0]->index);
    memcpy(dg->bytes, d, 32);
    return CTL_EXIT_OK;
}

int ctl_policy_load_into(const char *cmd, const char *path, ctl_doc_opts *o, json_object **ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    _cleanup_(policy_freep) policy *p = NULL;
    size_t size;
    bg_err err = {{0}};
    if (read_file(path, 4u << 20, &buf, &size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    json_object *doc = json_tokener_parse((const char *)buf);
    if (!doc || policy_from_json(doc, &p, &err) < 0) {
        json_object_put(doc);
        return ctl_error(CTL_EXIT_FAIL, "--into %s: not a valid policy: %s", path,
                         bg_err_msg(&err));
    }
    if (strcmp(p->name, o->name)) {
        json_object_put(doc);
        return ctl_usage_error(cmd, "--into %s is policy '%s', not --name '%s'", path, p->name,
                               o->name);
    }
    if ((uint64_t)o->version <= p->version) {
        json_object_put(doc);
        return ctl_usage_error(cmd, "--version %lld must be greater than %s's version %lld",
                               (long long)o->version, path, (long long)p->version);
    }
    o->gate = p->gate_mask;
    *ret = doc;
    return CTL_EXIT_OK;
}

int ctl_policy_emit_into(const char *cmd, const ctl_doc_opts *o, const char *path,
                         json_object *current, json_object *baseline)
{
    json_object *bls = NULL, *pcrs = NULL, *name = NULL;
    json_object_object_get_ex(baseline, "pcrs", &pcrs);
    json_object_object_get_ex(baseline, "name", &name);
    if (!json_object_object_get_ex(current, "baselines", &bls) ||
        !json_object_is_type(bls, json_type_array)) {
        json_object_put(baseline);
        return ctl_error(CTL_EXIT_FAIL, "--into %s: no baselines array", path);
    }
    bool add = true;
    for (size_t i = 0; i < json_object_array_length(bls); i++) {
        json_object *b = json_object_array_get_idx(bls, i), *bp = NULL, *bn = NULL;
        json_object_object_get_ex(b, "pcrs", &bp);
        json_object_object_get_ex(b, "name", &bn);
        if (json_object_equal(bp, pcrs)) {
            fprintf(stderr, "bootgatectl: note: %s already has this baseline as '%s'\n", path,
                    json_object_get_string(bn));
            add = false;
            break;
        }
        if (!strcmp(json_object_get_string(bn), json_object_get_string(name))) {
            json_object_put(baseline);
            return ctl_usage_error(cmd,
                                   "%s already has a baseline named '%s' with other values; "
                                   "name the new one with --baseline",
                                   path, json_object_get_string(name));
        }
    }
    if (add)
        json_object_array_add(bls, baseline);
    else
        json_object_put(baseline);
    json_object_object_add(current, "version", json_object_new_int64(o->version));

    _cleanup_(policy_freep) policy *p = NULL;
    bg_err err = {{0}};
    if (policy_from_json(current, &p, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "the policy with the new baseline does not validate: %s",
                         bg_err_msg(&err));
    const char *text = json_object_to_json_string_ext(current, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    _cleanup_(freep) char *out = NULL;
    if (asprintf(&out, "%s\n", text) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    return ctl_policy_write_output(o->out, out);
}

int ctl_policy_predict(int argc, char **argv)
{
    static const struct option opts[] = {DOC_OPTIONS,
                                         {"reference", required_argument, NULL, 'r'},
                                         {"kernel", required_argument, NULL, 'k'},
                                         {"kernel-digest", required_argument, NULL, 'K'},
                                         {"uki", required_argument, NULL, 'u'},
                                         {"initrd", required_argument, NULL, 'i'},
                                         {"cmdline", required_argument, NULL, 'c'},
                                         {"grub-cfg", required_argument, NULL, 'g'},
                                         {"shim", required_argument, NULL, 'S'},
                                         {"grub", required_argument, NULL, 'G'},
                                         {"into", required_argument, NULL, 'I'},
                                         {"db-update", required_argument, NULL, 'D'},
                                         {"systemd-boot", required_argument, NULL, 'B'},
                                         {"dbx-update", required_argument, NULL, 'X'},
                                         {}};
    const char *ref = NULL, *kernel = NULL, *kernel_digest = NULL, *uki = NULL, *initrd = NULL,
               *cmdline = NULL, *grub_cfg = NULL, *shim = NULL, *grub = NULL, *into = NULL,
               *db_update = NULL, *dbx_update = NULL, *sdboot = NULL;
    ctl_doc_opts o = {.mode = "enforce"};
    int c, r;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if ((r = ctl_policy_doc_option("policy predict", c, &o)) >= 0) {
            if (r != CTL_EXIT_OK)
                return r;
            continue;
        }
        switch (c) {
        case 'r':
            ref = optarg;
            break;
        case 'k':
            kernel = optarg;
            break;
        case 'K':
            kernel_digest = optarg;
            break;
        case 'u':
            uki = optarg;
            break;
        case 'i':
            initrd = optarg;
            break;
        case 'c':
            cmdline = optarg;
            break;
        case 'g':
            grub_cfg = optarg;
            break;
        case 'S':
            shim = optarg;
            break;
        case 'G':
            grub = optarg;
            break;
        case 'I':
            into = optarg;
            break;
        case 'D':
            db_update = optarg;
            break;
        case 'B':
            sdboot = optarg;
            break;
        case 'X':
            dbx_update = optarg;
            break;
        case 'h':
            puts(
                "Usage: bootgatectl policy predict --reference LOG --name N --version V\n"
                "         [--kernel FILE | --kernel-digest HEX | --uki FILE] [--initrd FILE]\n"
                "         [--cmdline STR] [--grub-cfg FILE] [--shim FILE] [--grub FILE]\n"
                "         [--systemd-boot FILE] [--db-update FILE] [--dbx-update FILE]\n"
                "         [--mode M] [--pcrs LIST] [--baseline NAME]\n"
                "         [--not-after TIME] [--into CURRENT.json] [--out FILE]\n"
                "Predicts the baseline of a new image before it boots: takes a reference\n"
                "log of the current image and substitutes the digests that change:\n"
                "  --kernel           PE Authenticode SHA-256 of the last PCR 4\n"
                "                     EV_EFI_BOOT_SERVICES_APPLICATION (the OS loader)\n"
                "  --uki              a systemd-stub UKI: PCR 4 (UKI and embedded kernel),\n"
                "                     PCR 11 sections, PCR 9 from .initrd and .cmdline\n"
                "  --initrd           PCR 9 EV_EVENT_TAG \"Linux initrd\" (Linux EFI stub)\n"
                "  --cmdline          PCR 9 EV_EVENT_TAG \"LOADED_IMAGE::LoadOptions\"\n"
                "                     (UTF-16LE with terminating NUL)\n"
                "A reference from shim -> GRUB (GRUB's \"grub_cmd:\" events in PCR 8) is\n"
                "rebuilt from grub.cfg to \"boot\" as GRUB measures it:\n"
                "  --kernel           PCR 9 (file), PCR 4 (shim's Authenticode of it)\n"
                "  --initrd           PCR 9 (the file GRUB reads for initrd)\n"
                "  --cmdline          PCR 8 \"grub_cmd: linux PATH ...\", \"kernel_cmdline: ...\"\n"
                "  --grub-cfg         PCR 9 (the file) and PCR 8 (its commands; only plain\n"
                "                     commands: no conditions, variables or menus)\n"
                "  --shim, --grub     PCR 4 (the boot loaders, Authenticode)\n"
                "A systemd-boot reference:\n"
                "  --systemd-boot     PCR 4 (the loader before the UKI, Authenticode)\n"
                "Any reference:\n"
                "  --db-update, --dbx-update\n"
                "                     PCR 7: the db/dbx contents with this EFI signature\n"
                "                     list or authenticated update appended as the firmware\n"
                "                     does (duplicates dropped)\n"
                "  --into             add the baseline to the policy CURRENT.json (a new\n"
                "                     version of it) instead of making a new policy\n"
                "then replays the log. The reference must contain the events to substitute;\n"
                "what cannot be computed is refused, naming the PCR and the event.");
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy predict", "bad option");
        }
    }
    if (optind != argc)
        return ctl_usage_error("policy predict", "unexpected argument '%s'", argv[optind]);
    if (!ref)
        return ctl_usage_error("policy predict", "--reference is required");
    if (!!kernel + !!kernel_digest + !!uki > 1)
        return ctl_usage_error("policy predict", "give one of --kernel, --kernel-digest, --uki");
    if ((r = ctl_policy_check_doc_opts("policy predict", &o, false)) != CTL_EXIT_OK)
        return r;
    _cleanup_(json_object_putp) json_object *current = NULL;
    if (into && (r = ctl_policy_load_into("policy predict", into, &o, &current)) != CTL_EXIT_OK)
        return r;

    _cleanup_(eventlog_freep) eventlog *log = NULL;
    if ((r = ctl_policy_load_eventlog(ref, &log)) != CTL_EXIT_OK)
        return r;
    uint8_t d[32];
    bg_err err = {{0}};
    if (uki && (r = predict_uki(log, uki, initrd != NULL, cmdline != NULL)) != CTL_EXIT_OK)
        return r;
    _cleanup_(grub_strings_freep) grub_strings *gstrings = NULL;
    if (!uki && grub_log_is_grub(log)) {
        if (kernel_digest)
            return ctl_usage_error("policy predict",
                                   "a GRUB reference also measures the kernel file into PCR 9: "
                                   "give --kernel FILE");
        grub_predict_opts go = {.kernel = kernel,
                                .initrd = initrd,
                                .cmdline = cmdline,
                                .grub_cfg = grub_cfg,
                                .shim = shim,
                                .grub = grub};
        if ((r = grub_predict(log, &go, &gstrings)) != CTL_EXIT_OK)
            return r;
        /* A kernel whose EFI stub measures its initrd and LoadOptions (PCR 9,
         * EV_EVENT_TAG) does so after GRUB too: substitute them where the
         * reference has them. */
        kernel = NULL;
        if (initrd && !find_last(log, 9, EV_EVENT_TAG, "Linux initrd"))
            initrd = NULL;
        if (cmdline && !find_last(log, 9, EV_EVENT_TAG, "LOADED_IMAGE::LoadOptions"))
            cmdline = NULL;
    } else if (grub_cfg || shim || grub)
        return ctl_usage_error("policy predict",
                               "--grub-cfg, --shim and --grub need a reference log of a shim -> "
                               "GRUB boot (no \"grub_cmd:\" events in PCR 8)");
    if (sdboot && (r = predict_sdboot(log, sdboot)) != CTL_EXIT_OK)
        return r;
    if (kernel) {
        const char *path = kernel;
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t size;
        if (read_file(path, AUTHENTICODE_MAX_SIZE, &buf, &size, &err) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
        if (authenticode_digest(buf, size, TPMALG_SHA256, d, sizeof d, &err) < 0)
            return ctl_error(CTL_EXIT_FAIL, "%s: %s", path, bg_err_msg(&err));
    } else if (kernel_digest && hex_decode_exact(kernel_digest, d, sizeof d, &err) < 0)
        return ctl_usage_error("policy predict", "--kernel-digest: 64 hex digits");
    if ((kernel || kernel_digest) && (r = substitute(log, 4, EV_EFI_BOOT_SERVICES_APPLICATION, NULL,
                                                     d, "--kernel")) != CTL_EXIT_OK)
        return r;
    if (initrd) {
        if ((r = file_sha256(initrd, d)) != CTL_EXIT_OK)
            return r;
        if ((r = substitute(log, 9, EV_EVENT_TAG, "Linux initrd", d, "--initrd")) != CTL_EXIT_OK)
            return r;
    }
    if (cmdline) {
        if ((r = cmdline_sha256(cmdline, d)) != CTL_EXIT_OK)
            return r;
        if ((r = substitute(log, 9, EV_EVENT_TAG, "LOADED_IMAGE::LoadOptions", d, "--cmdline")) !=
            CTL_EXIT_OK)
            return r;
    }
    _cleanup_(freep) uint8_t *db_data = NULL, *dbx_data = NULL;
    if (db_update && (r = sbvar_predict_update(log, "db", db_update, &db_data)) != CTL_EXIT_OK)
        return r;
    if (dbx_update && (r = sbvar_predict_update(log, "dbx", dbx_update, &dbx_data)) != CTL_EXIT_OK)
        return r;
    /* The other banks' digests of substituted events are now stale; only the
     * sha256 bank is replayed and used. */
    json_object *b = NULL;
    if ((r = ctl_policy_baseline_json(log, &o, &b)) != CTL_EXIT_OK)
        return r;
    if (current)
        return ctl_policy_emit_into("policy predict", &o, into, current, b);
    return ctl_policy_emit_document(&o, b, NULL);
}

int ctl_policy_image_digest(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("Usage: bootgatectl policy image-digest FILE...\n"
             "Prints the PE Authenticode SHA-256 of each EFI image (kernel, UKI, boot\n"
             "loader): the digest firmware extends into PCR 4, for event_rules.");
        return CTL_EXIT_OK;
    }
    if (argc < 2)
        return ctl_usage_error("policy image-digest", "expected FILE...");
    int ret = CTL_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        _cleanup_(freep) uint8_t *img = NULL;
        size_t size;
        bg_err err = {{0}};
        uint8_t d[32];
        char hex[65];
        if (read_file(argv[i], AUTHENTICODE_MAX_SIZE, &img, &size, &err) < 0) {
            ret = ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
            continue;
        }
        if (authenticode_digest(img, size, TPMALG_SHA256, d, sizeof d, &err) < 0) {
            if (ret == CTL_EXIT_OK)
                ret = CTL_EXIT_FAIL;
            ctl_error(CTL_EXIT_FAIL, "%s: %s", argv[i], bg_err_msg(&err));
            continue;
        }
        hex_encode(d, sizeof d, hex);
        printf("%s  %s\n", hex, argv[i]);
    }
    return ret;
}
