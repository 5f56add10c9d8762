/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy evaluation and the explanation of a denial, on synthetic logs in the
 * real binary formats (parsed by eventlog_parse / ima_parse, replayed by
 * eventlog_replay / ima_replay as the server does). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "explain.h"
#include "policy.h"
#include "testlog.h"
#include "util.h"
#include "verify.h"

#define TAG_INITRD  0x8F3B22EC /* Linux libstub INITRD_EVENT_TAG_ID */
#define TAG_OPTIONS 0x8F3B22ED /* LOAD_OPTIONS_EVENT_TAG_ID */

#define T_NOW        1795000000 /* 2026-11-18 */
#define T_BEFORE_NOW "2026-01-01T00:00:00Z"
#define T_AFTER_NOW  "2027-06-01T00:00:00Z"

typedef struct variant {
    const char *kernel;    /* name hashed into the PCR 4 image digest */
    const char *initrd;    /* name hashed into the initrd tag digest */
    bool with_options;     /* the LoadOptions tag */
    const char *extra_ipl; /* an extra PCR 8 EV_IPL string */
    int n_extra;           /* that many more PCR 8 EV_IPL events */
} variant;

static const variant REF = {"vmlinuz-6.1.0-56", "initrd-6.1.0-56", true, NULL, 0};

static void digest_of(const char *s, uint8_t out[32])
{
    tl_sha256(s, strlen(s), out);
}

static eventlog *make_log(const variant *v)
{
    tbuf b;
    uint8_t d[32];
    tl_begin(&b);
    tl_string(&b, 0, EV_S_CRTM_VERSION, "fw-1.0");
    for (uint32_t pcr = 0; pcr <= 7; pcr++)
        tl_separator(&b, pcr);
    digest_of("shimx64.efi", d);
    tl_image(&b, 4, d);
    digest_of(v->kernel, d);
    tl_image(&b, 4, d);
    tl_string(&b, 8, EV_IPL, "grub_cmd: linux /vmlinuz root=/dev/vda2");
    if (v->extra_ipl)
        tl_string(&b, 8, EV_IPL, v->extra_ipl);
    for (int i = 0; i < v->n_extra; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "grub_cmd: echo %d", i);
        tl_string(&b, 8, EV_IPL, cmd);
    }
    digest_of(v->initrd, d);
    tl_tag(&b, 9, TAG_INITRD, "Linux initrd", d);
    if (v->with_options) {
        digest_of("options", d);
        tl_tag(&b, 9, TAG_OPTIONS, "LOADED_IMAGE::LoadOptions", d);
    }
    eventlog *log = NULL;
    bg_err err = {{0}};
    if (eventlog_parse(b.p, b.n, &log, &err) < 0)
        fail_msg("synthetic log does not parse: %s", err.msg);
    free(b.p);
    return log;
}

static void replay(const eventlog *log, const ima_log *ima, pcr_bank *bank)
{
    bg_err err = {{0}};
    if (eventlog_replay(log, TPMALG_SHA256, bank, &err) < 0)
        fail_msg("replay: %s", err.msg);
    memset(bank->pcr[IMA_PCR], 0, sizeof bank->pcr[IMA_PCR]);
    if (ima && ima_replay(ima, bank, &err) < 0)
        fail_msg("ima replay: %s", err.msg);
    bank->mask = (1u << PCR_COUNT) - 1; /* stands in for a quote of every PCR */
}

/* A policy with one exact baseline from log (as `policy capture` makes it),
 * plus the members of the JSON object `extra`. */
