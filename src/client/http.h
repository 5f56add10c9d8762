/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* HTTPS to bootgated (libcurl): the server CA is pinned (only the configured
 * CA file is trusted, no system store, no CA path), proxies are ignored, the
 * answer is capped in size, and every request has connect + total timeouts.
 * http_post_retry() retries while the server is unreachable with exponential
 * backoff and jitter until an absolute deadline. */

#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"

#define HTTP_MAX_RESPONSE (1u << 20)

typedef struct http_opts {
    const char *ca_file;     /* required: the only trusted CA */
    const char *client_cert; /* optional mTLS (enrollment as role enroller) */
    const char *client_key;
    long connect_timeout_ms;
    long request_timeout_ms;
    size_t max_response; /* 0 = HTTP_MAX_RESPONSE */
    uint64_t backoff_initial_ms;
    uint64_t backoff_max_ms;
    struct http_session *session; /* optional: reuse one connection across requests */
} http_opts;

/* A session keeps the TLS connection open between requests (challenge and
 * unlock go to the same server: one handshake instead of two). */
typedef struct http_session http_session;
http_session *http_session_new(void);
void http_session_free(http_session *s);

typedef struct http_response {
    long status;
    char *body; /* NUL-terminated, malloc'd */
    size_t size;
} http_response;

void http_response_done(http_response *r);

/* Returns 0 when an HTTP answer arrived (any status), or:
 *   -ENETUNREACH  server unreachable (connect failed/refused/timed out/DNS)
 *   -ETIMEDOUT    the request took longer than request_timeout_ms
 *   -EPROTO       TLS failed: the server certificate does not chain to the pinned CA
 *   -EFBIG        the answer exceeds max_response */
int http_post(const http_opts *o, const char *url, const char *body, http_response *ret,
              bg_err *err);

/* Current CLOCK_MONOTONIC in milliseconds. */
uint64_t http_now_ms(void);

/* Like http_post, but retries -ENETUNREACH, -ETIMEDOUT and HTTP 502/503/504
 * until deadline_ms (http_now_ms() clock). *ret_attempts counts the tries. */
int http_post_retry(const http_opts *o, const char *url, const char *body, uint64_t deadline_ms,
                    http_response *ret, unsigned *ret_attempts, bg_err *err);

/* Sleeps the backoff for the given attempt (1-based), never past deadline_ms.
 * Returns -ETIME when the deadline has passed. */
int http_backoff(const http_opts *o, unsigned attempt, uint64_t deadline_ms);

/* Lowercase hex sha256 of the file's bytes (for the token's ca_sha256 pin). */
int http_file_sha256_hex(const char *path, char out[65], bg_err *err);
