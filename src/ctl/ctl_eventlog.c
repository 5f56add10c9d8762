/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl eventlog show|replay: print and replay UEFI event logs (and the
 * IMA log into PCR 10). */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "eventlog.h"
#include "ima.h"
#include "util.h"

static void json_putp(json_object **o)
{
    json_object_put(*o);
}

static void usage(FILE *f)
{
    fputs("Usage: bootgatectl eventlog show [--json] FILE\n"
          "       bootgatectl eventlog replay [--bank ALG] [--ima IMA_LOG] [--json] FILE\n"
          "\n"
          "FILE is a binary UEFI event log (/sys/kernel/security/tpm0/binary_bios_measurements),\n"
          "crypto-agile or legacy SHA-1. IMA_LOG is a binary IMA log\n"
          "(/sys/kernel/security/ima/binary_runtime_measurements).\n"
          "\n"
          "  show      every event: index, PCR, type, digests, decoded description\n"
          "  replay    the PCR values the log produces, per bank (default: every bank)\n"
          "\n"
          "Options:\n"
          "  --json           JSON output (show: array of events; replay: {bank: {pcr: hex}})\n"
          "  --bank ALG       replay only ALG (sha1, sha256, sha384, sha512, sm3_256)\n"
          "  --ima IMA_LOG    also replay the IMA log into its PCR (10) of each bank\n"
          "  -h, --help       this text\n"
          "\n"
          "Exit codes: 0 ok, 1 malformed log (the message names the byte offset), 2 usage,\n"
          "3 runtime error.\n",
          f);
}

/* read_file, then parse, as exit codes. read_file's message names the path
 * already. A file over the cap is malformed input, not a runtime failure. */
static int read_log(const char *path, size_t max, uint8_t **ret, size_t *ret_size)
{
    bg_err err = {0};
    int r = read_file(path, max, ret, ret_size, &err);
    if (r == -EFBIG)
        return ctl_error(CTL_EXIT_FAIL, "%s", bg_err_msg(&err));
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    return CTL_EXIT_OK;
}

static int parse_outcome(const char *path, int r, const bg_err *err)
{
    if (r == -ENOMEM)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if (r < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", path, bg_err_msg(err));
    return CTL_EXIT_OK;
}

static int load_eventlog(const char *path, eventlog **ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size = 0;
    bg_err err = {0};
    int r = read_log(path, EVENTLOG_MAX_SIZE, &buf, &size);
    if (r != CTL_EXIT_OK)
        return r;
    return parse_outcome(path, eventlog_parse(buf, size, ret, &err), &err);
}

static int load_ima(const char *path, ima_log **ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size = 0;
    bg_err err = {0};
    int r = read_log(path, IMA_MAX_SIZE, &buf, &size);
    if (r != CTL_EXIT_OK)
        return r;
    return parse_outcome(path, ima_parse(buf, size, ret, &err), &err);
}

static const char *alg_label(uint16_t alg, char tmp[8])
{
    const tpmalg *a = tpmalg_by_id(alg);
    if (a)
        return a->name;
    snprintf(tmp, 8, "0x%04x", alg);
    return tmp;
}

static int show(const eventlog *log, bool json)
{
    _cleanup_(json_putp) json_object *arr = json ? json_object_new_array() : NULL;
    char desc[1024], hex[2 * TPMALG_MAX_DIGEST + 1], alg_tmp[8], type_tmp[16];

    if (json && !arr)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        json_object *o = NULL, *digests = NULL;

        eventlog_event_describe(ev, desc, sizeof(desc));
        if (json) {
            o = json_object_new_object();
            digests = json_object_new_object();
            if (!o || !digests || json_object_array_add(arr, o) < 0) {
                json_object_put(o);
                json_object_put(digests);
                return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
            }
            json_object_object_add(o, "index", json_object_new_int64(ev->index));
            json_object_object_add(o, "pcr", json_object_new_int64(ev->pcr));
            json_object_object_add(
                o, "type", json_object_new_string(ctl_event_type_label(ev->type, type_tmp)));
            json_object_object_add(o, "digests", digests);
        } else {
            printf("%u: PCR %u %s (offset %zu, %u bytes)\n", ev->index, ev->pcr,
                   ctl_event_type_label(ev->type, type_tmp), ev->offset, ev->data_size);
        }
        for (unsigned k = 0; k < ev->n_digests; k++) {
            const eventlog_digest *d = &ev->digests[k];
            if (d->size == 0)
                continue;
            hex_encode(d->bytes, d->size, hex);
            if (json)
                json_object_object_add(digests, alg_label(d->alg, alg_tmp),
                                       json_object_new_string(hex));
            else
                printf("  %s: %s\n", alg_label(d->alg, alg_tmp), hex);
        }
        if (json)
            json_object_object_add(o, "description", json_object_new_string(desc));
        else
            printf("  %s\n", desc);
    }
    if (json)
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
    return CTL_EXIT_OK;
}

