/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "auditchain.h"
#include "store.h"
#include "util.h"

static char dir[] = "/tmp/bootgate-test-audit-XXXXXX";
static char path[256];

static void tamper(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_chain(void **state)
{
    store *s = NULL;
    bg_err err = {0};
    int64_t seq = 0, count = 0, bad = 0;
    sqlite3 *db = NULL;
    char cmd[300];

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    assert_int_equal(store_open(path, &s, &err), 0);
    /* empty chain is intact */
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), 0);
    assert_int_equal(count, 0);
    for (int i = 0; i < 5; i++) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "i", json_object_new_int(i));
        json_object_object_add(d, "path", json_object_new_string("/a/b \"q\""));
        assert_int_equal(
            store_audit_append(s, "admin:x", "node_approved", "n1",
                               json_object_to_json_string_ext(
                                   d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                               &seq),
            0);
        json_object_put(d);
        assert_int_equal(seq, i + 1);
    }
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), 0);
    assert_int_equal(count, 5);

    /* the table refuses edits... */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE audit SET actor='x' WHERE seq=3", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE seq=5", NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), 0);

    /* ...and when someone with file access drops the guard, the chain names the record */
    tamper("DROP TRIGGER audit_no_update; UPDATE audit SET details='{\"i\":9}' WHERE seq=3");
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), -EBADMSG);
    assert_int_equal(bad, 3);
    assert_non_null(strstr(err.msg, "record 3"));

    /* recomputing the edited record's hash moves the break to the next one */
    tamper("UPDATE audit SET hash='00' WHERE seq=3");
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), -EBADMSG);
    assert_int_equal(bad, 3);

    store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_deleted_record(void **state)
{
    store *s = NULL;
    bg_err err = {0};
    int64_t count = 0, bad = 0;
    char d2[] = "/tmp/bootgate-test-audit2-XXXXXX", cmd[300];

    assert_non_null(mkdtemp(d2));
    snprintf(path, sizeof(path), "%s/db", d2);
    assert_int_equal(store_open(path, &s, &err), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_audit_append(s, "a", "x", "", NULL, NULL), 0);
    tamper("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq=2");
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), -EBADMSG);
    assert_int_equal(bad, 2);
    store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d2);
    assert_int_equal(system(cmd), 0);
}

/* ---- the walk, page by page (bootgatectl audit verify over the API) ---- */

static store_audit_record *walk_rec;
static size_t walk_n;

/* appends a signed-head record for record seq (whose hash is hash) */
static void append_head(store *s, EVP_PKEY *key, int64_t seq, const char *hash)
{
    uint8_t sig[AUDITCHAIN_SIG_SIZE];
    bg_err err = {0};
    char *b64, details[512];
    assert_int_equal(auditchain_head_sign(key, seq, hash, sig, &err), 0);
    b64 = base64_encode_alloc(sig, sizeof(sig));
    assert_non_null(b64);
    snprintf(details, sizeof(details), "{\"seq\":%lld,\"hash\":\"%s\",\"signature\":\"%s\"}",
             (long long)seq, hash, b64);
    free(b64);
    assert_int_equal(store_audit_append(s, "bootgated", AUDITCHAIN_HEAD_ACTION, "", details, NULL),
                     0);
}

static int walk_hash_of(void *userdata, int64_t seq, char ret[2 * AUDITCHAIN_HASH_SIZE + 1],
                        bg_err *err)
{
    (void)err;
    (*(int *)userdata)++;
    if (seq < 1 || (size_t)seq > walk_n)
        return -ENOENT;
    snprintf(ret, 2 * AUDITCHAIN_HASH_SIZE + 1, "%s", walk_rec[seq - 1].hash);
    return 0;
}

/* walks e[0..n) in pages of size page; returns the first error */
static int walk(const auditchain_entry *e, size_t n, size_t page, EVP_PKEY *key, bool lookup,
                auditchain_walk *w, int64_t *bad, int *lookups, bg_err *err)
{
    auditchain_walk_init(w);
    for (size_t at = 0; at < n; at += page) {
        size_t k = n - at < page ? n - at : page;
        int r = auditchain_walk_page(w, e + at, k, key, lookup ? walk_hash_of : NULL, lookups, bad,
                                     err);
        if (r < 0)
            return r;
    }
    return 0;
}

