/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl policy propose --from-attempt ID: canary promotion (issue 11,
 * DESIGN §3 "Operating through change"). A stored attempt's evidence (its
 * event log, IMA log and quoted PCRs, through the admin API) becomes a
 * baseline, made by the code of `policy capture` and added to a policy like
 * `policy predict --into`. The logs must replay to the quoted PCRs, so that
 * the baseline is what the TPM quoted. The result is an unsigned file to
 * review, diff and sign: nothing is signed or activated here or on the
 * server. */
#include "ctl_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminapi.h"
#include "ctl.h"
#include "ctl_attempts.h"
#include "ctlutil.h"
#include "proto.h"
#include "tpmalg.h"
#include "verify.h"

#define PROPOSE_OPT_FROM  0x200
#define PROPOSE_OPT_INTO  0x201
#define PROPOSE_OPT_FORCE 0x202

static void usage(void)
{
    puts("Usage: bootgatectl policy propose --from-attempt ID --name N --version V\n"
         "         [--out P.json] [--baseline NAME] [--mode enforce|audit] [--pcrs LIST]\n"
         "         [--not-after TIME] [--into CURRENT.json]\n"
         "A baseline from a stored unlock attempt's evidence (a canary's boot of a change\n"
         "that cannot be predicted, such as a firmware update): the attempt's event log\n"
         "(and IMA log) are fetched from the server, must replay to the PCRs its TPM\n"
         "quoted, and become a baseline as `policy capture` makes it (default name\n"
         "N-vV). --into adds it to the policy CURRENT.json as its version V (gate PCRs,\n"
         "IMA section and, without --mode, mode of CURRENT; the attempt's IMA file\n"
         "digests are added to its allow list). The output (default stdout) is unsigned: review "
         "it, `policy diff`\n"
         "it, then sign, publish and activate it. Exit 1 when the attempt's logs do not\n"
         "replay to its quote.\n\n" ADMINAPI_USAGE);
}

/* Adds the attempt's IMA file digests that current's allow list lacks. */
static void merge_ima_allow(json_object *current, json_object *ima_section)
{
    json_object *cur_ima, *cur_allow, *add;
    if (!json_object_object_get_ex(current, "ima", &cur_ima) ||
        !json_object_object_get_ex(cur_ima, "allow", &cur_allow) ||
        !json_object_is_type(cur_allow, json_type_array) ||
        !json_object_object_get_ex(ima_section, "allow", &add))
        return;
    for (size_t i = 0; i < json_object_array_length(add); i++) {
        json_object *d = json_object_array_get_idx(add, i);
        bool have = false;
        for (size_t j = 0; j < json_object_array_length(cur_allow) && !have; j++)
            have = !strcmp(json_object_get_string(json_object_array_get_idx(cur_allow, j)),
                           json_object_get_string(d));
        if (!have)
            json_object_array_add(cur_allow, json_object_get(d));
    }
}

/* The logs must replay to the quoted PCRs (the server stored only attempts
 * whose quote verified; this checks that what came back is that evidence),
 * and the baseline may gate only PCRs the quote covers. */
