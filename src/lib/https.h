/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one HTTPS client of bootgate-unlock and bootgatectl (libcurl), in its
 * own static library (bootgate_https) so that bootgated does not link libcurl.
 *
 * Every request is hardened the same way:
 *   - the server CA is pinned: only the configured CA file is trusted
 *     (CURLOPT_CAINFO), no CA directory, no system or native store, so neither
 *     SSL_CERT_FILE/SSL_CERT_DIR nor CURL_CA_BUNDLE have any effect;
 *   - proxies never apply (http_proxy, https_proxy, ALL_PROXY are ignored);
 *   - https only, no redirects, TLS >= 1.2 with peer and host verification;
 *   - connect and total timeouts, and a cap on the answer's size;
 *   - optional client certificate and key (mTLS roles).
 * https_request_retry() retries while the server is unreachable with
 * exponential backoff and jitter until an absolute deadline, and
 * https_answer_json() is the one strict decoder of an answer: Content-Type
 * application/json and one JSON object, nothing else. */

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "bgerr.h"

#define HTTPS_MAX_RESPONSE (1u << 20)

/* A session keeps the TLS connection open between requests (challenge and
 * unlock go to the same server: one handshake instead of two). */
typedef struct https_session https_session;
https_session *https_session_new(void);
void https_session_free(https_session *s);

typedef struct https_opts {
    const char *ca_file;         /* required: the only trusted CA */
    const char *client_cert;     /* optional mTLS */
    const char *client_key;      /* NULL: the key is in client_cert */
    long connect_timeout_ms;     /* 0 = 5 s */
    long request_timeout_ms;     /* 0 = 30 s */
    size_t max_response;         /* 0 = HTTPS_MAX_RESPONSE */
    uint64_t backoff_initial_ms; /* 0 = 500 */
    uint64_t backoff_max_ms;     /* 0 = 8000 */
    https_session *session;      /* optional: reuse one connection across requests */
} https_opts;

typedef struct https_response {
    long status;
    char content_type[128]; /* as sent, "" if none */
    char *body;             /* NUL-terminated, malloc'd */
    size_t size;
    uint64_t connect_us; /* time to the end of the TLS handshake(s) */
} https_response;

void https_response_done(https_response *r);

/* Once per process, before any thread starts (curl_global_init). */
int https_global_init(void);
void https_global_done(void);

/* One request. method is "GET", "POST", "DELETE", ...; body (JSON) may be
 * NULL, it is not copied (a caller can wipe it afterwards). Returns 0 when an
 * HTTP answer arrived (any status), or:
 *   -EINVAL       no CA file, or the URL is not https://
 *   -ENETUNREACH  server unreachable (connect failed/refused/reset/DNS)
 *   -ETIMEDOUT    the request took longer than request_timeout_ms
 *   -EPROTO       TLS failed: the server certificate does not chain to the pinned CA
 *   -EFBIG        the answer exceeds max_response
 *   -EIO          any other transport failure
 * with a message in err. */
int https_request(const https_opts *o, const char *method, const char *url, const char *body,
                  https_response *ret, bg_err *err);

/* Current CLOCK_MONOTONIC in milliseconds (the clock of the deadlines). */
uint64_t https_now_ms(void);

/* Like https_request, but retries -ENETUNREACH, -ETIMEDOUT and HTTP
 * 502/503/504 until deadline_ms; gives -ENETUNREACH at the deadline.
 * *ret_attempts counts the tries. */
int https_request_retry(const https_opts *o, const char *method, const char *url, const char *body,
                        uint64_t deadline_ms, https_response *ret, unsigned *ret_attempts,
                        bg_err *err);

/* https_request_retry over several URLs of one service (replicas): each
 * round tries every URL once, in order, starting at *io_index (NULL: the
 * first), and moves to the next at once when one is unreachable (the same
 * errors and statuses as above); only after a round in which all failed does
 * it back off (round 1, 2, ...). *io_index gets the URL of the last try: the
 * one that answered, when 0 is returned. */
int https_request_failover(const https_opts *o, const char *method, const char *const *urls,
                           size_t n_urls, size_t *io_index, const char *body, uint64_t deadline_ms,
                           https_response *ret, unsigned *ret_attempts, bg_err *err);

/* Sleeps the backoff for the given attempt (1-based), never past deadline_ms.
 * Returns -ETIME when the deadline has passed. */
int https_backoff(const https_opts *o, unsigned attempt, uint64_t deadline_ms);

/* The answer as one JSON object: Content-Type application/json (parameters
 * allowed) and a body that is exactly one JSON object. -EBADMSG with a message
 * that names the status, the Content-Type and the start of the body otherwise. */
int https_answer_json(const https_response *resp, json_object **ret, bg_err *err);

/* Lowercase hex sha256 of a file's bytes (the LUKS2 token's ca_sha256 pin). */
int https_file_sha256_hex(const char *path, char out[65], bg_err *err);
