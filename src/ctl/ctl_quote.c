/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl quote verify: checks a TPM2_Quote made by tpm2-tools (or the
 * client) with the library's fixed-order verification (quote.h), and
 * optionally replays a UEFI event log against the quoted PCR values. */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "eventlog.h"
#include "quote.h"
#include "tpmpub.h"
#include "util.h"
#include "verdict.h"

#define CTL_QUOTE_MAX_FILE (1u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

static void quote_help(FILE *f)
{
    fprintf(
        f, "Usage: bootgatectl quote verify --ak AK_PUBLIC --attest FILE --sig FILE --nonce HEX\n"
           "                                [--pcrs FILE] [--pcr-list SPEC] [--eventlog FILE]\n"
           "                                [--ak-name HEX] [--allow-pem-ak] [--json]\n\n"
           "Verifies a TPM2_Quote in a fixed order: AK attributes, signature, magic, type,\n"
           "nonce, PCR selection, PCR digest (and, with --eventlog, log replay).\n\n"
           "  --ak FILE        AK public: TPM2B_PUBLIC (tpm2_createak -u, tpm2_readpublic -o),\n"
           "                   TPMT_PUBLIC, or PEM (needs --allow-pem-ak: no attribute check)\n"
           "  --attest FILE    TPMS_ATTEST (tpm2_quote -m)\n"
           "  --sig FILE       TPMT_SIGNATURE (tpm2_quote -s, default tss format)\n"
           "  --nonce HEX      the qualifying data the quote must carry (tpm2_quote -q)\n"
           "  --pcrs FILE      PCR values: tpm2_quote -o / tpm2_pcrread -F serialized -o, or\n"
           "                   bare digests (tpm2_pcrread -o default) together with --pcr-list\n"
           "  --pcr-list SPEC  required selection, e.g. sha256:0-11 (default: --pcrs file's)\n"
           "  --ak-name HEX    the AK's enrolled TPM name; refuse any other AK (ak_name_mismatch)\n"
           "  --eventlog FILE  UEFI event log; replayed sha256 PCRs it touches (except 10)\n"
           "                   must equal the quoted values\n"
           "  --allow-pem-ak   accept a PEM AK (diagnostics only; attributes unchecked)\n"
           "  --json           print the result as JSON on stdout\n\n"
           "Exit: 0 valid, 1 invalid (verdict and reason on stderr), 2 usage, 3 runtime error.\n");
}

static int read_input(const char *what, const char *path, uint8_t **ret, size_t *ret_size)
{
    return ctl_read_input(what, path, CTL_QUOTE_MAX_FILE, ret, ret_size);
}

static void print_invalid(const char *verdict, const char *reason)
{
    fprintf(stderr, "bootgatectl: quote invalid (%s): %s\n", verdict, reason);
}

/* Compares the replayed sha256 PCRs the log touches (PCR 10 belongs to IMA)
 * with the quoted values. 0 equal, 1 mismatch/unusable log, 3 runtime. */
