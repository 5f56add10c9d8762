/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Alignment above this many cells falls back to position-by-position. */
#define LCS_MAX_CELLS (1u << 20)

explanation *explanation_new(void)
{
    return calloc(1, sizeof(explanation));
}

void explanation_free(explanation *e)
{
    if (!e)
        return;
    free(e->events);
    free(e->ima);
    free(e);
}

const char *explain_kind_name(explain_kind k)
{
    switch (k) {
    case EXPLAIN_NEW:
        return "new";
    case EXPLAIN_MISSING:
        return "missing";
    case EXPLAIN_CHANGED:
        return "changed";
    case EXPLAIN_NOT_ALLOWED:
        return "not_allowed";
    }
    return "?";
}

/* Appends an event entry; *ret is NULL (and the entry counted as omitted)
 * beyond EXPLAIN_MAX_ITEMS. */
static int add_event(explanation *e, explain_kind kind, uint32_t pcr, uint32_t type,
                     explain_event **ret)
{
    *ret = NULL;
    if (e->n_events >= EXPLAIN_MAX_ITEMS) {
        e->events_omitted++;
        return 0;
    }
    if (!e->events && !(e->events = calloc(EXPLAIN_MAX_ITEMS, sizeof *e->events)))
        return -ENOMEM;
    explain_event *ev = &e->events[e->n_events++];
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->pcr = pcr;
    ev->type = type;
    ev->log_index = -1;
    *ret = ev;
    return 0;
}

static void from_log(explain_event *x, const eventlog_event *ev)
{
    const eventlog_digest *d = eventlog_event_digest(ev, TPMALG_SHA256);
    x->log_index = ev->index;
    eventlog_event_describe(ev, x->desc, sizeof x->desc);
    if (d && d->size == POLICY_DIGEST_SIZE) {
        x->has_actual = true;
        memcpy(x->actual, d->bytes, POLICY_DIGEST_SIZE);
    }
}

static void from_baseline(explain_event *x, const policy_event *pe)
{
    if (pe->desc && !x->desc[0])
        snprintf(x->desc, sizeof x->desc, "%s", pe->desc);
    x->has_expected = true;
    memcpy(x->expected, pe->digest, POLICY_DIGEST_SIZE);
}

static bool same_event(const policy_event *pe, const eventlog_event *ev)
{
    const eventlog_digest *d = eventlog_event_digest(ev, TPMALG_SHA256);
    return pe->type == ev->type && d && d->size == POLICY_DIGEST_SIZE &&
           !memcmp(pe->digest, d->bytes, POLICY_DIGEST_SIZE);
}

enum { OP_MATCH, OP_DEL, OP_INS };

/* Emits one run of unmatched baseline events (dels) and log events (ins)
 * found between two matches: a del and an ins of the same type pair up as
 * "changed", the rest are "missing" / "new". */
static int emit_run(explanation *e, uint32_t pcr, const policy_event **dels, size_t nd,
                    const eventlog_event **ins, size_t ni)
{
    bool used[64] = {false};
    for (size_t i = 0; i < ni; i++) {
        size_t j;
        for (j = 0; j < nd && j < ELEMENTSOF(used); j++)
            if (!used[j] && dels[j]->type == ins[i]->type)
                break;
        explain_event *x;
        if (j < nd && j < ELEMENTSOF(used)) {
            used[j] = true;
            if (add_event(e, EXPLAIN_CHANGED, pcr, ins[i]->type, &x) < 0)
                return -ENOMEM;
            if (x) {
                from_log(x, ins[i]);
                from_baseline(x, dels[j]);
            }
        } else {
            if (add_event(e, EXPLAIN_NEW, pcr, ins[i]->type, &x) < 0)
                return -ENOMEM;
            if (x)
                from_log(x, ins[i]);
        }
    }
    for (size_t j = 0; j < nd; j++) {
        if (j < ELEMENTSOF(used) && used[j])
            continue;
        explain_event *x;
        if (add_event(e, EXPLAIN_MISSING, pcr, dels[j]->type, &x) < 0)
            return -ENOMEM;
        if (x)
            from_baseline(x, dels[j]);
    }
    return 0;
}

