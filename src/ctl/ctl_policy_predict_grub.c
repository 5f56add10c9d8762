/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy predict for shim -> GRUB -> kernel (Debian's signed GRUB 2.06).
 *
 * What GRUB measures (grub-core/commands/tpm.c, grub_tpm_verify_string and
 * grub_tpm_verify_write; TCG event type EV_IPL):
 *  - PCR 8: every command it runs, after expansion, argv joined by single
 *    spaces: digest SHA-256(command), event data "grub_cmd: " command NUL;
 *    for `linux` also the kernel's command line, digest SHA-256(path args),
 *    data "kernel_cmdline: " path args NUL;
 *  - PCR 9: every file it reads (grub.cfg, kernel, initrd): digest SHA-256 of
 *    the file's bytes, data the path NUL.
 * shim measures what it verifies into PCR 4 (EV_EFI_BOOT_SERVICES_APPLICATION,
 * the Authenticode hash): GRUB, then the kernel GRUB hands it (Debian's GRUB
 * verifies the kernel through shim_lock and loads it; the reference tells how
 * many kernel events that makes).
 *
 * The prediction rebuilds the part of the reference log from the read of
 * grub.cfg to `boot`: the commands (from the reference or --grub-cfg), with
 * --cmdline applied to `linux`, and the file digests from --kernel/--initrd or,
 * for a file whose path did not change, the reference. A configuration this
 * tool cannot execute (conditions, variables, menus, commands that read more
 * files) is refused, naming PCR 8 and the line: capture such an image from a
 * real boot instead. */
#include "ctl_policy_predict_grub.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authenticode.h"
#include "cleanup.h"
#include "ctl.h"
#include "cursor.h"
#include "util.h"

#define GRUB_MAX_CMDS     256u
#define GRUB_MAX_CMD_LEN  4096u
#define GRUB_MAX_CFG_SIZE (1u << 20)
#define GRUB_CMD_PREFIX   "grub_cmd: "
#define GRUB_KCMD_PREFIX  "kernel_cmdline: "

void grub_strings_free(grub_strings *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->s[i]);
    free(g);
}

/* The event data as a string when it is printable text ending in one NUL. */
static bool event_text(const eventlog_event *ev, const char **ret)
{
    if (ev->data_size == 0 || ev->data[ev->data_size - 1] != 0)
        return false;
    for (uint32_t i = 0; i + 1 < ev->data_size; i++)
        if (ev->data[i] < 0x20 || ev->data[i] > 0x7e)
            return false;
    *ret = (const char *)ev->data;
    return true;
}

static bool is_ipl(const eventlog_event *ev, uint32_t pcr)
{
    return ev->pcr == pcr && ev->type == EV_IPL;
}

/* "grub_cmd: X" in PCR 8: X, else NULL. */
static const char *grub_cmd_of(const eventlog_event *ev)
{
    const char *t;
    if (!is_ipl(ev, 8) || !event_text(ev, &t) || strncmp(t, GRUB_CMD_PREFIX, 10))
        return NULL;
    return t + strlen(GRUB_CMD_PREFIX);
}

bool grub_log_is_grub(const eventlog *log)
{
    for (size_t i = 0; i < log->n_events; i++)
        if (grub_cmd_of(&log->events[i]))
            return true;
    return false;
}

static bool cmd_is(const char *cmd, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(cmd, name, n) && (cmd[n] == ' ' || cmd[n] == 0);
}

static bool cmd_is_linux(const char *c)
{
    return cmd_is(c, "linux") || cmd_is(c, "linuxefi");
}

static bool cmd_is_initrd(const char *c)
{
    return cmd_is(c, "initrd") || cmd_is(c, "initrdefi");
}

/* Commands whose effect on the measurements is only their own PCR 8 event (or,
 * for linux/initrd, the files this code models). Others may read and measure
 * more files or change control flow. */
static bool cmd_is_modeled(const char *c)
{
    static const char *const ok[] = {
        "set",       "echo", "insmod",         "linux",           "linuxefi", "initrd",
        "initrdefi", "boot", "terminal_input", "terminal_output", "serial",   NULL};
    for (size_t i = 0; ok[i]; i++)
        if (cmd_is(c, ok[i]))
            return true;
    return false;
}

