/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Notifications (src/server/notify.c): only the notified actions reach the
 * hook, as the documented JSON; the queue is bounded and every event is
 * accounted for (sent + failed + dropped), also when a hook stalls and the
 * server stops; the webhook's POST fails cleanly on a refused port. The
 * end-to-end run with bootgated is tests/integration/notify_webhook.test.sh. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <json-c/json.h>

#include "cleanup.h"
#include "metrics.h"
#include "notify.h"

static char dir[] = "/tmp/bootgate-test-notify-XXXXXX";

/* A counter of /metrics by its full name (with labels). */
static unsigned long long metric(const char *name)
{
    struct evbuffer *b = evbuffer_new();
    unsigned long long v = ~0ull;
    size_t n;
    char *text, *p;

    assert_non_null(b);
    metrics_render(b);
    n = evbuffer_get_length(b);
    text = calloc(1, n + 1);
    assert_non_null(text);
    evbuffer_remove(b, text, n);
    for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, strlen(name)) && p[strlen(name)] == ' ')
            v = strtoull(p + strlen(name) + 1, NULL, 10);
    free(text);
    evbuffer_free(b);
    if (v == ~0ull)
        fail_msg("no metric %s", name);
    return v;
}

static void script(const char *name, const char *body, char *ret_path, size_t size)
{
    FILE *f;
    snprintf(ret_path, size, "%s/%s", dir, name);
    f = fopen(ret_path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(ret_path, 0700), 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_events(void **state)
{
    static srv_config cfg;
    char body[512], out[256], line[4096];
    unsigned long long sent0 = metric("bootgate_notify_sent_total{hook=\"command\"}");
    bg_err err = {0};
    json_object *o, *v, *d;
    FILE *f;
    int n = 0;

    snprintf(out, sizeof(out), "%s/events", dir);
    snprintf(body, sizeof(body), "{ cat; echo; } >>%s", out);
    srv_config_defaults(&cfg);
    script("record", body, cfg.notify_command, sizeof(cfg.notify_command));
    assert_false(notify_wanted("unlock_denied")); /* nothing configured yet */
    assert_int_equal(notify_start(&cfg, &err), 0);
    assert_true(notify_wanted("unlock_denied"));
    assert_false(notify_wanted("key_released"));
    assert_false(notify_wanted("node_enrolled"));
    notify_audited("key_released", 1, "bootgated", "n1", "{}");
    notify_audited("unlock_denied", 2, "bootgated", "n1", "{\"verdict\":\"policy_denied\"}");
    notify_audited("policy_activated", 3, "admin:ops", "", NULL);
    notify_stop();
    assert_false(notify_wanted("unlock_denied"));
    assert_int_equal(metric("bootgate_notify_sent_total{hook=\"command\"}"), sent0 + 2);

    f = fopen(out, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        o = json_tokener_parse(line);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 7);
        assert_true(json_object_object_get_ex(o, "event", &v));
        assert_string_equal(json_object_get_string(v),
                            n == 0 ? "unlock_denied" : "policy_activated");
        assert_true(json_object_object_get_ex(o, "audit_seq", &v));
        assert_int_equal(json_object_get_int64(v), n == 0 ? 2 : 3);
        assert_true(json_object_object_get_ex(o, "actor", &v));
        assert_string_equal(json_object_get_string(v), n == 0 ? "bootgated" : "admin:ops");
        assert_true(json_object_object_get_ex(o, "node", &v));
        assert_string_equal(json_object_get_string(v), n == 0 ? "n1" : "");
        assert_true(json_object_object_get_ex(o, "details", &d));
        assert_true(json_object_is_type(d, json_type_object));
        if (n == 0) {
            assert_true(json_object_object_get_ex(d, "verdict", &v));
            assert_string_equal(json_object_get_string(v), "policy_denied");
        } else {
            assert_int_equal(json_object_object_length(d), 0);
        }
        assert_true(json_object_object_get_ex(o, "time", &v));
        assert_int_equal(strlen(json_object_get_string(v)), strlen("2026-12-03T16:00:00Z"));
        assert_true(json_object_object_get_ex(o, "server", &v));
        assert_true(strlen(json_object_get_string(v)) > 0);
        json_object_put(o);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 2);
}

/* The command hook's counters, to compare before and after. */
typedef struct counts {
    unsigned long long sent, failed, dropped;
} counts;

static counts command_counts(void)
{
    return (counts){
        .sent = metric("bootgate_notify_sent_total{hook=\"command\"}"),
        .failed = metric("bootgate_notify_failures_total{hook=\"command\"}"),
        .dropped = metric("bootgate_notify_dropped_total"),
    };
}

/* A stalled command: the queue holds NOTIFY_QUEUE_MAX, the rest is dropped
 * at once; the stop gives up after NOTIFY_DRAIN_SECONDS; no event is lost
 * from the count. */
static void test_bounded(void **state)
{
    static srv_config cfg;
    counts c0 = command_counts(), c;
    const unsigned n = NOTIFY_QUEUE_MAX + 100;
    bg_err err = {0};
    double t0, t1;

    srv_config_defaults(&cfg);
    cfg.notify_timeout = 1;
    script("stall", "exec sleep 30", cfg.notify_command, sizeof(cfg.notify_command));
    assert_int_equal(notify_start(&cfg, &err), 0);
    t0 = now_s();
    for (unsigned i = 0; i < n; i++)
        notify_audited("unlock_denied", i, "bootgated", "n1", "{}");
    t1 = now_s();
    /* enqueueing never waits for the hook */
    assert_true(t1 - t0 < 1.0);
    /* the thread took at most one; the queue holds NOTIFY_QUEUE_MAX */
    assert_true(command_counts().dropped - c0.dropped >= n - NOTIFY_QUEUE_MAX - 1);
    notify_stop();
    assert_true(now_s() - t1 < NOTIFY_DRAIN_SECONDS + 1.5);
    c = command_counts();
    assert_int_equal(c.sent - c0.sent, 0);
    assert_int_equal((c.failed - c0.failed) + (c.dropped - c0.dropped), n);
}

/* Worker threads enqueue at once (the server's case): every event is
 * counted once, whatever the interleaving (ThreadSanitizer in CI's TSan
 * build checks the queue's locking). */
#define PRODUCERS    4
#define PER_PRODUCER 25

static void *produce(void *arg)
{
    for (int i = 0; i < PER_PRODUCER; i++)
        notify_audited("breakglass_used", (int64_t)(intptr_t)arg * 1000 + i, "bootgated", "n2",
                       "{\"grant\":\"g\"}");
    return NULL;
}

static void test_producers(void **state)
{
    static srv_config cfg;
    counts c0 = command_counts(), c;
    pthread_t t[PRODUCERS];
    bg_err err = {0};

    srv_config_defaults(&cfg);
    script("drain", "cat >/dev/null", cfg.notify_command, sizeof(cfg.notify_command));
    assert_int_equal(notify_start(&cfg, &err), 0);
    for (intptr_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, produce, (void *)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    notify_stop();
    c = command_counts();
    assert_true(c.sent - c0.sent > 0);
    assert_int_equal((c.sent - c0.sent) + (c.failed - c0.failed) + (c.dropped - c0.dropped),
                     PRODUCERS * PER_PRODUCER);
}

static void test_https_refused(void **state)
{
    bg_err err = {0};
    atomic_bool cancel = false;
    /* port 1 on loopback: nothing listens there */
    assert_int_equal(notify_https_post("https://127.0.0.1:1/hook", NULL, "{}", 2, &cancel, &err),
                     -ECONNREFUSED);
    assert_non_null(strstr(bg_err_msg(&err), "cannot connect to 127.0.0.1 port 1"));
    err = (bg_err){0};
    assert_int_equal(notify_https_post("http://127.0.0.1:1/hook", NULL, "{}", 2, &cancel, &err),
                     -EINVAL);
}

static int setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_producers),
        cmocka_unit_test(test_https_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
