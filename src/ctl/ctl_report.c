/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl report drift: how the fleet's latest boots drift from their
 * policies' baselines (issue 11), from the stored attempts of the admin API
 * (roles admin, auditor).
 *
 * The nodes counted are those whose newest attempt since T (of group G) has
 * an explanation that names PCRs, events or IMA entries: denied by the
 * policy, released in audit mode that would deny, or released by a
 * break-glass grant. Each is counted once per row (a PCR, an event, an IMA
 * path) against the closest baseline its explanation names. First and last
 * seen are the times of the attempts since T, of those nodes, that showed
 * the same row. */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adminapi.h"
#include "ctlutil.h"
#include "util.h"

/* the most attempts the server lists at once (admin_attempts.c) */
#define REPORT_HISTORY_MAX 100000

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bootgatectl report drift [--since T] [--group G] [--json]\n\n"
            "How the latest boot of each node drifts from the closest baseline of its\n"
            "policy, from the attempts the server stored: per PCR and per event (type and\n"
            "description) and per IMA path, how many nodes, from which baseline, first and\n"
            "last seen. A node counts when its newest attempt since T was denied by the\n"
            "policy, released by audit mode although the policy would deny, or released by\n"
            "a break-glass grant.\n\n"
            "  --since T             attempts since T: UTC YYYY-MM-DDTHH:MM:SSZ or a duration\n"
            "                        before now (30m, 24h, 7d, 2w); default: all stored\n"
            "  --group G             nodes of group G only (default: every group)\n"
            "  --json                the report as JSON (rows sorted; stable)\n\n" ADMINAPI_USAGE);
}

typedef enum row_kind {
    ROW_PCR,
    ROW_EVENT,
    ROW_IMA,
} row_kind;

typedef struct drift_row {
    row_kind kind;
    int pcr;              /* ROW_PCR, ROW_EVENT */
    const char *type;     /* ROW_EVENT: event type name */
    const char *desc;     /* ROW_EVENT: description; ROW_IMA: the file path */
    const char *change;   /* ROW_EVENT: new, missing, changed, not_allowed */
    const char *baseline; /* closest baseline, "" when the policy has none */
    json_object *nodes;   /* set of node ids: {"id": null} */
    int64_t first, last;  /* attempt times */
} drift_row;

typedef struct drift_report {
    drift_row *rows;
    size_t n_rows;
    json_object *index; /* row key -> row index + 1 */
    size_t nodes, drifted, would_deny, other;
} drift_report;

static void report_done(drift_report *r)
{
    for (size_t i = 0; i < r->n_rows; i++)
        json_object_put(r->rows[i].nodes);
    free(r->rows);
    json_object_put(r->index);
}

/* One row's identity: every field that names it, in one string. */
static void row_key(const drift_row *k, char *buf, size_t size)
{
    snprintf(buf, size, "%d\x1f%d\x1f%s\x1f%s\x1f%s\x1f%s", (int)k->kind, k->pcr,
             k->type ? k->type : "", k->desc ? k->desc : "", k->change ? k->change : "",
             k->baseline);
}

/* The row of k, made when create and absent; NULL when absent (or out of
 * memory: then *oom). Strings of k must outlive the report (they live in
 * the replies, which are kept until the end). */
static drift_row *row_get(drift_report *r, const drift_row *k, bool create, bool *oom)
{
    char key[1024];
    json_object *v;
    row_key(k, key, sizeof(key));
    if (json_object_object_get_ex(r->index, key, &v))
        return &r->rows[json_object_get_int64(v) - 1];
    if (!create)
        return NULL;
    drift_row *rows = realloc(r->rows, (r->n_rows + 1) * sizeof(*rows));
    if (!rows) {
        *oom = true;
        return NULL;
    }
    r->rows = rows;
    if (!(v = json_object_new_int64((int64_t)r->n_rows + 1))) {
        *oom = true;
        return NULL;
    }
    drift_row *row = &rows[r->n_rows++];
    *row = *k;
    row->nodes = json_object_new_object();
    row->first = INT64_MAX;
    row->last = INT64_MIN;
    json_object_object_add(r->index, key, v);
    if (!row->nodes)
        *oom = true;
    return row;
}