static int diff_pcr_events(explanation *e, const policy_baseline *b, uint32_t pcr,
                           const eventlog *log)
{
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < b->n_events; i++)
        na += b->events[i].pcr == pcr;
    for (size_t i = 0; i < log->n_events; i++)
        nb += log->events[i].pcr == pcr && log->events[i].type != EV_NO_ACTION;

    _cleanup_(freep) const policy_event **a = calloc(na + 1, sizeof *a);
    _cleanup_(freep) const eventlog_event **l = calloc(nb + 1, sizeof *l);
    _cleanup_(freep) const policy_event **dels = calloc(na + 1, sizeof *dels);
    _cleanup_(freep) const eventlog_event **ins = calloc(nb + 1, sizeof *ins);
    _cleanup_(freep) uint8_t *ops = calloc(na + nb + 1, 1);
    if (!a || !l || !dels || !ins || !ops)
        return -ENOMEM;
    na = nb = 0;
    for (size_t i = 0; i < b->n_events; i++)
        if (b->events[i].pcr == pcr)
            a[na++] = &b->events[i];
    for (size_t i = 0; i < log->n_events; i++)
        if (log->events[i].pcr == pcr && log->events[i].type != EV_NO_ACTION)
            l[nb++] = &log->events[i];

    /* Edit script as ops[], in order. */
    size_t n_ops = 0;
    size_t cells;
    if (!__builtin_mul_overflow(na + 1, nb + 1, &cells) && cells <= LCS_MAX_CELLS) {
        /* lcs[i][j] = LCS length of a[i..] and l[j..] */
        _cleanup_(freep) uint16_t *lcs = calloc(cells, sizeof *lcs);
        if (!lcs)
            return -ENOMEM;
#define LCS(i, j) lcs[(i) * (nb + 1) + (j)]
        for (size_t i = na; i-- > 0;)
            for (size_t j = nb; j-- > 0;)
                LCS(i, j) = same_event(a[i], l[j])           ? (uint16_t)(LCS(i + 1, j + 1) + 1)
                            : LCS(i + 1, j) >= LCS(i, j + 1) ? LCS(i + 1, j)
                                                             : LCS(i, j + 1);
        size_t i = 0, j = 0;
        while (i < na || j < nb) {
            if (i < na && j < nb && same_event(a[i], l[j])) {
                ops[n_ops++] = OP_MATCH;
                i++, j++;
            } else if (j < nb && (i == na || LCS(i, j + 1) >= LCS(i + 1, j))) {
                ops[n_ops++] = OP_INS;
                j++;
            } else {
                ops[n_ops++] = OP_DEL;
                i++;
            }
        }
#undef LCS
    } else {
        size_t i;
        for (i = 0; i < na && i < nb; i++) {
            ops[n_ops++] = same_event(a[i], l[i]) ? OP_MATCH : OP_DEL;
            if (ops[n_ops - 1] == OP_DEL)
                ops[n_ops++] = OP_INS;
        }
        for (size_t k = i; k < na; k++)
            ops[n_ops++] = OP_DEL;
        for (size_t k = i; k < nb; k++)
            ops[n_ops++] = OP_INS;
    }

    size_t ia = 0, il = 0, nd = 0, ni = 0;
    for (size_t k = 0; k <= n_ops; k++) {
        if (k == n_ops || ops[k] == OP_MATCH) {
            int r = emit_run(e, pcr, dels, nd, ins, ni);
            if (r < 0)
                return r;
            nd = ni = 0;
            if (k < n_ops)
                ia++, il++;
        } else if (ops[k] == OP_DEL)
            dels[nd++] = a[ia++];
        else
            ins[ni++] = l[il++];
    }
    return 0;
}

