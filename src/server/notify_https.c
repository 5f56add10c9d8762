/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The webhook's one HTTPS POST, on OpenSSL alone: bootgated does not link
 * libcurl (CMakeLists.txt, bootgate_https). Non-blocking I/O against one
 * deadline, so that a hook that accepts and then says nothing costs
 * notify_timeout seconds and no more, and a shutdown can cancel it. */
#include "notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cleanup.h"

#define HOST_MAX 255

typedef struct webhook_url {
    char host[HOST_MAX + 1];      /* without the brackets of an IPv6 literal */
    char authority[HOST_MAX + 9]; /* the Host header: as the URL wrote it */
    char port[6];
    const char *path; /* into the URL; "/" when it has none */
} webhook_url;

static int parse_url(const char *url, webhook_url *u, bg_err *err)
{
    const char *p, *end, *host_end, *colon = NULL;
    size_t n;

    if (strncmp(url, "https://", 8) != 0)
        return bg_err_set(err, -EINVAL, "not an https:// URL");
    p = url + 8;
    end = p + strcspn(p, "/?#");
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(end - p));
        if (!host_end)
            return bg_err_set(err, -EINVAL, "unterminated IPv6 address");
        n = (size_t)(host_end - p - 1);
        if (n == 0 || n > HOST_MAX)
            return bg_err_set(err, -EINVAL, "bad host");
        memcpy(u->host, p + 1, n);
        if (host_end + 1 < end && host_end[1] == ':')
            colon = host_end + 1;
        else if (host_end + 1 != end)
            return bg_err_set(err, -EINVAL, "bad host");
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        n = (size_t)(host_end - p);
        if (n == 0 || n > HOST_MAX)
            return bg_err_set(err, -EINVAL, "bad host");
        memcpy(u->host, p, n);
    }
    u->host[n] = 0;
    if (strspn(u->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != n)
        return bg_err_set(err, -EINVAL, "bad host");
    if (colon) {
        n = (size_t)(end - colon - 1);
        if (n == 0 || n > 5 || strspn(colon + 1, "0123456789") < n)
            return bg_err_set(err, -EINVAL, "bad port");
        memcpy(u->port, colon + 1, n);
        u->port[n] = 0;
        if (atoi(u->port) < 1 || atoi(u->port) > 65535)
            return bg_err_set(err, -EINVAL, "bad port");
    } else {
        snprintf(u->port, sizeof(u->port), "443");
    }
    n = (size_t)(end - p);
    if (n >= sizeof(u->authority))
        return bg_err_set(err, -EINVAL, "bad host");
    memcpy(u->authority, p, n);
    u->authority[n] = 0;
    u->path = *end == '/' ? end : "/";
    /* the path goes into the request line as it is: no space, no CR/LF */
    for (const char *c = u->path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return bg_err_set(err, -EINVAL, "bad path");
    return 0;
}

/* The URL check of config.c: the same parser as the delivery. */
int notify_webhook_url_check(const char *url, bg_err *err)
{
    webhook_url u;
    return parse_url(url, &u, err);
}

double notify_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int notify_wait_fd(int fd, short events, double deadline, const atomic_bool *cancel)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        double left = deadline - notify_clock();
        int ms, r;
        if (cancel && atomic_load(cancel))
            return -ECANCELED;
        if (left <= 0)
            return -ETIMEDOUT;
        ms = left > 0.1 ? 100 : (int)(left * 1000) + 1;
        r = poll(&pfd, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static int connect_one(const struct addrinfo *ai, double deadline, const atomic_bool *cancel)
{
    _cleanup_(closep) int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int soerr = 0, r;
    socklen_t len = sizeof(soerr);

    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            return -errno;
        r = notify_wait_fd(fd, POLLOUT, deadline, cancel);
        if (r < 0)
            return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            return -errno;
        if (soerr)
            return -soerr;
    }
    return TAKE_FD(fd);
}

static int connect_host(const webhook_url *u, double deadline, const atomic_bool *cancel,
                        bg_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo(u->host, u->port, &hints, &res), fd = -ENOENT;

    if (r != 0)
        return bg_err_set(err, -EHOSTUNREACH, "cannot resolve %s: %s", u->host, gai_strerror(r));
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = connect_one(ai, deadline, cancel);
        if (fd >= 0 || fd == -ETIMEDOUT || fd == -ECANCELED)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return bg_err_set(err, fd, "cannot connect to %s port %s: %s", u->host, u->port,
                          strerror(-fd));
    return fd;
}

/* One SSL_* call repeated until done, waiting for the socket in between. */
#define SSL_LOOP(ssl, fd, deadline, cancel, call)                                                  \
    ({                                                                                             \
        int _r, _w = 0;                                                                            \
        for (;;) {                                                                                 \
            _r = (call);                                                                           \
            if (_r > 0)                                                                            \
                break;                                                                             \
            switch (SSL_get_error(ssl, _r)) {                                                      \
            case SSL_ERROR_WANT_READ:                                                              \
                _w = notify_wait_fd(fd, POLLIN, deadline, cancel);                                 \
                break;                                                                             \
            case SSL_ERROR_WANT_WRITE:                                                             \
                _w = notify_wait_fd(fd, POLLOUT, deadline, cancel);                                \
                break;                                                                             \
            default:                                                                               \
                _w = -EPROTO;                                                                      \
            }                                                                                      \
            if (_w < 0)                                                                            \
                break;                                                                             \
        }                                                                                          \
        _r > 0 ? _r : _w;                                                                          \
    })

DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL *, SSL_free)

