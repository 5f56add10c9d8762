/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* srv_audited (src/server/audit.c): a change and its audit records commit
 * together or not at all; the expiry sweep goes through it; and the check
 * that the log still reaches the signed head kept outside it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"

static char dir[] = "/tmp/bootgate-test-audit-tx-XXXXXX";
static char path[256];
static srv s;

static void db_exec(const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static int64_t db_count(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void fault_on(void)
{
    db_exec("CREATE TRIGGER audit_fault BEFORE INSERT ON audit"
            " BEGIN SELECT RAISE(ABORT, 'audit fault'); END;");
}

static void fault_off(void)
{
    db_exec("DROP TRIGGER audit_fault;");
}

static int setup(void **state)
{
    bg_err err = {0};
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/db", dir);
    memset(&s, 0, sizeof(s));
    srv_config_defaults(&s.cfg);
    snprintf(s.cfg.db, sizeof(s.cfg.db), "%s", path);
    snprintf(s.cfg.audit_head_file, sizeof(s.cfg.audit_head_file), "%s.audit-head", path);
    return store_open(path, &s.store, &err) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[512];
    store_close(s.store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int put_policy(srv_audit_tx *tx, void *arg)
{
    store_policy p = {.version = *(int64_t *)arg, .json = "{}", .signature = "c2ln"};
    snprintf(p.name, sizeof(p.name), "web");
    snprintf(p.signer, sizeof(p.signer), "test");
    return store_policy_put(srv_audit_tx_store(tx), &p);
}

/* appends a record of its own and ignores the result: the helper must not */
static int put_policy_and_note(srv_audit_tx *tx, void *arg)
{
    int r = put_policy(tx, arg);
    if (r >= 0)
        (void)srv_audit_tx_append(tx, &(srv_audit_rec){.actor = "t", .action = "note"}, NULL);
    return r;
}

static int64_t policies(void)
{
    return db_count("SELECT count(*) FROM policies");
}

static int64_t records(void)
{
    return db_count("SELECT count(*) FROM audit");
}

static void test_commit_both_or_neither(void **state)
{
    srv_audit_rec rec = {.actor = "admin:t", .action = "policy_uploaded"};
    int64_t v1 = 1, v2 = 2, v3 = 3, seq = 0;

    /* both */
    assert_int_equal(srv_audited(&s, &rec, put_policy, &v1, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(policies(), 1);
    assert_int_equal(records(), 1);

    /* the change refuses (version not greater): its own error, no record */
    seq = 0;
    assert_int_equal(srv_audited(&s, &rec, put_policy, &v1, &seq), -EEXIST);
    assert_int_equal(seq, 0);
    assert_int_equal(records(), 1);

    /* the record cannot be written: the change is rolled back, and the
     * caller can tell this from the change's own -EEXIST */
    fault_on();
    assert_int_equal(srv_audited(&s, &rec, put_policy, &v2, &seq), SRV_AUDIT_FAILED);
    assert_int_equal(policies(), 1);
    assert_int_equal(records(), 1);
    /* the same when the change's own record fails and the change ignores it */
    assert_int_equal(srv_audited(&s, NULL, put_policy_and_note, &v2, &seq), SRV_AUDIT_FAILED);
    assert_int_equal(policies(), 1);
    /* a record alone */
    assert_int_equal(srv_audited(&s, &rec, NULL, NULL, &seq), SRV_AUDIT_FAILED);
    assert_int_equal(records(), 1);
    fault_off();

    /* recovery; records of the change come before the main one */
    assert_int_equal(srv_audited(&s, &rec, put_policy_and_note, &v3, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(policies(), 2);
    assert_int_equal(db_count("SELECT seq FROM audit WHERE action = 'note'"), 2);
    assert_int_equal(store_audit_verify(s.store, &seq, &v1, NULL), 0);
}

static void test_expiry_sweep(void **state)
{
    store_grant g = {
        .not_before = 1, .not_after = 2, .uses = 1, .uses_left = 1, .state = GRANT_ACTIVE};
    store_grant got;
    bg_err err = {0};
    int64_t before;

    snprintf(g.id, sizeof(g.id), "g-expire");
    snprintf(g.node_id, sizeof(g.node_id), "n1");
    snprintf(g.code, sizeof(g.code), "BG-AAAA-AAAA");
    snprintf(g.scope, sizeof(g.scope), "any");
    snprintf(g.reason, sizeof(g.reason), "test");
    assert_int_equal(store_grant_put(s.store, &g), 0);
    before = records();

    fault_on();
    assert_int_equal(srv_breakglass_expire(&s, &err), SRV_AUDIT_FAILED);
    assert_int_equal(store_grant_get(s.store, "g-expire", &got), 0);
    assert_int_equal(got.state, GRANT_ACTIVE);
    store_grant_done(&got);
    assert_int_equal(records(), before);
    fault_off();

    assert_int_equal(srv_breakglass_expire(&s, &err), 0);
    assert_int_equal(store_grant_get(s.store, "g-expire", &got), 0);
    assert_int_equal(got.state, GRANT_EXPIRED);
    store_grant_done(&got);
    assert_int_equal(db_count("SELECT count(*) FROM audit WHERE action = 'breakglass_expired'"), 1);
    assert_int_equal(records(), before + 1);
}

static void test_head_reached(void **state)
{
    char action[64];
    auditchain_head h = {0}, back;
    json_object *det = json_object_new_object();
    int64_t seq = 0, bad = 0;
    bg_err err = {0};

    assert_int_equal(srv_audit_head_load(&s, &h, &err), -ENOENT);
    assert_int_equal(store_audit_head(s.store, &h.seq, h.hash, action, sizeof(action)), 0);
    snprintf(h.signature, sizeof(h.signature), "c2ln");
    json_object_object_add(det, "seq", json_object_new_int64(h.seq));
    json_object_object_add(det, "hash", json_object_new_string(h.hash));
    json_object_object_add(det, "signature", json_object_new_string(h.signature));
    assert_int_equal(store_audit_append(s.store, "bootgated", AUDITCHAIN_HEAD_ACTION, "",
                                        json_object_to_json_string_ext(det, JSON_C_TO_STRING_PLAIN),
                                        &h.record_seq),
                     0);
    json_object_put(det);
    assert_int_equal(auditchain_head_write_file(s.cfg.audit_head_file, &h, &err), 0);
    assert_int_equal(srv_audit_head_load(&s, &back, &err), 0);
    assert_int_equal(back.seq, h.seq);
    assert_int_equal(back.record_seq, h.record_seq);
    assert_string_equal(back.hash, h.hash);

    assert_int_equal(srv_audit_head_reached(&s, &back, &bad, &err), 0);
    /* more records after it: still reached */
    assert_int_equal(store_audit_append(s.store, "t", "later", "", NULL, &seq), 0);
    assert_int_equal(srv_audit_head_reached(&s, &back, &bad, &err), 0);

    /* the tail cut back to before the head: truncation at the first missing record */
    db_exec("DROP TRIGGER audit_no_delete;");
    {
        char sql[128];
        snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE seq >= %lld", (long long)h.record_seq);
        db_exec(sql);
    }
    assert_int_equal(srv_audit_head_reached(&s, &back, &bad, &err), -EBADMSG);
    assert_int_equal(bad, h.record_seq);
    assert_non_null(strstr(bg_err_msg(&err), "truncated"));

    /* new records in place of the cut ones do not make it whole again */
    assert_int_equal(store_audit_append(s.store, "t", "forged", "", NULL, &seq), 0);
    assert_int_equal(seq, h.record_seq);
    assert_int_equal(srv_audit_head_reached(&s, &back, &bad, &err), -EBADMSG);
    assert_int_equal(bad, h.record_seq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_both_or_neither),
        cmocka_unit_test(test_expiry_sweep),
        cmocka_unit_test(test_head_reached),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
