/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kek.h"
#include "secmem.h"
#include "store.h"

/* The same tests run on each backend: SQLite in a temporary file, or the
 * PostgreSQL database named by BOOTGATE_TEST_STORE_URL (an empty database;
 * tests/integration/store_postgres.test.sh starts one). */
static char dir[] = "/tmp/bootgate-test-store-XXXXXX";
static char path[1024];
static bool postgres;

static int setup(void **state)
{
    store *s = NULL;
    bg_err err = {0};
    const char *url = getenv("BOOTGATE_TEST_STORE_URL");
    if (!mkdtemp(dir))
        return -1;
    postgres = url && *url;
    if (postgres)
        snprintf(path, sizeof(path), "%s", url);
    else
        snprintf(path, sizeof(path), "%s/db", dir);
    if (store_open(path, &s, &err) < 0) {
        fprintf(stderr, "store_open: %s\n", bg_err_msg(&err));
        return -1;
    }
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    store_close(*state);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_nodes(void **state)
{
    store *s = *state;
    store_node n = {0}, got;
    store_node_summary *list = NULL;
    size_t n_list = 0;

    strcpy(n.id, "n1");
    strcpy(n.group, "web");
    strcpy(n.ek_fingerprint, "aa");
    n.ek_pub_size = 3;
    memcpy(n.ek_pub, "\x00\x01\x02", 3);
    n.ak_name_size = 34;
    memset(n.ak_name, 0x5a, 34);
    n.state = NODE_ACTIVATING;
    assert_int_equal(store_node_get(s, "n1", &got), -ENOENT);
    assert_int_equal(store_node_put(s, &n), 0);
    assert_int_equal(store_node_get(s, "n1", &got), 0);
    assert_string_equal(got.group, "web");
    assert_int_equal(got.ak_name_size, 34);
    assert_memory_equal(got.ak_name, n.ak_name, 34);
    assert_int_equal(got.state, NODE_ACTIVATING);
    /* re-enrollment while not yet active replaces */
    strcpy(n.group, "db");
    assert_int_equal(store_node_put(s, &n), 0);
    assert_int_equal(store_node_set_state(s, "n1", NODE_ACTIVE), 0);
    /* the reused (prepared once) statement reads the rows as they are now */
    assert_int_equal(store_node_get(s, "n1", &got), 0);
    assert_int_equal(got.state, NODE_ACTIVE);
    assert_string_equal(got.group, "db");
    assert_int_equal(store_node_set_state(s, "n1", NODE_REVOKED), 0);
    assert_int_equal(store_node_get(s, "n1", &got), 0);
    assert_int_equal(got.state, NODE_REVOKED);
    assert_int_equal(store_node_set_state(s, "n1", NODE_ACTIVE), 0);
    /* an active node cannot be overwritten by a new enrollment */
    assert_int_equal(store_node_put(s, &n), -EEXIST);
    assert_int_equal(store_node_set_state(s, "nope", NODE_ACTIVE), -ENOENT);
    /* the EK fingerprint is unique across nodes */
    strcpy(n.id, "n2");
    assert_int_equal(store_node_put(s, &n), -EEXIST);
    assert_int_equal(store_node_list(s, &list, &n_list), 0);
    assert_int_equal(n_list, 1);
    assert_string_equal(list[0].id, "n1");
    assert_int_equal(list[0].state, NODE_ACTIVE);
    free(list);
}

static void test_volumes_and_kek(void **state)
{
    store *s = *state;
    uint8_t kek[32], key[64], *w = NULL, *back = NULL, *stored = NULL;
    size_t wn = 0, bn = 0, sn = 0;
    bg_err err = {0};

    memset(kek, 0x11, sizeof(kek));
    memset(key, 0x42, sizeof(key));
    assert_int_equal(kek_wrap(kek, "n1", "vol-1", key, sizeof(key), &w, &wn, &err), 0);
    assert_int_equal(store_volume_put(s, "n1", "vol-1", w, wn), 0);
    assert_int_equal(store_volume_get(s, "n1", "vol-1", &stored, &sn), 0);
    assert_int_equal(sn, wn);
    /* the database alone reveals no key */
    assert_null(memmem(stored, sn, key, 16));
    assert_int_equal(kek_unwrap(kek, "n1", "vol-1", stored, sn, &back, &bn, &err), 0);
    assert_int_equal(bn, sizeof(key));
    assert_memory_equal(back, key, sizeof(key));
    secmem_free(back);
    back = NULL;
    /* a row moved to another node or volume does not decrypt */
    assert_int_equal(kek_unwrap(kek, "n2", "vol-1", stored, sn, &back, &bn, &err), -EBADMSG);
    assert_int_equal(kek_unwrap(kek, "n1", "vol-2", stored, sn, &back, &bn, &err), -EBADMSG);
    assert_int_equal(store_volume_get(s, "n1", "vol-2", &back, &bn), -ENOENT);
    assert_int_equal(store_volume_count(s, "n1"), 1);
    free(w);
    free(stored);
}

static void test_nonce_single_use(void **state)
{
    store *s = *state;
    uint8_t n1[32], n2[32];
    memset(n1, 1, 32);
    memset(n2, 2, 32);
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 900), 0);
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 900), -EEXIST);
    assert_int_equal(store_nonce_use(s, n2, 32, 1000, 900), 0);
    /* still remembered until it expires */
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 1000), -EEXIST);
    /* inside a caller's transaction the use is part of it: a rollback
     * forgets it, a commit keeps it (the statements are reused across both) */
    uint8_t n3[32];
    memset(n3, 3, 32);
    /* a use outside a transaction (committed on its own) is seen inside one */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 900), -EEXIST);
    store_rollback(s);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_nonce_use(s, n3, 32, 1000, 900), 0);
    assert_int_equal(store_nonce_use(s, n3, 32, 1000, 900), -EEXIST);
    store_rollback(s);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_nonce_use(s, n3, 32, 1000, 900), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_nonce_use(s, n3, 32, 1000, 900), -EEXIST);
    /* The replay at the expiry second, racing a purge by a request that read
     * a later clock: the row outlives its expiry by the margin, so the
     * replay checked at 1000 still finds it after a purge at 1001. */
    uint8_t n5[32];
    memset(n5, 5, 32);
    assert_int_equal(store_nonce_use(s, n5, 32, 1500, 1001), 0);
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 1000), -EEXIST);
    /* Once a purge (at 1000 + margin + 1) removed the row, a request that
     * read its clock before the purge is refused as expired, never accepted. */
    assert_int_equal(store_nonce_use(s, n5, 32, 2000, 1000 + STORE_NONCE_MARGIN + 1), -EEXIST);
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 1000), -ETIME);
    assert_int_equal(store_nonce_use(s, n1, 32, 1000, 999), -ETIME);
    /* the purge removed only rows below the cutoff: n5 (1500) is remembered */
    assert_int_equal(store_nonce_use(s, n5, 32, 1500, 1001), -EEXIST);
    /* after the margin the rows are gone (the DELETE runs on every use) */
    assert_int_equal(store_nonce_use(s, n2, 32, 2000, 1001 + STORE_NONCE_MARGIN), 0);
    assert_int_equal(store_nonce_use(s, n1, 32, 2000, 1001 + STORE_NONCE_MARGIN), 0);
}