typedef enum pass {
    PASS_LATEST, /* the newest attempt of each node: makes the rows, counts nodes */
    PASS_HISTORY /* every attempt since T: first and last seen of the counted nodes */
} pass;

static void row_seen(drift_row *row, const char *node, int64_t t, pass p)
{
    if (p == PASS_LATEST)
        json_object_object_add(row->nodes, node, NULL);
    else if (!json_object_object_get_ex(row->nodes, node, NULL))
        return;
    if (t < row->first)
        row->first = t;
    if (t > row->last)
        row->last = t;
}

/* The rows one attempt shows. Returns false when it shows none. */
static bool add_attempt(drift_report *r, json_object *a, pass p, bool *oom)
{
    json_object *eval, *ex, *arr, *t;
    const char *node = ctl_jstr(a, "node_id");
    int64_t time = json_object_object_get_ex(a, "time", &t) ? json_object_get_int64(t) : 0;
    bool shown = false;

    if (!json_object_object_get_ex(a, "evaluation", &eval) ||
        !json_object_object_get_ex(eval, "explanation", &ex) ||
        !json_object_is_type(ex, json_type_object))
        return false;
    drift_row k = {.baseline = ctl_jstr(ex, "baseline"), .pcr = -1};
    static const struct {
        const char *array;
        row_kind kind;
    } sections[] = {{"pcrs", ROW_PCR}, {"events", ROW_EVENT}, {"ima_not_allowed", ROW_IMA}};
    for (size_t s = 0; s < ELEMENTSOF(sections); s++) {
        if (!json_object_object_get_ex(ex, sections[s].array, &arr) ||
            !json_object_is_type(arr, json_type_array))
            continue;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *e = json_object_array_get_idx(arr, i), *pv;
            k.kind = sections[s].kind;
            k.pcr = k.kind != ROW_IMA && json_object_object_get_ex(e, "pcr", &pv)
                        ? json_object_get_int(pv)
                        : -1;
            k.type = k.kind == ROW_EVENT ? ctl_jstr(e, "type") : NULL;
            k.desc = k.kind == ROW_EVENT ? ctl_jstr(e, "desc")
                     : k.kind == ROW_IMA ? ctl_jstr(e, "path")
                                         : NULL;
            k.change = k.kind == ROW_EVENT ? ctl_jstr(e, "change") : NULL;
            drift_row *row = row_get(r, &k, p == PASS_LATEST, oom);
            if (*oom)
                return shown;
            if (row)
                row_seen(row, node, time, p);
            shown = true;
        }
    }
    return shown;
}

static int cmp_rows(const void *x, const void *y)
{
    const drift_row *a = x, *b = y;
    int c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->pcr != b->pcr)
        return a->pcr < b->pcr ? -1 : 1;
    if ((c = strcmp(a->type ? a->type : "", b->type ? b->type : "")) ||
        (c = strcmp(a->desc ? a->desc : "", b->desc ? b->desc : "")) ||
        (c = strcmp(a->change ? a->change : "", b->change ? b->change : "")) ||
        (c = strcmp(a->baseline, b->baseline)))
        return c;
    return 0;
}

