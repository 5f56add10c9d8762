/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl policy capture / predict / explain: the commands that read event
 * logs. */
#include "ctl_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "authenticode.h"
#include "ctl.h"
#include "ctlutil.h"
#include "explain.h"
#include "policy.h"
#include "proto.h"
#include "util.h"
#include "verify.h"

int ctl_policy_load_eventlog(const char *path, eventlog **ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    bg_err err = {{0}};
    int r = read_file(path, EVENTLOG_MAX_SIZE, &buf, &size, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (eventlog_parse(buf, size, ret, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", path, bg_err_msg(&err));
    return CTL_EXIT_OK;
}

int ctl_policy_load_ima(const char *path, ima_log **ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    bg_err err = {{0}};
    int r = read_file(path, IMA_MAX_SIZE, &buf, &size, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (ima_parse(buf, size, ret, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", path, bg_err_msg(&err));
    return CTL_EXIT_OK;
}

static int parse_version(const char *cmd, const char *s, int64_t *ret)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1 || v > (1LL << 53))
        return ctl_usage_error(cmd, "--version: a positive integer");
    *ret = v;
    return CTL_EXIT_OK;
}

static json_object *hex_string(const uint8_t *d, size_t n)
{
    char hex[2 * TPMALG_MAX_DIGEST + 1];
    hex_encode(d, n, hex);
    return json_object_new_string(hex);
}

/* The baseline of a (possibly edited) log: replayed sha256 values of the
 * gated PCRs and the events that produced them. */
int ctl_policy_baseline_json(const eventlog *log, const ctl_doc_opts *o, json_object **ret)
{
    pcr_bank bank;
    bg_err err = {{0}};
    if (eventlog_replay(log, TPMALG_SHA256, &bank, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "replaying the sha256 bank: %s", bg_err_msg(&err));
    json_object *b = json_object_new_object(), *pcrs = json_object_new_object(),
                *evs = json_object_new_array();
    char key[4], desc[POLICY_MAX_DESC], tbuf[16];
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if ((o->gate & (1u << i)) && i != IMA_PCR) {
            snprintf(key, sizeof key, "%u", i);
            json_object_object_add(pcrs, key, hex_string(bank.pcr[i], POLICY_DIGEST_SIZE));
        }
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        const eventlog_digest *d = eventlog_event_digest(ev, TPMALG_SHA256);
        if (ev->type == EV_NO_ACTION || ev->pcr >= PCR_COUNT || !(o->gate & (1u << ev->pcr)) || !d)
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "pcr", json_object_new_int((int)ev->pcr));
        json_object_object_add(e, "type",
                               json_object_new_string(ctl_event_type_label(ev->type, tbuf)));
        json_object_object_add(e, "digest", hex_string(d->bytes, d->size));
        eventlog_event_describe(ev, desc, sizeof desc);
        json_object_object_add(e, "desc", json_object_new_string(desc));
        json_object_array_add(evs, e);
    }
    json_object_object_add(b, "name", json_object_new_string(o->baseline));
    json_object_object_add(b, "pcrs", pcrs);
    json_object_object_add(b, "events", evs);
    *ret = b;
    return CTL_EXIT_OK;
}

int ctl_policy_ima_json(const ima_log *ima, json_object **ret)
{
    json_object *sec = json_object_new_object(), *allow = json_object_new_array(),
                *seen = json_object_new_object();
    for (size_t i = 0; i < ima->n_entries; i++) {
        const ima_entry *e = &ima->entries[i];
        const tpmalg *a = tpmalg_by_id(e->file_digest_alg);
        char hex[2 * TPMALG_MAX_DIGEST + 1], s[2 * TPMALG_MAX_DIGEST + 16];
        if (!a || e->file_digest_size != a->size)
            continue;
        hex_encode(e->file_digest, e->file_digest_size, hex);
        snprintf(s, sizeof s, "%s:%s", a->name, hex);
        if (json_object_object_get_ex(seen, s, NULL))
            continue;
        json_object_object_add(seen, s, NULL);
        json_object_array_add(allow, json_object_new_string(s));
    }
    json_object_put(seen);
    json_object *ign = json_object_new_array();
    /* boot_aggregate hashes PCRs 0-9: it changes with every firmware or kernel
     * update the baselines already judge. */
    json_object_array_add(ign, json_object_new_string("^boot_aggregate$"));
    json_object_object_add(sec, "allow", allow);
    json_object_object_add(sec, "ignore_paths", ign);
    *ret = sec;
    return CTL_EXIT_OK;
}

/* Builds, validates and writes the policy document. */
int ctl_policy_emit_document(const ctl_doc_opts *o, json_object *baseline, json_object *ima)
{
    json_object *doc = json_object_new_object(), *gate = json_object_new_array(),
                *bl = json_object_new_array();
    json_object_object_add(doc, "name", json_object_new_string(o->name));
    json_object_object_add(doc, "version", json_object_new_int64(o->version));
    json_object_object_add(doc, "mode", json_object_new_string(o->mode));
    json_object_object_add(doc, "pcr_bank", json_object_new_string("sha256"));
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (o->gate & (1u << i))
            json_object_array_add(gate, json_object_new_int((int)i));
    json_object_object_add(doc, "gate_pcrs", gate);
    json_object_array_add(bl, baseline);
    json_object_object_add(doc, "baselines", bl);
    if (ima)
        json_object_object_add(doc, "ima", ima);
    if (o->not_after)
        json_object_object_add(doc, "not_after", json_object_new_string(o->not_after));

    _cleanup_(policy_freep) policy *p = NULL;
    bg_err err = {{0}};
    int r = policy_from_json(doc, &p, &err);
    if (r < 0) {
        json_object_put(doc);
        return ctl_error(r == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME,
                         "the captured policy does not validate: %s", bg_err_msg(&err));
    }
    _cleanup_(freep) char *text = NULL;
    if (asprintf(&text, "%s\n",
                 json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
        text = NULL;
    json_object_put(doc);
    if (!text)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    return ctl_policy_write_output(o->out, text);
}

int ctl_policy_check_doc_opts(const char *cmd, ctl_doc_opts *o, bool have_ima)
{
    static char defname[POLICY_MAX_NAME + 32];
    if (!o->name)
        return ctl_usage_error(cmd, "--name is required");
    if (!o->version)
        return ctl_usage_error(cmd, "--version is required");
    if (strcmp(o->mode, "enforce") && strcmp(o->mode, "audit"))
        return ctl_usage_error(cmd, "--mode: enforce or audit");
    if (!o->gate_set)
        o->gate = POLICY_DEFAULT_GATE_MASK | (have_ima ? 1u << IMA_PCR : 0);
    if ((o->gate & (1u << IMA_PCR)) && !have_ima)
        return ctl_usage_error(cmd, "PCR 10 is gated only with --ima");
    if (!o->baseline) {
        snprintf(defname, sizeof defname, "%s-v%lld", o->name, (long long)o->version);
        o->baseline = defname;
    }
    return CTL_EXIT_OK;
}

/* Returns -1 when c is not a document option, else a CTL_EXIT_* code. */
int ctl_policy_doc_option(const char *cmd, int c, ctl_doc_opts *o)
{
    bg_err err = {{0}};
    switch (c) {
    case DOC_OPT_NAME:
        o->name = optarg;
        return CTL_EXIT_OK;
    case DOC_OPT_VERSION:
        return parse_version(cmd, optarg, &o->version);
    case DOC_OPT_MODE:
        o->mode = optarg;
        return CTL_EXIT_OK;
    case DOC_OPT_PCRS:
        if (policy_parse_pcr_list(optarg, &o->gate, &err) < 0)
            return ctl_usage_error(cmd, "--pcrs: %s", bg_err_msg(&err));
        o->gate_set = true;
        return CTL_EXIT_OK;
    case DOC_OPT_BASELINE:
        o->baseline = optarg;
        return CTL_EXIT_OK;
    case DOC_OPT_NOT_AFTER:
        o->not_after = optarg;
        return CTL_EXIT_OK;
    case DOC_OPT_OUT:
        o->out = optarg;
        return CTL_EXIT_OK;
    }
    return -1;
}

int ctl_policy_capture(int argc, char **argv)
{
    static const struct option opts[] = {DOC_OPTIONS,
                                         {"eventlog", required_argument, NULL, 'e'},
                                         {"ima", required_argument, NULL, 'i'},
                                         {}};
    const char *log_path = NULL, *ima_path = NULL;
    ctl_doc_opts o = {.mode = "enforce"};
    int c, r;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if ((r = ctl_policy_doc_option("policy capture", c, &o)) >= 0) {
            if (r != CTL_EXIT_OK)
                return r;
            continue;
        }
        switch (c) {
        case 'e':
            log_path = optarg;
            break;
        case 'i':
            ima_path = optarg;
            break;
        case 'h':
            puts("Usage: bootgatectl policy capture --eventlog LOG [--ima IMA] --name N\n"
                 "         --version V [--mode enforce|audit] [--pcrs LIST] [--baseline NAME]\n"
                 "         [--not-after YYYY-MM-DDTHH:MM:SSZ] [--out FILE]\n"
                 "Makes an exact baseline from a reference machine's logs: the replayed sha256\n"
                 "values of the gated PCRs (default 0-9,11; 10 only with --ima) and the\n"
                 "events behind them. With --ima, every file digest of the IMA log is allowed\n"
                 "(boot_aggregate ignored). The output (default stdout) is unsigned.");
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy capture", "bad option");
        }
    }
    if (optind != argc)
        return ctl_usage_error("policy capture", "unexpected argument '%s'", argv[optind]);
    if (!log_path)
        return ctl_usage_error("policy capture", "--eventlog is required");
    if ((r = ctl_policy_check_doc_opts("policy capture", &o, ima_path)) != CTL_EXIT_OK)
        return r;

    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *ima = NULL;
    if ((r = ctl_policy_load_eventlog(log_path, &log)) != CTL_EXIT_OK)
        return r;
    if (ima_path && (r = ctl_policy_load_ima(ima_path, &ima)) != CTL_EXIT_OK)
        return r;
    json_object *b = NULL, *ij = NULL;
    if ((r = ctl_policy_baseline_json(log, &o, &b)) != CTL_EXIT_OK)
        return r;
    if (ima && (r = ctl_policy_ima_json(ima, &ij)) != CTL_EXIT_OK) {
        json_object_put(b);
        return r;
    }
    return ctl_policy_emit_document(&o, b, ij);
}

/* explain ---------------------------------------------------------------- */

/* {"0": "hex", ..., "23": "hex"}: the sha256 bank as read on the machine. */
static int load_pcr_values(const char *path, pcr_bank *ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    int r;
    bg_err err = {{0}};
    if (read_file(path, 1u << 16, &buf, &size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    json_object *o = json_tokener_parse((const char *)buf);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return ctl_error(CTL_EXIT_FAIL, "%s: not a JSON object of PCR values", path);
    }
    memset(ret, 0, sizeof *ret);
    ret->alg = TPMALG_SHA256;
    ret->digest_size = POLICY_DIGEST_SIZE;
    json_object_object_foreach(o, k, v)
    {
        char *end;
        unsigned long i = strtoul(k, &end, 10);
        if (*end || !*k || i >= PCR_COUNT || !json_object_is_type(v, json_type_string) ||
            hex_decode_exact(json_object_get_string(v), ret->pcr[i], POLICY_DIGEST_SIZE, NULL) <
                0) {
            /* k lives in o: report before releasing it */
            r = ctl_error(CTL_EXIT_FAIL, "%s: \"%.8s\": not a PCR index with 64 hex digits", path,
                          k);
            json_object_put(o);
            return r;
        }
        ret->mask |= 1u << i;
    }
    json_object_put(o);
    return CTL_EXIT_OK;
}

int ctl_policy_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'}, {"eventlog", required_argument, NULL, 'e'},
        {"ima", required_argument, NULL, 'i'},    {"at", required_argument, NULL, 'a'},
        {"pcrs", required_argument, NULL, 'q'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {}};
    const char *ppath = NULL, *lpath = NULL, *ipath = NULL, *qpath = NULL;
    time_t now = time(NULL);
    bool json = false;
    int c, r;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
        switch (c) {
        case 'p':
            ppath = optarg;
            break;
        case 'e':
            lpath = optarg;
            break;
        case 'i':
            ipath = optarg;
            break;
        case 'a':
            if (ctl_parse_utc(optarg, &now) < 0)
                return ctl_usage_error("policy explain", "--at: YYYY-MM-DDTHH:MM:SSZ");
            break;
        case 'q':
            qpath = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            puts("Usage: bootgatectl policy explain --policy P --eventlog LOG [--ima IMA]\n"
                 "         [--pcrs PCRS.json] [--at TIME] [--json]\n"
                 "Evaluates a boot's logs offline against a policy, the way bootgated does.\n"
                 "--pcrs gives the sha256 PCR values read on the machine ({\"0\": \"hex\", ...},\n"
                 "as in tests/data/captures/*/pcrs-sha256.json); without it the replayed log\n"
                 "stands in for the quote. Prints the verdict and, on a denial, what differs\n"
                 "from the closest baseline. Exit 0 pass, 1 deny (also when audit mode would\n"
                 "release).");
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy explain", "bad option");
        }
    if (optind != argc)
        return ctl_usage_error("policy explain", "unexpected argument '%s'", argv[optind]);
    if (!ppath || !lpath)
        return ctl_usage_error("policy explain", "--policy and --eventlog are required");

    _cleanup_(policy_freep) policy *p = NULL;
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *ima = NULL;
    bg_err err = {{0}};
    if ((r = policy_load(ppath, &p, &err)) < 0)
        return ctl_error(r == -EINVAL ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if ((r = ctl_policy_load_eventlog(lpath, &log)) != CTL_EXIT_OK)
        return r;
    if (ipath && (r = ctl_policy_load_ima(ipath, &ima)) != CTL_EXIT_OK)
        return r;

    /* Offline there is no quote: the PCR values read on the machine stand in
     * for it (and the logs must replay to them, verify.h), else the logs'
     * own replay, over the PCRs a bootgate quote covers. */
    _cleanup_(evidence_done) evidence ev = {0};
    uint32_t quotable = (1u << PROTO_PCR_COUNT) - 1;
    if (qpath) {
        pcr_bank quoted;
        if ((r = load_pcr_values(qpath, &quoted)) != CTL_EXIT_OK)
            return r;
        quoted.mask &= quotable;
        r = evidence_replay(&quoted, log, ima, &ev, &err);
    } else
        r = evidence_from_logs(log, ima, quotable, &ev, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (ev.verdict != VERDICT_OK) {
        printf("policy %s v%llu (%s): DENIED: evidence does not verify (%s)\n  %s\n", p->name,
               (unsigned long long)p->version, policy_mode_name(p->mode), verdict_name(ev.verdict),
               ev.reason);
        for (size_t i = 0; i < ev.n_diffs; i++)
            printf("  event log does not replay to quoted PCR %u\n", ev.diffs[i].pcr);
        return CTL_EXIT_FAIL;
    }
    policy_result res;
    if (policy_evaluate(p, &ev, now, &res, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (json) {
        json_object *o = policy_result_to_json(&res);
        json_object_object_add(o, "policy", json_object_new_string(p->name));
        json_object_object_add(o, "version", json_object_new_int64((int64_t)p->version));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        _cleanup_(freep) char *s = policy_result_summary(&res);
        printf("policy %s v%llu (%s): ", p->name, (unsigned long long)p->version,
               policy_mode_name(p->mode));
        fputs(s ? s : "(out of memory)\n", stdout);
        if (res.explanation && res.explanation->n_events > 12)
            puts("  (use --json for every difference)");
    }
    r = res.verdict == POLICY_PASS ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    policy_result_done(&res);
    return r;
}