static int sha256_buf(const void *p, size_t n, uint8_t out[32])
{
    if (EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) != 1)
        return ctl_error(CTL_EXIT_RUNTIME, "sha256 failed");
    return CTL_EXIT_OK;
}

/* --- grub.cfg: the subset that runs straight through ------------------------ */

/* Splits one config line into words the way GRUB's lexer does for plain words
 * and single/double-quoted ones, and joins them with single spaces into out.
 * Anything that expands or branches is refused. */
static int cfg_line(const char *path, unsigned lineno, const char *line, char *out, size_t size)
{
    size_t o = 0;
    bool word = false;
    for (const char *p = line; *p;) {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
            word = false;
            continue;
        }
        if (*p == '#' && !word)
            break;
        if (!word && o > 0) {
            if (o + 1 >= size)
                goto too_long;
            out[o++] = ' ';
        }
        word = true;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            const char *end = strchr(p, q);
            if (!end)
                return ctl_error(CTL_EXIT_FAIL, "PCR 8: %s line %u: unterminated quote", path,
                                 lineno);
            if (q == '"' &&
                (memchr(p, '$', (size_t)(end - p)) || memchr(p, '\\', (size_t)(end - p))))
                return ctl_error(CTL_EXIT_FAIL,
                                 "PCR 8: %s line %u: expansion inside double quotes is not "
                                 "predicted; capture this image from a real boot",
                                 path, lineno);
            if ((size_t)(end - p) >= size - o)
                goto too_long;
            memcpy(out + o, p, (size_t)(end - p));
            o += (size_t)(end - p);
            p = end + 1;
            continue;
        }
        if (strchr("$\\;|&<>{}[]`", *p))
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 8: %s line %u: GRUB script construct '%c' is not predicted; "
                             "capture this image from a real boot",
                             path, lineno, *p);
        if (o + 1 >= size)
            goto too_long;
        out[o++] = *p++;
    }
    out[o] = 0;
    return CTL_EXIT_OK;
too_long:
    return ctl_error(CTL_EXIT_FAIL, "PCR 8: %s line %u: longer than %u bytes", path, lineno,
                     GRUB_MAX_CMD_LEN);
}

static int cfg_commands(const char *path, const uint8_t *buf, size_t size, grub_strings *cmds)
{
    _cleanup_(freep) char *text = strndup((const char *)buf, size);
    char cmd[GRUB_MAX_CMD_LEN];
    unsigned lineno = 0;
    int r;
    if (!text)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if (strlen(text) != size)
        return ctl_error(CTL_EXIT_FAIL, "PCR 9: %s contains a NUL byte", path);
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        if ((r = cfg_line(path, lineno, line, cmd, sizeof cmd)) != CTL_EXIT_OK)
            return r;
        if (!cmd[0])
            continue;
        if (!cmd_is_modeled(cmd))
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 8: %s line %u: command '%.40s' is not predicted (only set, "
                             "echo, insmod, linux, initrd, boot, terminal and serial commands); "
                             "capture this image from a real boot",
                             path, lineno, cmd);
        if (cmds->n >= GRUB_MAX_CMDS)
            return ctl_error(CTL_EXIT_FAIL, "PCR 8: %s: more than %u commands", path,
                             GRUB_MAX_CMDS);
        if (!(cmds->s[cmds->n] = strdup(cmd)))
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        cmds->n++;
    }
    return CTL_EXIT_OK;
}

/* --- the reference's GRUB section ------------------------------------------- */

typedef struct grub_ref {
    size_t cfg;         /* index of the PCR 9 event of grub.cfg */
    size_t boot;        /* index of "grub_cmd: boot" */
    size_t kernel_pcr4; /* PCR 4 events per linux command (shim's verifications) */
    const eventlog_event *pcr4_template, *ipl_template;
} grub_ref;