static void test_policies(void **state)
{
    store *s = *state;
    store_policy p = {.version = 3, .json = "{\"name\":\"web\"}", .signature = "c2ln"}, got;
    store_policy *list = NULL;
    size_t n_list = 0;

    strcpy(p.name, "web");
    strcpy(p.signer, "k1");
    assert_int_equal(store_policy_put(s, &p), 0);
    /* versions only grow */
    assert_int_equal(store_policy_put(s, &p), -EEXIST);
    p.version = 2;
    assert_int_equal(store_policy_put(s, &p), -EEXIST);
    p.version = 4;
    assert_int_equal(store_policy_put(s, &p), 0);
    assert_int_equal(store_policy_get_active(s, "web", &got), -ENOENT);
    assert_int_equal(store_policy_activate(s, "web", 4), 0);
    assert_int_equal(store_policy_get_active(s, "web", &got), 0);
    assert_int_equal(got.version, 4);
    store_policy_done(&got);
    /* rollback: activate an older version; exactly one is active */
    assert_int_equal(store_policy_activate(s, "web", 3), 0);
    assert_int_equal(store_policy_get_active(s, "web", &got), 0);
    assert_int_equal(got.version, 3);
    assert_string_equal(got.json, "{\"name\":\"web\"}");
    store_policy_done(&got);
    assert_int_equal(store_policy_activate(s, "web", 9), -ENOENT);
    assert_int_equal(store_policy_get_active(s, "web", &got), 0);
    assert_int_equal(got.version, 3);
    store_policy_done(&got);
    assert_int_equal(store_policy_list(s, &list, &n_list), 0);
    assert_int_equal(n_list, 2);
    assert_int_equal(list[0].version, 3);
    assert_true(list[0].active);
    assert_null(list[0].json);
    store_policies_free(list, n_list);
}

