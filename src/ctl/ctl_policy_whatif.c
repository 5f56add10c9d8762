/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl policy what-if FILE [--group G] [--json]: a candidate policy
 * (signed or not) judged on the latest stored boot of every node of its group,
 * through the admin API (issue 11, point 3). The attempts come from
 * GET /v1/admin/attempts?group=G&latest=1, each distinct log once from
 * GET /v1/admin/evidence/{sha256}; whatif.h evaluates each distinct boot
 * state once and names the reason a denial is grouped by. */
#include "ctl_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "adminapi.h"
#include "cleanup.h"
#include "ctl.h"
#include "ctlutil.h"
#include "policy.h"
#include "util.h"
#include "whatif.h"

#define WHATIF_NODES_SHOWN 5u /* node ids per reason in the human form */

static const adminapi_field want_attempts[] = {{"attempts", json_type_array}, {}};
static const adminapi_field want_evidence[] = {
    {"sha256", json_type_string}, {"data", json_type_string}, {}};
static const adminapi_field want_policies[] = {{"policies", json_type_array}, {}};
static const adminapi_field want_nodes[] = {{"nodes", json_type_array}, {}};

/* One GET; CTL_EXIT_OK with the reply, else the exit code (message printed). */
static int get(adminapi_opts *o, const char *path, const adminapi_field *want, json_object **ret)
{
    long status = 0;
    bg_err err = {{0}};
    json_object *reply = NULL;
    int r = adminapi_request(o, "GET", path, NULL, want, &status, &reply, &err);
    r = ctl_admin_failed("policy", "what-if", r, &err, status, reply, false);
    if (r >= 0)
        return r;
    *ret = reply;
    return CTL_EXIT_OK;
}

typedef struct fetcher {
    adminapi_opts *o;
    int failed; /* the exit code of a transport or server failure, 0 if none */
} fetcher;

static bool is_sha256_hex(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return false;
    return true;
}

/* whatif_load_fn over GET /v1/admin/evidence/{sha256}: the log, checked
 * against its digest. */
static int fetch_log(void *arg, const char *sha, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    fetcher *f = arg;
    char path[128], hex[65];
    long status = 0;
    bg_err sub = {{0}};
    json_object *reply = NULL;
    uint8_t *data = NULL, md[EVP_MAX_MD_SIZE];
    size_t size = 0;
    unsigned md_len = 0;
    int r;

    if (!is_sha256_hex(sha))
        return bg_err_set(err, -EBADMSG, "the server named a log '%.70s'", sha);
    snprintf(path, sizeof path, "/v1/admin/evidence/%s", sha);
    r = adminapi_request(f->o, "GET", path, NULL, want_evidence, &status, &reply, &sub);
    if (r >= 0 && status == 404) {
        json_object_put(reply);
        return bg_err_set(err, -ENOENT, "log %.12s… is no longer stored", sha);
    }
    if (r < 0 || status != 200) {
        f->failed = ctl_admin_failed("policy", "what-if", r, &sub, status, reply, false);
        return bg_err_set(err, -EIO, "cannot fetch log %.12s…", sha);
    }
    r = base64_decode_alloc(json_object_get_string(json_object_object_get(reply, "data")), &data,
                            &size, &sub);
    json_object_put(reply);
    if (r < 0 || !EVP_Digest(data, size, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        free(data);
        f->failed = ctl_error(CTL_EXIT_RUNTIME, "policy what-if: log %.12s…: bad data", sha);
        return bg_err_set(err, -EBADMSG, "log %.12s…: bad data", sha);
    }
    hex_encode(md, 32, hex);
    if (strcmp(hex, sha)) {
        free(data);
        f->failed = ctl_error(CTL_EXIT_RUNTIME,
                              "policy what-if: the server's log %.12s… has another digest", sha);
        return bg_err_set(err, -EBADMSG, "log digest mismatch");
    }
    *ret = data;
    *ret_size = size;
    return 0;
}

/* The active version of policy name on the server, 0 when none. */
static int active_version(adminapi_opts *o, const char *name, int64_t *ret)
{
    json_object *reply = NULL, *a;
    int r = get(o, "/v1/admin/policies", want_policies, &reply);
    if (r != CTL_EXIT_OK)
        return r;
    *ret = 0;
    a = json_object_object_get(reply, "policies");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *p = json_object_array_get_idx(a, i);
        if (!strcmp(ctl_jstr(p, "name"), name) &&
            json_object_get_boolean(json_object_object_get(p, "active")))
            *ret = json_object_get_int64(json_object_object_get(p, "version"));
    }
    json_object_put(reply);
    return CTL_EXIT_OK;
}