static int find_grub_section(const eventlog *log, grub_ref *g)
{
    bool have_cfg = false, have_boot = false;
    for (size_t i = 0; i + 1 < log->n_events; i++) {
        const char *c = grub_cmd_of(&log->events[i]), *t;
        if (!c || !(cmd_is(c, "source") || cmd_is(c, "configfile")))
            continue;
        const char *file = strchr(c, ' ');
        const eventlog_event *next = &log->events[i + 1];
        if (file && is_ipl(next, 9) && event_text(next, &t) && !strcmp(t, file + 1)) {
            g->cfg = i + 1;
            have_cfg = true;
        }
    }
    if (!have_cfg)
        return ctl_error(CTL_EXIT_FAIL, "PCR 9: the reference log has no EV_IPL event of a "
                                        "configuration file GRUB sourced; not a GRUB boot");
    for (size_t i = g->cfg + 1; i < log->n_events; i++) {
        const char *c = grub_cmd_of(&log->events[i]);
        if (c && !strcmp(c, "boot")) {
            g->boot = i;
            have_boot = true;
        }
    }
    if (!have_boot)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 8: the reference log has no EV_IPL \"grub_cmd: boot\" after "
                         "event %u (grub.cfg)",
                         log->events[g->cfg].index);
    g->ipl_template = &log->events[g->cfg];
    /* Between them only GRUB's own events and shim's kernel verifications. */
    size_t linux_cmds = 0, pcr4 = 0;
    for (size_t i = g->cfg + 1; i < g->boot; i++) {
        const eventlog_event *ev = &log->events[i];
        const char *c = grub_cmd_of(ev);
        if (c && cmd_is_linux(c))
            linux_cmds++;
        if (ev->pcr == 4 && ev->type == EV_EFI_BOOT_SERVICES_APPLICATION) {
            pcr4++;
            g->pcr4_template = ev;
        } else if (!is_ipl(ev, 8) && !is_ipl(ev, 9)) {
            char tb[16];
            const char *tn = eventlog_type_name(ev->type);
            if (!tn)
                snprintf(tb, sizeof tb, "0x%08x", ev->type), tn = tb;
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR %u: the reference log's event %u (%s) between grub.cfg and "
                             "boot is not one this tool predicts; capture a real boot",
                             ev->pcr, ev->index, tn);
        }
    }
    if (linux_cmds != 1)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 8: the reference log has %zu \"grub_cmd: linux\" events after "
                         "grub.cfg, this tool needs exactly one",
                         linux_cmds);
    if (pcr4 == 0)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 4: the reference log has no EV_EFI_BOOT_SERVICES_APPLICATION "
                         "event of the kernel GRUB loaded");
    g->kernel_pcr4 = pcr4;
    return CTL_EXIT_OK;
}

/* The reference's digest for a file GRUB read (PCR 9 event with that path) in
 * the GRUB section, or NULL. */
static const uint8_t *ref_file_digest(const eventlog *log, const grub_ref *g, const char *path)
{
    const char *t;
    for (size_t i = g->cfg + 1; i < g->boot; i++) {
        const eventlog_event *ev = &log->events[i];
        if (is_ipl(ev, 9) && event_text(ev, &t) && !strcmp(t, path)) {
            const eventlog_digest *d = eventlog_event_digest(ev, TPMALG_SHA256);
            return d && d->size == 32 ? d->bytes : NULL;
        }
    }
    return NULL;
}

/* The reference's PCR 4 digest of the kernel (shim's verification). */
static const uint8_t *ref_kernel_authenticode(const grub_ref *g)
{
    const eventlog_digest *d = eventlog_event_digest(g->pcr4_template, TPMALG_SHA256);
    return d && d->size == 32 ? d->bytes : NULL;
}

/* --- building the new events ------------------------------------------------ */

typedef struct grub_out {
    eventlog_event *ev;
    size_t n, cap;
    grub_strings *strings;
    size_t strings_cap;
} grub_out;

