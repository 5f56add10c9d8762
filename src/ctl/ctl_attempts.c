/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl node attempts|explain: a node's stored unlock attempts, and
 * one of them explained again, against the policy version that judged it or
 * against a candidate policy, without the machine at hand. */
#include "ctl_attempts.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctlutil.h"
#include "explain.h"
#include "policy.h"
#include "reeval.h"
#include "util.h"

static const adminapi_field want_attempts[] = {{"attempts", json_type_array}, {}};
static const adminapi_field want_attempt[] = {
    {"id", json_type_int},          {"node_id", json_type_string}, {"pcrs", json_type_string},
    {"eventlog", json_type_string}, {"ima", json_type_string},     {}};
static const adminapi_field want_policy[] = {{"policy", json_type_string}, {}};

void ctl_attempt_done(ctl_attempt *a)
{
    json_object_put(a->json);
    free(a->eventlog);
    free(a->ima);
    memset(a, 0, sizeof(*a));
}

static int decode_log(json_object *o, const char *key, uint8_t **ret, size_t *ret_size)
{
    const char *b64 = ctl_jstr(o, key);
    bg_err err = {{0}};
    *ret = NULL;
    *ret_size = 0;
    if (!*b64)
        return CTL_EXIT_OK;
    if (base64_decode_alloc(b64, ret, ret_size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "the server's %s is not base64: %s", key,
                         bg_err_msg(&err));
    return CTL_EXIT_OK;
}

int ctl_attempt_fetch(adminapi_opts *o, int64_t id, ctl_attempt *ret)
{
    char path[64];
    int r;
    memset(ret, 0, sizeof(*ret));
    snprintf(path, sizeof(path), "/v1/admin/attempts/%" PRId64, id);
    r = ctl_admin_request(o, "attempt", "GET", path, NULL, want_attempt, &ret->json);
    if (r == CTL_EXIT_OK)
        r = decode_log(ret->json, "eventlog", &ret->eventlog, &ret->eventlog_size);
    if (r == CTL_EXIT_OK)
        r = decode_log(ret->json, "ima", &ret->ima, &ret->ima_size);
    if (r != CTL_EXIT_OK)
        ctl_attempt_done(ret);
    return r;
}

static bool node_id_ok(const char *id)
{
    return *id && strlen(id) <= 128 && strspn(id, "0123456789abcdefABCDEF-_.") == strlen(id);
}

/* The reason an attempt's evaluation gives, one line. */
static const char *attempt_reason(json_object *a)
{
    json_object *ev = NULL, *reason = NULL;
    if (json_object_object_get_ex(a, "evaluation", &ev) &&
        json_object_object_get_ex(ev, "reason", &reason))
        return json_object_get_string(reason);
    return "";
}

static void print_attempt_line(json_object *a)
{
    char t[32], pol[160];
    const char *name = ctl_jstr(a, "policy"), *would = ctl_jstr(a, "audit_verdict");
    ctl_format_time(json_object_get_int64(json_object_object_get(a, "time")), t);
    if (*name)
        snprintf(pol, sizeof(pol), "%s v%s", name, ctl_jstr(a, "policy_version"));
    else
        snprintf(pol, sizeof(pol), "-");
    printf("%-8s %-20s  %-8s  %-22s  %-10s  %-20s  %s%s%s\n", ctl_jstr(a, "id"), t,
           json_object_get_boolean(json_object_object_get(a, "released")) ? "released" : "denied",
           ctl_jstr(a, "verdict"), *ctl_jstr(a, "mode") ? ctl_jstr(a, "mode") : "-", pol,
           *would ? "would be " : "", would, *would ? ": " : "");
    if (*attempt_reason(a))
        printf("%-8s %s\n", "", attempt_reason(a));
}

/* Shared option parsing of the two verbs: NODE, --json, the server. */
typedef struct node_args {
    adminapi_opts o;
    const char *node;
    const char *policy_file;
    int64_t attempt;
    int64_t limit;
    bool json;
} node_args;

static void node_args_done(node_args *a)
{
    adminapi_opts_done(&a->o);
}

static int parse_args(const char *verb, int argc, char **argv, node_args *a, const char *help)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"attempt", required_argument, NULL, 'a'},
        {"policy", required_argument, NULL, 'p'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    char what[32];
    int c;
    snprintf(what, sizeof(what), "node %s", verb);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&a->o, c, optarg))
            continue;
        switch (c) {
        case 'j':
            a->json = true;
            break;
        case 'a':
        case 'l': {
            char *end;
            long long v;
            errno = 0;
            v = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1)
                return ctl_usage_error(what, "--%s: a positive number",
                                       c == 'a' ? "attempt" : "limit");
            if (c == 'a')
                a->attempt = v;
            else
                a->limit = v;
            break;
        }
        case 'p':
            a->policy_file = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            fputs(ADMINAPI_USAGE, stdout);
            return -1;
        default:
            return ctl_usage_error(what, "unknown option");
        }
    }
    if (optind + 1 != argc)
        return ctl_usage_error(what, "expected one NODE_ID");
    a->node = argv[optind];
    if (!node_id_ok(a->node))
        return ctl_usage_error(what, "bad node id '%s'", a->node);
    return CTL_EXIT_OK;
}