static void test_delete_only_revoked(void **state)
{
    store *s = *state;
    store_node n = {0}, got;
    strcpy(n.id, "gone");
    strcpy(n.group, "web");
    strcpy(n.ek_fingerprint, "ff");
    n.state = NODE_ACTIVATING;
    assert_int_equal(store_node_put(s, &n), 0);
    assert_int_equal(store_volume_put(s, "gone", "v", (const uint8_t *)"x", 1), 0);
    assert_int_equal(store_node_set_state(s, "gone", NODE_ACTIVE), 0);
    assert_int_equal(store_node_delete(s, "gone"), -EPERM);
    assert_int_equal(store_node_set_state(s, "gone", NODE_REVOKED), 0);
    assert_int_equal(store_node_delete(s, "gone"), 0);
    assert_int_equal(store_node_get(s, "gone", &got), -ENOENT);
    assert_int_equal(store_volume_count(s, "gone"), 0);
    assert_int_equal(store_node_delete(s, "gone"), -ENOENT);
}

static void test_grants(void **state)
{
    store *s = *state;
    store_grant g = {.not_before = 100,
                     .not_after = 200,
                     .uses = 2,
                     .uses_left = 2,
                     .state = GRANT_REQUESTED,
                     .has_observed = true,
                     .observed = {.alg = TPMALG_SHA256, .digest_size = 32, .mask = 1u << 4}};
    store_grant got, *a = NULL;
    size_t n = 0;

    strcpy(g.id, "g1");
    strcpy(g.node_id, "n1");
    strcpy(g.code, "BG-AAAA-BBBB");
    strcpy(g.scope, "observed");
    strcpy(g.reason, "test");
    assert_int_equal(store_grant_put(s, &g), 0);
    /* requested: not usable */
    assert_int_equal(store_grant_list_usable(s, "n1", 150, &a, &n), 0);
    assert_int_equal(n, 0);
    free(a);
    assert_int_equal(store_grant_approve(s, "g1", "approver1", "sig"), 0);
    assert_int_equal(store_grant_approve(s, "g1", "approver1", "sig"), -EEXIST);
    assert_int_equal(store_grant_approve(s, "g1", "approver2", "sig"), 0);
    assert_int_equal(store_grant_set_state(s, "g1", GRANT_ACTIVE), 0);
    assert_int_equal(store_grant_get(s, "g1", &got), 0);
    assert_int_equal(got.approvals, 2);
    /* the observed PCRs come back as the same data */
    assert_true(got.has_observed);
    assert_true(pcr_bank_equal(&got.observed, &g.observed));
    store_grant_done(&got);
    /* the time window counts */
    assert_int_equal(store_grant_list_usable(s, "n1", 99, &a, &n), 0);
    assert_int_equal(n, 0);
    free(a);
    assert_int_equal(store_grant_list_usable(s, "n1", 150, &a, &n), 0);
    assert_int_equal(n, 1);
    store_grant_done(&a[0]);
    free(a);
    /* uses are counted */
    assert_int_equal(store_grant_use(s, "g1"), 0);
    assert_int_equal(store_grant_use(s, "g1"), 0);
    assert_int_equal(store_grant_use(s, "g1"), -ENOENT);
    assert_int_equal(store_grant_list_usable(s, "n1", 150, &a, &n), 0);
    assert_int_equal(n, 0);
    free(a);
    /* the sweep marks it expired exactly once */
    assert_int_equal(store_grant_expire(s, 150, &a, &n), 0);
    assert_int_equal(n, 0);
    free(a);
    assert_int_equal(store_grant_expire(s, 200, &a, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(a[0].id, "g1");
    store_grant_done(&a[0]);
    free(a);
    assert_int_equal(store_grant_expire(s, 300, &a, &n), 0);
    assert_int_equal(n, 0);
    free(a);
    assert_int_equal(store_grant_get(s, "g1", &got), 0);
    assert_int_equal(got.state, GRANT_EXPIRED);
    store_grant_done(&got);
}

/* One schema numbering: a new database is at the latest version, a
 * second migration is a no-op, and connecting does not migrate. */
static void test_schema_version(void **state)
{
    store *c = NULL;
    int64_t v = -1;
    bg_err err = {0};
    assert_true(store_schema_latest_version() >= 2);
    assert_int_equal(store_schema_version(*state, &v), 0);
    assert_int_equal(v, store_schema_latest_version());
    assert_int_equal(store_migrate(*state, &err), 0);
    assert_int_equal(store_open_connect(path, &c, &err), 0);
    assert_int_equal(store_schema_version(c, &v), 0);
    assert_int_equal(v, store_schema_latest_version());
    store_close(c);
}

/* The audit chain: seqs from 1, each record's prev_hash the hash before it,
 * verified by the shared code; the log refuses to be edited. */
static void test_audit_chain(void **state)
{
    store *s = *state;
    int64_t seq = 0, seq2 = 0, count = 0, bad = 0, head = 0;
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1], action[64];
    store_audit_record *rec = NULL;
    size_t n = 0;
    bg_err err = {0};

    assert_int_equal(store_audit_append(s, "t", "first", "n1", "{\"x\":1}", &seq), 0);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_audit_append(s, "t", "second", "", NULL, &seq2), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(seq2, seq + 1);
    /* a rolled-back record leaves no gap */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_audit_append(s, "t", "gone", "", NULL, &head), 0);
    store_rollback(s);
    assert_int_equal(store_audit_head(s, &head, hash, action, sizeof(action)), 0);
    assert_int_equal(head, seq2);
    assert_string_equal(action, "second");
    assert_int_equal(store_audit_list(s, seq - 1, 0, &rec, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rec[0].details, "{\"x\":1}");
    assert_string_equal(rec[1].details, "{}");
    assert_string_equal(rec[1].prev_hash, rec[0].hash);
    store_audit_records_free(rec, n);
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), 0);
    assert_int_equal(count, seq2);
}

