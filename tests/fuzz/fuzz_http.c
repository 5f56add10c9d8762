/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgated's request path as a stranger reaches it: the bytes of one HTTP
 * connection (one request, several pipelined, or garbage) go through
 * libevent's evhttp parser with the server's limits, then srv_dispatch's
 * routing, role check and body copy, then the real route handlers over a
 * real SQLite store in a temporary directory. TLS is left out (OpenSSL's
 * own fuzzers cover it): the connection is plain HTTP on a loopback socket
 * inside this process and one event_base.
 *
 * Input: byte 0 picks the client certificate's role (none, admin, enroller,
 * approver, auditor), the rest is what the client sends. The store starts
 * with a pending and an active node and a requested break-glass grant, so
 * that admin routes find something; state carries over between inputs as
 * it does in a running server. The active node's AK is the swtpm AK of
 * tests/fuzz/corpus/fuzz_tpmpub/ak_ecc.tpm2b (its quotes are in fuzz_attest's
 * corpus), and every run of 44 '@' in the input becomes a fresh nonce of the
 * server for "node-active" (44 base64 characters): an unlock gets past the
 * nonce, node and AK checks to the quote's signature and fields. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "kek.h"
#include "nonce.h"
#include "secmem.h"
#include "srv.h"
#include "tpmpub.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv server;
static struct event_base *base;
static struct evhttp *http;
static struct sockaddr_in addr;
static const unsigned roles[] = {0, ROLE_ADMIN, ROLE_ENROLLER, ROLE_APPROVER, ROLE_AUDITOR};
static unsigned role;
static char dir[] = "/tmp/bootgate-fuzz-http-XXXXXX";

static void die(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

static void gencb(struct evhttp_request *req, void *arg)
{
    srv_dispatch_as_role(req, arg, role);
}

#define NONCE_MARK_LEN 44 /* base64 of PROTO_NONCE_SIZE (32) bytes */

static void load_ak(store_node *n)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    tpmpub *ak = NULL;
    bg_err err = {0};

    if (read_file(FUZZ_CORPUS_DIR "/fuzz_tpmpub/ak_ecc.tpm2b", sizeof(n->ak_pub), &buf, &size,
                  &err) < 0 ||
        tpmpub_parse(buf, size, &ak, &err) < 0 || ak->name_size > sizeof(n->ak_name))
        die(bg_err_msg(&err));
    memcpy(n->ak_pub, buf, size);
    n->ak_pub_size = size;
    memcpy(n->ak_name, ak->name, ak->name_size);
    n->ak_name_size = ak->name_size;
    tpmpub_free(ak);
    free(buf);
}

/* Every run of NONCE_MARK_LEN '@' becomes a fresh nonce for node-active. */
static void put_nonces(uint8_t *buf, size_t size)
{
    static const char mark[NONCE_MARK_LEN + 1] = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
    uint8_t *p = buf;

    while ((p = memmem(p, size - (size_t)(p - buf), mark, NONCE_MARK_LEN))) {
        uint8_t nonce[PROTO_NONCE_SIZE];
        char b64[NONCE_MARK_LEN + 1];
        if (nonce_make(server.nonce_secret, "node-active", (uint64_t)time(NULL),
                       server.cfg.nonce_ttl, nonce, NULL) < 0 ||
            EVP_EncodeBlock((unsigned char *)b64, nonce, sizeof(nonce)) != NONCE_MARK_LEN)
            die("nonce_make");
        memcpy(p, b64, NONCE_MARK_LEN);
        p += NONCE_MARK_LEN;
    }
}

static void seed_store(store *st)
{
    store_node n = {.state = NODE_PENDING, .ek_pub_size = 4, .ak_pub_size = 4, .ak_name_size = 34};
    store_grant g = {.scope = "any", .uses = 1, .uses_left = 1, .state = GRANT_REQUESTED};

    snprintf(n.id, sizeof(n.id), "node-pending");
    snprintf(n.hostname, sizeof(n.hostname), "host1");
    snprintf(n.group, sizeof(n.group), "web");
    memset(n.ek_fingerprint, 'a', 64);
    if (store_node_put(st, &n) < 0)
        die("store_node_put");
    snprintf(n.id, sizeof(n.id), "node-active");
    n.state = NODE_ACTIVE;
    memset(n.ek_fingerprint, 'b', 64);
    load_ak(&n);
    if (store_node_put(st, &n) < 0)
        die("store_node_put");
    snprintf(g.id, sizeof(g.id), "0123456789abcdef0123456789abcdef");
    snprintf(g.node_id, sizeof(g.node_id), "node-active");
    snprintf(g.code, sizeof(g.code), "BG-ABCD-EFGH");
    snprintf(g.reason, sizeof(g.reason), "fuzz");
    snprintf(g.requested_by, sizeof(g.requested_by), "admin:fuzz");
    g.not_before = time(NULL);
    g.not_after = g.not_before + 3600;
    if (store_grant_put(st, &g) < 0)
        die("store_grant_put");
}

static void cleanup_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: cannot remove %s\n", dir);
}