static policy *policy_for(const eventlog *log, const char *bname, const char *extra)
{
    pcr_bank bank;
    char key[4], hex[65], desc[256];
    replay(log, NULL, &bank);
    json_object *doc = extra ? json_tokener_parse(extra) : json_object_new_object();
    assert_non_null(doc);
    json_object *bl = json_object_new_array(), *b = json_object_new_object(),
                *pcrs = json_object_new_object(), *evs = json_object_new_array();
    if (!json_object_object_get_ex(doc, "name", NULL))
        json_object_object_add(doc, "name", json_object_new_string("web"));
    if (!json_object_object_get_ex(doc, "version", NULL))
        json_object_object_add(doc, "version", json_object_new_int(7));
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (POLICY_DEFAULT_GATE_MASK & (1u << i)) {
            snprintf(key, sizeof key, "%u", i);
            hex_encode(bank.pcr[i], 32, hex);
            json_object_object_add(pcrs, key, json_object_new_string(hex));
        }
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        if (ev->type == EV_NO_ACTION)
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "pcr", json_object_new_int((int)ev->pcr));
        json_object_object_add(e, "type", json_object_new_string(eventlog_type_name(ev->type)));
        hex_encode(eventlog_event_digest(ev, TPMALG_SHA256)->bytes, 32, hex);
        json_object_object_add(e, "digest", json_object_new_string(hex));
        eventlog_event_describe(ev, desc, sizeof desc);
        json_object_object_add(e, "desc", json_object_new_string(desc));
        json_object_array_add(evs, e);
    }
    json_object_object_add(b, "name", json_object_new_string(bname));
    json_object_object_add(b, "pcrs", pcrs);
    json_object_object_add(b, "events", evs);
    json_object_array_add(bl, b);
    json_object_object_add(doc, "baselines", bl);
    policy *p = NULL;
    bg_err err = {{0}};
    if (policy_from_json(doc, &p, &err) < 0)
        fail_msg("policy: %s", err.msg);
    json_object_put(doc);
    return p;
}

/* Evaluation of PCR values q with log and ima: the replay check of
 * verify.h first (its verdict, VERDICT_OK when it holds), then the policy
 * (the result of policy_evaluate). Without a log, q is taken as verified. */
static int evaluate_q(const policy *p, const pcr_bank *q, const eventlog *log, const ima_log *ima,
                      time_t now, policy_result *res, bg_verdict *ret_replay)
{
    evidence ev = {.verdict = VERDICT_OK, .quoted = *q};
    bg_err err = {{0}};
    int r;
    if (log && evidence_replay(q, log, ima, &ev, &err) < 0)
        fail_msg("replay: %s", err.msg);
    *ret_replay = ev.verdict;
    r = policy_evaluate(p, &ev, now, res, &err);
    evidence_done(&ev);
    return r;
}

static void evaluate(const policy *p, const eventlog *log, const ima_log *ima, time_t now,
                     policy_result *res)
{
    pcr_bank q;
    bg_verdict rv;
    replay(log, ima, &q);
    if (evaluate_q(p, &q, log, ima, now, res, &rv) < 0 || rv != VERDICT_OK)
        fail_msg("evaluate failed (replay verdict %s)", verdict_name(rv));
}

static void test_pass_exact(void **state)
{
    eventlog *log = make_log(&REF);
    policy *p = policy_for(log, "image-2026.11.2", NULL);
    policy_result res;
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_PASS);
    assert_true(res.release);
    assert_string_equal(res.matched, "image-2026.11.2");
    assert_int_equal(res.rule_pcrs, 0);
    assert_null(res.explanation);
    json_object *j = policy_result_to_json(&res);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "verdict")), "pass");
    json_object_put(j);
    policy_result_done(&res);
    policy_free(p);
    eventlog_free(log);
}

static const explain_event *find_event(const explanation *e, explain_kind kind, uint32_t pcr)
{
    for (size_t i = 0; i < e->n_events; i++)
        if (e->events[i].kind == kind && e->events[i].pcr == pcr)
            return &e->events[i];
    return NULL;
}

static size_t count_kind(const explanation *e, explain_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n_events; i++)
        n += e->events[i].kind == kind;
    return n;
}

/* The acceptance case of DESIGN 3: a changed initrd is explained as a
 * changed EV_EVENT_TAG "Linux initrd" in PCR 9 with both digests. */