/* A reason and its nodes. */
typedef struct denial_group {
    char *reason;
    size_t count, newly;
    json_object *nodes; /* node ids */
} denial_group;

typedef struct whatif_report {
    size_t evaluated, release, deny, newly;
    denial_group *groups;
    size_t n_groups;
    json_object *node_list;        /* per node */
    json_object *without_evidence; /* [{"node_id","reason"}] */
} whatif_report;

static void report_done(whatif_report *w)
{
    for (size_t i = 0; i < w->n_groups; i++) {
        free(w->groups[i].reason);
        json_object_put(w->groups[i].nodes);
    }
    free(w->groups);
    json_object_put(w->node_list);
    json_object_put(w->without_evidence);
}

static int add_denial(whatif_report *w, const char *reason, const char *node, bool newly)
{
    denial_group *g = NULL;
    for (size_t i = 0; i < w->n_groups && !g; i++)
        if (!strcmp(w->groups[i].reason, reason))
            g = &w->groups[i];
    if (!g) {
        denial_group *v = realloc(w->groups, (w->n_groups + 1) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        w->groups = v;
        g = &v[w->n_groups];
        *g = (denial_group){.reason = strdup(reason), .nodes = json_object_new_array()};
        if (!g->reason || !g->nodes) {
            free(g->reason);
            json_object_put(g->nodes);
            return -ENOMEM;
        }
        w->n_groups++;
    }
    g->count++;
    g->newly += newly;
    json_object_array_add(g->nodes, json_object_new_string(node));
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const denial_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->reason, y->reason);
}

static void add_without(whatif_report *w, const char *node, const char *reason)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "node_id", json_object_new_string(node));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_array_add(w->without_evidence, o);
}

/* Nodes of the group that have no stored attempt at all. */
static int nodes_without_attempts(adminapi_opts *o, const char *group, json_object *attempts,
                                  whatif_report *w)
{
    json_object *reply = NULL, *a;
    int r = get(o, "/v1/admin/nodes", want_nodes, &reply);
    if (r != CTL_EXIT_OK)
        return r;
    a = json_object_object_get(reply, "nodes");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *n = json_object_array_get_idx(a, i);
        const char *id = ctl_jstr(n, "node_id");
        bool seen = false;
        if (strcmp(ctl_jstr(n, "group"), group) || strcmp(ctl_jstr(n, "state"), "active"))
            continue;
        for (size_t j = 0; j < json_object_array_length(attempts) && !seen; j++)
            seen = !strcmp(ctl_jstr(json_object_array_get_idx(attempts, j), "node_id"), id);
        if (!seen)
            add_without(w, id, "no attempt stored");
    }
    json_object_put(reply);
    return CTL_EXIT_OK;
}