int ctl_node_attempts(int argc, char **argv)
{
    static const char help[] =
        "Usage: bootgatectl node attempts NODE_ID [--limit N] [--json]\n"
        "The node's stored unlock attempts, newest first: id, time, released or denied,\n"
        "verdict, policy mode and version, the would-be verdict of an audit-mode release,\n"
        "and the reason. `node explain NODE_ID --attempt ID` shows one in full.\n"
        "  --limit N             at most N attempts\n"
        "  --json                the server's JSON\n";
    _cleanup_(node_args_done) node_args a = {0};
    json_object *reply = NULL, *arr = NULL;
    char path[256];
    int r = parse_args("attempts", argc, argv, &a, help);
    if (r != CTL_EXIT_OK)
        return r < 0 ? CTL_EXIT_OK : r;
    snprintf(path, sizeof(path), "/v1/admin/nodes/%s/attempts?limit=%" PRId64, a.node, a.limit);
    r = ctl_admin_request(&a.o, "node attempts", "GET", path, NULL, want_attempts, &reply);
    if (r != CTL_EXIT_OK)
        return r;
    if (a.json) {
        ctl_print_json(reply);
    } else {
        json_object_object_get_ex(reply, "attempts", &arr);
        if (json_object_array_length(arr) == 0)
            printf("no stored attempts for node %s\n", a.node);
        else
            printf("%-8s %-20s  %-8s  %-22s  %-10s  %-20s  %s\n", "ID", "TIME", "RESULT", "VERDICT",
                   "MODE", "POLICY", "AUDIT MODE");
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            print_attempt_line(json_object_array_get_idx(arr, i));
    }
    json_object_put(reply);
    return CTL_EXIT_OK;
}

/* The newest stored attempt of the node. */
static int newest_attempt(node_args *a)
{
    json_object *reply = NULL, *arr = NULL;
    char path[256];
    int r;
    snprintf(path, sizeof(path), "/v1/admin/nodes/%s/attempts?limit=1", a->node);
    r = ctl_admin_request(&a->o, "node explain", "GET", path, NULL, want_attempts, &reply);
    if (r != CTL_EXIT_OK)
        return r;
    json_object_object_get_ex(reply, "attempts", &arr);
    if (json_object_array_length(arr) == 0) {
        json_object_put(reply);
        return ctl_error(CTL_EXIT_FAIL, "node explain: no stored attempts for node %s", a->node);
    }
    a->attempt =
        json_object_get_int64(json_object_object_get(json_object_array_get_idx(arr, 0), "id"));
    json_object_put(reply);
    return CTL_EXIT_OK;
}

/* The policy version the attempt was judged by, from the server. */
static int judged_by(node_args *a, json_object *att, policy **ret)
{
    json_object *reply = NULL, *pj = NULL;
    bg_err err = {{0}};
    char path[320];
    int r;
    if (!*ctl_jstr(att, "policy"))
        return ctl_error(CTL_EXIT_FAIL,
                         "node explain: attempt %s was judged by no policy (%s); give --policy",
                         ctl_jstr(att, "id"), ctl_jstr(att, "verdict"));
    snprintf(path, sizeof(path), "/v1/admin/policies/%s/%s", ctl_jstr(att, "policy"),
             ctl_jstr(att, "policy_version"));
    r = ctl_admin_request(&a->o, "node explain", "GET", path, NULL, want_policy, &reply);
    if (r != CTL_EXIT_OK)
        return r;
    json_object_object_get_ex(reply, "policy", &pj);
    r = policy_parse(json_object_get_string(pj), (size_t)json_object_get_string_len(pj), ret, &err);
    json_object_put(reply);
    if (r < 0)
        return ctl_error(CTL_EXIT_FAIL, "node explain: the server's policy does not parse: %s",
                         bg_err_msg(&err));
    return CTL_EXIT_OK;
}