int explain_baseline(explanation *e, const policy_baseline *b, uint32_t diff_mask,
                     const pcr_bank *quoted, const eventlog *log)
{
    for (unsigned i = 0; i < PCR_COUNT; i++) {
        if (!(diff_mask & (1u << i)) || e->n_pcrs >= PCR_COUNT)
            continue;
        explain_pcr *p = &e->pcrs[e->n_pcrs++];
        memset(p, 0, sizeof *p);
        p->pcr = i;
        p->has_expected = b->pcr_mask & (1u << i);
        if (p->has_expected)
            memcpy(p->expected, b->pcrs[i], POLICY_DIGEST_SIZE);
        memcpy(p->actual, quoted->pcr[i], POLICY_DIGEST_SIZE);
    }
    if (!log)
        return 0;
    if (b->n_events == 0) {
        if (!e->note[0])
            snprintf(e->note, sizeof e->note,
                     "baseline %s lists no events; only PCR values can be compared", b->name);
        return 0;
    }
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (diff_mask & (1u << i)) {
            int r = diff_pcr_events(e, b, i, log);
            if (r < 0)
                return r;
        }
    return 0;
}

int explain_rules(explanation *e, const policy *p, uint32_t mask, const eventlog *log)
{
    if (!log)
        return 0;
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        if (ev->type == EV_NO_ACTION || ev->pcr >= PCR_COUNT || !(mask & (1u << ev->pcr)) ||
            policy_event_allowed(p, ev))
            continue;
        /* Already listed as new/changed against the baseline: say it once. */
        bool dup = false;
        for (size_t j = 0; j < e->n_events && !dup; j++)
            dup = e->events[j].log_index == (int64_t)ev->index;
        if (dup)
            continue;
        explain_event *x;
        if (add_event(e, EXPLAIN_NOT_ALLOWED, ev->pcr, ev->type, &x) < 0)
            return -ENOMEM;
        if (x)
            from_log(x, ev);
    }
    return 0;
}

int explain_add_ima(explanation *e, const ima_entry *ent)
{
    if (e->n_ima >= EXPLAIN_MAX_ITEMS) {
        e->ima_omitted++;
        return 0;
    }
    if (!e->ima && !(e->ima = calloc(EXPLAIN_MAX_ITEMS, sizeof *e->ima)))
        return -ENOMEM;
    explain_ima *x = &e->ima[e->n_ima++];
    const tpmalg *a = tpmalg_by_id(ent->file_digest_alg);
    char hex[2 * TPMALG_MAX_DIGEST + 1];
    size_t n = ent->file_digest_size <= TPMALG_MAX_DIGEST ? ent->file_digest_size : 0;
    hex_encode(ent->file_digest, n, hex);
    snprintf(x->path, sizeof x->path, "%s", ent->file_name ? ent->file_name : "");
    snprintf(x->digest, sizeof x->digest, "%s:%s", a ? a->name : "unknown", hex);
    return 0;
}

static json_object *hex_json(const uint8_t *d, bool present)
{
    char hex[2 * POLICY_DIGEST_SIZE + 1];
    if (!present)
        return NULL;
    hex_encode(d, POLICY_DIGEST_SIZE, hex);
    return json_object_new_string(hex);
}

static json_object *type_json(uint32_t type)
{
    const char *n = eventlog_type_name(type);
    char buf[16];
    if (!n) {
        snprintf(buf, sizeof buf, "0x%08x", type);
        n = buf;
    }
    return json_object_new_string(n);
}

