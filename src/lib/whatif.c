/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "whatif.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "explain.h"
#include "reeval.h"
#include "verdict.h"

/* Appends to buf (always NUL-terminated; the tail is cut). */
static void append(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strnlen(buf, size);
    va_list ap;
    if (len + 1 >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

static void explanation_reason(const explanation *e, char *buf, size_t size)
{
    size_t events = e->n_events + e->events_omitted;
    for (size_t i = 0; i < e->n_events && i < WHATIF_REASON_EVENTS; i++) {
        const explain_event *x = &e->events[i];
        const char *tn = eventlog_type_name(x->type);
        char tbuf[16];
        if (!tn)
            snprintf(tbuf, sizeof tbuf, "0x%08x", x->type), tn = tbuf;
        append(buf, size, "%sPCR %u %s %s \"%.80s\"", i ? "; " : "", x->pcr,
               explain_kind_name(x->kind), tn, x->desc);
    }
    if (events > WHATIF_REASON_EVENTS)
        append(buf, size, "; +%zu more events", events - WHATIF_REASON_EVENTS);
    if (!events && e->n_pcrs) {
        /* no event to name (e.g. a baseline without events): the PCRs */
        append(buf, size, "PCR ");
        for (size_t i = 0; i < e->n_pcrs; i++)
            append(buf, size, "%s%u", i ? ", " : "", e->pcrs[i].pcr);
        append(buf, size, " differ%s", e->n_pcrs == 1 ? "s" : "");
    }
    if (e->n_ima)
        append(buf, size, "%sIMA not allowed: %.120s%s", buf[0] ? "; " : "", e->ima[0].path,
               e->n_ima + e->ima_omitted > 1 ? " (and more)" : "");
}

void whatif_reason(const policy_result *r, char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = 0;
    switch (r->verdict) {
    case POLICY_PASS:
        return;
    case POLICY_FAIL:
        if (r->explanation)
            explanation_reason(r->explanation, buf, size);
        break;
    case POLICY_EXPIRED:
        snprintf(buf, size, "policy expired");
        return;
    case POLICY_EVIDENCE:
    case POLICY_INVALID:
        snprintf(buf, size, "%s: %s", policy_verdict_name(r->verdict),
                 r->explanation && r->explanation->reason[0] ? r->explanation->reason : r->reason);
        return;
    }
    if (!buf[0])
        snprintf(buf, size, "%s", r->reason[0] ? r->reason : policy_verdict_name(r->verdict));
}

bool whatif_released_by(bool released, const char *mode, const char *audit_verdict,
                        const char *attempt_policy, int64_t attempt_version, const char *name,
                        int64_t version)
{
    bg_verdict v;
    if (!released || !attempt_policy || strcmp(attempt_policy, name) || attempt_version != version)
        return false;
    if (mode && !strcmp(mode, policy_mode_name(POLICY_MODE_ENFORCE)))
        return true;
    if (mode && !strcmp(mode, policy_mode_name(POLICY_MODE_AUDIT)))
        return !audit_verdict || !audit_verdict[0] ||
               (verdict_from_name(audit_verdict, &v) == 0 && v == VERDICT_OK);
    return false;
}

/* A log by digest: from the cache, else loaded (and kept while the cache
 * has room). *ret_owned is set when the caller must free the data. */
static int blob_get(whatif_cache *c, const char *sha, const uint8_t **ret, size_t *ret_size,
                    uint8_t **ret_owned, bg_err *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int r;
    *ret_owned = NULL;
    for (size_t i = 0; i < c->n_blobs; i++)
        if (!strcmp(c->blobs[i].sha256, sha)) {
            *ret = c->blobs[i].data;
            *ret_size = c->blobs[i].size;
            return 0;
        }
    r = c->load(c->load_arg, sha, &data, &size, err);
    if (r < 0)
        return r;
    c->loads++;
    *ret = data;
    *ret_size = size;
    if (size <= WHATIF_BLOB_CACHE_BYTES - c->blob_bytes) {
        whatif_blob *b = realloc(c->blobs, (c->n_blobs + 1) * sizeof(*b));
        if (b) {
            c->blobs = b;
            snprintf(b[c->n_blobs].sha256, sizeof(b->sha256), "%s", sha);
            b[c->n_blobs].data = data;
            b[c->n_blobs].size = size;
            c->n_blobs++;
            c->blob_bytes += size;
            return 0;
        }
    }
    *ret_owned = data;
    return 0;
}

static void evaluate_state(whatif_cache *c, whatif_state *s)
{
    const uint8_t *ev = NULL, *ima = NULL;
    _cleanup_(freep) uint8_t *ev_owned = NULL;
    _cleanup_(freep) uint8_t *ima_owned = NULL;
    size_t ev_size = 0, ima_size = 0;
    policy_result res = {0};
    bg_err err = {{0}};
    int r;

    r = blob_get(c, s->eventlog_sha256, &ev, &ev_size, &ev_owned, &err);
    if (r >= 0 && s->ima_sha256[0])
        r = blob_get(c, s->ima_sha256, &ima, &ima_size, &ima_owned, &err);
    if (r >= 0)
        r = attempt_evaluate(c->policy, s->pcrs, ev, ev_size, ima, ima_size, c->now, &res, &err);
    if (r < 0) {
        s->error = r;
        snprintf(s->reason, sizeof(s->reason), "%s", bg_err_msg(&err));
        return;
    }
    s->release = res.release;
    s->verdict = res.verdict;
    whatif_reason(&res, s->reason, sizeof(s->reason));
    policy_result_done(&res);
}

int whatif_evaluate(whatif_cache *c, const char *eventlog_sha256, const char *ima_sha256,
                    const char *pcrs_hex, size_t *ret_index, bg_err *err)
{
    whatif_state *s;
    ima_sha256 = ima_sha256 ? ima_sha256 : "";
    pcrs_hex = pcrs_hex ? pcrs_hex : "";
    for (size_t i = 0; i < c->n_states; i++) {
        s = &c->states[i];
        if (!strcmp(s->eventlog_sha256, eventlog_sha256) && !strcmp(s->ima_sha256, ima_sha256) &&
            !strcmp(s->pcrs, pcrs_hex)) {
            *ret_index = i;
            return 0;
        }
    }
    if (c->max_states && c->n_states >= c->max_states)
        return bg_err_set(err, -E2BIG, "more than %zu distinct boot states", c->max_states);
    s = realloc(c->states, (c->n_states + 1) * sizeof(*s));
    if (!s)
        return bg_err_set(err, -ENOMEM, "out of memory");
    c->states = s;
    s = &c->states[c->n_states];
    memset(s, 0, sizeof(*s));
    if (!(s->pcrs = strdup(pcrs_hex)))
        return bg_err_set(err, -ENOMEM, "out of memory");
    snprintf(s->eventlog_sha256, sizeof(s->eventlog_sha256), "%s", eventlog_sha256);
    snprintf(s->ima_sha256, sizeof(s->ima_sha256), "%s", ima_sha256);
    c->n_states++;
    if (!eventlog_sha256[0]) {
        s->error = -ENOENT;
        snprintf(s->reason, sizeof(s->reason), "no event log stored");
    } else
        evaluate_state(c, s);
    *ret_index = c->n_states - 1;
    return 0;
}

void whatif_cache_done(whatif_cache *c)
{
    for (size_t i = 0; i < c->n_states; i++)
        free(c->states[i].pcrs);
    free(c->states);
    for (size_t i = 0; i < c->n_blobs; i++)
        free(c->blobs[i].data);
    free(c->blobs);
    c->states = NULL;
    c->blobs = NULL;
    c->n_states = c->n_blobs = c->blob_bytes = 0;
}