static int check_replay(int64_t id, const char *pcrs_hex, const eventlog *log, const ima_log *ima,
                        uint32_t gate)
{
    _cleanup_(evidence_done) evidence ev = {0};
    pcr_bank quoted;
    bg_err err = {0};
    if (pcr_bank_decode_hex(pcrs_hex, &quoted) < 0 || quoted.alg != TPMALG_SHA256)
        return ctl_error(CTL_EXIT_FAIL, "attempt %lld: its quoted PCRs are not a sha256 bank",
                         (long long)id);
    if (gate & ~quoted.mask) {
        char l[96];
        policy_format_pcr_mask(gate & ~quoted.mask, l, sizeof(l));
        return ctl_error(CTL_EXIT_FAIL, "attempt %lld: PCR %s not quoted; give --pcrs",
                         (long long)id, l);
    }
    if (evidence_replay(&quoted, log, ima, &ev, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "attempt %lld: %s", (long long)id, bg_err_msg(&err));
    if (ev.verdict != VERDICT_OK) {
        char l[96] = "";
        uint32_t m = 0;
        for (size_t i = 0; i < ev.n_diffs; i++)
            m |= 1u << ev.diffs[i].pcr;
        policy_format_pcr_mask(m, l, sizeof(l));
        if (!m)
            return ctl_error(CTL_EXIT_FAIL, "attempt %lld: %s: no baseline proposed", (long long)id,
                             ev.reason);
        return ctl_error(CTL_EXIT_FAIL,
                         "attempt %lld: its logs do not replay to its quoted PCRs: PCR %s: no "
                         "baseline proposed",
                         (long long)id, l);
    }
    return CTL_EXIT_OK;
}

int ctl_policy_propose(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"from-attempt", required_argument, NULL, PROPOSE_OPT_FROM},
        {"into", required_argument, NULL, PROPOSE_OPT_INTO},
        DOC_OPTIONS,
        {}};
    _cleanup_(adminapi_opts_done) adminapi_opts ao = {0};
    _cleanup_(ctl_attempt_done) ctl_attempt a = {0};
    _cleanup_(json_object_putp) json_object *current = NULL;
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *ima = NULL;
    const char *into = NULL;
    ctl_doc_opts o = {0};
    int64_t id = 0;
    bg_err err = {0};
    int c, r;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&ao, c, optarg))
            continue;
        if ((r = ctl_policy_doc_option("policy propose", c, &o)) >= 0) {
            if (r != CTL_EXIT_OK)
                return r;
            continue;
        }
        switch (c) {
        case PROPOSE_OPT_FROM: {
            char *end;
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1)
                return ctl_usage_error("policy propose", "--from-attempt: an attempt id (>= 1)");
            id = v;
            break;
        }
        case PROPOSE_OPT_INTO:
            into = optarg;
            break;
        case 'h':
            usage();
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy propose", "bad option");
        }
    }
    if (optind != argc)
        return ctl_usage_error("policy propose", "unexpected argument '%s'", argv[optind]);
    if (!id)
        return ctl_usage_error("policy propose", "--from-attempt is required");
    /* with --into, CURRENT's mode stays unless --mode says otherwise */
    const bool mode_given = o.mode != NULL;
    if (!mode_given)
        o.mode = "enforce";
    if (into && o.gate_set)
        return ctl_usage_error("policy propose",
                               "--into takes the gate PCRs of CURRENT: no --pcrs");

    if ((r = ctl_attempt_fetch(&ao, id, &a)) != CTL_EXIT_OK)
        return r;
    if (!a.eventlog_size)
        return ctl_error(CTL_EXIT_FAIL, "attempt %lld has no event log", (long long)id);
    if (eventlog_parse(a.eventlog, a.eventlog_size, &log, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "attempt %lld: event log: %s", (long long)id,
                         bg_err_msg(&err));
    if (a.ima_size && ima_parse(a.ima, a.ima_size, &ima, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "attempt %lld: IMA log: %s", (long long)id,
                         bg_err_msg(&err));
    if ((r = ctl_policy_check_doc_opts("policy propose", &o, ima != NULL)) != CTL_EXIT_OK)
        return r;
    if (into && (r = ctl_policy_load_into("policy propose", into, &o, &current)) != CTL_EXIT_OK)
        return r;
    if ((r = check_replay(id, ctl_jstr(a.json, "pcrs"), log, ima, o.gate)) != CTL_EXIT_OK)
        return r;

    json_object *b = NULL, *ij = NULL;
    if ((r = ctl_policy_baseline_json(log, &o, &b)) != CTL_EXIT_OK)
        return r;
    if (ima && (o.gate & (1u << IMA_PCR)) && (r = ctl_policy_ima_json(ima, &ij)) != CTL_EXIT_OK) {
        json_object_put(b);
        return r;
    }
    fprintf(stderr,
            "bootgatectl: baseline '%s' from attempt %lld of node %s (verdict %s): unsigned; "
            "review, diff and sign it\n",
            o.baseline, (long long)id, ctl_jstr(a.json, "node_id"), ctl_jstr(a.json, "verdict"));
    if (current) {
        if (mode_given)
            json_object_object_add(current, "mode", json_object_new_string(o.mode));
        if (ij)
            merge_ima_allow(current, ij);
        json_object_put(ij);
        return ctl_policy_emit_into("policy propose", &o, into, current, b);
    }
    return ctl_policy_emit_document(&o, b, ij);
}
