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
#include <sqlite3.h>

#include "store.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_deleted_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