static void setup(void)
{
    bg_err err = {0};
    socklen_t len = sizeof(addr);
    struct evhttp_bound_socket *bound;

    if (!mkdtemp(dir))
        die("mkdtemp");
    atexit(cleanup_dir);
    srv_config_defaults(&server.cfg);
    snprintf(server.cfg.store_url, sizeof(server.cfg.store_url), "sqlite://%s/fuzz.db", dir);
    snprintf(server.cfg.db, sizeof(server.cfg.db), "%s/fuzz.db", dir);
    /* empty: no signer and no approver is trusted, every signature fails */
    snprintf(server.cfg.policy_signers_dir, sizeof(server.cfg.policy_signers_dir), "%s", dir);
    snprintf(server.cfg.approvers_dir, sizeof(server.cfg.approvers_dir), "%s", dir);
    server.kek = secmem_alloc(KEK_SIZE);
    server.nonce_secret = secmem_alloc(NONCE_SECRET_SIZE);
    if (!server.kek || !server.nonce_secret || RAND_bytes(server.kek, KEK_SIZE) != 1 ||
        RAND_bytes(server.nonce_secret, NONCE_SECRET_SIZE) != 1)
        die("secrets");
    if (srv_denial_limits_init(&server) < 0)
        die("denial limits");
    if (store_open(server.cfg.store_url, &server.store, &err) < 0)
        die(bg_err_msg(&err));
    seed_store(server.store);
    srv_routes_init();
    atomic_store(&server.ready, true);

    base = event_base_new();
    http = base ? evhttp_new(base) : NULL;
    if (!http)
        die("evhttp_new");
    evhttp_set_gencb(http, gencb, &server);
    srv_http_limits(http, &server); /* the workers' limits */
    bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!bound ||
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&addr, &len) < 0)
        die("evhttp_bind_socket");
}

typedef struct conn {
    bool done;
    struct evbuffer *reply;
} conn;

/* The secrets as they could leak: raw, hex, base64 (of their first 24 bytes:
 * base64 of any 3-aligned run). */
static char secret_forms[4][2][80];

static void secret_forms_init(void)
{
    const uint8_t *sec[2] = {server.kek, server.nonce_secret};
    for (unsigned i = 0; i < 2; i++) {
        memcpy(secret_forms[0][i], sec[i], 32);
        for (unsigned k = 0; k < 32; k++)
            snprintf(secret_forms[1][i] + 2 * k, 3, "%02x", sec[i][k]);
        for (unsigned k = 0; k < 32; k++)
            snprintf(secret_forms[2][i] + 2 * k, 3, "%02X", sec[i][k]);
        EVP_EncodeBlock((unsigned char *)secret_forms[3][i], sec[i], 24);
    }
}

/* The oracle beyond ASan/UBSan/LSan: no reply carries the KEK or the nonce
 * secret that the request did not carry itself. (libFuzzer learns the
 * strings this check compares against and puts them in its inputs; a reply
 * that echoes the request's path or id then holds them without any leak:
 * seen in CI, where an input held the nonce secret's base64.) */
static void check_reply(struct evbuffer *reply, const uint8_t *sent, size_t sent_size)
{
    static const size_t form_len[4] = {32, 64, 64, 32};
    size_t n = evbuffer_get_length(reply);
    const char *p = (const char *)evbuffer_pullup(reply, -1);

    if (n == 0 || !p)
        return;
    if (getenv("FUZZ_HTTP_VERBOSE")) {
        /* the status line and the start of the body */
        const char *eol = memchr(p, '\r', n), *body = memmem(p, n, "\r\n\r\n", 4);
        size_t rest = body ? n - (size_t)(body + 4 - p) : 0;
        fprintf(stderr, "%.*s %.*s\n", (int)(eol ? (size_t)(eol - p) : n), p,
                (int)(rest < 160 ? rest : 160), body ? body + 4 : "");
    }
    /* (no check of the status line: evhttp answers an HTTP/0.x request
     * with the bare body, as HTTP/0.9 did) */
    for (unsigned f = 0; f < 4; f++)
        for (unsigned i = 0; i < 2; i++)
            if (memmem(p, n, secret_forms[f][i], form_len[f]) &&
                !memmem(sent, sent_size, secret_forms[f][i], form_len[f]))
                die("a secret in a reply");
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    evbuffer_add_buffer(c->reply, bufferevent_get_input(bev));
}

static void on_write(struct bufferevent *bev, void *arg)
{
    /* all sent: half-close, so that the server sees the end of the input */
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        c->done = true;
        event_base_loopbreak(base);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    struct bufferevent *bev;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    struct timeval tmo = {.tv_sec = 5};
    conn c = {0};
    evutil_socket_t fd;

    if (!ready) {
        setup();
        secret_forms_init();
        ready = true;
    }
    if (size < 2)
        return 0;
    c.reply = evbuffer_new();
    if (!c.reply)
        die("evbuffer_new");
    role = roles[data[0] % ELEMENTSOF(roles)];
    data++, size--;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    /* RST on close: no TIME_WAIT, so millions of inputs do not exhaust ports */
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new");
    bufferevent_setcb(bev, on_read, on_write, on_event, &c);
    bufferevent_set_timeouts(bev, &tmo, &tmo);
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        die("connect");
    {
        uint8_t *copy = malloc(size);
        if (!copy)
            die("malloc");
        memcpy(copy, data, size);
        put_nonces(copy, size);
        bufferevent_write(bev, copy, size);
        free(copy);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    while (!c.done)
        event_base_loop(base, EVLOOP_ONCE);
    bufferevent_free(bev);
    check_reply(c.reply, data, size);
    evbuffer_free(c.reply);
    /* what the server still holds of the connection goes with its close */
    event_base_loop(base, EVLOOP_NONBLOCK);
    return 0;
}