static int tls_error(bg_err *err, int r, const char *what, SSL *ssl)
{
    unsigned long e = ERR_peek_last_error();
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    char buf[160] = "";
    if (r == -ETIMEDOUT || r == -ECANCELED)
        return bg_err_set(err, r, "%s: %s", what, strerror(-r));
    if (v != X509_V_OK)
        snprintf(buf, sizeof(buf), "certificate: %s", X509_verify_cert_error_string(v));
    else if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return bg_err_set(err, -EPROTO, "%s failed%s%s", what, buf[0] ? ": " : "", buf);
}

int notify_https_post(const char *url, const char *ca_file, const char *body, unsigned timeout_s,
                      const atomic_bool *cancel, bg_err *err)
{
    _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL;
    _cleanup_(SSL_freep) SSL *ssl = NULL;
    _cleanup_(closep) int fd = -1;
    _cleanup_(freep) char *req = NULL;
    double deadline = notify_clock() + timeout_s;
    char head[256], ip[sizeof(struct in6_addr)];
    size_t got = 0;
    int r, status, minor, n;
    webhook_url u;

    r = parse_url(url, &u, err);
    if (r < 0)
        return r;
    fd = connect_host(&u, deadline, cancel, err);
    if (fd < 0)
        return fd;

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        return bg_err_set(err, -ENOMEM, "TLS setup failed");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file && ca_file[0] ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                              : SSL_CTX_set_default_verify_paths(ctx) != 1)
        return tls_error(err, -EPROTO, "loading the webhook CA", NULL);
    ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1)
        return bg_err_set(err, -ENOMEM, "TLS setup failed");
    /* the name (or address) in the URL is the one the certificate must carry */
    if (inet_pton(AF_INET, u.host, ip) == 1 || inet_pton(AF_INET6, u.host, ip) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host) != 1)
            return bg_err_set(err, -ENOMEM, "TLS setup failed");
    } else if (SSL_set1_host(ssl, u.host) != 1 || SSL_set_tlsext_host_name(ssl, u.host) != 1) {
        return bg_err_set(err, -ENOMEM, "TLS setup failed");
    }
    r = SSL_LOOP(ssl, fd, deadline, cancel, SSL_connect(ssl));
    if (r < 0)
        return tls_error(err, r, "TLS handshake", ssl);

    n = asprintf(&req,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bootgated/" BOOTGATE_VERSION "\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 u.path, u.authority, strlen(body), body);
    if (n < 0) {
        req = NULL;
        return bg_err_set(err, -ENOMEM, "out of memory");
    }
    r = SSL_LOOP(ssl, fd, deadline, cancel, SSL_write(ssl, req, n));
    if (r < 0)
        return tls_error(err, r, "sending the event", ssl);

    /* the status line is all that is read */
    while (got < sizeof(head) - 1 && !memchr(head, '\n', got)) {
        r = SSL_LOOP(ssl, fd, deadline, cancel,
                     SSL_read(ssl, head + got, (int)(sizeof(head) - 1 - got)));
        if (r < 0)
            return tls_error(err, r, "reading the answer", ssl);
        got += (size_t)r;
        head[got] = 0;
    }
    head[got] = 0;
    if (sscanf(head, "HTTP/1.%d %3d", &minor, &status) != 2)
        return bg_err_set(err, -EPROTO, "the answer is not HTTP");
    if (status < 200 || status > 299)
        return bg_err_set(err, -EREMOTEIO, "HTTP status %d", status);
    return 0;
}