static int out_push(grub_out *o, const eventlog_event *tmpl, uint32_t pcr, uint32_t type,
                    const char *data, const uint8_t digest[32])
{
    if (o->n >= o->cap)
        return ctl_error(CTL_EXIT_FAIL, "too many events");
    eventlog_event e = *tmpl;
    e.pcr = pcr;
    e.type = type;
    if (data) {
        if (o->strings->n >= o->strings_cap)
            return ctl_error(CTL_EXIT_FAIL, "too many events");
        char *s = strdup(data);
        if (!s)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        o->strings->s[o->strings->n++] = s;
        e.data = (const uint8_t *)s;
        e.data_size = (uint32_t)strlen(s) + 1;
    }
    /* Only the sha256 bank is predicted: the other banks' digests are dropped
     * rather than left stale. */
    bool have = false;
    for (unsigned k = 0; k < e.n_digests; k++) {
        if (e.digests[k].alg == TPMALG_SHA256 && e.digests[k].size == 32) {
            memcpy(e.digests[k].bytes, digest, 32);
            have = true;
        } else {
            e.digests[k].size = 0;
            e.digests[k].alg = 0;
        }
    }
    if (!have)
        return ctl_error(CTL_EXIT_FAIL, "the reference log has no sha256 bank");
    o->ev[o->n++] = e;
    return CTL_EXIT_OK;
}

static int push_cmd_string(grub_out *o, const grub_ref *g, const char *prefix, const char *s)
{
    _cleanup_(freep) char *data = NULL;
    uint8_t d[32];
    int r;
    if (asprintf(&data, "%s%s", prefix, s) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if ((r = sha256_buf(s, strlen(s), d)) != CTL_EXIT_OK)
        return r;
    return out_push(o, g->ipl_template, 8, EV_IPL, data, d);
}

typedef struct grub_files {
    uint8_t kernel_sha[32], kernel_pe[32], initrd_sha[32], cfg_sha[32];
    bool kernel, initrd, cfg;
} grub_files;

static int push_file(grub_out *o, const eventlog *log, const grub_ref *g, const char *path,
                     const uint8_t *given, const char *opt)
{
    const uint8_t *d = given ? given : ref_file_digest(log, g, path);
    if (!d)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 9: GRUB reads %s, which the reference did not read; give %s", path,
                         opt);
    return out_push(o, g->ipl_template, 9, EV_IPL, path, d);
}

/* "linux PATH ARGS" -> the events GRUB and shim make for it. */
static int push_linux(grub_out *o, const eventlog *log, const grub_ref *g, const char *cmd,
                      const grub_files *f)
{
    const char *path = strchr(cmd, ' ');
    int r;
    if (!path)
        return ctl_error(CTL_EXIT_FAIL, "PCR 8: \"%s\" names no kernel", cmd);
    path++;
    _cleanup_(freep) char *file = strndup(path, strcspn(path, " "));
    if (!file)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    const uint8_t *pe = f->kernel ? f->kernel_pe : NULL;
    if (!pe) {
        /* Without --kernel the kernel must be the reference's, by path. */
        if (!ref_file_digest(log, g, file))
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 4: the kernel %s is not the reference's; give --kernel", file);
        pe = ref_kernel_authenticode(g);
    }
    if ((r = push_cmd_string(o, g, GRUB_CMD_PREFIX, cmd)) != CTL_EXIT_OK ||
        (r = push_file(o, log, g, file, f->kernel ? f->kernel_sha : NULL, "--kernel")) !=
            CTL_EXIT_OK)
        return r;
    for (size_t k = 0; k < g->kernel_pcr4; k++)
        if ((r = out_push(o, g->pcr4_template, 4, EV_EFI_BOOT_SERVICES_APPLICATION, NULL, pe)) !=
            CTL_EXIT_OK)
            return r;
    return push_cmd_string(o, g, GRUB_KCMD_PREFIX, path);
}

static int push_initrd(grub_out *o, const eventlog *log, const grub_ref *g, const char *cmd,
                       const grub_files *f)
{
    _cleanup_(freep) char *copy = strdup(cmd);
    size_t n = 0;
    int r;
    if (!copy)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    for (const char *p = strchr(cmd, ' '); p; p = strchr(p + 1, ' '))
        n++;
    if (f->initrd && n != 1)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 9: \"%s\" loads %zu files; --initrd names one, which is ambiguous",
                         cmd, n);
    if ((r = push_cmd_string(o, g, GRUB_CMD_PREFIX, cmd)) != CTL_EXIT_OK)
        return r;
    char *save = NULL;
    strtok_r(copy, " ", &save);
    for (char *file = strtok_r(NULL, " ", &save); file; file = strtok_r(NULL, " ", &save))
        if ((r = push_file(o, log, g, file, f->initrd ? f->initrd_sha : NULL, "--initrd")) !=
            CTL_EXIT_OK)
            return r;
    return CTL_EXIT_OK;
}

