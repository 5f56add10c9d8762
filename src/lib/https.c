/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "https.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cleanup.h"
#include "proto.h"
#include "util.h"

typedef struct sink {
    char *buf;
    size_t size, cap, max;
    bool overflow;
} sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n, need;

    /* curl guarantees size == 1; the product and the sum are checked anyway. */
    if (__builtin_mul_overflow(size, nmemb, &n) || __builtin_add_overflow(s->size, n, &need) ||
        need > s->max) {
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

int https_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

void https_global_done(void)
{
    curl_global_cleanup();
}

https_session *https_session_new(void)
{
    return (https_session *)curl_easy_init();
}

void https_session_free(https_session *s)
{
    if (s)
        curl_easy_cleanup((CURL *)s);
}

void https_response_done(https_response *r)
{
    free(r->body);
    r->body = NULL;
    r->size = 0;
}

uint64_t https_now_ms(void)
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
    case CURLE_PARTIAL_FILE:      /* the server died in the middle of its answer */
    case CURLE_SSL_CONNECT_ERROR: /* a reset in the handshake; a certificate that
                                     does not verify is PEER_FAILED_VERIFICATION */
        return -ENETUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
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

/* Everything that makes a request safe, in one place. The handle was just
 * created or reset, so no option of an earlier request survives. */
static void harden(CURL *c, const https_opts *o, size_t max)
{
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* Pin: only the configured CA; no CA directory, no system or native
     * store (libcurl reads no CA environment variable itself, and with a CA
     * file set it never falls back to OpenSSL's default paths). */
    curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(c, CURLOPT_SSL_OPTIONS, 0L); /* no CURLSSLOPT_NATIVE_CA */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (o->client_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, o->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, o->client_key ? o->client_key : o->client_cert);
    }
    /* The environment (initramfs, operator shell) may carry proxy variables;
     * they never apply: the pinned server is reached directly or not at all. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
}

int https_request(const https_opts *o, const char *method, const char *url, const char *body,
                  https_response *ret, bg_err *err)
{
    sink s = {.max = o->max_response ? o->max_response : HTTPS_MAX_RESPONSE};
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    const char *ct = NULL;
    CURL *c;
    CURLcode cc;
    int r = 0;

    *ret = (https_response){0};
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
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");

    harden(c, o, s.max);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (!strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    else {
        /* POSTFIELDS is not copied: the caller's buffer (perhaps a secret it
         * wipes afterwards) is the only copy outside curl's send buffer. */
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        r = curl_to_errno(cc, s.overflow);
        if (r == -EFBIG)
            bg_err_set(err, r, "%s: answer larger than %zu bytes", url, s.max);
        else
            bg_err_set(err, r, "%s: %s (curl %d)", url, errbuf[0] ? errbuf : curl_easy_strerror(cc),
                       (int)cc);
        free(s.buf);
    } else {
        curl_off_t connect_us = 0;
        if (curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &connect_us) == CURLE_OK &&
            connect_us > 0)
            ret->connect_us = (uint64_t)connect_us;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            snprintf(ret->content_type, sizeof(ret->content_type), "%s", ct);
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

int https_backoff(const https_opts *o, unsigned attempt, uint64_t deadline_ms)
{
    uint64_t base = o->backoff_initial_ms ? o->backoff_initial_ms : 500;
    uint64_t max = o->backoff_max_ms ? o->backoff_max_ms : 8000;
    uint64_t delay = base, now = https_now_ms();
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

int https_request_failover(const https_opts *o, const char *method, const char *const *urls,
                           size_t n_urls, size_t *io_index, const char *body, uint64_t deadline_ms,
                           https_response *ret, unsigned *ret_attempts, bg_err *err)
{
    uint64_t connect_us = 0;
    size_t i = io_index && *io_index < n_urls ? *io_index : 0;
    unsigned attempt = 0;
    int r = -ETIME;

    if (n_urls == 0)
        return bg_err_set(err, -EINVAL, "no server URL");
    for (unsigned round = 1;; round++) {
        /* one try of each URL, starting at the last one that answered */
        for (size_t k = 0; k < n_urls; k++, i = (i + 1) % n_urls) {
            https_opts oo = *o;
            uint64_t now = https_now_ms();
            if (now >= deadline_ms)
                goto deadline;
            /* No single try may run past the overall deadline. */
            if (oo.request_timeout_ms <= 0 || (uint64_t)oo.request_timeout_ms > deadline_ms - now)
                oo.request_timeout_ms = (long)(deadline_ms - now);
            if (oo.connect_timeout_ms <= 0 || oo.connect_timeout_ms > oo.request_timeout_ms)
                oo.connect_timeout_ms = oo.request_timeout_ms;
            if (ret_attempts)
                *ret_attempts = ++attempt;
            if (io_index)
                *io_index = i;
            r = https_request(&oo, method, urls[i], body, ret, err);
            connect_us += ret->connect_us;
            ret->connect_us = connect_us;
            if (r == 0 && (ret->status == 502 || ret->status == 503 || ret->status == 504)) {
                r = bg_err_set(err, -ENETUNREACH, "%s: HTTP %ld", urls[i], ret->status);
                https_response_done(ret);
            }
            if (r != -ENETUNREACH && r != -ETIMEDOUT)
                return r;
        }
        /* every URL failed in this round: back off before the next */
        if (https_backoff(o, round, deadline_ms) < 0)
            break;
    }
deadline:
    if (r == -ETIME)
        return bg_err_set(err, -ENETUNREACH, "%s: deadline passed before any attempt", urls[i]);
    return bg_err_prefix(err, -ENETUNREACH, "gave up at the deadline");
}

int https_request_retry(const https_opts *o, const char *method, const char *url, const char *body,
                        uint64_t deadline_ms, https_response *ret, unsigned *ret_attempts,
                        bg_err *err)
{
    return https_request_failover(o, method, &url, 1, NULL, body, deadline_ms, ret, ret_attempts,
                                  err);
}

/* "application/json", any case, optionally followed by parameters. */
static bool is_json_type(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    if (strncasecmp(ct, json, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

/* The first bytes of what a server sent, for a message: printable ASCII
 * only (the message reaches the console: no terminal control from a server). */
static void excerpt(const char *in, size_t size, char out[64])
{
    size_t n = 0;

    for (size_t i = 0; i < size && n + 4 < 64; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ch == '\n' || ch == '\t' ? ' ' : '?';
    }
    if (size > n)
        out[n++] = '.', out[n++] = '.', out[n++] = '.';
    out[n] = 0;
}

int https_answer_json(const https_response *resp, json_object **ret, bg_err *err)
{
    char body[64], type[64];
    int r;

    *ret = NULL;
    excerpt(resp->body, resp->size, body);
    excerpt(resp->content_type, strlen(resp->content_type), type);
    if (!is_json_type(resp->content_type))
        return bg_err_set(err, -EBADMSG,
                          "HTTP %ld answer is not JSON (Content-Type '%s', %zu bytes: '%s')",
                          resp->status, type, resp->size, body);
    r = proto_parse_body(resp->body, resp->size, ret, err);
    if (r < 0)
        return bg_err_prefix(err, -EBADMSG, "HTTP %ld answer ('%s')", resp->status, body);
    return 0;
}

int https_file_sha256_hex(const char *path, char out[65], bg_err *err)
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