static int cmp_strings(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The node ids of a row, sorted. */
static json_object *row_nodes_json(const drift_row *row)
{
    size_t n = (size_t)json_object_object_length(row->nodes), i = 0;
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    json_object *arr = json_object_new_array();
    if (!ids || !arr) {
        free(ids);
        json_object_put(arr);
        return NULL;
    }
    json_object_object_foreach(row->nodes, id, v)
    {
        (void)v;
        ids[i++] = id;
    }
    qsort(ids, n, sizeof(*ids), cmp_strings);
    for (i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(ids[i]));
    free(ids);
    return arr;
}

static json_object *row_json(const drift_row *row)
{
    json_object *o = json_object_new_object();
    char first[32], last[32];
    ctl_format_time((int64_t)row->first, first);
    ctl_format_time((int64_t)row->last, last);
    if (row->kind != ROW_IMA)
        json_object_object_add(o, "pcr", json_object_new_int(row->pcr));
    if (row->kind == ROW_EVENT) {
        json_object_object_add(o, "type", json_object_new_string(row->type));
        json_object_object_add(o, "desc", json_object_new_string(row->desc));
        json_object_object_add(o, "change", json_object_new_string(row->change));
    }
    if (row->kind == ROW_IMA)
        json_object_object_add(o, "path", json_object_new_string(row->desc));
    json_object_object_add(o, "baseline",
                           row->baseline[0] ? json_object_new_string(row->baseline) : NULL);
    json_object_object_add(o, "nodes",
                           json_object_new_int64(json_object_object_length(row->nodes)));
    json_object_object_add(o, "node_ids", row_nodes_json(row));
    json_object_object_add(o, "first_seen", json_object_new_string(first));
    json_object_object_add(o, "last_seen", json_object_new_string(last));
    return o;
}

static void print_json(const drift_report *r, time_t since, const char *group)
{
    static const char *const names[] = {"pcrs", "events", "ima"};
    json_object *o = json_object_new_object(), *arrs[3];
    char t[32];
    ctl_format_time((int64_t)since, t);
    json_object_object_add(o, "since", json_object_new_string(t));
    json_object_object_add(o, "group", group ? json_object_new_string(group) : NULL);
    json_object_object_add(o, "nodes", json_object_new_int64((int64_t)r->nodes));
    json_object_object_add(o, "drifted", json_object_new_int64((int64_t)r->drifted));
    json_object_object_add(o, "audit_would_deny", json_object_new_int64((int64_t)r->would_deny));
    json_object_object_add(o, "denied_other", json_object_new_int64((int64_t)r->other));
    for (size_t i = 0; i < 3; i++)
        arrs[i] = json_object_new_array();
    for (size_t i = 0; i < r->n_rows; i++)
        json_object_array_add(arrs[r->rows[i].kind], row_json(&r->rows[i]));
    for (size_t i = 0; i < 3; i++)
        json_object_object_add(o, names[i], arrs[i]);
    ctl_print_json(o);
    json_object_put(o);
}

static void print_human(const drift_report *r, time_t since, const char *group)
{
    char t[32], first[32], last[32];
    row_kind shown = (row_kind)-1;
    ctl_format_time((int64_t)since, t);
    printf("drift since %s, %s%s: %zu node%s, %zu drifted (%zu released in audit mode), %zu "
           "denied for other reasons\n",
           since ? t : "the first stored attempt", group ? "group " : "every group",
           group ? group : "", r->nodes, r->nodes == 1 ? "" : "s", r->drifted, r->would_deny,
           r->other);
    for (size_t i = 0; i < r->n_rows; i++) {
        const drift_row *row = &r->rows[i];
        if (row->kind != shown) {
            shown = row->kind;
            if (row->kind == ROW_PCR)
                printf("\n%-4s %-24s %6s  %-20s  %s\n", "PCR", "BASELINE", "NODES", "FIRST SEEN",
                       "LAST SEEN");
            else if (row->kind == ROW_EVENT)
                printf("\n%-4s %-8s %-32s %-24s %6s  %-20s  %-20s  %s\n", "PCR", "CHANGE", "TYPE",
                       "BASELINE", "NODES", "FIRST SEEN", "LAST SEEN", "DESCRIPTION");
            else
                printf("\n%-24s %6s  %-20s  %-20s  %s\n", "BASELINE", "NODES", "FIRST SEEN",
                       "LAST SEEN", "IMA PATH");
        }
        ctl_format_time((int64_t)row->first, first);
        ctl_format_time((int64_t)row->last, last);
        int n = json_object_object_length(row->nodes);
        const char *b = row->baseline[0] ? row->baseline : "-";
        if (row->kind == ROW_PCR)
            printf("%-4d %-24s %6d  %-20s  %s\n", row->pcr, b, n, first, last);
        else if (row->kind == ROW_EVENT)
            printf("%-4d %-8s %-32s %-24s %6d  %-20s  %-20s  %s\n", row->pcr, row->change,
                   row->type, b, n, first, last, row->desc);
        else
            printf("%-24s %6d  %-20s  %-20s  %s\n", b, n, first, last, row->desc);
    }
}

/* "?since=..[&latest=1]&group=.." with the group percent-encoded. */
static void query_path(char *buf, size_t size, time_t since, const char *group, bool latest)
{
    char enc[3 * 256 + 1] = "", *p = enc;
    for (const char *s = group ? group : ""; *s && p < enc + sizeof(enc) - 4; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '_' || *s == '.')
            *p++ = *s;
        else
            p += sprintf(p, "%%%02X", (unsigned char)*s);
    }
    *p = 0;
    snprintf(buf, size, "/v1/admin/attempts?since=%lld%s%s%s", (long long)since,
             latest ? "&latest=1" : "", group ? "&group=" : "", enc);
}