static void test_reopen_keeps_schema(void **state)
{
    store *s2 = NULL;
    store_node got;
    bg_err err = {0};
    /* a second open runs no migration twice and sees the data */
    assert_int_equal(store_open(path, &s2, &err), 0);
    assert_int_equal(store_node_get(s2, "n1", &got), 0);
    /* nonces used through either connection of the first store are used for
     * another process's store too (committed to the file, not to a cache) */
    uint8_t n1[32], n4[32];
    memset(n1, 1, 32);
    memset(n4, 4, 32);
    assert_int_equal(store_nonce_use(s2, n1, 32, 5000, 1500), -EEXIST);
    assert_int_equal(store_nonce_use(*state, n4, 32, 5000, 1500), 0);
    assert_int_equal(store_nonce_use(s2, n4, 32, 5000, 1500), -EEXIST);
    store_close(s2);
}

/* The backend is chosen by the URL's scheme, at run time. */
static void test_backend_by_url(void **state)
{
    store *s2 = NULL;
    store_node got;
    bg_err err = {0};
    char url[1100];

    if (postgres)
        snprintf(url, sizeof(url), "%s", path);
    else
        snprintf(url, sizeof(url), "sqlite://%s", path);
    assert_int_equal(store_open(url, &s2, &err), 0);
    assert_int_equal(store_node_get(s2, "n1", &got), 0);
    assert_string_equal(store_backend_name(s2), postgres ? "postgresql" : "sqlite");
    store_close(s2);
    /* a backend this build does not have is named in the error */
    assert_int_equal(store_open("mysql://db.example/bootgate", &s2, &err), -EPROTONOSUPPORT);
    assert_non_null(
        strstr(err.msg, "unsupported backend 'mysql' (this build has: sqlite, postgresql)"));
    /* a PostgreSQL server that is not there: an error naming the connection,
     * no store */
    assert_int_equal(store_open("postgresql://127.0.0.1:1/x?connect_timeout=5", &s2, &err), -EIO);
    assert_non_null(strstr(err.msg, "cannot connect"));
    assert_int_equal(store_open("sqlite://", &s2, &err), -EINVAL);
    assert_int_equal(store_open("", &s2, &err), -EINVAL);
}

/* A reader (bootgatectl audit verify --db) opens without writing: no file
 * is created, no migration runs, and writes are refused. */
