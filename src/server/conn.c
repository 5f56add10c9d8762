/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-connection limits. evhttp (libevent 2.1) offers no hook when it accepts
 * a connection or finishes a request's headers, and its own timeout is an
 * inactivity timeout that one byte a second keeps alive forever. So:
 *  - admission runs one loop turn after evhttp set the socket into the
 *    bufferevent our bevcb made (the socket's peer is known then); a
 *    connection over a limit is shut down before its TLS handshake is done;
 *  - a timer per connection is the deadline of the phase it is in: the TLS
 *    handshake, request line and headers (header_timeout, which is also the
 *    idle time allowed between requests), then the body (body_timeout);
 *    at the deadline the socket is shut down and evhttp frees the
 *    connection with all its buffers;
 *  - the end of the headers is seen in the plaintext stream (an empty line,
 *    "\r\n\r\n" or "\n\n"), the end of the body when evhttp hands over the
 *    request, the end of the answer by evhttp's completion callback;
 *  - everything is released when OpenSSL frees the connection's SSL. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/rand.h>

#include "log.h"
#include "metrics.h"
#include "proto.h"

#define SOURCE_BUCKETS 1024u
#define WARN_BURST     5u
#define WARN_PER_MIN   6u

typedef enum conn_phase {
    PHASE_ADMIT,   /* accepted, not yet counted */
    PHASE_HEADER,  /* TLS handshake, request line, headers (or idle between requests) */
    PHASE_BODY,    /* the body after the headers */
    PHASE_HANDLER, /* the handler runs, the answer goes out (evhttp's write timeout) */
    PHASE_CUT,     /* shut down, waiting for evhttp to free it */
} conn_phase;

typedef struct srv_conn {
    srv *srv;
    struct bufferevent *bev;
    struct event *timer;
    struct evbuffer_cb_entry *input_cb;
    conn_phase phase;
    unsigned newlines; /* header end scanner: 1 after a line feed (CRs ignored) */
    bool in_request;   /* header end scanner: past the blank lines before a request */
    bool counted;      /* in the total and the per-source counts */
    bool unlock_slot;  /* holds one of max_concurrent_unlocks */
    char request_line[24];
    size_t request_line_len;
    char peer[INET6_ADDRSTRLEN];
    char source[INET6_ADDRSTRLEN + 4]; /* the per-source key: the IPv4 address, an IPv6 /64 */
} srv_conn;

typedef struct source {
    struct source *next;
    unsigned n;
    char ip[INET6_ADDRSTRLEN + 4];
} source;

static int conn_ex_index = -1;
static atomic_uint n_conns, n_unlocks;
static pthread_mutex_t sources_lock = PTHREAD_MUTEX_INITIALIZER;
static source *sources[SOURCE_BUCKETS];
static uint64_t source_seed;
static ratelimit *warn_rl[_SRV_WARN_MAX];
static atomic_ullong warn_suppressed;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void srv_conn_warn(srv_conn_warning kind, const char *fmt, ...)
{
    char line[256];
    unsigned long long left_out;
    va_list ap;

    if (kind < _SRV_WARN_MAX && warn_rl[kind] && !ratelimit_take(warn_rl[kind], NULL, now_mono())) {
        atomic_fetch_add(&warn_suppressed, 1);
        return;
    }
    left_out = atomic_exchange(&warn_suppressed, 0);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    srv_log(LOG_WARNING, &(srv_log_fields){.action = "resource_limit", .seq = -1},
            "%s (BOOTGATE_LOG_SUPPRESSED=%llu)", line, left_out);
}

/* ---- per-source counts ---- */

static source **source_slot(const char *ip)
{
    uint64_t h = source_seed ^ 1469598103934665603ull;
    for (const char *p = ip; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    source **pp = &sources[h % SOURCE_BUCKETS];
    while (*pp && strcmp((*pp)->ip, ip) != 0)
        pp = &(*pp)->next;
    return pp;
}

static bool source_take(const char *ip, unsigned max)
{
    bool ok = false;
    pthread_mutex_lock(&sources_lock);
    source **pp = source_slot(ip);
    if (!*pp) {
        *pp = calloc(1, sizeof(**pp));
        if (*pp)
            snprintf((*pp)->ip, sizeof((*pp)->ip), "%s", ip);
    }
    if (*pp && (*pp)->n < max) {
        (*pp)->n++;
        ok = true;
    } else if (*pp && (*pp)->n == 0) {
        free(*pp);
        *pp = NULL;
    }
    pthread_mutex_unlock(&sources_lock);
    return ok;
}

static void source_put(const char *ip)
{
    pthread_mutex_lock(&sources_lock);
    source **pp = source_slot(ip);
    if (*pp && --(*pp)->n == 0) {
        source *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&sources_lock);
}

/* ---- lifetime ---- */

static void unlock_slot_put(srv_conn *c)
{
    if (c->unlock_slot) {
        atomic_fetch_sub(&n_unlocks, 1);
        c->unlock_slot = false;
    }
}

/* OpenSSL frees the SSL when the bufferevent goes (BEV_OPT_CLOSE_ON_FREE):
 * the connection is gone, whoever closed it */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    srv_conn *c = ptr;
    if (!c)
        return;
    if (c->timer)
        event_free(c->timer);
    if (c->input_cb)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    unlock_slot_put(c);
    if (c->counted) {
        atomic_fetch_sub(&n_conns, 1);
        metrics_connection(-1);
        source_put(c->source);
    }
    free(c);
}

static void conn_cut(srv_conn *c, srv_conn_warning kind, const char *why)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    c->phase = PHASE_CUT;
    event_del(c->timer);
    unlock_slot_put(c);
    srv_conn_warn(kind, "closing connection from %s: %s", c->peer[0] ? c->peer : "?", why);
    /* evhttp sees end of file and frees the connection and its buffers */
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static void phase_set(srv_conn *c, conn_phase phase, unsigned seconds)
{
    c->phase = phase;
    if (seconds) {
        struct timeval tv = {.tv_sec = seconds};
        event_add(c->timer, &tv);
    } else {
        event_del(c->timer);
    }
}

/* The first bytes of the request line, to tell an unlock by its path. */
static void request_line_feed(srv_conn *c, const char *p, size_t n)
{
    size_t room = sizeof(c->request_line) - 1 - c->request_line_len;
    if (n > room)
        n = room;
    memcpy(c->request_line + c->request_line_len, p, n);
    c->request_line_len += n;
    c->request_line[c->request_line_len] = '\0';
}

static bool request_is_unlock(const char *line)
{
    const char *target = "POST /v1/unlock";
    size_t n = strlen(target);
    return strncmp(line, target, n) == 0 && (line[n] == ' ' || line[n] == '?');
}

static void headers_done(srv_conn *c)
{
    phase_set(c, PHASE_BODY, c->srv->cfg.body_timeout);
    /* an unlock takes its slot when its headers are in, so that its body is
     * already bounded; beyond the cap it is answered 503 once read */
    if (request_is_unlock(c->request_line) &&
        atomic_fetch_add(&n_unlocks, 1) < c->srv->cfg.max_concurrent_unlocks)
        c->unlock_slot = true;
    else if (request_is_unlock(c->request_line))
        atomic_fetch_sub(&n_unlocks, 1);
}

/* Scans bytes of the plaintext stream for the empty line that ends the
 * headers (evhttp takes CRLF and bare LF line ends alike). Returns how many
 * bytes belonged to the headers. */
static size_t header_scan(srv_conn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r')
            continue;
        if (p[i] != '\n') {
            c->newlines = 0;
            c->in_request = true;
            continue;
        }
        if (!c->in_request)
            continue; /* blank lines before a request line */
        if (++c->newlines == 2) {
            headers_done(c);
            return i + 1;
        }
    }
    return n;
}

