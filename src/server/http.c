/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HTTPS transport: libevent evhttp over OpenSSL bufferevents. N workers,
 * each with its own event_base, evhttp and SO_REUSEPORT listening socket,
 * so the kernel spreads connections and no lock is shared on the hot path
 * (the store serializes its own access). */
#include "srv.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>

#include "cleanup.h"
#include "conn.h"
#include "evmem.h"
#include "metrics.h"

#define SRV_MAX_WORKERS 64

typedef struct worker {
    srv *s;
    int fd;
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener; /* evhttp frees it */
    struct event *accept_pause;
    int reserve_fd; /* given back when accept runs out of descriptors */
    pthread_t thread;
} worker;

static worker workers[SRV_MAX_WORKERS];
static unsigned n_workers;
static struct event_base *main_base;

int srv_tls_init(srv *s, bg_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    unsigned long e;

    if (!ctx)
        return bg_err_set(err, -ENOMEM, "cannot create TLS context");
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    /* No resumption: a node makes one connection per boot and bootgatectl one
     * per command, so a session ticket (two by default in TLS 1.3, each a
     * serialised, encrypted session written to the socket) or a cached session
     * would be made in every handshake and never used. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (s->cfg.tls12) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        /* TLS 1.2 only with forward-secret AEAD suites */
        if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1)
            goto fail;
    } else {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, s->cfg.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->cfg.tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    if (s->cfg.client_ca[0]) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->cfg.client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, s->cfg.client_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        /* optional client certificate: node routes need none, admin routes
         * check for it; a presented certificate must verify or the handshake fails */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(ctx, 4);
    }
    /* When tls_cert holds no chain, OpenSSL builds the one it sends from the
     * trust store (X509_verify_cert) in every handshake. Build it here, once,
     * from the same store and in the same way (whatever part chains, the
     * leaf left out); a failure keeps the per-handshake behaviour. A chain
     * from the file is left as it is. */
    {
        STACK_OF(X509) *chain = NULL;
        if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 && sk_X509_num(chain) <= 0 &&
            SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
                                              SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR) <= 0)
            ERR_clear_error();
    }
    s->ssl = ctx;
    return 0;
fail:
    e = ERR_get_error();
    SSL_CTX_free(ctx);
    return bg_err_set(err, -EINVAL, "TLS setup (cert %s, key %s): %s", s->cfg.tls_cert,
                      s->cfg.tls_key, e ? ERR_reason_error_string(e) : "failed");
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    return srv_conn_bev_new(base, arg);
}

/* Every request that evhttp read completely: the connection's limits
 * first (conn.c), then the routes. */
static void on_request(struct evhttp_request *req, void *arg)
{
    if (srv_conn_request_admit(req))
        srv_dispatch(req, arg);
}

/* accept() failed with something other than "try again": out of
 * descriptors (EMFILE, ENFILE) or of kernel memory. libevent would warn and
 * retry at once, forever, at full CPU. Instead: give the reserve descriptor
 * back to accept one pending connection and close it (the client sees a
 * reset rather than a hang), pause accepting for ACCEPT_PAUSE_MS and say so
 * in one rate-limited line. */
#define ACCEPT_PAUSE_MS 200

