/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy evaluation (DESIGN.md section 3).
 *
 * Pass rule, per baseline B: every gated PCR either equals B's value, or every
 * event the log extends into it is allowed by an event rule (pcr + type +
 * optional description + digest list). With no baselines, every gated PCR
 * must pass through the rules. This contains both rules of the design (all
 * PCRs match a baseline; all events allowed by rules) and also lets a fleet
 * pin the firmware PCRs by baseline while allowing "any of these 3 kernels"
 * in PCR 4 by rule. Events are trusted only because the log replays to the
 * quoted values, which is checked first. PCR 10 belongs to IMA and is judged
 * by the "ima" section. */
#include "policy.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "util.h"

static int popcount32(uint32_t v)
{
    return __builtin_popcount(v);
}

bool policy_event_allowed(const policy *p, const eventlog_event *ev)
{
    const eventlog_digest *d = eventlog_event_digest(ev, TPMALG_SHA256);
    if (!d || d->size != POLICY_DIGEST_SIZE)
        return false;
    char desc[POLICY_MAX_DESC + 64];
    bool described = false;
    for (size_t i = 0; i < p->n_rules; i++) {
        const policy_rule *r = &p->rules[i];
        if (r->pcr != ev->pcr || r->type != ev->type)
            continue;
        bool digest_ok = false;
        for (size_t j = 0; j < r->n_digests && !digest_ok; j++)
            digest_ok = !memcmp(r->digests[j], d->bytes, POLICY_DIGEST_SIZE);
        if (!digest_ok)
            continue;
        if (r->desc) {
            if (!described) {
                eventlog_event_describe(ev, desc, sizeof desc);
                described = true;
            }
            if (!strstr(desc, r->desc))
                continue;
        }
        return true;
    }
    return false;
}

/* Gated PCRs (of mask) whose every event is allowed by a rule. */
static uint32_t rules_pass_mask(const policy *p, const eventlog *log, uint32_t mask)
{
    if (!log || p->n_rules == 0 || !mask)
        return 0;
    uint32_t bad = 0;
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        if (ev->type == EV_NO_ACTION || ev->pcr >= PCR_COUNT || !(mask & (1u << ev->pcr)) ||
            (bad & (1u << ev->pcr)))
            continue;
        if (!policy_event_allowed(p, ev))
            bad |= 1u << ev->pcr;
    }
    return mask & ~bad;
}

static bool ima_ignored(const policy_ima *ima, const char *path)
{
    const regex_t *re = ima->ignore_re;
    for (size_t i = 0; i < ima->n_ignore; i++)
        if (regexec(&re[i], path ? path : "", 0, NULL, 0) == 0)
            return true;
    return false;
}

static int ima_digest_cmp(const void *a, const void *b)
{
    const policy_ima_digest *x = a, *y = b;
    if (x->alg != y->alg)
        return x->alg < y->alg ? -1 : 1;
    return memcmp(x->bytes, y->bytes, TPMALG_MAX_DIGEST);
}

static bool ima_allowed(const policy_ima *ima, const ima_entry *e)
{
    policy_ima_digest key = {0};
    /* alg 0: a d-ng algorithm this code does not know; never allowed. */
    key.alg = e->file_digest_alg;
    if (key.alg == 0 || e->file_digest_size > TPMALG_MAX_DIGEST || e->file_digest_size == 0)
        return false;
    memcpy(key.bytes, e->file_digest, e->file_digest_size);
    key.size = e->file_digest_size;
    return ima->n_allow && bsearch(&key, ima->allow, ima->n_allow, sizeof key, ima_digest_cmp);
}