static int check_eventlog(const char *path, const pcr_bank *banks, size_t n_banks,
                          const quote_selection *sel, char *reason, size_t reason_size)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size = 0;
    eventlog *log = NULL;
    pcr_bank replay = {0};
    const pcr_bank *quoted = NULL;
    uint32_t quoted_mask = 0, compared = 0;
    bg_err err = {0};
    int r;

    if (read_input("event log", path, &buf, &size) != 0)
        return CTL_EXIT_RUNTIME;
    r = eventlog_parse(buf, size, &log, &err);
    if (r < 0) {
        snprintf(reason, reason_size, "event log does not parse: %s", bg_err_msg(&err));
        return CTL_EXIT_FAIL;
    }
    r = eventlog_replay(log, TPMALG_SHA256, &replay, &err);
    eventlog_free(log);
    if (r < 0) {
        snprintf(reason, reason_size, "event log does not replay: %s", bg_err_msg(&err));
        return CTL_EXIT_FAIL;
    }
    for (size_t i = 0; i < n_banks; i++)
        if (banks[i].alg == TPMALG_SHA256)
            quoted = &banks[i];
    for (unsigned b = 0; b < sel->n_banks; b++)
        if (sel->banks[b].alg == TPMALG_SHA256)
            quoted_mask |= sel->banks[b].mask;
    if (!quoted || !quoted_mask) {
        snprintf(reason, reason_size, "the quote covers no sha256 PCRs to compare the log with");
        return CTL_EXIT_FAIL;
    }
    for (unsigned i = 0; i < PCR_COUNT; i++) {
        uint32_t bit = 1u << i;
        if (i == 10 || !(replay.mask & bit) || !(quoted_mask & bit))
            continue;
        if (memcmp(replay.pcr[i], quoted->pcr[i], 32) != 0) {
            char want[65], got[65];
            hex_encode(quoted->pcr[i], 32, want);
            hex_encode(replay.pcr[i], 32, got);
            snprintf(reason, reason_size,
                     "event log replays PCR sha256:%u to %s, quoted value is %s", i, got, want);
            return CTL_EXIT_FAIL;
        }
        compared |= bit;
    }
    snprintf(reason, reason_size, "event log replays to the quoted value of %d PCRs",
             __builtin_popcount(compared));
    return 0;
}

static json_object *result_json(const quote_result *res, const char *eventlog_note)
{
    json_object *o = json_object_new_object();
    char sel[256];
    if (!o)
        return NULL;
    json_object_object_add(o, "verdict", json_object_new_string(quote_verdict_name(res->verdict)));
    json_object_object_add(o, "reason", json_object_new_string(res->reason));
    if (res->attest_parsed) {
        quote_selection_format(&res->selection, sel, sizeof(sel));
        json_object_object_add(o, "selection", json_object_new_string(sel));
        json_object_object_add(o, "clock", json_object_new_uint64(res->clock));
        json_object_object_add(o, "reset_count", json_object_new_int64(res->reset_count));
        json_object_object_add(o, "restart_count", json_object_new_int64(res->restart_count));
        json_object_object_add(o, "safe", json_object_new_boolean(res->safe));
        json_object_object_add(o, "firmware_version",
                               json_object_new_uint64(res->firmware_version));
    }
    json_object_object_add(o, "ak_attributes_checked", json_object_new_boolean(!res->ak_unchecked));
    if (eventlog_note)
        json_object_object_add(o, "eventlog", json_object_new_string(eventlog_note));
    return o;
}