json_object *explanation_to_json(const explanation *e)
{
    json_object *o = json_object_new_object();
    json_object *pcrs = json_object_new_array(), *evs = json_object_new_array(),
                *ima = json_object_new_array();
    if (!o || !pcrs || !evs || !ima) {
        json_object_put(o);
        json_object_put(pcrs);
        json_object_put(evs);
        json_object_put(ima);
        return NULL;
    }
    if (e->reason[0])
        json_object_object_add(o, "reason", json_object_new_string(e->reason));
    if (e->n_replay) {
        json_object *rp = json_object_new_array();
        for (size_t i = 0; rp && i < e->n_replay; i++) {
            json_object *x = json_object_new_object();
            json_object_object_add(x, "pcr", json_object_new_int((int)e->replay[i].pcr));
            json_object_object_add(x, "log",
                                   json_object_new_string(e->replay[i].ima ? "ima" : "event"));
            json_object_object_add(x, "replayed", hex_json(e->replay[i].replayed, true));
            json_object_object_add(x, "quoted", hex_json(e->replay[i].quoted, true));
            json_object_array_add(rp, x);
        }
        json_object_object_add(o, "replay", rp);
    }
    json_object_object_add(o, "baseline",
                           e->baseline[0] ? json_object_new_string(e->baseline) : NULL);
    if (e->note[0])
        json_object_object_add(o, "note", json_object_new_string(e->note));
    for (size_t i = 0; i < e->n_pcrs; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "pcr", json_object_new_int((int)e->pcrs[i].pcr));
        json_object_object_add(p, "expected",
                               hex_json(e->pcrs[i].expected, e->pcrs[i].has_expected));
        json_object_object_add(p, "actual", hex_json(e->pcrs[i].actual, true));
        json_object_array_add(pcrs, p);
    }
    json_object_object_add(o, "pcrs", pcrs);
    for (size_t i = 0; i < e->n_events; i++) {
        const explain_event *x = &e->events[i];
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "change", json_object_new_string(explain_kind_name(x->kind)));
        json_object_object_add(ev, "pcr", json_object_new_int((int)x->pcr));
        json_object_object_add(ev, "type", type_json(x->type));
        json_object_object_add(ev, "desc", json_object_new_string(x->desc));
        if (x->log_index >= 0)
            json_object_object_add(ev, "log_index", json_object_new_int64(x->log_index));
        if (x->has_expected)
            json_object_object_add(ev, "expected_digest", hex_json(x->expected, true));
        if (x->has_actual)
            json_object_object_add(ev, "actual_digest", hex_json(x->actual, true));
        json_object_array_add(evs, ev);
    }
    json_object_object_add(o, "events", evs);
    json_object_object_add(o, "events_omitted", json_object_new_int64((int64_t)e->events_omitted));
    for (size_t i = 0; i < e->n_ima; i++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "path", json_object_new_string(e->ima[i].path));
        json_object_object_add(m, "digest", json_object_new_string(e->ima[i].digest));
        json_object_array_add(ima, m);
    }
    json_object_object_add(o, "ima_not_allowed", ima);
    json_object_object_add(o, "ima_omitted", json_object_new_int64((int64_t)e->ima_omitted));
    return o;
}

/* Short digest for a console line: the first 12 hex digits. */
static void short_hex(const uint8_t *d, bool present, char out[16])
{
    char hex[2 * POLICY_DIGEST_SIZE + 1];
    if (!present) {
        snprintf(out, 16, "(none)");
        return;
    }
    hex_encode(d, POLICY_DIGEST_SIZE, hex);
    snprintf(out, 16, "%.12s…", hex);
}

/* A growing list of lines with a cap: the last slot says how many were
 * left out. */
typedef struct line_list {
    char **v;
    size_t n, max, dropped;
    int error;
} line_list;

static void add_line(line_list *l, const char *fmt, ...) _printf_(2, 3);
static void add_line(line_list *l, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    if (l->error)
        return;
    if (l->n + 1 >= l->max) { /* keep the last slot for the count */
        l->dropped++;
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s) {
        l->error = -ENOMEM;
        return;
    }
    l->v[l->n++] = s;
}

static void add_body(line_list *l, const explanation *e, size_t max_events)
{
    if (e->note[0])
        add_line(l, "  note: %s", e->note);
    for (size_t i = 0; i < e->n_pcrs; i++) {
        char x[16], y[16];
        short_hex(e->pcrs[i].expected, e->pcrs[i].has_expected, x);
        short_hex(e->pcrs[i].actual, true, y);
        add_line(l, "  PCR %-2u expected %s got %s", e->pcrs[i].pcr, x, y);
    }
    size_t shown = 0;
    for (size_t i = 0; i < e->n_events && shown < max_events; i++, shown++) {
        const explain_event *x = &e->events[i];
        const char *tn = eventlog_type_name(x->type);
        char tbuf[16], d1[16], d2[16];
        if (!tn)
            snprintf(tbuf, sizeof tbuf, "0x%08x", x->type), tn = tbuf;
        short_hex(x->expected, x->has_expected, d1);
        short_hex(x->actual, x->has_actual, d2);
        char at[40] = "";
        if (x->log_index >= 0)
            snprintf(at, sizeof at, " (event #%lld)", (long long)x->log_index);
        switch (x->kind) {
        case EXPLAIN_CHANGED:
            add_line(l, "    PCR %u changed %s \"%.60s\": %s -> %s%s", x->pcr, tn, x->desc, d1, d2,
                     at);
            break;
        case EXPLAIN_MISSING:
            add_line(l, "    PCR %u missing %s \"%.60s\": %s", x->pcr, tn, x->desc, d1);
            break;
        case EXPLAIN_NEW:
            add_line(l, "    PCR %u new     %s \"%.60s\": %s%s", x->pcr, tn, x->desc, d2, at);
            break;
        case EXPLAIN_NOT_ALLOWED:
            add_line(l, "    PCR %u not allowed by any rule: %s \"%.60s\": %s%s", x->pcr, tn,
                     x->desc, d2, at);
            break;
        }
    }
    if (e->n_events + e->events_omitted > shown)
        add_line(l, "    ... %zu more event differences", e->n_events + e->events_omitted - shown);
    for (size_t i = 0; i < e->n_ima && i < 5; i++)
        add_line(l, "  IMA not allowed: %.100s %.80s", e->ima[i].path, e->ima[i].digest);
    if (e->n_ima + e->ima_omitted > 5)
        add_line(l, "  ... %zu more IMA entries not allowed", e->n_ima + e->ima_omitted - 5);
}