int ctl_node_explain(int argc, char **argv)
{
    static const char help[] =
        "Usage: bootgatectl node explain NODE_ID [--attempt ID] [--policy FILE] [--json]\n"
        "Judges a stored unlock attempt again from the evidence bootgated kept (quoted\n"
        "PCRs, UEFI and IMA logs) and prints the full explanation: each PCR that differs\n"
        "from the closest baseline, and each event (index, type, description, expected\n"
        "and observed digest). Without --policy, against the policy version that judged\n"
        "the attempt, at the attempt's time; with it, against that candidate policy now.\n"
        "Exit 0 when the policy releases the boot, 1 when it denies it.\n"
        "  --attempt ID          the attempt (default: the node's newest)\n"
        "  --policy FILE         a candidate policy document (signed or not)\n"
        "  --json                the evaluation as JSON\n";
    _cleanup_(node_args_done) node_args a = {0};
    _cleanup_(ctl_attempt_done) ctl_attempt at = {0};
    _cleanup_(policy_freep) policy *p = NULL;
    policy_result res = {0};
    bg_err err = {{0}};
    time_t when = time(NULL);
    char t[32];
    int r = parse_args("explain", argc, argv, &a, help);
    if (r != CTL_EXIT_OK)
        return r < 0 ? CTL_EXIT_OK : r;
    if (a.policy_file && policy_load(a.policy_file, &p, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "node explain: %s", bg_err_msg(&err));
    if (!a.attempt && (r = newest_attempt(&a)) != CTL_EXIT_OK)
        return r;
    if ((r = ctl_attempt_fetch(&a.o, a.attempt, &at)) != CTL_EXIT_OK)
        return r;
    if (strcmp(ctl_jstr(at.json, "node_id"), a.node))
        return ctl_error(CTL_EXIT_FAIL, "node explain: attempt %" PRId64 " is of node %s, not %s",
                         a.attempt, ctl_jstr(at.json, "node_id"), a.node);
    if (!p) {
        if ((r = judged_by(&a, at.json, &p)) != CTL_EXIT_OK)
            return r;
        when = (time_t)json_object_get_int64(json_object_object_get(at.json, "time"));
    }
    if (attempt_evaluate(p, ctl_jstr(at.json, "pcrs"), at.eventlog, at.eventlog_size, at.ima,
                         at.ima_size, when, &res, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "node explain: %s", bg_err_msg(&err));
    ctl_format_time(json_object_get_int64(json_object_object_get(at.json, "time")), t);
    if (a.json) {
        json_object *o = policy_result_to_json(&res);
        json_object_object_add(o, "attempt", json_object_new_int64(a.attempt));
        json_object_object_add(o, "node_id", json_object_new_string(a.node));
        json_object_object_add(o, "policy", json_object_new_string(p->name));
        json_object_object_add(o, "version", json_object_new_int64((int64_t)p->version));
        json_object_object_add(o, "recorded_verdict",
                               json_object_new_string(ctl_jstr(at.json, "verdict")));
        ctl_print_json(o);
        json_object_put(o);
    } else {
        _cleanup_(freep) char *full = NULL;
        printf("attempt %" PRId64 " of node %s at %s: %s (recorded verdict %s)\n", a.attempt,
               a.node, t,
               json_object_get_boolean(json_object_object_get(at.json, "released")) ? "released"
                                                                                    : "denied",
               ctl_jstr(at.json, "verdict"));
        printf("policy %s v%llu (%s)%s: ", p->name, (unsigned long long)p->version,
               policy_mode_name(p->mode), a.policy_file ? ", candidate" : "");
        if (res.verdict == POLICY_PASS)
            puts("PASS");
        else {
            printf("%s\n  %s\n",
                   res.release ? "AUDIT (would deny; released: audit mode)" : "DENIED", res.reason);
            if (res.explanation && explanation_format(res.explanation, SIZE_MAX, &full) >= 0 &&
                full)
                fputs(full, stdout);
        }
    }
    r = res.verdict == POLICY_PASS ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    policy_result_done(&res);
    return r;
}
