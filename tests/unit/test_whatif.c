/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* whatif.h: the line a denial is grouped by, which stored releases count as
 * the active version's, and the cache that evaluates each distinct boot
 * state once and loads each log once. */
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
#include "whatif.h"

static void add_event(explanation *e, explain_kind kind, uint32_t pcr, uint32_t type,
                      const char *desc)
{
    if (!e->events)
        assert_non_null(e->events = calloc(EXPLAIN_MAX_ITEMS, sizeof(*e->events)));
    explain_event *x = &e->events[e->n_events++];
    x->kind = kind;
    x->pcr = pcr;
    x->type = type;
    x->log_index = 40 + (int64_t)e->n_events; /* differs per machine: never in the line */
    x->has_actual = true;
    memset(x->actual, 0x5a, sizeof(x->actual));
    snprintf(x->desc, sizeof(x->desc), "%s", desc);
}

static void test_reason_events(void **state)
{
    policy_result r = {.verdict = POLICY_FAIL};
    char buf[WHATIF_REASON_SIZE];
    assert_non_null(r.explanation = explanation_new());
    snprintf(r.explanation->baseline, sizeof(r.explanation->baseline), "image-a");
    add_event(r.explanation, EXPLAIN_CHANGED, 9, EV_IPL, "initrd-v2");
    whatif_reason(&r, buf, sizeof(buf));
    assert_string_equal(buf, "PCR 9 changed EV_IPL \"initrd-v2\"");

    add_event(r.explanation, EXPLAIN_NEW, 4, EV_EFI_BOOT_SERVICES_APPLICATION, "\\EFI\\x.efi");
    add_event(r.explanation, EXPLAIN_MISSING, 8, 0xdeadbeefu, "grub_cmd linux");
    add_event(r.explanation, EXPLAIN_NOT_ALLOWED, 9, EV_IPL, "other");
    r.explanation->events_omitted = 2;
    whatif_reason(&r, buf, sizeof(buf));
    assert_string_equal(buf, "PCR 9 changed EV_IPL \"initrd-v2\"; "
                             "PCR 4 new EV_EFI_BOOT_SERVICES_APPLICATION \"\\EFI\\x.efi\"; "
                             "PCR 8 missing 0xdeadbeef \"grub_cmd linux\"; +3 more events");

    /* a short buffer is cut, never overrun */
    char small[12];
    whatif_reason(&r, small, sizeof(small));
    assert_string_equal(small, "PCR 9 chang");
    policy_result_done(&r);
}

static void test_reason_pcrs_ima_verdicts(void **state)
{
    policy_result r = {.verdict = POLICY_FAIL};
    char buf[WHATIF_REASON_SIZE];
    assert_non_null(r.explanation = explanation_new());
    r.explanation->n_pcrs = 2;
    r.explanation->pcrs[0].pcr = 0;
    r.explanation->pcrs[1].pcr = 7;
    whatif_reason(&r, buf, sizeof(buf));
    assert_string_equal(buf, "PCR 0, 7 differ");
    r.explanation->n_pcrs = 1;
    r.explanation->pcrs[0].pcr = 7;
    assert_non_null(r.explanation->ima = calloc(2, sizeof(*r.explanation->ima)));
    r.explanation->n_ima = 2;
    snprintf(r.explanation->ima[0].path, sizeof(r.explanation->ima[0].path), "/usr/bin/evil");
    whatif_reason(&r, buf, sizeof(buf));
    assert_string_equal(buf, "PCR 7 differs; IMA not allowed: /usr/bin/evil (and more)");

    snprintf(r.explanation->reason, sizeof(r.explanation->reason),
             "PCR 11: event log does not replay");
    r.verdict = POLICY_EVIDENCE;
    whatif_reason(&r, buf, sizeof(buf));
    assert_string_equal(buf, "evidence: PCR 11: event log does not replay");
    r.verdict = POLICY_EXPIRED;
    whatif_reason(&r, buf, sizeof(buf));
    assert_string_equal(buf, "policy expired");
    policy_result_done(&r);

    policy_result pass = {.verdict = POLICY_PASS, .release = true};
    whatif_reason(&pass, buf, sizeof(buf));
    assert_string_equal(buf, "");
    /* a failure without an explanation still says something */
    policy_result bare = {.verdict = POLICY_FAIL};
    snprintf(bare.reason, sizeof(bare.reason), "no baseline matches");
    whatif_reason(&bare, buf, sizeof(buf));
    assert_string_equal(buf, "no baseline matches");
}

static void test_released_by(void **state)
{
    static const struct {
        bool released;
        const char *mode, *audit_verdict, *policy;
        int64_t version;
        bool want;
    } v[] = {
        {true, "enforce", "", "web", 3, true},
        {false, "enforce", "", "web", 3, false},             /* denied */
        {true, "enforce", "", "web", 2, false},              /* another version */
        {true, "enforce", "", "db", 3, false},               /* another policy */
        {true, "audit", "", "web", 3, true},                 /* audit mode, passed */
        {true, "audit", "ok", "web", 3, true},               /* audit mode, passed */
        {true, "audit", "policy_mismatch", "web", 3, false}, /* released only by audit mode */
        {true, "breakglass", "", "web", 3, false},           /* a grant, not the policy */
        {true, "", "", "", 0, false},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
        assert_int_equal(whatif_released_by(v[i].released, v[i].mode, v[i].audit_verdict,
                                            v[i].policy, v[i].version, "web", 3),
                         v[i].want);
    assert_false(whatif_released_by(true, NULL, NULL, NULL, 3, "web", 3));
}

typedef struct loads {
    int calls;
    int result;
} loads;

static int fake_load(void *arg, const char *sha, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    loads *l = arg;
    l->calls++;
    return bg_err_set(err, l->result, "log %.8s gone", sha);
}

static void test_cache(void **state)
{
    static const char A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    loads l = {.result = -ENOENT};
    whatif_cache c = {.now = 1795000000, .load = fake_load, .load_arg = &l, .max_states = 2};
    bg_err err = {{0}};
    size_t k1, k2, k3;

    /* a fleet of twins: one state, one load */
    assert_int_equal(whatif_evaluate(&c, A, "", "00ff", &k1, &err), 0);
    assert_int_equal(whatif_evaluate(&c, A, "", "00ff", &k2, &err), 0);
    assert_int_equal(k1, k2);
    assert_int_equal(l.calls, 1);
    assert_int_equal(c.states[k1].error, -ENOENT);
    assert_false(c.states[k1].release);
    assert_string_equal(c.states[k1].reason, "log aaaaaaaa gone");
    /* another IMA log is another state */
    assert_int_equal(whatif_evaluate(&c, A, B, "00ff", &k3, &err), 0);
    assert_int_not_equal(k3, k1);
    assert_int_equal(c.n_states, 2);
    /* the cap: a third state is refused, a known one still answered */
    assert_int_equal(whatif_evaluate(&c, B, "", "00ff", &k3, &err), -E2BIG);
    assert_int_equal(whatif_evaluate(&c, A, NULL, "00ff", &k3, &err), 0);
    assert_int_equal(k3, k1);
    whatif_cache_done(&c);

    /* no event log stored: no load at all */
    l.calls = 0;
    assert_int_equal(whatif_evaluate(&c, "", "", "00", &k1, &err), 0);
    assert_int_equal(c.states[k1].error, -ENOENT);
    assert_int_equal(l.calls, 0);
    whatif_cache_done(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_events),
        cmocka_unit_test(test_reason_pcrs_ima_verdicts),
        cmocka_unit_test(test_released_by),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