/* Feeds len bytes of buf from pos to the scanner while in PHASE_HEADER. */
static void header_feed(srv_conn *c, struct evbuffer *buf, size_t pos, size_t len)
{
    struct evbuffer_ptr ptr;
    struct evbuffer_iovec v[8];
    int nv;

    while (len > 0 && c->phase == PHASE_HEADER) {
        if (evbuffer_ptr_set(buf, &ptr, pos, EVBUFFER_PTR_SET) < 0)
            return;
        nv = evbuffer_peek(buf, (ev_ssize_t)len, &ptr, v, (int)(sizeof(v) / sizeof(v[0])));
        if (nv <= 0)
            return;
        for (int i = 0; i < nv && len > 0 && c->phase == PHASE_HEADER; i++) {
            size_t n = v[i].iov_len < len ? v[i].iov_len : len, used;
            const char *p = v[i].iov_base;
            /* the request line: from its first non-blank byte */
            if (c->request_line_len < sizeof(c->request_line) - 1) {
                size_t skip = 0;
                while (c->request_line_len == 0 && skip < n && (p[skip] == '\r' || p[skip] == '\n'))
                    skip++;
                request_line_feed(c, p + skip, n - skip);
            }
            used = header_scan(c, p, n);
            pos += used, len -= used;
        }
    }
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    srv_conn *c = arg;
    size_t total = evbuffer_get_length(buf);

    /* called as bytes arrive, before evhttp parses them: the new ones are
     * the last n_added */
    if (c->phase != PHASE_HEADER || info->n_added == 0 || info->n_added > total)
        return;
    header_feed(c, buf, total - info->n_added, info->n_added);
}