/* --cmdline: "linux PATH OLDARGS" -> "linux PATH NEWARGS" (words joined by one
 * space, as GRUB joins argv). */
static int apply_cmdline(grub_strings *cmds, const char *cmdline)
{
    size_t found = 0;
    for (size_t i = 0; i < cmds->n; i++) {
        if (!cmd_is_linux(cmds->s[i]))
            continue;
        found++;
        const char *sp1 = strchr(cmds->s[i], ' ');
        if (!sp1)
            return ctl_error(CTL_EXIT_FAIL, "PCR 8: \"%s\" names no kernel", cmds->s[i]);
        size_t head = (size_t)(sp1 + 1 - cmds->s[i]) + strcspn(sp1 + 1, " ");
        _cleanup_(freep) char *words = strdup(cmdline);
        if (!words)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        size_t len = head + strlen(cmdline) + 2;
        char *n = malloc(len), *save = NULL;
        if (!n)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        memcpy(n, cmds->s[i], head);
        n[head] = 0;
        for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
            strcat(n, " ");
            strcat(n, w);
        }
        free(cmds->s[i]);
        cmds->s[i] = n;
    }
    if (found != 1)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 8: --cmdline needs exactly one linux command in the "
                         "configuration, found %zu",
                         found);
    return CTL_EXIT_OK;
}

