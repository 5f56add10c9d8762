/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgate-unlock's one way to talk to bootgated, for enroll and unlock alike:
 * POST a JSON request over the hardened HTTPS client (https.h: pinned CA, no
 * proxies, size cap, timeouts), retry while the server is unreachable with
 * backoff and jitter until a deadline, and decode the answer strictly
 * (Content-Type application/json, one JSON object). */

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "client.h"
#include "https.h"
#include "token.h"

/* The HTTPS options of the configuration: the pinned CA (o->cfg.ca),
 * timeouts and backoff. */
https_opts client_https_opts(const client_opts *o);

typedef struct client_answer {
    long status;
    json_object *json; /* the answer's JSON object; NULL if it was not one */
    unsigned attempts; /* tries it took: > 1 when a server failed mid-request */
} client_answer;

void client_answer_done(client_answer *a);

/* POSTs req to path on the servers (https_request_failover until
 * deadline_ms: in order from *io_index, the next at once when one is
 * unreachable, backoff after a round in which none answered); *io_index gets
 * the server that answered. `who` starts each message (a device, or
 * "enroll"), `what` names the request ("challenge").
 * secret: the serialized request holds secrets (volume keys): wiped once sent.
 * Returns:
 *   0        HTTP 200 with a JSON object in ret->json;
 *   -EPERM   any other status: ret->status, and ret->json if that answer is a
 *            JSON object; nothing printed (see client_print_refusal);
 *   < 0      else, with the message printed and *ret_exit set:
 *            -ENETUNREACH (and other transport errors) exit 4, -EINVAL (no CA,
 *            not https://) exit 2, -EBADMSG a 200 answer that is not a JSON
 *            object ("bad WHAT answer") exit 4. */
int client_post(const client_opts *o, const https_opts *h, const char *who, const char *what,
                const server_list *servers, size_t *io_index, const char *path, json_object *req,
                bool secret, uint64_t deadline_ms, client_answer *ret, int *ret_exit);

/* "server answered HTTP 500: internal: disk on fire" (cut at size) */
void client_refusal_text(const client_answer *a, char *out, size_t size);
/* "WHO: " + client_refusal_text */
void client_print_refusal(const client_opts *o, const char *who, const client_answer *a);

/* "WHO: bad WHAT answer: <why>"; *ret_exit = 4 (the server is not one we can use). */
void client_bad_answer(const client_opts *o, const char *who, const char *what, const bg_err *err,
                       int *ret_exit);

/* base + path without a doubled '/'; NULL when out of memory. */
char *client_url(const char *base, const char *path);