static void test_changed_initrd(void **state)
{
    variant v = REF;
    v.initrd = "initrd-6.1.0-56-rebuilt";
    eventlog *ref = make_log(&REF), *log = make_log(&v);
    policy *p = policy_for(ref, "image-2026.11.2", NULL);
    policy_result res;
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_false(res.release);
    assert_string_equal(res.matched, "");
    assert_non_null(strstr(res.reason, "PCR 9 differs from closest baseline image-2026.11.2"));

    const explanation *e = res.explanation;
    assert_non_null(e);
    assert_string_equal(e->baseline, "image-2026.11.2");
    assert_int_equal(e->n_pcrs, 1);
    assert_int_equal(e->pcrs[0].pcr, 9);
    assert_true(e->pcrs[0].has_expected);
    assert_memory_equal(e->pcrs[0].expected, p->baselines[0].pcrs[9], 32);
    assert_memory_not_equal(e->pcrs[0].expected, e->pcrs[0].actual, 32);

    assert_int_equal(e->n_events, 1);
    const explain_event *x = find_event(e, EXPLAIN_CHANGED, 9);
    assert_non_null(x);
    assert_int_equal(x->type, EV_EVENT_TAG);
    assert_non_null(strstr(x->desc, "Linux initrd"));
    uint8_t want_old[32], want_new[32];
    digest_of(REF.initrd, want_old);
    digest_of(v.initrd, want_new);
    assert_true(x->has_expected && x->has_actual);
    assert_memory_equal(x->expected, want_old, 32);
    assert_memory_equal(x->actual, want_new, 32);
    assert_true(x->log_index > 0);

    /* JSON for the 403 body. */
    json_object *j = policy_result_to_json(&res), *ex, *evs, *ev0, *v0;
    assert_string_equal(json_object_get_string(json_object_object_get(j, "verdict")), "fail");
    assert_false(json_object_get_boolean(json_object_object_get(j, "release")));
    assert_true(json_object_object_get_ex(j, "explanation", &ex));
    assert_true(json_object_object_get_ex(ex, "events", &evs));
    assert_int_equal(json_object_array_length(evs), 1);
    ev0 = json_object_array_get_idx(evs, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(ev0, "change")), "changed");
    assert_string_equal(json_object_get_string(json_object_object_get(ev0, "type")),
                        "EV_EVENT_TAG");
    char hex[65];
    hex_encode(want_new, 32, hex);
    assert_string_equal(json_object_get_string(json_object_object_get(ev0, "actual_digest")), hex);
    hex_encode(want_old, 32, hex);
    assert_string_equal(json_object_get_string(json_object_object_get(ev0, "expected_digest")),
                        hex);
    v0 = json_object_array_get_idx(json_object_object_get(ex, "pcrs"), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(v0, "pcr")), 9);
    json_object_put(j);

    /* The console summary names the PCR, the event and both digests. */
    char *s = policy_result_summary(&res);
    assert_non_null(s);
    assert_non_null(strstr(s, "DENIED"));
    assert_non_null(strstr(s, "PCR 9 changed EV_EVENT_TAG \"Linux initrd\""));
    char short_old[13];
    hex_encode(want_old, 6, short_old);
    assert_non_null(strstr(s, short_old));
    free(s);

    policy_result_done(&res);
    policy_free(p);
    eventlog_free(ref);
    eventlog_free(log);
}