static void on_accept_resume(evutil_socket_t fd, short events, void *arg)
{
    worker *w = arg;
    if (w->reserve_fd < 0)
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    evconnlistener_enable(w->listener);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {.tv_usec = ACCEPT_PAUSE_MS * 1000};
    worker *w = NULL;

    for (unsigned i = 0; i < n_workers; i++)
        if (workers[i].listener == lev)
            w = &workers[i];
    if (!w)
        return;
    evconnlistener_disable(lev);
    if (w->reserve_fd >= 0) {
        int fd;
        close(w->reserve_fd);
        w->reserve_fd = -1;
        fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    metrics_limit_hit(METRICS_LIMIT_ACCEPT_ERROR);
    srv_conn_warn(SRV_WARN_ACCEPT, "accept: %s (%u connections open); not accepting for %u ms",
                  strerror(e), srv_conn_count(), ACCEPT_PAUSE_MS);
    evtimer_add(w->accept_pause, &tv);
}

static int listen_socket(const srv_config *c, unsigned port, unsigned *ret_port, bg_err *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int one = 1, fd;
    _cleanup_(closep) int sfd = -1;

    if (inet_pton(AF_INET, c->listen_address, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        len = sizeof(*a);
    } else if (inet_pton(AF_INET6, c->listen_address, &((struct sockaddr_in6 *)&ss)->sin6_addr) ==
               1) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        len = sizeof(*a);
    } else {
        return bg_err_set(err, -EINVAL, "listen_address '%s' is not an IP address",
                          c->listen_address);
    }
    sfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sfd < 0)
        return bg_err_set(err, -errno, "socket: %s", strerror(errno));
    (void)setsockopt(sfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* accepted sockets inherit it: a reply goes out as several TLS records,
     * and Nagle + the client's delayed ACK would add 40 ms to each request */
    (void)setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (setsockopt(sfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        return bg_err_set(err, -errno, "SO_REUSEPORT: %s", strerror(errno));
    if (bind(sfd, (struct sockaddr *)&ss, len) < 0)
        return bg_err_set(err, -errno, "bind %s:%u: %s", c->listen_address, port, strerror(errno));
    if (listen(sfd, 512) < 0)
        return bg_err_set(err, -errno, "listen: %s", strerror(errno));
    len = sizeof(ss);
    if (getsockname(sfd, (struct sockaddr *)&ss, &len) < 0)
        return bg_err_set(err, -errno, "getsockname: %s", strerror(errno));
    *ret_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    fd = TAKE_FD(sfd);
    return fd;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

void srv_http_limits(struct evhttp *http, const srv *s)
{
    evhttp_set_max_body_size(http, (ev_ssize_t)s->cfg.max_body);
    evhttp_set_max_headers_size(http, (ev_ssize_t)s->cfg.max_headers);
    evhttp_set_timeout(http, (int)s->cfg.request_timeout);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
    evhttp_set_default_content_type(http, "application/json");
}

static int worker_setup(worker *w, srv *s, bg_err *err)
{
    w->s = s;
    w->base = event_base_new();
    if (!w->base)
        return bg_err_set(err, -ENOMEM, "event_base_new failed");
    w->http = evhttp_new(w->base);
    if (!w->http)
        return bg_err_set(err, -ENOMEM, "evhttp_new failed");
    evhttp_set_bevcb(w->http, bevcb, s);
    evhttp_set_gencb(w->http, on_request, s);
    srv_http_limits(w->http, s);
    w->listener = evconnlistener_new(w->base, NULL, NULL,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, w->fd);
    w->accept_pause = evtimer_new(w->base, on_accept_resume, w);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!w->listener || !w->accept_pause || w->reserve_fd < 0 ||
        !evhttp_bind_listener(w->http, w->listener))
        return bg_err_set(err, -EIO, "cannot accept on the listening socket");
    /* after evhttp_bind_listener, which sets the accept callback only */
    evconnlistener_set_error_cb(w->listener, on_accept_error);
    return 0;
}

static void on_audit_timer(evutil_socket_t fd, short events, void *arg)
{
    bg_err err = {0};
    if (srv_audit_sign_head(arg, &err) < 0)
        fprintf(stderr, "bootgated: %s\n", bg_err_msg(&err));
}

static void on_housekeeping(evutil_socket_t fd, short events, void *arg)
{
    static unsigned ticks;
    srv *s = arg;
    bg_err err = {0};
    if (srv_breakglass_expire(s, &err) < 0)
        fprintf(stderr, "bootgated: %s\n", bg_err_msg(&err));
    /* once a minute: evidence blobs no kept attempt names any more */
    if (++ticks % 12 == 0 && store_evidence_sweep(s->store) < 0)
        fprintf(stderr, "bootgated: evidence sweep: %s\n", store_last_error());
}

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    srv_http_stop();
}

void srv_http_stop(void)
{
    for (unsigned i = 0; i < n_workers; i++)
        if (workers[i].base)
            event_base_loopbreak(workers[i].base);
    if (main_base)
        event_base_loopbreak(main_base);
}

/* Descriptors: every connection holds one, the store and the log a few.
 * Raise the soft limit to the hard one, and say at start when
 * max_connections cannot fit (accept then pauses at the limit, see
 * on_accept_error, instead of refusing by count). */
#define NOFILE_SPARE 64

static void nofile_check(const srv_config *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)c->max_connections + NOFILE_SPARE > rl.rlim_cur)
        srv_log(LOG_WARNING, &(srv_log_fields){.action = "resource_limit", .seq = -1},
                "max_connections = %u does not fit RLIMIT_NOFILE %llu (with %u to spare): "
                "raise LimitNOFILE= or lower max_connections",
                c->max_connections, (unsigned long long)rl.rlim_cur, NOFILE_SPARE);
}

