/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgated's log records on the native journal protocol (log.c): a bound
 * datagram socket stands in for journald's (BOOTGATE_JOURNAL_SOCKET), and the
 * received datagram is decoded as journald does (KEY=value lines; KEY\n +
 * 64-bit little-endian size + bytes + \n). Fields and MESSAGE_IDs per kind;
 * a message or node that carries a newline cannot forge another field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define MAX_FIELDS 32

typedef struct entry {
    size_t n;
    char key[MAX_FIELDS][64];
    char value[MAX_FIELDS][2048];
} entry;

static char sock_path[108];
static int sock_fd = -1;

static int setup(void **state)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(sock_path, sizeof(sock_path), "/tmp/bootgate-test-log-%d.sock", (int)getpid());
    unlink(sock_path);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
    sock_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sock_fd < 0 || bind(sock_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    setenv("BOOTGATE_JOURNAL_SOCKET", sock_path, 1);
    srv_log_open(false);
    return srv_log_to_journal() ? 0 : -1;
}

static int teardown(void **state)
{
    srv_log_close();
    close(sock_fd);
    unlink(sock_path);
    return 0;
}

/* one datagram, decoded as journald's native protocol */
static void receive(entry *e)
{
    static char buf[16384];
    ssize_t n = recv(sock_fd, buf, sizeof(buf), MSG_DONTWAIT);
    size_t off = 0;
    assert_true(n > 0);
    memset(e, 0, sizeof(*e));
    while (off < (size_t)n) {
        char *nl = memchr(buf + off, '\n', (size_t)n - off);
        char *eq = memchr(buf + off, '=', nl ? (size_t)(nl - (buf + off)) : (size_t)n - off);
        assert_non_null(nl);
        assert_true(e->n < MAX_FIELDS);
        if (eq) {
            snprintf(e->key[e->n], sizeof(e->key[0]), "%.*s", (int)(eq - (buf + off)), buf + off);
            snprintf(e->value[e->n], sizeof(e->value[0]), "%.*s", (int)(nl - eq - 1), eq + 1);
            off = (size_t)(nl - buf) + 1;
        } else {
            uint64_t len = 0;
            snprintf(e->key[e->n], sizeof(e->key[0]), "%.*s", (int)(nl - (buf + off)), buf + off);
            off = (size_t)(nl - buf) + 1;
            assert_true((size_t)n - off >= 8);
            for (int i = 7; i >= 0; i--)
                len = len << 8 | (uint8_t)buf[off + (size_t)i];
            off += 8;
            assert_true(len < sizeof(e->value[0]) && (size_t)n - off >= len + 1);
            memcpy(e->value[e->n], buf + off, len);
            e->value[e->n][len] = '\0';
            off += len;
            assert_int_equal(buf[off], '\n');
            off++;
        }
        e->n++;
    }
}

/* the value of key, NULL when absent; a key twice fails */
static const char *field(const entry *e, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->key[i], key) == 0) {
            assert_null(v);
            v = e->value[i];
        }
    return v;
}

static void test_release_fields(void **state)
{
    entry e;
    srv_log_audit(LOG_INFO,
                  &(srv_log_fields){.action = "key_released",
                                    .node = "0123abcd",
                                    .actor = "bootgated",
                                    .seq = 42,
                                    .verdict = "ok",
                                    .policy = "web"},
                  "volume=v policy=web@1 mode=enforce");
    receive(&e);
    assert_string_equal(field(&e, "MESSAGE_ID"), SRV_LOG_MSGID_KEY_RELEASED);
    assert_string_equal(field(&e, "PRIORITY"), "6");
    assert_string_equal(field(&e, "SYSLOG_IDENTIFIER"), "bootgated");
    assert_string_equal(field(&e, "SYSLOG_FACILITY"), "3");
    assert_string_equal(field(&e, "BOOTGATE_ACTION"), "key_released");
    assert_string_equal(field(&e, "BOOTGATE_AUDIT_SEQ"), "42");
    assert_string_equal(field(&e, "BOOTGATE_NODE"), "0123abcd");
    assert_string_equal(field(&e, "BOOTGATE_ACTOR"), "bootgated");
    assert_string_equal(field(&e, "BOOTGATE_VERDICT"), "ok");
    assert_string_equal(field(&e, "BOOTGATE_POLICY"), "web");
    assert_null(field(&e, "BOOTGATE_UNAUDITED"));
    assert_string_equal(field(&e, "MESSAGE"),
                        "BOOTGATE_AUDIT_SEQ=42 BOOTGATE_ACTION=key_released BOOTGATE_NODE=0123abcd "
                        "BOOTGATE_ACTOR=bootgated volume=v policy=web@1 mode=enforce");
}