static void set_reason(policy_result *r, const char *fmt, ...) _printf_(2, 3);
static void set_reason(policy_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static void mask_list(uint32_t mask, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (mask & (1u << i)) {
            int w = snprintf(buf + n, size - n, "%s%u", n ? ", " : "", i);
            if (w < 0 || (size_t)w >= size - n)
                return;
            n += (size_t)w;
        }
}

int policy_check_quotable(const policy *p, uint32_t quoted_mask, bg_err *err)
{
    uint32_t outside = p->gate_mask & ~quoted_mask;
    if (outside) {
        char l[96], q[96];
        mask_list(outside, l, sizeof l);
        mask_list(quoted_mask, q, sizeof q);
        return bg_err_set(err, -EINVAL,
                          "policy %s v%llu gates PCR %s, which the quote does not cover "
                          "(quoted: PCR %s)",
                          p->name, (unsigned long long)p->version, l, q);
    }
    return 0;
}

int policy_check_deployable(const policy *p, uint32_t quoted_mask, time_t now, bg_err *err)
{
    int r = policy_check_quotable(p, quoted_mask, err);
    if (r < 0)
        return r;
    if (p->has_not_after && now >= p->not_after)
        return bg_err_set(err, -EINVAL, "policy %s v%llu expired at %s (not_after is in the past)",
                          p->name, (unsigned long long)p->version, p->not_after_str);
    return 0;
}

int policy_evaluate(const policy *p, const evidence *ev, time_t now, policy_result *ret,
                    bg_err *err)
{
    _cleanup_(explanation_freep) explanation *ex = NULL;
    const pcr_bank *quoted = &ev->quoted;
    const eventlog *log = ev->log;
    const ima_log *ima = ev->ima;
    int r;

    memset(ret, 0, sizeof *ret);
    ret->mode = p->mode;
    ret->verdict = POLICY_FAIL;
    ret->code = VERDICT_POLICY_DENIED;

    /* only verified evidence is evaluated: its logs replay to its PCRs */
    if (ev->verdict != VERDICT_OK)
        return bg_err_set(err, -EINVAL, "policy evaluation needs verified evidence");
    if (quoted->alg != TPMALG_SHA256 || quoted->digest_size != POLICY_DIGEST_SIZE)
        return bg_err_set(err, -EINVAL, "policy evaluation needs the sha256 bank");
    if (!(ex = explanation_new()))
        return bg_err_set(err, -ENOMEM, "out of memory");

    uint32_t gate = p->gate_mask & ~(1u << IMA_PCR);

    /* 1. Fail closed on what the evidence cannot show: a gated PCR outside
     * the verified values, a gated IMA without an IMA log. */
    if (policy_check_quotable(p, quoted->mask, NULL) < 0) {
        ret->verdict = POLICY_INVALID;
        ret->code = VERDICT_POLICY_INVALID;
        char l[96];
        mask_list(p->gate_mask & ~quoted->mask, l, sizeof l);
        set_reason(ret, "policy gates PCR %s, which the quote does not cover", l);
        goto done;
    }
    if (p->ima && !ima) {
        ret->verdict = POLICY_EVIDENCE;
        ret->code = VERDICT_IMALOG_MISSING;
        set_reason(ret, "policy checks IMA but no IMA log was sent");
        goto done;
    }

    /* 2. Expiry: an expired policy denies whatever the boot state. */
    if (p->has_not_after && now >= p->not_after) {
        ret->verdict = POLICY_EXPIRED;
        ret->code = VERDICT_POLICY_EXPIRED;
        set_reason(ret, "policy %s v%llu expired at %s", p->name, (unsigned long long)p->version,
                   p->not_after_str);
        snprintf(ex->note, sizeof ex->note, "policy expired at %s; publish a new version",
                 p->not_after_str);
        goto done;
    }

    /* 3. PCRs: baselines, with event rules for PCRs that differ. */
    uint32_t rules_ok = rules_pass_mask(p, log, gate);
    bool pcrs_pass = false;
    const policy_baseline *closest = NULL;
    uint32_t closest_diff = gate;
    if (p->n_baselines == 0) {
        closest_diff = gate;
        pcrs_pass = (gate & ~rules_ok) == 0;
        if (pcrs_pass)
            ret->rule_pcrs = gate;
    }
    for (size_t i = 0; i < p->n_baselines && !pcrs_pass; i++) {
        const policy_baseline *b = &p->baselines[i];
        uint32_t diff = 0;
        for (unsigned j = 0; j < PCR_COUNT; j++)
            if ((gate & (1u << j)) && (!(b->pcr_mask & (1u << j)) ||
                                       memcmp(b->pcrs[j], quoted->pcr[j], POLICY_DIGEST_SIZE)))
                diff |= 1u << j;
        if ((diff & ~rules_ok) == 0) {
            pcrs_pass = true;
            snprintf(ret->matched, sizeof ret->matched, "%s", b->name);
            ret->rule_pcrs = diff;
        }
        if (!closest || popcount32(diff) < popcount32(closest_diff)) {
            closest = b;
            closest_diff = diff;
        }
    }

    /* 4. IMA entries: each one not ignored must be allowed. */
    size_t ima_bad = 0;
    const char *first_bad = NULL;
    if (p->ima)
        for (size_t i = 0; i < ima->n_entries; i++) {
            const ima_entry *e = &ima->entries[i];
            if (ima_ignored(p->ima, e->file_name) || ima_allowed(p->ima, e))
                continue;
            if (!ima_bad++)
                first_bad = e->file_name;
            if ((r = explain_add_ima(ex, e)) < 0)
                return bg_err_set(err, r, "out of memory");
        }

    if (pcrs_pass && !ima_bad) {
        ret->verdict = POLICY_PASS;
        ret->code = VERDICT_OK;
        if (ret->matched[0] && ret->rule_pcrs) {
            char l[64];
            mask_list(ret->rule_pcrs, l, sizeof l);
            set_reason(ret, "matches baseline %s (PCR %s through event rules)", ret->matched, l);
        } else if (ret->matched[0])
            set_reason(ret, "matches baseline %s", ret->matched);
        else
            set_reason(ret, "every gated event is allowed by the event rules");
        goto done;
    }

    ret->verdict = POLICY_FAIL;
    ret->code = VERDICT_POLICY_DENIED;
    if (!pcrs_pass) {
        char l[96];
        uint32_t failing = closest_diff & ~rules_ok;
        mask_list(failing, l, sizeof l);
        if (closest) {
            snprintf(ex->baseline, sizeof ex->baseline, "%s", closest->name);
            set_reason(ret, "PCR %s differ%s from closest baseline %s", l,
                       popcount32(failing) == 1 ? "s" : "", closest->name);
            if ((r = explain_baseline(ex, closest, failing, quoted, log)) < 0)
                return bg_err_set(err, r, "out of memory");
        } else
            set_reason(ret, "PCR %s: events not allowed by the event rules", l);
        if (p->n_rules && (r = explain_rules(ex, p, failing, log)) < 0)
            return bg_err_set(err, r, "out of memory");
        if (!closest) /* rules-only: still show PCR values */
            for (unsigned j = 0; j < PCR_COUNT; j++)
                if ((failing & (1u << j)) && ex->n_pcrs < PCR_COUNT) {
                    explain_pcr *ep = &ex->pcrs[ex->n_pcrs++];
                    memset(ep, 0, sizeof *ep);
                    ep->pcr = j;
                    memcpy(ep->actual, quoted->pcr[j], POLICY_DIGEST_SIZE);
                }
    } else {
        snprintf(ex->baseline, sizeof ex->baseline, "%s", ret->matched);
        ret->matched[0] = 0;
        set_reason(ret, "%zu IMA measurement%s not allowed (first: %.80s)", ima_bad,
                   ima_bad == 1 ? "" : "s", first_bad ? first_bad : "?");
    }

done:
    ret->release = ret->verdict == POLICY_PASS ||
                   (p->mode == POLICY_MODE_AUDIT &&
                    (ret->verdict == POLICY_FAIL || ret->verdict == POLICY_EXPIRED));
    if (ret->verdict != POLICY_PASS) {
        snprintf(ex->reason, sizeof ex->reason, "%s", ret->reason);
        ret->explanation = TAKE_PTR(ex);
    }
    return 0;
}

void policy_result_done(policy_result *r)
{
    if (!r)
        return;
    explanation_free(r->explanation);
    r->explanation = NULL;
}

json_object *policy_result_to_json(const policy_result *r)
{
    json_object *o = json_object_new_object(), *pcrs = json_object_new_array();
    if (!o || !pcrs) {
        json_object_put(o);
        json_object_put(pcrs);
        return NULL;
    }
    json_object_object_add(o, "verdict", json_object_new_string(policy_verdict_name(r->verdict)));
    json_object_object_add(o, "mode", json_object_new_string(policy_mode_name(r->mode)));
    json_object_object_add(o, "release", json_object_new_boolean(r->release));
    json_object_object_add(o, "reason", json_object_new_string(r->reason));
    json_object_object_add(o, "matched_baseline",
                           r->matched[0] ? json_object_new_string(r->matched) : NULL);
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (r->rule_pcrs & (1u << i))
            json_object_array_add(pcrs, json_object_new_int((int)i));
    json_object_object_add(o, "rule_pcrs", pcrs);
    if (r->explanation)
        json_object_object_add(o, "explanation", explanation_to_json(r->explanation));
    return o;
}

char *policy_result_summary(const policy_result *r)
{
    _cleanup_(freep) char *detail = NULL;
    const char *head;
    if (r->verdict == POLICY_PASS)
        head = "PASS";
    else if (r->release)
        head = "AUDIT (would deny; released because the policy is in audit mode)";
    else if (r->verdict == POLICY_EVIDENCE)
        head = "DENIED: the evidence lacks what the policy checks";
    else if (r->verdict == POLICY_INVALID)
        head = "DENIED: the policy cannot be judged against this evidence";
    else if (r->verdict == POLICY_EXPIRED)
        head = "DENIED: policy expired";
    else
        head = "DENIED: boot state not allowed by policy";
    if (r->explanation && explanation_format(r->explanation, 12, &detail) < 0)
        return NULL;
    char *s = NULL;
    if (asprintf(&s, "%s\n  %s\n%s", head, r->reason, detail ? detail : "") < 0)
        return NULL;
    return s;
}