static int file_digests(const char *path, bool pe, uint8_t sha[32], uint8_t pe_out[32])
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    bg_err err = {{0}};
    int r;
    if (read_file(path, AUTHENTICODE_MAX_SIZE, &buf, &size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if ((r = sha256_buf(buf, size, sha)) != CTL_EXIT_OK)
        return r;
    if (pe && authenticode_digest(buf, size, TPMALG_SHA256, pe_out, 32, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "PCR 4: %s: %s", path, bg_err_msg(&err));
    return CTL_EXIT_OK;
}

/* The value of the reference's PCR 7 EV_EFI_VARIABLE_AUTHORITY event for the
 * variable `name` (ASCII), or NULL. */
static const uint8_t *ref_authority_value(const eventlog *log, const char *name, size_t *ret_n)
{
    size_t chars = strlen(name);
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        cursor c = cursor_init(ev->data, ev->data_size);
        const uint8_t *guid, *nm, *v;
        uint64_t nlen, vlen;
        if (ev->pcr != 7 || ev->type != EV_EFI_VARIABLE_AUTHORITY ||
            cursor_bytes(&c, 16, &guid, "", NULL) < 0 || cursor_u64le(&c, &nlen, "", NULL) < 0 ||
            cursor_u64le(&c, &vlen, "", NULL) < 0 || nlen != chars ||
            cursor_bytes(&c, chars * 2, &nm, "", NULL) < 0 || vlen > cursor_left(&c) ||
            cursor_bytes(&c, (size_t)vlen, &v, "", NULL) < 0)
            continue;
        bool same = true;
        for (size_t k = 0; k < chars && same; k++)
            same = nm[2 * k] == (uint8_t)name[k] && nm[2 * k + 1] == 0;
        if (same) {
            *ret_n = (size_t)vlen;
            return v;
        }
    }
    return NULL;
}

/* PE/COFF: a section name longer than 8 bytes is "/N", N the offset into the
 * COFF string table after the symbol table (PE Format, "Section Table"); shim
 * names .sbatlevel and .vendor_cert that way. */
static void pe_long_name(const uint8_t *img, size_t size, const pe_section *s, char *out,
                         size_t out_size)
{
    cursor c = cursor_init(img, size);
    uint32_t pe, symtab, nsyms;
    char *end;
    snprintf(out, out_size, "%s", s->name);
    if (s->name[0] != '/')
        return;
    unsigned long off = strtoul(s->name + 1, &end, 10);
    c.off = 0x3c;
    if (*end || cursor_u32le(&c, &pe, "", NULL) < 0 || pe > size - 20)
        return;
    c.off = (size_t)pe + 12;
    if (cursor_u32le(&c, &symtab, "", NULL) < 0 || cursor_u32le(&c, &nsyms, "", NULL) < 0)
        return;
    uint64_t at = (uint64_t)symtab + (uint64_t)nsyms * 18 + off;
    if (at >= size)
        return;
    size_t len = strnlen((const char *)img + at, size - (size_t)at);
    if (len == 0 || len >= out_size || at + len >= size)
        return;
    memcpy(out, img + at, len);
    out[len] = 0;
}

/* A new shim measures into PCR 7 what it carries: its SbatLevel policy (the
 * .sbatlevel section's "previous" entry is what shim 15.8+ applies by
 * default) and its vendor certificate (the authority of GRUB). Where these
 * differ from the reference, PCR 7 cannot be predicted. */
static int check_shim_pcr7(const eventlog *log, const char *path, const uint8_t *img, size_t size)
{
    _cleanup_(freep) pe_section *secs = calloc(AUTHENTICODE_MAX_SECTIONS, sizeof *secs);
    bg_err err = {{0}};
    int n;
    if (!secs)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if ((n = pe_sections(img, size, secs, AUTHENTICODE_MAX_SECTIONS, &err)) < 0)
        return ctl_error(CTL_EXIT_FAIL, "PCR 4: %s: %s", path, bg_err_msg(&err));
    const pe_section *sbl = NULL, *vc = NULL;
    for (int i = 0; i < n; i++) {
        char name[64];
        pe_long_name(img, size, &secs[i], name, sizeof name);
        if (!strcmp(name, ".sbatlevel"))
            sbl = &secs[i];
        if (!strcmp(name, ".vendor_cert"))
            vc = &secs[i];
    }
    size_t ref_n = 0;
    const uint8_t *ref = ref_authority_value(log, "SbatLevel", &ref_n);
    if (ref) {
        uint32_t ver, prev, latest;
        cursor c = sbl ? cursor_init(img + sbl->raw_offset, sbl->raw_size) : cursor_init(NULL, 0);
        if (!sbl || cursor_u32le(&c, &ver, "", NULL) < 0 || cursor_u32le(&c, &prev, "", NULL) < 0 ||
            cursor_u32le(&c, &latest, "", NULL) < 0 || prev >= sbl->raw_size - 4)
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 7: %s has no readable .sbatlevel section; the SbatLevel it "
                             "measures cannot be predicted: capture a boot with it",
                             path);
        /* shim's include/sbat.h: the offsets count from after the version. */
        const char *p = (const char *)img + sbl->raw_offset + 4 + prev;
        size_t len = strnlen(p, sbl->raw_size - 4 - prev);
        size_t rn = ref_n;
        while (rn > 0 && ref[rn - 1] == 0)
            rn--;
        if (len != rn || memcmp(p, ref, rn))
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 7: %s applies another SbatLevel than the reference's "
                             "EV_EFI_VARIABLE_AUTHORITY \"SbatLevel\"; capture a boot with it",
                             path);
    }
    const uint8_t *ref_vc = ref_authority_value(log, "MokListRT", &ref_n);
    if (ref_vc) {
        uint32_t auth_size, deauth_size, auth_off;
        cursor c = vc ? cursor_init(img + vc->raw_offset, vc->raw_size) : cursor_init(NULL, 0);
        const uint8_t *cert;
        if (!vc || cursor_u32le(&c, &auth_size, "", NULL) < 0 ||
            cursor_u32le(&c, &deauth_size, "", NULL) < 0 ||
            cursor_u32le(&c, &auth_off, "", NULL) < 0 || auth_off > vc->raw_size ||
            auth_size > vc->raw_size - auth_off || auth_size == 0)
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 7: %s has no readable .vendor_cert section; the authority "
                             "of GRUB cannot be predicted",
                             path);
        cert = img + vc->raw_offset + auth_off;
        if (!memmem(ref_vc, ref_n, cert, auth_size))
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 7: %s carries another vendor certificate than the reference's "
                             "EV_EFI_VARIABLE_AUTHORITY \"MokListRT\"; capture a boot with it",
                             path);
    }
    return CTL_EXIT_OK;
}