static void test_message_ids(void **state)
{
    static const struct {
        srv_log_fields f;
        const char *id;
    } cases[] = {
        {{.action = "unlock_denied", .seq = 7, .verdict = "policy_denied"},
         SRV_LOG_MSGID_UNLOCK_DENIED},
        {{.action = "breakglass_used", .seq = 8}, SRV_LOG_MSGID_BREAKGLASS_USED},
        {{.action = "policy_activated", .seq = 9}, SRV_LOG_MSGID_AUDIT},
        {{.action = "unlock_denied", .seq = -1, .unaudited = true}, SRV_LOG_MSGID_DENIAL_UNAUDITED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        entry e;
        assert_string_equal(srv_log_message_id(&cases[i].f), cases[i].id);
        srv_log(LOG_NOTICE, &cases[i].f, "case %zu", i);
        receive(&e);
        assert_string_equal(field(&e, "MESSAGE_ID"), cases[i].id);
        assert_string_equal(field(&e, "PRIORITY"), "5");
        /* no node, no policy: no field at all */
        assert_null(field(&e, "BOOTGATE_NODE"));
        assert_null(field(&e, "BOOTGATE_POLICY"));
        assert_string_equal(field(&e, "BOOTGATE_UNAUDITED") ? "1" : "0",
                            cases[i].f.unaudited ? "1" : "0");
    }
}

/* A node id from an unauthenticated request and a detail with newlines: the
 * text stays one MESSAGE field, the node is made harmless, no field is forged. */
static void test_no_forged_fields(void **state)
{
    entry e;
    srv_log_audit(LOG_INFO,
                  &(srv_log_fields){.action = "unlock_denied",
                                    .node = "n1\nBOOTGATE_VERDICT=ok",
                                    .actor = "bootgated",
                                    .seq = 3,
                                    .verdict = "node_unknown"},
                  "reason=x\nBOOTGATE_POLICY=forged\nMESSAGE_ID=00");
    receive(&e);
    assert_string_equal(field(&e, "BOOTGATE_VERDICT"), "node_unknown");
    assert_string_equal(field(&e, "BOOTGATE_NODE"), "n1_BOOTGATE_VERDICT_ok");
    assert_null(field(&e, "BOOTGATE_POLICY"));
    assert_string_equal(field(&e, "MESSAGE_ID"), SRV_LOG_MSGID_UNLOCK_DENIED);
    assert_non_null(
        strstr(field(&e, "MESSAGE"), "reason=x\nBOOTGATE_POLICY=forged\nMESSAGE_ID=00"));
}

/* The detail is cut at SRV_LOG_DETAIL_MAX bytes and says so. */
static void test_detail_cut(void **state)
{
    static const char prefix[] =
        "BOOTGATE_AUDIT_SEQ=1 BOOTGATE_ACTION=node_enrolled BOOTGATE_NODE=- BOOTGATE_ACTOR=- ";
    char big[SRV_LOG_DETAIL_MAX + 100], want[sizeof(prefix) + SRV_LOG_DETAIL_MAX + 8];
    entry e;
    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(want, sizeof(want), "%s%.*s [...]", prefix, SRV_LOG_DETAIL_MAX, big);
    srv_log_audit(LOG_INFO, &(srv_log_fields){.action = "node_enrolled", .seq = 1}, big);
    receive(&e);
    assert_string_equal(field(&e, "MESSAGE"), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_fields),
        cmocka_unit_test(test_message_ids),
        cmocka_unit_test(test_no_forged_fields),
        cmocka_unit_test(test_detail_cut),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