static void header_phase_start(srv_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->newlines = 0;
    c->in_request = false;
    c->request_line_len = 0;
    c->request_line[0] = '\0';
    phase_set(c, PHASE_HEADER, c->srv->cfg.header_timeout);
    /* a pipelined request may be buffered already */
    header_feed(c, in, 0, evbuffer_get_length(in));
}

static void on_timer(evutil_socket_t fd, short events, void *arg)
{
    srv_conn *c = arg;
    const srv_config *cfg = &c->srv->cfg;
    char why[96];

    switch (c->phase) {
    case PHASE_ADMIT: {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        evutil_socket_t sfd = bufferevent_getfd(c->bev);
        if (sfd < 0 || getpeername(sfd, (struct sockaddr *)&ss, &len) < 0)
            return conn_cut(c, SRV_WARN_LIMIT, "no peer address");
        if (ss.ss_family == AF_INET6) {
            /* one IPv6 host holds a whole /64: that is its source */
            struct in6_addr net = ((struct sockaddr_in6 *)&ss)->sin6_addr;
            char n[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &net, c->peer, sizeof(c->peer));
            if (IN6_IS_ADDR_V4MAPPED(&net)) {
                snprintf(c->source, sizeof(c->source), "%s", c->peer);
            } else {
                memset(net.s6_addr + 8, 0, 8);
                inet_ntop(AF_INET6, &net, n, sizeof(n));
                snprintf(c->source, sizeof(c->source), "%s/64", n);
            }
        } else {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof(c->peer));
            snprintf(c->source, sizeof(c->source), "%s", c->peer);
        }
        if (atomic_fetch_add(&n_conns, 1) >= cfg->max_connections) {
            atomic_fetch_sub(&n_conns, 1);
            snprintf(why, sizeof(why), "max_connections (%u) reached", cfg->max_connections);
            metrics_limit_hit(METRICS_LIMIT_MAX_CONNECTIONS);
            return conn_cut(c, SRV_WARN_LIMIT, why);
        }
        if (!source_take(c->source, cfg->max_connections_per_source)) {
            atomic_fetch_sub(&n_conns, 1);
            snprintf(why, sizeof(why), "max_connections_per_source (%u) reached",
                     cfg->max_connections_per_source);
            metrics_limit_hit(METRICS_LIMIT_PER_SOURCE);
            return conn_cut(c, SRV_WARN_SOURCE, why);
        }
        c->counted = true;
        metrics_connection(1);
        c->input_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
        if (!c->input_cb)
            return conn_cut(c, SRV_WARN_LIMIT, "out of memory");
        return header_phase_start(c);
    }
    case PHASE_HEADER:
        snprintf(why, sizeof(why), "no complete request headers within header_timeout (%u s)",
                 cfg->header_timeout);
        metrics_limit_hit(METRICS_LIMIT_HEADER_TIMEOUT);
        return conn_cut(c, SRV_WARN_DEADLINE, why);
    case PHASE_BODY:
        snprintf(why, sizeof(why), "no complete request body within body_timeout (%u s)",
                 cfg->body_timeout);
        metrics_limit_hit(METRICS_LIMIT_BODY_TIMEOUT);
        return conn_cut(c, SRV_WARN_DEADLINE, why);
    case PHASE_HANDLER:
    case PHASE_CUT:
        return;
    }
}