static const adminapi_field want_attempts[] = {{"attempts", json_type_array}, {}};

static int report_drift(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"since", required_argument, NULL, 's'},
        {"group", required_argument, NULL, 'g'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    _cleanup_(report_done) drift_report rep = {0};
    json_object *latest = NULL, *history = NULL, *arr;
    const char *group = NULL;
    time_t since = 0;
    char path[1024];
    bool json = false, oom = false;
    long status = 0;
    bg_err err = {0};
    int c, r, ret;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 's':
            if (ctl_parse_since(optarg, time(NULL), &since) < 0)
                return ctl_usage_error("report drift",
                                       "--since: YYYY-MM-DDTHH:MM:SSZ or a duration (24h, 7d)");
            break;
        case 'g':
            if (!*optarg || strlen(optarg) > 255)
                return ctl_usage_error("report drift", "--group: 1 to 255 characters");
            group = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("report drift", "unknown option");
        }
    }
    if (optind != argc)
        return ctl_usage_error("report drift", "unexpected argument '%s'", argv[optind]);

    query_path(path, sizeof(path), since, group, true);
    r = adminapi_request(&o, "GET", path, NULL, want_attempts, &status, &latest, &err);
    if ((ret = ctl_admin_failed("report", "drift", r, &err, status, latest, json)) >= 0)
        return ret;
    query_path(path, sizeof(path), since, group, false);
    r = adminapi_request(&o, "GET", path, NULL, want_attempts, &status, &history, &err);
    if ((ret = ctl_admin_failed("report", "drift", r, &err, status, history, json)) >= 0) {
        json_object_put(latest);
        return ret;
    }

    if (!(rep.index = json_object_new_object()))
        oom = true;
    json_object_object_get_ex(latest, "attempts", &arr);
    for (size_t i = 0; i < json_object_array_length(arr) && !oom; i++) {
        json_object *a = json_object_array_get_idx(arr, i), *rel;
        rep.nodes++;
        if (add_attempt(&rep, a, PASS_LATEST, &oom)) {
            rep.drifted++;
            if (!strcmp(ctl_jstr(a, "mode"), "audit") &&
                json_object_object_get_ex(a, "released", &rel) && json_object_get_boolean(rel))
                rep.would_deny++;
        } else if (json_object_object_get_ex(a, "released", &rel) && !json_object_get_boolean(rel))
            rep.other++;
    }
    json_object_object_get_ex(history, "attempts", &arr);
    if (json_object_array_length(arr) >= REPORT_HISTORY_MAX)
        fprintf(stderr,
                "bootgatectl: note: first seen is of the newest %d attempts; narrow --since\n",
                REPORT_HISTORY_MAX);
    for (size_t i = 0; i < json_object_array_length(arr) && !oom; i++)
        add_attempt(&rep, json_object_array_get_idx(arr, i), PASS_HISTORY, &oom);
    if (oom)
        ret = ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    else {
        if (rep.n_rows) /* qsort(NULL, 0) is undefined */
            qsort(rep.rows, rep.n_rows, sizeof(*rep.rows), cmp_rows);
        if (json)
            print_json(&rep, since, group);
        else
            print_human(&rep, since, group);
        ret = CTL_EXIT_OK;
    }
    /* the rows point into the replies */
    report_done(&rep);
    memset(&rep, 0, sizeof(rep));
    json_object_put(history);
    json_object_put(latest);
    return ret;
}

int ctl_report_main(int argc, char **argv)
{
    return ctl_single_subcommand("report", argc, argv, usage, "drift", report_drift);
}
