/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgated.conf (src/server/config.c): store and its alias db, the audit
 * head beside the database, and bootgated.conf.example against the table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "config.h"
#include "util.h"

static char tmpdir[] = "/tmp/bootgate-test-srvconf.XXXXXX";

static char *write_conf(const char *text)
{
    char *path;
    FILE *f;
    assert_true(asprintf(&path, "%s/bootgated.conf", tmpdir) > 0);
    f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void **state)
{
    srv_config c;
    srv_config_defaults(&c);
    assert_string_equal(c.store_url, "sqlite:///var/lib/bootgate/bootgate.db");
    assert_string_equal(c.db, "/var/lib/bootgate/bootgate.db");
    assert_int_equal(c.port, 8443);
    assert_true(c.lock_memory);
    assert_string_equal(c.user, "");
    assert_int_equal(c.max_body, 16u << 20);
}

static void test_store(void **state)
{
    static const struct {
        const char *text;
        int rc;
        const char *store, *db; /* "@" = the directory; error: db is the message */
    } cases[] = {
        {"", 0, "sqlite:///var/lib/bootgate/bootgate.db", "/var/lib/bootgate/bootgate.db"},
        {"store = sqlite:///srv/bg.db\n", 0, "sqlite:///srv/bg.db", "/srv/bg.db"},
        {"db = /srv/bg.db\n", 0, "sqlite:///srv/bg.db", "/srv/bg.db"},
        {"db = bg.db\n", 0, "sqlite://@/bg.db", "@/bg.db"},
        {"db = /a.db\nstore = sqlite:///b.db\n", -EINVAL, NULL,
         "bootgated.conf: store and db both set"},
        /* PostgreSQL: the URL as given (libpq parses it), no db; the audit
         * head in a file of the replica's own (see below) */
        {"store = postgresql://db.example/bootgate?sslmode=verify-full\n", 0,
         "postgresql://db.example/bootgate?sslmode=verify-full", ""},
        {"store = mysql://db.example/bootgate\n", -EINVAL, NULL,
         "bootgated.conf:1: store: unsupported backend 'mysql' (this build has: sqlite, "
         "postgresql)"},
        {"store = SQLite:///x.db\n", -EINVAL, NULL, "store: unsupported backend 'SQLite'"},
        {"store = sqlite://bg.db\n", -EINVAL, NULL, "store: the SQLite path must be absolute"},
        {"store = sqlite://\n", -EINVAL, NULL, "store: the SQLite path must be absolute"},
        {"store = /srv/bg.db\n", -EINVAL, NULL, "store: '/srv/bg.db' is not a URL"},
        {"store = ://x\n", -EINVAL, NULL, "store: '://x' is not a URL"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_(freep) char *path = write_conf(cases[i].text);
        char want_store[4200], want_db[4200];
        srv_config c, before;
        bg_err err = {{0}};
        int r;

        srv_config_defaults(&c);
        before = c;
        r = srv_config_load(&c, path, &err);
        if (r != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, r, err.msg);
        if (r < 0) {
            if (!strstr(err.msg, cases[i].db))
                fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].db);
            assert_memory_equal(&c, &before, sizeof(c));
            continue;
        }
        if (!strncmp(cases[i].store, "sqlite://@", 10))
            snprintf(want_store, sizeof(want_store), "sqlite://%s%s", tmpdir, cases[i].store + 10);
        else
            snprintf(want_store, sizeof(want_store), "%s", cases[i].store);
        if (cases[i].db[0] == '@')
            snprintf(want_db, sizeof(want_db), "%s%s", tmpdir, cases[i].db + 1);
        else
            snprintf(want_db, sizeof(want_db), "%s", cases[i].db);
        assert_string_equal(c.store_url, want_store);
        assert_string_equal(c.db, want_db);
        /* the signed audit head lives beside the database unless configured */
        if (!want_db[0])
            snprintf(want_db, sizeof(want_db), "%s", SRV_DEFAULT_HEAD);
        else
            snprintf(want_db + strlen(want_db), sizeof(want_db) - strlen(want_db), ".audit-head");
        assert_string_equal(c.audit_head_file, want_db);
    }
}