static void test_new_and_missing_event(void **state)
{
    eventlog *ref = make_log(&REF);
    policy *p = policy_for(ref, "ref", NULL);
    policy_result res;

    /* New: an extra grub command in PCR 8. */
    variant v = REF;
    v.extra_ipl = "grub_cmd: insmod evil";
    eventlog *log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.explanation->n_pcrs, 1);
    assert_int_equal(res.explanation->pcrs[0].pcr, 8);
    assert_int_equal(res.explanation->n_events, 1);
    const explain_event *x = find_event(res.explanation, EXPLAIN_NEW, 8);
    assert_non_null(x);
    assert_int_equal(x->type, EV_IPL);
    assert_non_null(strstr(x->desc, "insmod evil"));
    assert_false(x->has_expected);
    policy_result_done(&res);
    eventlog_free(log);

    /* Missing: no LoadOptions tag in PCR 9. */
    v = REF;
    v.with_options = false;
    log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.explanation->n_events, 1);
    x = find_event(res.explanation, EXPLAIN_MISSING, 9);
    assert_non_null(x);
    assert_int_equal(x->type, EV_EVENT_TAG);
    assert_non_null(strstr(x->desc, "LoadOptions"));
    assert_int_equal(x->log_index, -1);
    assert_true(x->has_expected);
    assert_false(x->has_actual);
    policy_result_done(&res);
    eventlog_free(log);

    /* Two PCRs at once: kernel and initrd changed; closest baseline still ref. */
    v = REF;
    v.kernel = "vmlinuz-6.1.0-57";
    v.initrd = "initrd-6.1.0-57";
    log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.explanation->n_pcrs, 2);
    assert_int_equal(res.explanation->pcrs[0].pcr, 4);
    assert_int_equal(res.explanation->pcrs[1].pcr, 9);
    assert_int_equal(count_kind(res.explanation, EXPLAIN_CHANGED), 2);
    assert_non_null(find_event(res.explanation, EXPLAIN_CHANGED, 4));
    assert_non_null(strstr(res.reason, "PCR 4, 9 differ"));
    policy_result_done(&res);
    eventlog_free(log);

    policy_free(p);
    eventlog_free(ref);
}

static void test_explanation_cap(void **state)
{
    /* 300 new events: the first EXPLAIN_MAX_ITEMS are listed, the rest counted. */
    variant v = REF;
    v.n_extra = 300;
    eventlog *ref = make_log(&REF), *log = make_log(&v);
    policy *p = policy_for(ref, "ref", NULL);
    policy_result res;
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.explanation->n_events, EXPLAIN_MAX_ITEMS);
    assert_int_equal(res.explanation->events_omitted, 300 - EXPLAIN_MAX_ITEMS);
    assert_int_equal(count_kind(res.explanation, EXPLAIN_NEW), EXPLAIN_MAX_ITEMS);
    char *s = policy_result_summary(&res);
    assert_non_null(strstr(s, "... 288 more event differences"));
    free(s);
    json_object *j = policy_result_to_json(&res);
    assert_int_equal(json_object_get_int(json_object_object_get(
                         json_object_object_get(j, "explanation"), "events_omitted")),
                     300 - EXPLAIN_MAX_ITEMS);
    json_object_put(j);
    policy_result_done(&res);
    policy_free(p);
    eventlog_free(ref);
    eventlog_free(log);
}

static void test_closest_baseline(void **state)
{
    /* Two baselines: old image (kernel 55 + initrd 55) and new (56). A boot of
     * kernel 56 with a changed initrd is one PCR away from "new". */
    variant old = {"vmlinuz-6.1.0-55", "initrd-6.1.0-55", true, NULL, 0};
    eventlog *lo = make_log(&old), *ln = make_log(&REF);
    policy *po = policy_for(lo, "old", NULL), *pn = policy_for(ln, "new", NULL);
    json_object *doc = json_object_get(po->doc);
    json_object_array_add(json_object_object_get(doc, "baselines"),
                          json_object_get(json_object_array_get_idx(
                              json_object_object_get(pn->doc, "baselines"), 0)));
    policy *p = NULL;
    assert_int_equal(policy_from_json(doc, &p, NULL), 0);
    json_object_put(doc);
    assert_int_equal(p->n_baselines, 2);

    policy_result res;
    evaluate(p, lo, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_PASS);
    assert_string_equal(res.matched, "old");
    policy_result_done(&res);
    evaluate(p, ln, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_PASS);
    assert_string_equal(res.matched, "new");
    policy_result_done(&res);

    variant v = REF;
    v.initrd = "initrd-custom";
    eventlog *log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_string_equal(res.explanation->baseline, "new");
    assert_int_equal(res.explanation->n_pcrs, 1);
    policy_result_done(&res);

    eventlog_free(log);
    policy_free(p);
    policy_free(po);
    policy_free(pn);
    eventlog_free(lo);
    eventlog_free(ln);
}