static int finish_lines(line_list *l, char ***ret, size_t *ret_n)
{
    if (!l->error && l->dropped &&
        asprintf(&l->v[l->n], "... %zu more lines in the audit record", l->dropped) >= 0)
        l->n++;
    else if (!l->error && l->dropped)
        l->error = -ENOMEM;
    if (l->error) {
        explanation_lines_free(l->v, l->n);
        return l->error;
    }
    *ret = l->v;
    *ret_n = l->n;
    return 0;
}

int explanation_lines(const explanation *e, size_t max_lines, char ***ret, size_t *ret_n)
{
    line_list l = {.max = max_lines};
    if (max_lines < 2)
        return -EINVAL;
    if (!(l.v = calloc(max_lines, sizeof(*l.v))))
        return -ENOMEM;
    if (e->n_replay == 0 && e->reason[0])
        add_line(&l, "%s", e->reason);
    for (size_t i = 0; i < e->n_replay; i++) {
        char a[2 * POLICY_DIGEST_SIZE + 1], b[2 * POLICY_DIGEST_SIZE + 1];
        hex_encode(e->replay[i].replayed, POLICY_DIGEST_SIZE, a);
        hex_encode(e->replay[i].quoted, POLICY_DIGEST_SIZE, b);
        add_line(&l, "PCR %u: %s log replays to %s, quoted value is %s", e->replay[i].pcr,
                 e->replay[i].ima ? "IMA" : "event", a, b);
    }
    add_body(&l, e, SIZE_MAX);
    return finish_lines(&l, ret, ret_n);
}

void explanation_lines_free(char **lines, size_t n)
{
    for (size_t i = 0; lines && i < n; i++)
        free(lines[i]);
    free(lines);
}

int explanation_format(const explanation *e, size_t max_events, char **ret)
{
    /* enough slots for every line max_events lets through */
    line_list l = {.max = max_events + e->n_pcrs + 16};
    char **lines = NULL, *buf = NULL;
    size_t n = 0, size = 0;
    FILE *f;
    int r;
    if (!(l.v = calloc(l.max, sizeof(*l.v))))
        return -ENOMEM;
    add_body(&l, e, max_events);
    r = finish_lines(&l, &lines, &n);
    if (r < 0)
        return r;
    f = open_memstream(&buf, &size);
    for (size_t i = 0; f && i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    explanation_lines_free(lines, n);
    if (!f || fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    return 0;
}

void explain_evidence(explanation *e, const evidence *ev)
{
    snprintf(e->reason, sizeof(e->reason), "%s", ev->reason);
    e->n_replay = 0;
    for (size_t i = 0; i < ev->n_diffs && i < PCR_COUNT; i++) {
        explain_replay *x = &e->replay[e->n_replay++];
        x->pcr = ev->diffs[i].pcr;
        x->ima = ev->diffs[i].ima;
        memcpy(x->replayed, ev->diffs[i].replayed, POLICY_DIGEST_SIZE);
        memcpy(x->quoted, ev->diffs[i].quoted, POLICY_DIGEST_SIZE);
    }
}