int srv_http_listen(srv *s, bg_err *err)
{
    unsigned port = s->cfg.port;
    unsigned n = s->cfg.workers < SRV_MAX_WORKERS ? s->cfg.workers : SRV_MAX_WORKERS;

    for (n_workers = 0; n_workers < n; n_workers++) {
        /* the first socket may pick the port (port = 0); the others share it */
        int fd = listen_socket(&s->cfg, port, &port, err);
        if (fd < 0) {
            srv_http_unlisten();
            return fd;
        }
        workers[n_workers].fd = fd;
    }
    s->bound_port = port;
    return 0;
}

void srv_http_unlisten(void)
{
    /* not yet handed to a listener, which would close it (LEV_OPT_CLOSE_ON_FREE) */
    for (unsigned i = 0; i < n_workers; i++)
        if (!workers[i].listener)
            close(workers[i].fd);
    memset(workers, 0, sizeof(workers));
    n_workers = 0;
}

int srv_http_run(srv *s, bg_err *err)
{
    struct event *sigint = NULL, *sigterm = NULL, *audit_timer = NULL, *housekeeping = NULL;
    unsigned port = s->bound_port;
    int r = 0;

    evmem_init();
    if (evthread_use_pthreads() < 0)
        return bg_err_set(err, -EIO, "libevent without pthreads");
    r = srv_conn_init(s);
    if (r < 0)
        return bg_err_set(err, r, "cannot set up connection limits");
    nofile_check(&s->cfg);
    for (unsigned i = 0; i < n_workers; i++) {
        r = worker_setup(&workers[i], s, err);
        if (r < 0)
            return r;
    }
    main_base = event_base_new();
    if (!main_base)
        return -ENOMEM;
    sigint = evsignal_new(main_base, SIGINT, on_signal, NULL);
    sigterm = evsignal_new(main_base, SIGTERM, on_signal, NULL);
    if (!sigint || !sigterm || evsignal_add(sigint, NULL) < 0 || evsignal_add(sigterm, NULL) < 0)
        return bg_err_set(err, -EIO, "cannot install signal handlers");
    signal(SIGPIPE, SIG_IGN);
    {
        /* grants expire on their own; the sweep writes their expiry record */
        struct timeval tv = {.tv_sec = 5};
        housekeeping = event_new(main_base, -1, EV_PERSIST, on_housekeeping, s);
        if (!housekeeping || event_add(housekeeping, &tv) < 0)
            return bg_err_set(err, -EIO, "cannot start the housekeeping timer");
    }
    if (s->audit_key) {
        struct timeval tv = {.tv_sec = s->cfg.audit_sign_interval};
        audit_timer = event_new(main_base, -1, EV_PERSIST, on_audit_timer, s);
        if (!audit_timer || event_add(audit_timer, &tv) < 0)
            return bg_err_set(err, -EIO, "cannot start the audit head timer");
    }

    for (unsigned i = 0; i < n_workers; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            return bg_err_set(err, -EAGAIN, "cannot start worker %u", i);
    atomic_store(&s->ready, true);
    printf("bootgated: listening on https://%s:%u (%u workers)\n", s->cfg.listen_address, port,
           n_workers);
    fflush(stdout);

    /* keep the main base alive until a signal */
    event_base_loop(main_base, EVLOOP_NO_EXIT_ON_EMPTY);
    atomic_store(&s->ready, false);
    for (unsigned i = 0; i < n_workers; i++) {
        event_base_loopbreak(workers[i].base);
        pthread_join(workers[i].thread, NULL);
        evhttp_free(workers[i].http);
        if (workers[i].accept_pause)
            event_free(workers[i].accept_pause);
        if (workers[i].reserve_fd >= 0)
            close(workers[i].reserve_fd);
        event_base_free(workers[i].base);
    }
    if (audit_timer)
        event_free(audit_timer);
    if (housekeeping)
        event_free(housekeeping);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(main_base);
    main_base = NULL;
    return 0;
}