static void test_audit_and_expiry(void **state)
{
    eventlog *ref = make_log(&REF);
    variant v = REF;
    v.initrd = "initrd-other";
    eventlog *log = make_log(&v);
    policy_result res;

    /* Audit: evaluated, recorded as fail, released anyway. */
    policy *p = policy_for(ref, "ref", "{\"mode\":\"audit\"}");
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.mode, POLICY_MODE_AUDIT);
    assert_true(res.release);
    assert_non_null(res.explanation);
    char *s = policy_result_summary(&res);
    assert_non_null(strstr(s, "AUDIT"));
    free(s);
    json_object *j = policy_result_to_json(&res);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "mode")), "audit");
    assert_true(json_object_get_boolean(json_object_object_get(j, "release")));
    json_object_put(j);
    policy_result_done(&res);
    policy_free(p);

    /* Expired: denied even for the exact baseline, with the reason. */
    p = policy_for(ref, "ref", "{\"not_after\":\"" T_BEFORE_NOW "\"}");
    evaluate(p, ref, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_EXPIRED);
    assert_false(res.release);
    assert_non_null(strstr(res.reason, "expired at " T_BEFORE_NOW));
    assert_non_null(strstr(res.explanation->note, "expired"));
    policy_result_done(&res);
    /* The same policy one second before not_after passes. */
    evaluate(p, ref, NULL, p->not_after - 1, &res);
    assert_int_equal(res.verdict, POLICY_PASS);
    policy_result_done(&res);
    evaluate(p, ref, NULL, p->not_after, &res);
    assert_int_equal(res.verdict, POLICY_EXPIRED);
    policy_result_done(&res);
    policy_free(p);

    /* Not yet expired. */
    p = policy_for(ref, "ref", "{\"not_after\":\"" T_AFTER_NOW "\"}");
    evaluate(p, ref, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_PASS);
    policy_result_done(&res);
    policy_free(p);

    /* Audit + expired: released, verdict says expired. */
    p = policy_for(ref, "ref", "{\"mode\":\"audit\",\"not_after\":\"" T_BEFORE_NOW "\"}");
    evaluate(p, ref, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_EXPIRED);
    assert_true(res.release);
    policy_result_done(&res);
    policy_free(p);

    eventlog_free(ref);
    eventlog_free(log);
}

static void test_evidence(void **state)
{
    /* The log does not replay to the quoted PCRs: an evidence failure, never
     * released, not even in audit mode. */
    variant v = REF;
    v.initrd = "initrd-claimed";
    eventlog *ref = make_log(&REF), *log = make_log(&v);
    policy *p = policy_for(ref, "ref", "{\"mode\":\"audit\"}");
    pcr_bank q;
    policy_result res;
    bg_verdict rv;
    evidence ev;
    replay(ref, NULL, &q); /* quote says REF, log claims otherwise */
    assert_int_equal(evidence_replay(&q, log, NULL, &ev, NULL), 0);
    assert_int_equal(ev.verdict, VERDICT_EVENTLOG_MISMATCH);
    assert_int_equal(ev.n_diffs, 1);
    assert_int_equal(ev.diffs[0].pcr, 9);
    assert_non_null(strstr(ev.reason, "do not replay to the quoted PCRs (PCR 9)"));
    /* unverified evidence is never evaluated, so never released */
    assert_true(policy_evaluate(p, &ev, T_NOW, &res, NULL) < 0);
    evidence_done(&ev);

    /* Without a log only exact baselines can pass. */
    assert_int_equal(evaluate_q(p, &q, NULL, NULL, T_NOW, &res, &rv), 0);
    assert_int_equal(res.verdict, POLICY_PASS);
    policy_result_done(&res);
    q.pcr[7][0] ^= 1;
    assert_int_equal(evaluate_q(p, &q, NULL, NULL, T_NOW, &res, &rv), 0);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.explanation->n_pcrs, 1);
    assert_int_equal(res.explanation->pcrs[0].pcr, 7);
    policy_result_done(&res);

    /* The wrong bank is refused. */
    q.alg = TPMALG_SHA1;
    assert_true(evaluate_q(p, &q, NULL, NULL, T_NOW, &res, &rv) < 0);

    policy_free(p);
    eventlog_free(ref);
    eventlog_free(log);
}