static int replay(const eventlog *log, const ima_log *ima, const char *bank_name, bool json)
{
    _cleanup_(json_putp) json_object *root = json ? json_object_new_object() : NULL;
    uint16_t algs[EVENTLOG_MAX_BANKS];
    unsigned n_algs = 0;
    char hex[2 * TPMALG_MAX_DIGEST + 1], key[4];

    if (json && !root)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if (bank_name) {
        const tpmalg *a = tpmalg_by_name(bank_name);
        if (!a)
            return ctl_usage_error("eventlog replay", "unknown hash algorithm '%s'", bank_name);
        algs[n_algs++] = a->id;
    } else {
        /* Every bank of the log that this code can hash. */
        for (unsigned k = 0; k < log->n_banks; k++)
            if (tpmalg_by_id(log->bank_algs[k]) && tpmalg_md(log->bank_algs[k]))
                algs[n_algs++] = log->bank_algs[k];
    }

    for (unsigned k = 0; k < n_algs; k++) {
        const tpmalg *a = tpmalg_by_id(algs[k]);
        pcr_bank bank;
        bg_err err = {0};
        json_object *pcrs = NULL;
        int r;

        r = eventlog_replay(log, algs[k], &bank, &err);
        if (r == -ENODATA && !bank_name) {
            /* A bank that some event does not cover cannot be replayed;
             * without --bank the others are still useful. */
            fprintf(stderr, "bootgatectl: %s bank skipped: %s\n", a->name, bg_err_msg(&err));
            continue;
        }
        if (r < 0)
            return ctl_error(CTL_EXIT_FAIL, "%s", bg_err_msg(&err));
        if (ima) {
            r = ima_replay(ima, &bank, &err);
            if (r < 0)
                return ctl_error(CTL_EXIT_FAIL, "IMA log: %s", bg_err_msg(&err));
            bank.mask |= 1u << IMA_PCR;
        }
        if (json) {
            pcrs = json_object_new_object();
            if (!pcrs)
                return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
            json_object_object_add(root, a->name, pcrs);
        }
        for (unsigned i = 0; i < PCR_COUNT; i++) {
            if (!(bank.mask & (1u << i)))
                continue;
            hex_encode(bank.pcr[i], bank.digest_size, hex);
            if (json) {
                snprintf(key, sizeof(key), "%u", i);
                json_object_object_add(pcrs, key, json_object_new_string(hex));
            } else {
                printf("%s:%u = %s\n", a->name, i, hex);
            }
        }
    }
    if (json)
        ctl_print_json(root);
    return CTL_EXIT_OK;
}

int ctl_eventlog_main(int argc, char **argv)
{
    enum { OPT_JSON = 0x100, OPT_BANK, OPT_IMA };
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {"bank", required_argument, NULL, OPT_BANK},
        {"ima", required_argument, NULL, OPT_IMA},
        {0},
    };
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *ima = NULL;
    const char *verb, *bank = NULL, *ima_path = NULL;
    bool json = false, is_show;
    int c, r;

    if (argc < 2)
        return ctl_usage_error("eventlog", "missing command (show or replay)");
    verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (strcmp(verb, "show") && strcmp(verb, "replay"))
        return ctl_usage_error("eventlog", "unknown command '%s'", verb);
    is_show = !strcmp(verb, "show");

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "h", options, NULL)) >= 0) {
        switch (c) {
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        case OPT_JSON:
            json = true;
            break;
        case OPT_BANK:
            if (is_show)
                return ctl_usage_error("eventlog", "--bank is an option of replay");
            bank = optarg;
            break;
        case OPT_IMA:
            if (is_show)
                return ctl_usage_error("eventlog", "--ima is an option of replay");
            ima_path = optarg;
            break;
        default:
            return ctl_usage_error("eventlog", "unknown or incomplete option '%s'",
                                   argv[optind] ? argv[optind] : "");
        }
    }
    if (optind + 1 != argc - 1)
        return ctl_usage_error("eventlog", "%s needs exactly one FILE", verb);

    r = load_eventlog(argv[optind + 1], &log);
    if (r != CTL_EXIT_OK)
        return r;
    if (is_show)
        return show(log, json);
    if (ima_path) {
        r = load_ima(ima_path, &ima);
        if (r != CTL_EXIT_OK)
            return r;
    }
    return replay(log, ima, bank, json);
}