static void print_human(const policy *p, const char *file, const char *group, int64_t active,
                        const whatif_cache *c, const whatif_report *w)
{
    size_t nw = json_object_array_length(w->without_evidence);
    printf("candidate %s v%llu (%s) on group %s; active version: ", p->name,
           (unsigned long long)p->version, file, group);
    if (active)
        printf("v%lld\n", (long long)active);
    else
        printf("none\n");
    printf("nodes evaluated: %zu (%zu distinct boot states, %llu logs fetched)\n", w->evaluated,
           c->n_states, (unsigned long long)c->loads);
    printf("would release: %zu\n", w->release);
    printf("would deny: %zu\n", w->deny);
    if (active)
        printf("would newly deny: %zu (latest boot released by %s v%lld)\n", w->newly, group,
               (long long)active);
    printf("without stored evidence: %zu\n", nw);
    for (size_t i = 0; i < nw; i++) {
        json_object *x = json_object_array_get_idx(w->without_evidence, i);
        printf("  %s: %s\n", ctl_jstr(x, "node_id"), ctl_jstr(x, "reason"));
    }
    if (w->n_groups)
        printf("denials by reason:\n");
    for (size_t i = 0; i < w->n_groups; i++) {
        const denial_group *g = &w->groups[i];
        size_t n = json_object_array_length(g->nodes);
        printf("  %zu node%s", g->count, g->count == 1 ? "" : "s");
        if (g->newly)
            printf(" (%zu newly denied)", g->newly);
        printf(": %s\n    nodes:", g->reason);
        for (size_t j = 0; j < n && j < WHATIF_NODES_SHOWN; j++)
            printf(" %s", json_object_get_string(json_object_array_get_idx(g->nodes, j)));
        if (n > WHATIF_NODES_SHOWN)
            printf(" (+%zu more)", n - WHATIF_NODES_SHOWN);
        printf("\n");
    }
}

static void print_json(const policy *p, const char *group, int64_t active, const whatif_cache *c,
                       whatif_report *w)
{
    json_object *o = json_object_new_object(), *pol = json_object_new_object(),
                *groups = json_object_new_array();
    json_object_object_add(pol, "name", json_object_new_string(p->name));
    json_object_object_add(pol, "version", json_object_new_int64((int64_t)p->version));
    json_object_object_add(o, "policy", pol);
    json_object_object_add(o, "group", json_object_new_string(group));
    json_object_object_add(o, "active_version", active ? json_object_new_int64(active) : NULL);
    json_object_object_add(o, "evaluated", json_object_new_int64((int64_t)w->evaluated));
    json_object_object_add(o, "release", json_object_new_int64((int64_t)w->release));
    json_object_object_add(o, "deny", json_object_new_int64((int64_t)w->deny));
    json_object_object_add(o, "newly_denied", json_object_new_int64((int64_t)w->newly));
    json_object_object_add(o, "boot_states", json_object_new_int64((int64_t)c->n_states));
    json_object_object_add(o, "logs_fetched", json_object_new_int64((int64_t)c->loads));
    for (size_t i = 0; i < w->n_groups; i++) {
        json_object *g = json_object_new_object();
        json_object_object_add(g, "reason", json_object_new_string(w->groups[i].reason));
        json_object_object_add(g, "count", json_object_new_int64((int64_t)w->groups[i].count));
        json_object_object_add(g, "newly_denied",
                               json_object_new_int64((int64_t)w->groups[i].newly));
        json_object_object_add(g, "nodes", json_object_get(w->groups[i].nodes));
        json_object_array_add(groups, g);
    }
    json_object_object_add(o, "denials", groups);
    json_object_object_add(o, "without_evidence", json_object_get(w->without_evidence));
    json_object_object_add(o, "nodes", json_object_get(w->node_list));
    ctl_print_json(o);
    json_object_put(o);
}

static void help(void)
{
    printf("Usage: bootgatectl policy what-if [OPTIONS] POLICY\n"
           "Evaluates a candidate policy (signed or not) against the latest stored boot of\n"
           "every node of its group and prints how many nodes it would release and deny, the\n"
           "denials grouped by reason (PCR and event), the nodes whose latest boot the active\n"
           "version released (would newly deny) and the nodes without stored evidence.\n"
           "Exit 0 when it would release every evaluated node, 1 when it would deny some.\n\n"
           "  --group G             the group to judge (default: the policy's name)\n"
           "  --json                machine-readable output\n\n"
           "%s",
           ADMINAPI_USAGE);
}