/* event_rules: the fleet allows any of three kernels in PCR 4 while the
 * baseline pins everything else. */
static void test_rules_any_of_three_kernels(void **state)
{
    static const char *const kernels[] = {"vmlinuz-a", "vmlinuz-b", "vmlinuz-c"};
    char rules[1024], hex[3][65], shim[65];
    uint8_t d[32];
    for (int i = 0; i < 3; i++) {
        digest_of(kernels[i], d);
        hex_encode(d, 32, hex[i]);
    }
    digest_of("shimx64.efi", d);
    hex_encode(d, 32, shim);
    snprintf(rules, sizeof rules,
             "{\"event_rules\":[{\"pcr\":4,\"type\":\"EV_EFI_BOOT_SERVICES_APPLICATION\","
             "\"digests\":[\"%s\",\"%s\",\"%s\",\"%s\"]},"
             "{\"pcr\":4,\"type\":\"EV_SEPARATOR\",\"digests\":["
             "\"df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119\"]}]}",
             shim, hex[0], hex[1], hex[2]);
    variant v = REF;
    v.kernel = kernels[0];
    eventlog *ref = make_log(&v);
    policy *p = policy_for(ref, "ref", rules);
    assert_int_equal(p->n_rules, 2);

    for (int i = 0; i < 3; i++) {
        policy_result res;
        v.kernel = kernels[i];
        eventlog *log = make_log(&v);
        evaluate(p, log, NULL, T_NOW, &res);
        if (res.verdict != POLICY_PASS)
            fail_msg("kernel %s: %s", kernels[i], res.reason);
        assert_string_equal(res.matched, "ref");
        assert_int_equal(res.rule_pcrs, i == 0 ? 0 : 1u << 4);
        policy_result_done(&res);
        eventlog_free(log);
    }

    /* A fourth kernel: PCR 4 differs and its event is not allowed. */
    policy_result res;
    v.kernel = "vmlinuz-d";
    eventlog *log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.explanation->n_pcrs, 1);
    assert_int_equal(res.explanation->pcrs[0].pcr, 4);
    const explain_event *x = find_event(res.explanation, EXPLAIN_CHANGED, 4);
    assert_non_null(x);
    digest_of("vmlinuz-d", d);
    assert_memory_equal(x->actual, d, 32);
    policy_result_done(&res);
    eventlog_free(log);

    /* An allowed kernel does not excuse another change (initrd in PCR 9). */
    v.kernel = kernels[2];
    v.initrd = "initrd-x";
    log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_int_equal(res.explanation->n_pcrs, 1);
    assert_int_equal(res.explanation->pcrs[0].pcr, 9);
    policy_result_done(&res);
    eventlog_free(log);

    policy_free(p);
    eventlog_free(ref);
}

