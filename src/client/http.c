/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cleanup.h"
#include "timing.h"
#include "util.h"

typedef struct sink {
    char *buf;
    size_t size, cap, max;
    bool overflow;
} sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb, need;

    /* curl guarantees size == 1; the sum is checked against the cap anyway. */
    if (__builtin_add_overflow(s->size, n, &need) || need > s->max) {
        s->overflow = true;
        return 0;
    }
    if (need + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < need + 1)
            cap *= 2;
        char *p = realloc(s->buf, cap);
        if (!p)
            return 0;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->size, data, n);
    s->size = need;
    s->buf[s->size] = 0;
    return n;
}

http_session *http_session_new(void)
{
    return (http_session *)curl_easy_init();
}

void http_session_free(http_session *s)
{
    if (s)
        curl_easy_cleanup((CURL *)s);
}

void http_response_done(http_response *r)
{
    free(r->body);
    r->body = NULL;
    r->size = 0;
}

uint64_t http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int curl_to_errno(CURLcode c, bool overflow)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return -ENETUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return -EPROTO;
    case CURLE_WRITE_ERROR:
        return overflow ? -EFBIG : -ENOMEM;
    case CURLE_FILESIZE_EXCEEDED:
        return -EFBIG;
    default:
        return -EIO;
    }
}

int http_post(const http_opts *o, const char *url, const char *body, http_response *ret,
              bg_err *err)
{
    sink s = {.max = o->max_response ? o->max_response : HTTP_MAX_RESPONSE};
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c;
    CURLcode cc;
    int r = 0;

    if (!o->ca_file || !o->ca_file[0])
        return bg_err_set(err, -EINVAL, "no CA file configured for %s", url);
    if (strncmp(url, "https://", 8) != 0)
        return bg_err_set(err, -EINVAL, "server URL must be https://: %s", url);
    if (o->session) {
        /* reset drops every option but keeps the connection cache */
        c = (CURL *)o->session;
        curl_easy_reset(c);
    } else
        c = curl_easy_init();
    if (!c)
        return bg_err_set(err, -ENOMEM, "curl_easy_init failed");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* Pin: only the configured CA; no CA directory, no system store. */
    curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (o->client_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, o->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, o->client_key ? o->client_key : o->client_cert);
    }
    /* The initramfs environment may carry proxy variables; they never apply. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        r = curl_to_errno(cc, s.overflow);
        bg_err_set(err, r, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        free(s.buf);
    } else {
        curl_off_t connect_us = 0;
        if (curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &connect_us) == CURLE_OK)
            timing_add_us(TIMING_HTTP_CONNECT, (uint64_t)connect_us);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        ret->body = s.buf ? s.buf : strdup("");
        ret->size = s.size;
        if (!ret->body)
            r = bg_err_set(err, -ENOMEM, "out of memory");
    }
    curl_slist_free_all(hdrs);
    if (!o->session)
        curl_easy_cleanup(c);
    return r;
}

int http_backoff(const http_opts *o, unsigned attempt, uint64_t deadline_ms)
{
    uint64_t base = o->backoff_initial_ms ? o->backoff_initial_ms : 500;
    uint64_t max = o->backoff_max_ms ? o->backoff_max_ms : 8000;
    uint64_t delay = base, now = http_now_ms();
    uint32_t rnd = 0;

    if (now >= deadline_ms)
        return -ETIME;
    for (unsigned i = 1; i < attempt && delay < max; i++)
        delay *= 2;
    if (delay > max)
        delay = max;
    /* Full jitter in [delay/2, delay]: many nodes rebooting together after a
     * power cut must not hit the server in lockstep. */
    (void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
    delay = delay / 2 + (delay / 2 + 1) * rnd / UINT32_MAX;
    if (delay > deadline_ms - now)
        delay = deadline_ms - now;
    struct timespec ts = {.tv_sec = (time_t)(delay / 1000),
                          .tv_nsec = (long)(delay % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

int http_post_retry(const http_opts *o, const char *url, const char *body, uint64_t deadline_ms,
                    http_response *ret, unsigned *ret_attempts, bg_err *err)
{
    int r = -ETIME;

    for (unsigned attempt = 1;; attempt++) {
        http_opts oo = *o;
        uint64_t now = http_now_ms();
        if (now >= deadline_ms)
            break;
        /* No single try may run past the overall deadline. */
        if (oo.request_timeout_ms <= 0 || (uint64_t)oo.request_timeout_ms > deadline_ms - now)
            oo.request_timeout_ms = (long)(deadline_ms - now);
        if (oo.connect_timeout_ms <= 0 || oo.connect_timeout_ms > oo.request_timeout_ms)
            oo.connect_timeout_ms = oo.request_timeout_ms;
        if (ret_attempts)
            *ret_attempts = attempt;
        r = http_post(&oo, url, body, ret, err);
        if (r == 0 && (ret->status == 502 || ret->status == 503 || ret->status == 504)) {
            r = bg_err_set(err, -ENETUNREACH, "%s: HTTP %ld", url, ret->status);
            http_response_done(ret);
        }
        if (r != -ENETUNREACH && r != -ETIMEDOUT)
            return r;
        if (http_backoff(o, attempt, deadline_ms) < 0)
            break;
    }
    if (r == -ETIME)
        return bg_err_set(err, -ENETUNREACH, "%s: deadline passed before any attempt", url);
    return bg_err_prefix(err, -ENETUNREACH, "gave up at the deadline");
}

int http_file_sha256_hex(const char *path, char out[65], bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    uint8_t md[32];
    unsigned int len = 0;
    size_t size;
    int r;

    r = read_file(path, 1u << 20, &buf, &size, err);
    if (r < 0)
        return r;
    if (!EVP_Digest(buf, size, md, &len, EVP_sha256(), NULL) || len != sizeof(md))
        return bg_err_set(err, -EIO, "sha256 failed");
    hex_encode(md, sizeof(md), out);
    return 0;
}