int ctl_policy_what_if(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"group", required_argument, NULL, 'g'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    _cleanup_(policy_freep) policy *p = NULL;
    const char *group = NULL;
    bool json = false;
    int c, r;
    bg_err err = {{0}};

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'g':
            group = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            help();
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy what-if", "bad option");
        }
    }
    if (optind + 1 != argc)
        return ctl_usage_error("policy what-if", "expected one POLICY file");
    _cleanup_(freep) uint8_t *text = NULL;
    size_t size = 0;
    if ((r = ctl_read_input("policy", argv[optind], POLICY_MAX_SIZE, &text, &size)) != CTL_EXIT_OK)
        return r;
    if (policy_parse((const char *)text, size, &p, &err) < 0)
        return ctl_error(CTL_EXIT_USAGE, "policy what-if: %s: %s", argv[optind], bg_err_msg(&err));
    group = group ? group : p->name;
    if (!policy_name_ok(group))
        return ctl_usage_error("policy what-if", "bad group name '%s'", group);

    int64_t active = 0;
    if ((r = active_version(&o, group, &active)) != CTL_EXIT_OK)
        return r;
    char path[512];
    json_object *reply = NULL, *attempts;
    /* a group name may hold '+' (policy_name_ok), which a query string reads as a space */
    size_t len = (size_t)snprintf(path, sizeof path, "/v1/admin/attempts?latest=1&group=");
    for (const char *g = group; *g && len + 4 < sizeof path; g++)
        len += (size_t)snprintf(path + len, sizeof path - len, strchr("+:@", *g) ? "%%%02X" : "%c",
                                (unsigned char)*g);
    if ((r = get(&o, path, want_attempts, &reply)) != CTL_EXIT_OK)
        return r;
    attempts = json_object_object_get(reply, "attempts");

    whatif_report w = {.node_list = json_object_new_array(),
                       .without_evidence = json_object_new_array()};
    fetcher f = {.o = &o};
    whatif_cache cache = {.policy = p, .now = time(NULL), .load = fetch_log, .load_arg = &f};
    if ((r = nodes_without_attempts(&o, group, attempts, &w)) != CTL_EXIT_OK)
        goto out;
    for (size_t i = 0; i < json_object_array_length(attempts); i++) {
        json_object *a = json_object_array_get_idx(attempts, i), *n;
        const char *id = ctl_jstr(a, "node_id");
        size_t k;
        if (whatif_evaluate(&cache, ctl_jstr(a, "eventlog_sha256"), ctl_jstr(a, "ima_sha256"),
                            ctl_jstr(a, "pcrs"), &k, &err) < 0) {
            r = ctl_error(CTL_EXIT_RUNTIME, "policy what-if: %s", bg_err_msg(&err));
            goto out;
        }
        if (f.failed) {
            r = f.failed;
            goto out;
        }
        const whatif_state *st = &cache.states[k];
        if (st->error == -ENOENT) {
            add_without(&w, id, st->reason);
            continue;
        }
        bool release = st->error == 0 && st->release;
        bool by_active =
            active &&
            whatif_released_by(
                json_object_get_boolean(json_object_object_get(a, "released")), ctl_jstr(a, "mode"),
                ctl_jstr(a, "audit_verdict"), ctl_jstr(a, "policy"),
                json_object_get_int64(json_object_object_get(a, "policy_version")), group, active);
        w.evaluated++;
        if (release)
            w.release++;
        else {
            w.deny++;
            w.newly += by_active;
            if (add_denial(&w, st->reason, id, by_active) < 0) {
                r = ctl_error(CTL_EXIT_RUNTIME, "out of memory");
                goto out;
            }
        }
        n = json_object_new_object();
        json_object_object_add(n, "node_id", json_object_new_string(id));
        json_object_object_add(n, "attempt_id", json_object_get(json_object_object_get(a, "id")));
        json_object_object_add(n, "time", json_object_get(json_object_object_get(a, "time")));
        json_object_object_add(n, "release", json_object_new_boolean(release));
        json_object_object_add(n, "reason", json_object_new_string(st->reason));
        json_object_object_add(n, "released_by_active", json_object_new_boolean(by_active));
        json_object_array_add(w.node_list, n);
    }
    if (w.n_groups > 1)
        qsort(w.groups, w.n_groups, sizeof(*w.groups), by_count);
    if (json)
        print_json(p, group, active, &cache, &w);
    else
        print_human(p, argv[optind], group, active, &cache, &w);
    r = w.deny ? CTL_EXIT_FAIL : CTL_EXIT_OK;
out:
    report_done(&w);
    whatif_cache_done(&cache);
    json_object_put(reply);
    return r;
}