static void test_rules_only(void **state)
{
    /* No baselines: every event of the gated PCRs (here 4 and 9) must be
     * allowed; desc narrows a rule to "Linux initrd". */
    char doc[2048], k[65], shim[65], ini[65], opt[65];
    uint8_t d[32];
    digest_of(REF.kernel, d);
    hex_encode(d, 32, k);
    digest_of("shimx64.efi", d);
    hex_encode(d, 32, shim);
    digest_of(REF.initrd, d);
    hex_encode(d, 32, ini);
    digest_of("options", d);
    hex_encode(d, 32, opt);
    snprintf(
        doc, sizeof doc,
        "{\"name\":\"r\",\"version\":1,\"gate_pcrs\":[4,9],\"event_rules\":["
        "{\"pcr\":4,\"type\":\"EV_SEPARATOR\",\"digests\":["
        "\"df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119\"]},"
        "{\"pcr\":4,\"type\":\"EV_EFI_BOOT_SERVICES_APPLICATION\",\"digests\":[\"%s\",\"%s\"]},"
        "{\"pcr\":9,\"type\":\"EV_EVENT_TAG\",\"desc\":\"Linux initrd\",\"digests\":[\"%s\"]},"
        "{\"pcr\":9,\"type\":\"EV_EVENT_TAG\",\"desc\":\"LoadOptions\",\"digests\":[\"%s\"]}]}",
        shim, k, ini, opt);
    policy *p = NULL;
    bg_err err = {{0}};
    if (policy_parse(doc, strlen(doc), &p, &err) < 0)
        fail_msg("%s", err.msg);
    policy_result res;
    eventlog *log = make_log(&REF);
    evaluate(p, log, NULL, T_NOW, &res);
    if (res.verdict != POLICY_PASS)
        fail_msg("%s", res.reason);
    assert_int_equal(res.rule_pcrs, (1u << 4) | (1u << 9));
    policy_result_done(&res);
    eventlog_free(log);

    /* The initrd digest under the LoadOptions description: not allowed. */
    variant v = REF;
    v.initrd = "options";
    log = make_log(&v);
    evaluate(p, log, NULL, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_string_equal(res.explanation->baseline, "");
    const explain_event *x = find_event(res.explanation, EXPLAIN_NOT_ALLOWED, 9);
    assert_non_null(x);
    assert_non_null(strstr(x->desc, "Linux initrd"));
    assert_int_equal(res.explanation->n_pcrs, 1);
    assert_int_equal(res.explanation->pcrs[0].pcr, 9);
    policy_result_done(&res);
    eventlog_free(log);
    policy_free(p);
}

static ima_log *make_ima(const char *const *paths, size_t n)
{
    tbuf b = {0};
    uint8_t d[32];
    for (size_t i = 0; i < n; i++) {
        digest_of(paths[i], d); /* the "file content" is its path */
        tl_ima(&b, paths[i], d);
    }
    ima_log *log = NULL;
    bg_err err = {{0}};
    if (ima_parse(b.p, b.n, &log, &err) < 0)
        fail_msg("synthetic IMA log: %s", err.msg);
    free(b.p);
    return log;
}

static void test_ima(void **state)
{
    static const char *const good[] = {"boot_aggregate", "/usr/bin/bash", "/usr/lib/libc.so.6"};
    static const char *const bad[] = {"boot_aggregate", "/usr/bin/bash", "/tmp/x.sh",
                                      "/usr/bin/evil"};
    char extra[1024], h1[65], h2[65];
    uint8_t d[32];
    digest_of(good[1], d);
    hex_encode(d, 32, h1);
    digest_of(good[2], d);
    hex_encode(d, 32, h2);
    snprintf(extra, sizeof extra,
             "{\"gate_pcrs\":[0,1,2,3,4,5,6,7,8,9,10,11],\"ima\":{\"allow\":[\"sha256:%s\","
             "\"sha256:%s\"],\"ignore_paths\":[\"^boot_aggregate$\",\"^/tmp/\"]}}",
             h1, h2);
    eventlog *log = make_log(&REF);
    policy *p = policy_for(log, "ref", extra);
    ima_log *ig = make_ima(good, 3), *ib = make_ima(bad, 4);
    policy_result res;

    evaluate(p, log, ig, T_NOW, &res);
    if (res.verdict != POLICY_PASS)
        fail_msg("%s", res.reason);
    policy_result_done(&res);

    evaluate(p, log, ib, T_NOW, &res);
    assert_int_equal(res.verdict, POLICY_FAIL);
    assert_non_null(strstr(res.reason, "1 IMA measurement not allowed (first: /usr/bin/evil)"));
    assert_int_equal(res.explanation->n_ima, 1);
    assert_string_equal(res.explanation->ima[0].path, "/usr/bin/evil");
    assert_int_equal(strncmp(res.explanation->ima[0].digest, "sha256:", 7), 0);
    assert_string_equal(res.explanation->baseline, "ref");
    policy_result_done(&res);

    /* No IMA log for a policy that checks IMA: decided once, by the policy. */
    pcr_bank q;
    bg_verdict rv;
    replay(log, NULL, &q);
    assert_int_equal(evaluate_q(p, &q, log, NULL, T_NOW, &res, &rv), 0);
    assert_int_equal(rv, VERDICT_OK);
    assert_int_equal(res.verdict, POLICY_EVIDENCE);
    assert_int_equal(res.code, VERDICT_IMALOG_MISSING);
    assert_false(res.release);
    policy_result_done(&res);

    /* IMA log that does not match quoted PCR 10: the replay check refuses it. */
    replay(log, ig, &q);
    evidence ev;
    assert_int_equal(evidence_replay(&q, log, ib, &ev, NULL), 0);
    assert_int_equal(ev.verdict, VERDICT_EVENTLOG_MISMATCH);
    assert_int_equal(ev.diffs[0].pcr, 10);
    assert_true(ev.diffs[0].ima);
    evidence_done(&ev);

    policy_free(p);
    ima_log_free(ig);
    ima_log_free(ib);
    eventlog_free(log);
}

/* The wire's one cap (explanation_lines): exactly max lines, the last one
 * counting what was left out; one line fewer is not cut. */
static void test_lines_cap(void **state)
{
    explanation *e = explanation_new();
    char **lines = NULL;
    size_t n = 0, full = 0;
    assert_non_null(e);
    snprintf(e->reason, sizeof e->reason, "PCR 4 differs from closest baseline b");
    e->events = calloc(40, sizeof *e->events);
    assert_non_null(e->events);
    for (size_t i = 0; i < 40; i++) {
        e->events[i].kind = EXPLAIN_NEW;
        e->events[i].pcr = 4;
        e->events[i].type = 0x80000003;
        e->events[i].log_index = (int64_t)i;
        e->events[i].has_actual = true;
    }
    e->n_events = 40;
    /* reason + 40 events */
    assert_int_equal(explanation_lines(e, 64, &lines, &full), 0);
    assert_int_equal(full, 41);
    assert_string_equal(lines[0], e->reason);
    explanation_lines_free(lines, full);
    assert_int_equal(explanation_lines(e, 42, &lines, &n), 0);
    assert_int_equal(n, 41); /* fits: nothing cut */
    assert_null(strstr(lines[n - 1], "more lines"));
    explanation_lines_free(lines, n);
    assert_int_equal(explanation_lines(e, 41, &lines, &n), 0);
    assert_int_equal(n, 41); /* one over: 40 lines and the count */
    assert_string_equal(lines[40], "... 1 more lines in the audit record");
    explanation_lines_free(lines, n);
    assert_int_equal(explanation_lines(e, 10, &lines, &n), 0);
    assert_int_equal(n, 10);
    assert_string_equal(lines[9], "... 32 more lines in the audit record");
    explanation_lines_free(lines, n);
    assert_int_equal(explanation_lines(e, 1, &lines, &n), -EINVAL);
    explanation_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_exact),
        cmocka_unit_test(test_changed_initrd),
        cmocka_unit_test(test_new_and_missing_event),
        cmocka_unit_test(test_explanation_cap),
        cmocka_unit_test(test_closest_baseline),
        cmocka_unit_test(test_audit_and_expiry),
        cmocka_unit_test(test_evidence),
        cmocka_unit_test(test_rules_any_of_three_kernels),
        cmocka_unit_test(test_rules_only),
        cmocka_unit_test(test_ima),
        cmocka_unit_test(test_lines_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