static void test_readonly(void **state)
{
    store *ro = NULL;
    store_audit_record *rec = NULL;
    size_t n = 0;
    int64_t seq = 0;
    bg_err err = {0};
    char missing[300], foreign[300], cmd[700];

    assert_int_equal(store_audit_append(*state, "t", "ro_test", "", "{\"a\":1}", &seq), 0);
    assert_int_equal(store_open_readonly(path, &ro, &err), 0);
    assert_int_equal(store_audit_list(ro, seq - 1, 1, &rec, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rec[0].action, "ro_test");
    assert_string_equal(rec[0].details, "{\"a\":1}");
    store_audit_records_free(rec, n);
    assert_true(store_audit_append(ro, "t", "x", "", NULL, &seq) < 0);
    store_close(ro);

    if (postgres)
        return; /* the rest is about files */
    snprintf(missing, sizeof(missing), "%s/missing.db", dir);
    assert_true(store_open_readonly(missing, &ro, &err) < 0);
    assert_int_equal(access(missing, F_OK), -1);
    /* an SQLite file that is not a bootgate database */
    snprintf(foreign, sizeof(foreign), "%s/foreign.db", dir);
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'CREATE TABLE t (x);'", foreign);
    if (system(cmd) != 0)
        skip();
    assert_int_equal(store_open_readonly(foreign, &ro, &err), -EPROTO);
}

/* Two servers on one database whose clocks differ (replicas): the one ahead
 * purges the used rows of nonces the other still accepts. The purge cutoff
 * is the database's, so the replay at the slow server is refused as expired
 * (it was accepted when each process kept its own cutoff). Runs last: it
 * moves the shared horizon far ahead of the other tests' clocks. */
static void test_nonce_horizon_shared(void **state)
{
    store *fast = NULL;
    bg_err err = {0};
    uint8_t n6[32], n7[32], n8[32], n9[32];
    int64_t t = 100000;

    memset(n6, 6, 32);
    memset(n7, 7, 32);
    memset(n8, 8, 32);
    memset(n9, 9, 32);
    assert_int_equal(store_open(path, &fast, &err), 0);
    /* the slow server issues and uses n6 (ttl 120) */
    assert_int_equal(store_nonce_use(*state, n6, 32, t + 120, t), 0);
    /* the fast server, 1000 s ahead, uses n7: its purge removes n6's row */
    assert_int_equal(store_nonce_use(fast, n7, 32, t + 1120, t + 1000), 0);
    /* the replay of n6 at the slow server, still inside n6's lifetime */
    assert_int_equal(store_nonce_use(*state, n6, 32, t + 120, t + 10), -ETIME);
    /* the slow server's fresh nonces expire below the horizon too: refused
     * (a clear "expired", never a replay) until the clocks agree */
    assert_int_equal(store_nonce_use(*state, n8, 32, t + 130, t + 10), -ETIME);
    assert_int_equal(store_nonce_use(*state, n9, 32, t + 900, t + 10), 0);
    assert_int_equal(store_nonce_use(fast, n9, 32, t + 900, t + 1000), -EEXIST);
    store_close(fast);
}

/* One attempt of node at time t, its logs given (NULL: none). */
static int put_attempt(store *s, const char *node, const char *group, int64_t t, bool released,
                       const char *log, const char *ima, const store_retention *keep,
                       store_attempt *a)
{
    int r;
    memset(a, 0, sizeof(*a));
    snprintf(a->node_id, sizeof(a->node_id), "%s", node);
    snprintf(a->group, sizeof(a->group), "%s", group);
    a->time = t;
    a->released = released;
    snprintf(a->verdict, sizeof(a->verdict), "%s", released ? "ok" : "policy_denied");
    snprintf(a->mode, sizeof(a->mode), "enforce");
    snprintf(a->policy_name, sizeof(a->policy_name), "%s", group);
    a->policy_version = 3;
    a->audit_seq = t;
    a->pcrs = (char *)"00";
    a->evaluation = (char *)"{\"reason\":\"PCR 9 differs\"}";
    assert_int_equal(store_begin(s), 0);
    r = store_attempt_put(s, a, (const uint8_t *)log, log ? strlen(log) : 0, (const uint8_t *)ima,
                          ima ? strlen(ima) : 0, keep);
    assert_int_equal(store_end(s, r), 0);
    a->pcrs = a->evaluation = NULL;
    return r;
}

/* Attempts: each log stored once however many attempts name it, read back
 * byte for byte; the newest per node; retention by count and age, and the
 * blobs no attempt names any more go (at once, or in the sweep). */
static void test_attempts(void **state)
{
    store *s = *state;
    store_retention keep = {.keep_last = 3, .max_age = 0};
    store_attempt a, got = {0}, *list = NULL;
    store_attempt_stats st = {0};
    size_t n = 0;
    uint8_t *log = NULL;
    size_t log_size = 0;
    char big[4096];
    int64_t first_id;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(put_attempt(s, "a1", "fleet", 100, true, big, "ima-1", &keep, &a), 0);
    first_id = a.id;
    assert_true(first_id > 0);
    assert_int_equal(strlen(a.eventlog_sha256), 64);
    /* 10 nodes, 2 distinct logs: 2 blobs (+ the IMA log) */
    for (int i = 0; i < 40; i++) {
        char node[8];
        snprintf(node, sizeof(node), "a%d", i % 10);
        assert_int_equal(put_attempt(s, node, "fleet", 101 + i, i % 3 != 0, i % 2 ? big : "log-two",
                                     NULL, &keep, &a),
                         0);
    }
    /* SQLite drops a blob with its last attempt, PostgreSQL in the sweep */
    assert_int_equal(store_evidence_sweep(s), 0);
    assert_int_equal(store_attempt_stats_get(s, &st), 0);
    assert_int_equal(st.blobs, 2);     /* big, log-two; ima-1 went with a1's first attempt */
    assert_int_equal(st.attempts, 30); /* 10 nodes x keep_last 3 */
    assert_true(st.blob_bytes < st.blob_raw_bytes);
    assert_int_equal(store_attempt_get(s, first_id, &got), -ENOENT);

    /* newest first, at most keep_last */
    assert_int_equal(store_attempt_list(s, "a3", 0, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_true(list[0].id > list[1].id && list[1].id > list[2].id);
    assert_int_equal(list[0].time, 101 + 33);
    assert_string_equal(list[0].policy_name, "fleet");
    assert_int_equal(list[0].policy_version, 3);
    assert_string_equal(list[0].evaluation, "{\"reason\":\"PCR 9 differs\"}");
    assert_int_equal(store_attempt_get(s, list[0].id, &got), 0);
    assert_string_equal(got.node_id, "a3");
    assert_string_equal(got.pcrs, "00");
    assert_int_equal(store_evidence_get(s, got.eventlog_sha256, &log, &log_size), 0);
    assert_int_equal(log_size, strlen(big));
    assert_memory_equal(log, big, log_size);
    free(log);
    store_attempt_done(&got);
    store_attempts_free(list, n);
    assert_int_equal(store_attempt_list(s, "a3", 1, &list, &n), 0);
    assert_int_equal(n, 1);
    store_attempts_free(list, n);

    /* the newest attempt of each node of a group, since a time */
    assert_int_equal(put_attempt(s, "b1", "other", 500, false, "log-two", NULL, &keep, &a), 0);
    assert_int_equal(store_attempt_latest(s, "fleet", 0, &list, &n), 0);
    assert_int_equal(n, 10);
    assert_string_equal(list[0].node_id, "a0");
    assert_int_equal(list[0].time, 101 + 30);
    store_attempts_free(list, n);
    assert_int_equal(store_attempt_latest(s, NULL, 0, &list, &n), 0);
    assert_int_equal(n, 11);
    store_attempts_free(list, n);
    assert_int_equal(store_attempt_latest(s, "fleet", 101 + 36, &list, &n), 0);
    assert_int_equal(n, 4); /* a6..a9 booted last at 137..140 */
    store_attempts_free(list, n);
    assert_int_equal(store_attempt_since(s, "fleet", 101 + 38, 0, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_true(list[0].time > list[1].time);
    store_attempts_free(list, n);
    assert_int_equal(store_evidence_get(s, "00", &log, &log_size), -ENOENT);

    /* age: attempts older than max_age go (never the one just stored) */
    keep.max_age = 60;
    assert_int_equal(put_attempt(s, "b1", "other", 1, false, "log-three", NULL, &keep, &a), 0);
    assert_int_equal(store_attempt_list(s, "b1", 0, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].time, 1);
    store_attempts_free(list, n);
    assert_int_equal(store_evidence_sweep(s), 0);
    assert_int_equal(store_attempt_stats_get(s, &st), 0);
    assert_int_equal(st.blobs, 3); /* big, log-two (fleet), log-three (b1) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_volumes_and_kek),
        cmocka_unit_test(test_nonce_single_use),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_delete_only_revoked),
        cmocka_unit_test(test_grants),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_audit_chain),
        cmocka_unit_test(test_reopen_keeps_schema),
        cmocka_unit_test(test_backend_by_url),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_nonce_horizon_shared),
        cmocka_unit_test(test_attempts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