static void test_walk_pages(void **state)
{
    char d3[] = "/tmp/bootgate-test-audit3-XXXXXX", cmd[300];
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    auditchain_entry e[16], moved[16];
    auditchain_walk w;
    store *s = NULL;
    bg_err err = {0};
    int64_t bad = 0, heads = 0, last = 0;
    int lookups = 0;

    assert_non_null(key);
    assert_non_null(mkdtemp(d3));
    snprintf(path, sizeof(path), "%s/db", d3);
    assert_int_equal(store_open(path, &s, &err), 0);
    /* 1-6 records, 7 the head of 6 (as bootgated signs), 8-10 records,
     * 11 a head of 4 (far back: a page must look it up), 12-13 records */
    for (int i = 0; i < 6; i++)
        assert_int_equal(store_audit_append(s, "a", "x", "", NULL, NULL), 0);
    assert_int_equal(store_audit_list(s, 0, 0, &walk_rec, &walk_n), 0);
    append_head(s, key, 6, walk_rec[5].hash);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_audit_append(s, "a", "x", "", NULL, NULL), 0);
    append_head(s, key, 4, walk_rec[3].hash);
    store_audit_records_free(walk_rec, walk_n);
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_audit_append(s, "a", "x", "", NULL, NULL), 0);
    assert_int_equal(store_audit_list(s, 0, 0, &walk_rec, &walk_n), 0);
    assert_int_equal(walk_n, 13);
    for (size_t i = 0; i < walk_n; i++)
        e[i] = store_audit_entry(&walk_rec[i]);
    assert_int_equal(auditchain_verify_heads(e, walk_n, key, &heads, &last, &bad, &err), 0);
    assert_int_equal(heads, 2);

    /* every page size gives the whole-chain answer */
    for (size_t page = 1; page <= walk_n + 1; page++) {
        lookups = 0;
        assert_int_equal(walk(e, walk_n, page, key, true, &w, &bad, &lookups, &err), 0);
        assert_int_equal(w.next, 14);
        assert_int_equal(w.heads, 2);
        assert_int_equal(w.last_signed, 4);
        /* record 4 lies before record 11's page only when that page starts after 5 */
        assert_int_equal(lookups, (10 / page) * page > 4 ? 1 : 0);
    }
    /* without a lookup, a head naming a record before its page is a break */
    assert_int_equal(walk(e, walk_n, 3, key, false, &w, &bad, &lookups, &err), -EBADMSG);
    assert_int_equal(bad, 7); /* the first change is after record 6, the last head that matched */
    assert_non_null(strstr(err.msg, "record 4"));
    /* without a key the heads are not looked at */
    assert_int_equal(walk(e, walk_n, 3, NULL, false, &w, &bad, &lookups, &err), 0);
    assert_int_equal(w.heads, 0);

    /* a record missing at a page boundary: 1-5, then 7-... */
    memcpy(moved, e, sizeof(e));
    memmove(&moved[5], &moved[6], (walk_n - 6) * sizeof(*moved));
    assert_int_equal(walk(moved, walk_n - 1, 5, key, true, &w, &bad, &lookups, &err), -EBADMSG);
    assert_int_equal(bad, 6);
    assert_non_null(strstr(err.msg, "record 6 is missing"));
    /* a page that starts again at an earlier record: 1-5, then 5-... */
    memcpy(moved, e, sizeof(e));
    memmove(&moved[5], &moved[4], (walk_n - 5) * sizeof(*moved));
    assert_int_equal(walk(moved, walk_n, 5, key, true, &w, &bad, &lookups, &err), -EBADMSG);
    assert_int_equal(bad, 6);
    /* two records swapped across the boundary */
    memcpy(moved, e, sizeof(e));
    moved[4] = e[5];
    moved[5] = e[4];
    assert_int_equal(walk(moved, walk_n, 5, key, true, &w, &bad, &lookups, &err), -EBADMSG);
    assert_int_equal(bad, 5);
    /* an edited record in the second page is named */
    memcpy(moved, e, sizeof(e));
    moved[8].rec.actor = "b";
    assert_int_equal(walk(moved, walk_n, 5, key, true, &w, &bad, &lookups, &err), -EBADMSG);
    assert_int_equal(bad, 9);

    store_audit_records_free(walk_rec, walk_n);
    EVP_PKEY_free(key);
    store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d3);
    assert_int_equal(system(cmd), 0);
}

/* bootgated's own verify (GET /v1/admin/audit/verify) reads the store in
 * pages of 5000: breaks just past the first page are still found */
static void test_store_verify_pages(void **state)
{
    char d4[] = "/tmp/bootgate-test-audit4-XXXXXX", cmd[300];
    store *s = NULL;
    bg_err err = {0};
    int64_t count = 0, bad = 0;

    assert_non_null(mkdtemp(d4));
    snprintf(path, sizeof(path), "%s/db", d4);
    assert_int_equal(store_open(path, &s, &err), 0);
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < 5003; i++)
        assert_int_equal(store_audit_append(s, "a", "x", "", NULL, NULL), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), 0);
    assert_int_equal(count, 5003);
    tamper("DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'b' WHERE seq = 5002");
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), -EBADMSG);
    assert_int_equal(bad, 5002);
    assert_int_equal(count, 5001);
    tamper("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 5001");
    assert_int_equal(store_audit_verify(s, &count, &bad, &err), -EBADMSG);
    assert_int_equal(bad, 5001);
    assert_non_null(strstr(err.msg, "record 5001 is missing"));
    store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d4);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_deleted_record),
        cmocka_unit_test(test_walk_pages),
        cmocka_unit_test(test_store_verify_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