static int quote_verify_main(int argc, char **argv)
{
    enum {
        OPT_AK = 0x100,
        OPT_ATTEST,
        OPT_SIG,
        OPT_NONCE,
        OPT_PCRS,
        OPT_PCR_LIST,
        OPT_EVENTLOG,
        OPT_ALLOW_PEM,
        OPT_JSON,
        OPT_AK_NAME
    };
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"ak", required_argument, NULL, OPT_AK},
        {"attest", required_argument, NULL, OPT_ATTEST},
        {"sig", required_argument, NULL, OPT_SIG},
        {"nonce", required_argument, NULL, OPT_NONCE},
        {"pcrs", required_argument, NULL, OPT_PCRS},
        {"pcr-list", required_argument, NULL, OPT_PCR_LIST},
        {"eventlog", required_argument, NULL, OPT_EVENTLOG},
        {"allow-pem-ak", no_argument, NULL, OPT_ALLOW_PEM},
        {"json", no_argument, NULL, OPT_JSON},
        {"ak-name", required_argument, NULL, OPT_AK_NAME},
        {},
    };
    const char *ak_path = NULL, *attest_path = NULL, *sig_path = NULL, *nonce_hex = NULL,
               *pcrs_path = NULL, *pcr_list = NULL, *eventlog_path = NULL, *ak_name_hex = NULL;
    bool allow_pem = false, json = false, have_required = false;
    _cleanup_(freep) uint8_t *ak_buf = NULL, *attest = NULL, *sig = NULL, *nonce = NULL,
                             *pcrs_buf = NULL, *ak_name = NULL;
    _cleanup_(tpmpub_freep) tpmpub *ak = NULL;
    size_t ak_size = 0, attest_size = 0, sig_size = 0, nonce_size = 0, pcrs_size = 0, n_banks = 0,
           ak_name_size = 0;
    pcr_bank banks[QUOTE_MAX_BANKS];
    quote_selection required = {0}, file_sel = {0};
    quote_result res;
    quote_evidence ev;
    char el_reason[256] = "";
    bg_err err = {0};
    int c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
        switch (c) {
        case 'h':
            quote_help(stdout);
            return CTL_EXIT_OK;
        case OPT_AK:
            ak_path = optarg;
            break;
        case OPT_ATTEST:
            attest_path = optarg;
            break;
        case OPT_SIG:
            sig_path = optarg;
            break;
        case OPT_NONCE:
            nonce_hex = optarg;
            break;
        case OPT_PCRS:
            pcrs_path = optarg;
            break;
        case OPT_PCR_LIST:
            pcr_list = optarg;
            break;
        case OPT_EVENTLOG:
            eventlog_path = optarg;
            break;
        case OPT_ALLOW_PEM:
            allow_pem = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_AK_NAME:
            ak_name_hex = optarg;
            break;
        default:
            return ctl_usage_error("quote", "invalid option");
        }
    }
    if (optind < argc)
        return ctl_usage_error("quote", "unexpected argument '%s'", argv[optind]);
    if (!ak_path || !attest_path || !sig_path || !nonce_hex)
        return ctl_usage_error("quote", "verify needs --ak, --attest, --sig and --nonce");
    if (hex_decode_alloc(nonce_hex, &nonce, &nonce_size, &err) < 0)
        return ctl_usage_error("quote", "--nonce: %s", bg_err_msg(&err));
    if (nonce_size > QUOTE_MAX_NONCE)
        return ctl_usage_error("quote", "--nonce: %zu bytes, at most %u", nonce_size,
                               QUOTE_MAX_NONCE);
    if (ak_name_hex && hex_decode_alloc(ak_name_hex, &ak_name, &ak_name_size, &err) < 0)
        return ctl_usage_error("quote", "--ak-name: %s", bg_err_msg(&err));
    if (pcr_list) {
        if (quote_selection_parse(pcr_list, &required, &err) < 0)
            return ctl_usage_error("quote", "--pcr-list: %s", bg_err_msg(&err));
        have_required = true;
    }

    if (read_input("AK public key", ak_path, &ak_buf, &ak_size) ||
        read_input("attest", attest_path, &attest, &attest_size) ||
        read_input("signature", sig_path, &sig, &sig_size) ||
        (pcrs_path && read_input("PCR values", pcrs_path, &pcrs_buf, &pcrs_size)))
        return CTL_EXIT_RUNTIME;

    r = tpmpub_parse(ak_buf, ak_size, &ak, &err);
    if (r < 0) {
        print_invalid(verdict_name(VERDICT_AK_MALFORMED), bg_err_msg(&err));
        return CTL_EXIT_FAIL;
    }
    /* DESIGN.md §1 (b): the AK must be the enrolled one. Checked before the
     * quote, as the server does. */
    if (ak_name && (!ak->has_public || ak->name_size != ak_name_size ||
                    memcmp(ak->name, ak_name, ak_name_size) != 0)) {
        print_invalid(verdict_name(VERDICT_AK_NAME_MISMATCH),
                      ak->has_public ? "the AK's TPM name is not the given --ak-name"
                                     : "a PEM AK has no TPM name to compare");
        return CTL_EXIT_FAIL;
    }
    if (pcrs_path) {
        r = quote_parse_tpm2_tools_pcrs(pcrs_buf, pcrs_size, banks, ELEMENTSOF(banks), &n_banks,
                                        &file_sel, &err);
        /* Not the serialized dump: bare digests of the --pcr-list selection. */
        if (r < 0 && have_required) {
            bg_err verr = {0};
            if (quote_parse_pcr_values(pcrs_buf, pcrs_size, &required, banks, ELEMENTSOF(banks),
                                       &n_banks, &verr) >= 0)
                r = 0, file_sel = required;
            else {
                char msg[sizeof(err.msg) * 2 + 64];
                snprintf(msg, sizeof(msg),
                         "not a tpm2-tools serialized PCR file (%s), nor bare "
                         "digests of --pcr-list (%s)",
                         bg_err_msg(&err), bg_err_msg(&verr));
                print_invalid("pcrs-malformed", msg);
                return CTL_EXIT_FAIL;
            }
        }
        if (r < 0) {
            print_invalid("pcrs-malformed", bg_err_msg(&err));
            return CTL_EXIT_FAIL;
        }
        if (!have_required)
            required = file_sel, have_required = true;
    }
    if (!have_required) {
        /* Without values or a list, the selection check has nothing to hold
         * the quote to; require it explicitly rather than trusting the quote. */
        return ctl_usage_error("quote", "verify needs --pcrs or --pcr-list");
    }

    ev = (quote_evidence){
        .ak = ak,
        .attest = attest,
        .attest_size = attest_size,
        .sig = sig,
        .sig_size = sig_size,
        .nonce = nonce,
        .nonce_size = nonce_size,
        .banks = banks,
        .n_banks = n_banks,
        .required = &required,
        .allow_pem_ak = allow_pem,
    };
    r = quote_verify(&ev, &res, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "quote verification failed: %s", bg_err_msg(&err));

    if (res.verdict == QUOTE_VALID && eventlog_path) {
        r = check_eventlog(eventlog_path, banks, n_banks, &res.selection, el_reason,
                           sizeof(el_reason));
        if (r == CTL_EXIT_RUNTIME)
            return r;
        if (r != 0) {
            if (json) {
                _cleanup_(json_object_putp) json_object *o = result_json(&res, el_reason);
                if (o) {
                    json_object_object_add(
                        o, "verdict",
                        json_object_new_string(verdict_name(VERDICT_EVENTLOG_MISMATCH)));
                    ctl_print_json(o);
                }
            }
            print_invalid(verdict_name(VERDICT_EVENTLOG_MISMATCH), el_reason);
            return CTL_EXIT_FAIL;
        }
    }

    if (json) {
        _cleanup_(json_object_putp) json_object *o =
            result_json(&res, eventlog_path ? el_reason : NULL);
        if (!o)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        ctl_print_json(o);
    }
    if (res.verdict != QUOTE_VALID) {
        if (res.verdict == QUOTE_PCR_VALUES_MISSING && !pcrs_path)
            print_invalid(quote_verdict_name(res.verdict),
                          "AK, signature, nonce and selection verify, but no --pcrs were given "
                          "so the PCR digest is unchecked");
        else
            print_invalid(quote_verdict_name(res.verdict), res.reason);
        return CTL_EXIT_FAIL;
    }
    if (res.ak_unchecked)
        fprintf(stderr, "bootgatectl: warning: PEM AK: attributes and name NOT checked\n");
    if (!json) {
        char sel[256];
        quote_selection_format(&res.selection, sel, sizeof(sel));
        printf("valid: %s\n", res.reason);
        printf("selection: %s\nclock: %" PRIu64 " reset_count: %" PRIu32 " restart_count: %" PRIu32
               " safe: %s\nfirmware_version: 0x%016" PRIx64 "\n",
               sel, res.clock, res.reset_count, res.restart_count, res.safe ? "yes" : "no",
               res.firmware_version);
        if (eventlog_path)
            printf("eventlog: %s\n", el_reason);
    }
    return CTL_EXIT_OK;
}

int ctl_quote_main(int argc, char **argv)
{
    return ctl_single_subcommand("quote", argc, argv, quote_help, "verify", quote_verify_main);
}