struct bufferevent *srv_conn_bev_new(struct event_base *base, srv *s)
{
    SSL *ssl = SSL_new(s->ssl);
    srv_conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev = NULL;

    if (!ssl || !c)
        goto fail;
    c->srv = s;
    c->timer = event_new(base, -1, 0, on_timer, c);
    if (!c->timer || SSL_set_ex_data(ssl, conn_ex_index, c) != 1)
        goto fail;
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        SSL_set_ex_data(ssl, conn_ex_index, NULL);
        goto fail;
    }
    c->bev = bev;
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    /* admission once evhttp has set the socket (right after this returns) */
    event_active(c->timer, EV_TIMEOUT, 0);
    return bev; /* c is freed with the SSL */
fail:
    if (c && c->timer)
        event_free(c->timer);
    free(c);
    SSL_free(ssl);
    return NULL;
}

static srv_conn *conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl ? SSL_get_ex_data(ssl, conn_ex_index) : NULL;
}

static void on_request_done(struct evhttp_request *req, void *arg)
{
    srv_conn *c = arg;
    unlock_slot_put(c);
    if (c->phase == PHASE_HANDLER)
        header_phase_start(c); /* the next request, or idle until header_timeout */
}

bool srv_conn_request_admit(struct evhttp_request *req)
{
    srv_conn *c = conn_of(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    bool unlock = evhttp_request_get_command(req) == EVHTTP_REQ_POST && path &&
                  strcmp(path, "/v1/unlock") == 0;
    struct evbuffer *buf;
    char retry[16];

    if (!c)
        return true;
    /* headers whose end the scanner did not see (it knows only the common
     * line ends): the request is read all the same */
    if (c->phase == PHASE_HEADER && unlock &&
        atomic_fetch_add(&n_unlocks, 1) < c->srv->cfg.max_concurrent_unlocks)
        c->unlock_slot = true;
    else if (c->phase == PHASE_HEADER && unlock)
        atomic_fetch_sub(&n_unlocks, 1);
    phase_set(c, PHASE_HANDLER, 0);
    evhttp_request_set_on_complete_cb(req, on_request_done, c);
    if (!unlock || c->unlock_slot)
        return true;

    metrics_limit_hit(METRICS_LIMIT_UNLOCKS_BUSY);
    srv_conn_warn(SRV_WARN_UNLOCK,
                  "unlock from %s answered 503: max_concurrent_unlocks (%u) in progress", c->peer,
                  c->srv->cfg.max_concurrent_unlocks);
    snprintf(retry, sizeof(retry), "%u", c->srv->cfg.unlock_retry_after);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    buf = evbuffer_new();
    if (buf)
        evbuffer_add_printf(buf,
                            "{\"error\":\"busy\",\"reason\":\"too many unlocks in progress; "
                            "retry after %u s\"}",
                            c->srv->cfg.unlock_retry_after);
    /* nothing of the body is kept */
    evbuffer_drain(evhttp_request_get_input_buffer(req),
                   evbuffer_get_length(evhttp_request_get_input_buffer(req)));
    evhttp_send_reply(req, 503, "Service Unavailable", buf);
    if (buf)
        evbuffer_free(buf);
    return false;
}

unsigned srv_conn_count(void)
{
    return atomic_load(&n_conns);
}

int srv_conn_init(srv *s)
{
    if (conn_ex_index < 0)
        conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
    if (conn_ex_index < 0)
        return -ENOMEM;
    for (size_t i = 0; i < _SRV_WARN_MAX; i++) {
        if (!warn_rl[i])
            warn_rl[i] = ratelimit_new(WARN_BURST, WARN_PER_MIN, 0);
        if (!warn_rl[i])
            return -ENOMEM;
    }
    if (RAND_bytes((unsigned char *)&source_seed, sizeof(source_seed)) != 1)
        return -EIO;
    return 0;
}