/* --shim / --grub: the first two PCR 4 boot applications before GRUB's
 * configuration are shim (started by the firmware) and GRUB (verified and
 * started by shim). */
static int predict_loaders(eventlog *log, const grub_ref *g, const grub_predict_opts *o)
{
    eventlog_event *apps[2];
    size_t n = 0;
    int r;
    for (size_t i = 0; i < g->cfg; i++) {
        eventlog_event *ev = &log->events[i];
        if (ev->pcr == 4 && ev->type == EV_EFI_BOOT_SERVICES_APPLICATION) {
            if (n == 2)
                return ctl_error(CTL_EXIT_FAIL,
                                 "PCR 4: the reference log has more than two boot applications "
                                 "before GRUB's configuration (event %u); which one is shim or "
                                 "GRUB is ambiguous",
                                 ev->index);
            apps[n++] = ev;
        }
    }
    if (n != 2)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 4: the reference log has %zu boot applications before GRUB's "
                         "configuration, shim and GRUB make two",
                         n);
    const char *files[2] = {o->shim, o->grub};
    for (size_t k = 0; k < 2; k++) {
        uint8_t sha[32], pe[32];
        if (!files[k])
            continue;
        if ((r = file_digests(files[k], true, sha, pe)) != CTL_EXIT_OK)
            return r;
        if (k == 0) {
            _cleanup_(freep) uint8_t *img = NULL;
            size_t size;
            bg_err err = {{0}};
            if (read_file(files[k], AUTHENTICODE_MAX_SIZE, &img, &size, &err) < 0)
                return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
            if ((r = check_shim_pcr7(log, files[k], img, size)) != CTL_EXIT_OK)
                return r;
        }
        eventlog_digest *d = (eventlog_digest *)eventlog_event_digest(apps[k], TPMALG_SHA256);
        if (!d || d->size != 32)
            return ctl_error(CTL_EXIT_FAIL, "PCR 4 event %u: no sha256 digest", apps[k]->index);
        memcpy(d->bytes, pe, 32);
    }
    return CTL_EXIT_OK;
}