/* Webhook URLs the delivery can use load as written. */
static void test_webhook(void **state)
{
    static const char *const good[] = {
        "https://127.0.0.1:8443/hook",
        "https://[::1]:9000/a/b?c=d",
        "https://alerts.example.com",
    };
    for (size_t i = 0; i < ELEMENTSOF(good); i++) {
        _cleanup_(freep) char *text = NULL, *path = NULL;
        srv_config c;
        bg_err err = {{0}};
        assert_true(asprintf(&text, "notify_webhook = %s\nnotify_timeout = 3\n", good[i]) > 0);
        path = write_conf(text);
        srv_config_defaults(&c);
        if (srv_config_load(&c, path, &err) != 0)
            fail_msg("'%s': %s", good[i], err.msg);
        assert_string_equal(c.notify_webhook, good[i]);
        assert_int_equal(c.notify_timeout, 3);
    }
}

static void test_messages(void **state)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"listen_adress = 0.0.0.0\n", "bootgated.conf:1: unknown key 'listen_adress'"},
        {"\nport = 70000\n", "bootgated.conf:2: port: '70000' is not a number in 0..65535"},
        {"workers = 0\n", "workers: '0' is not a number in 1..64"},
        {"lock_memory = maybe\n", "lock_memory: 'maybe' is not yes/no"},
        {"breakglass_max_ttl = 59\n", "breakglass_max_ttl: '59' is not a number in 60..86400"},
        {"listen_address = "
         "0123456789012345678901234567890123456789012345678901234567890123\n",
         "listen_address: value longer than 63"},
        {"user = 0123456789012345678901234567890123456789012345678901234567890123\n",
         "user: value longer than 63"},
        {"port 8443\n", "bootgated.conf:1: expected key = value"},
        /* the webhook: https only, a host, a port in range, no space in the path */
        {"notify_webhook = http://127.0.0.1/hook\n", "notify_webhook: not an https:// URL"},
        {"notify_webhook = https:///hook\n", "notify_webhook: bad host"},
        {"notify_webhook = https://h:0/\n", "notify_webhook: bad port"},
        {"notify_webhook = https://h:99999/\n", "notify_webhook: bad port"},
        {"notify_webhook = https://h:8x/\n", "notify_webhook: bad port"},
        {"notify_webhook = https://[::1/\n", "notify_webhook: unterminated IPv6 address"},
        {"notify_webhook = https://h/a b\n", "notify_webhook: bad path"},
        {"notify_webhook = https://a_b/\n", "notify_webhook: bad host"},
        {"notify_timeout = 0\n", "notify_timeout: '0' is not a number in 1..300"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_(freep) char *path = write_conf(cases[i].text);
        srv_config c;
        bg_err err = {{0}};
        srv_config_defaults(&c);
        assert_int_equal(srv_config_load(&c, path, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
    }
}

/* The example shows every key, and the values it shows are the defaults. */
static void test_example(void **state)
{
    const char *src = getenv("BOOTGATE_SRCDIR");
    _cleanup_(freep) char *path = NULL;
    _cleanup_(freep) uint8_t *text = NULL;
    srv_config c, want;
    bg_err err = {{0}};
    size_t size;

    if (!src)
        skip();
    assert_true(asprintf(&path, "%s/src/server/bootgated.conf.example", src) > 0);
    assert_int_equal(read_file(path, 1u << 20, &text, &size, &err), 0);
    for (size_t i = 0; i < srv_config_format.n_fields; i++) {
        const char *key = srv_config_format.fields[i].key;
        char line[128];
        snprintf(line, sizeof(line), "\n%s = ", key);
        if (!strstr((char *)text, line)) {
            snprintf(line, sizeof(line), "\n#%s = ", key);
            if (!strstr((char *)text, line))
                fail_msg("bootgated.conf.example does not show '%s'", key);
        }
    }
    srv_config_defaults(&c);
    want = c;
    assert_int_equal(srv_config_load(&c, path, &err), 0);
    assert_true(strlen(want.db) + strlen(".audit-head") < sizeof(want.audit_head_file));
    strcpy(want.audit_head_file, want.db);
    strcat(want.audit_head_file, ".audit-head");
    assert_memory_equal(&c, &want, sizeof(c));
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/bootgated.conf", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_store),
        cmocka_unit_test(test_messages), cmocka_unit_test(test_webhook),
        cmocka_unit_test(test_example),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