int grub_predict(eventlog *log, const grub_predict_opts *o, grub_strings **ret_strings)
{
    grub_ref g = {0};
    grub_files f = {0};
    _cleanup_(freep) uint8_t *cfg_buf = NULL;
    size_t cfg_size = 0;
    bg_err err = {{0}};
    int r;

    if ((r = find_grub_section(log, &g)) != CTL_EXIT_OK)
        return r;
    if ((o->shim || o->grub) && (r = predict_loaders(log, &g, o)) != CTL_EXIT_OK)
        return r;
    if (o->kernel && (r = file_digests(o->kernel, true, f.kernel_sha, f.kernel_pe)) != CTL_EXIT_OK)
        return r;
    f.kernel = o->kernel != NULL;
    if (o->initrd && (r = file_digests(o->initrd, false, f.initrd_sha, NULL)) != CTL_EXIT_OK)
        return r;
    f.initrd = o->initrd != NULL;

    _cleanup_(grub_strings_freep) grub_strings *cmds =
        calloc(1, sizeof *cmds + GRUB_MAX_CMDS * sizeof(char *));
    if (!cmds)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if (o->grub_cfg) {
        if (read_file(o->grub_cfg, GRUB_MAX_CFG_SIZE, &cfg_buf, &cfg_size, &err) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
        if ((r = sha256_buf(cfg_buf, cfg_size, f.cfg_sha)) != CTL_EXIT_OK ||
            (r = cfg_commands(o->grub_cfg, cfg_buf, cfg_size, cmds)) != CTL_EXIT_OK)
            return r;
        f.cfg = true;
    } else {
        for (size_t i = g.cfg + 1; i <= g.boot; i++) {
            const char *c = grub_cmd_of(&log->events[i]);
            if (!c)
                continue;
            if (!cmd_is_modeled(c))
                return ctl_error(CTL_EXIT_FAIL,
                                 "PCR 8: the reference's event %u \"grub_cmd: %.40s\" is not a "
                                 "command this tool predicts; capture a real boot",
                                 log->events[i].index, c);
            if (!(cmds->s[cmds->n++] = strdup(c)))
                return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        }
    }
    if (o->cmdline) {
        /* The command line is written in grub.cfg, whose bytes GRUB measures
         * into PCR 9: a new one needs the new grub.cfg; with it, --cmdline
         * is a check that the configuration says what the builder meant. */
        _cleanup_(freep) char *before = NULL;
        for (size_t i = 0; i < cmds->n && !before; i++)
            if (cmd_is_linux(cmds->s[i]) && !(before = strdup(cmds->s[i])))
                return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        if ((r = apply_cmdline(cmds, o->cmdline)) != CTL_EXIT_OK)
            return r;
        bool changed = false;
        for (size_t i = 0; i < cmds->n; i++)
            if (cmd_is_linux(cmds->s[i]))
                changed = strcmp(cmds->s[i], before) != 0;
        if (changed && o->grub_cfg)
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 8: --cmdline differs from the linux command of --grub-cfg "
                             "%s (\"%s\")",
                             o->grub_cfg, before);
        if (changed)
            return ctl_error(CTL_EXIT_FAIL,
                             "PCR 9: a new kernel command line changes grub.cfg, which GRUB "
                             "measures (event %u): give the new grub.cfg with --grub-cfg",
                             log->events[g.cfg].index);
    }
    if (cmds->n == 0 || strcmp(cmds->s[cmds->n - 1], "boot"))
        return ctl_error(CTL_EXIT_FAIL, "PCR 8: the configuration does not end with boot");

    /* events[0..cfg] + GRUB's events + events[boot+1..] */
    size_t cap = log->n_events + 4 * GRUB_MAX_CMDS + 16;
    _cleanup_(freep) eventlog_event *ev = calloc(cap, sizeof *ev);
    _cleanup_(grub_strings_freep) grub_strings *strings =
        calloc(1, sizeof *strings + 4 * GRUB_MAX_CMDS * sizeof(char *));
    if (!ev || !strings)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    grub_out out = {.ev = ev, .cap = cap, .strings = strings, .strings_cap = 4 * GRUB_MAX_CMDS};
    memcpy(ev, log->events, (g.cfg + 1) * sizeof *ev);
    out.n = g.cfg + 1;
    if (f.cfg) {
        eventlog_event *c = &ev[g.cfg];
        eventlog_event tmpl = *c;
        out.n--;
        const char *t;
        if (!event_text(&tmpl, &t))
            return ctl_error(CTL_EXIT_FAIL, "PCR 9 event %u: no path", tmpl.index);
        if ((r = out_push(&out, &tmpl, 9, EV_IPL, NULL, f.cfg_sha)) != CTL_EXIT_OK)
            return r;
    }
    for (size_t i = 0; i < cmds->n; i++) {
        const char *c = cmds->s[i];
        if (cmd_is_linux(c))
            r = push_linux(&out, log, &g, c, &f);
        else if (cmd_is_initrd(c))
            r = push_initrd(&out, log, &g, c, &f);
        else
            r = push_cmd_string(&out, &g, GRUB_CMD_PREFIX, c);
        if (r != CTL_EXIT_OK)
            return r;
    }
    size_t tail = log->n_events - g.boot - 1;
    if (out.n + tail > cap)
        return ctl_error(CTL_EXIT_FAIL, "too many events");
    memcpy(ev + out.n, log->events + g.boot + 1, tail * sizeof *ev);
    out.n += tail;
    for (size_t i = 0; i < out.n; i++)
        ev[i].index = (uint32_t)i;
    free(log->events);
    log->events = TAKE_PTR(ev);
    log->n_events = out.n;
    *ret_strings = TAKE_PTR(strings);
    return CTL_EXIT_OK;
}
