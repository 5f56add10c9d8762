/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "secmem.h"
#include "timing.h"

https_opts client_https_opts(const client_opts *o)
{
    return (https_opts){
        .ca_file = o->cfg.ca,
        .connect_timeout_ms = (long)o->cfg.connect_timeout_s * 1000,
        .request_timeout_ms = (long)o->cfg.request_timeout_s * 1000,
        .backoff_initial_ms = o->cfg.backoff_initial_ms,
        .backoff_max_ms = o->cfg.backoff_max_ms,
    };
}

void client_answer_done(client_answer *a)
{
    json_object_put(a->json);
    a->json = NULL;
}

char *client_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    char *s = NULL;
    while (n && base[n - 1] == '/')
        n--;
    if (asprintf(&s, "%.*s%s", (int)n, base, path) < 0)
        return NULL;
    return s;
}

/* A string of the server's answer as the console may show it: as it is when
 * it is valid UTF-8 without control characters (proto_check_string), else
 * printable ASCII with '?' for every other byte: no terminal control from a
 * server. */
static void printable(const char *in, char *out, size_t size)
{
    size_t n = 0, len = in ? strlen(in) : 0;

    if (proto_check_string("answer", in ? in : "", len, NULL) == 0) {
        snprintf(out, size, "%s", in ? in : "");
        return;
    }
    for (size_t i = 0; i < len && n + 1 < size; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[n] = 0;
}

void client_refusal_text(const client_answer *a, char *out, size_t size)
{
    json_object *e, *reason;

    if (a->json && json_object_object_get_ex(a->json, "error", &e)) {
        char es[128], rs[256] = "";
        printable(json_object_get_string(e), es, sizeof(es));
        if (json_object_object_get_ex(a->json, "reason", &reason))
            printable(json_object_get_string(reason), rs, sizeof(rs));
        snprintf(out, size, "server answered HTTP %ld: %s%s%s", a->status, es, rs[0] ? ": " : "",
                 rs);
    } else
        snprintf(out, size, "server answered HTTP %ld", a->status);
}

void client_print_refusal(const client_opts *o, const char *who, const client_answer *a)
{
    char text[512];

    client_refusal_text(a, text, sizeof(text));
    client_msg(o, "%s: %s", who, text);
}

void client_bad_answer(const client_opts *o, const char *who, const char *what, const bg_err *err,
                       int *ret_exit)
{
    client_msg(o, "%s: bad %s answer: %s", who, what, bg_err_msg(err));
    *ret_exit = CLIENT_EXIT_UNREACHABLE;
}

static void urls_free(char *(*urls)[SERVERS_MAX])
{
    for (size_t i = 0; i < SERVERS_MAX; i++)
        free((*urls)[i]);
}

int client_post(const client_opts *o, const https_opts *h, const char *who, const char *what,
                const server_list *servers, size_t *io_index, const char *path, json_object *req,
                bool secret, uint64_t deadline_ms, client_answer *ret, int *ret_exit)
{
    _cleanup_(urls_free) char *urls[SERVERS_MAX] = {0};
    https_response resp = {0};
    bg_err err = {{0}};
    unsigned attempts = 0;
    size_t first = *io_index;
    uint64_t t0 = https_now_ms(), t_us = timing_now_us();
    char *body = (char *)json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    int r;

    *ret = (client_answer){0};
    *ret_exit = CLIENT_EXIT_USAGE;
    if (!body)
        return -ENOMEM;
    if (servers->n == 0 || servers->n > SERVERS_MAX) {
        client_msg(o, "%s: no server configured", who);
        return -EINVAL;
    }
    for (size_t i = 0; i < servers->n; i++)
        if (!(urls[i] = client_url(servers->url[i], path)))
            return -ENOMEM;
    r = https_request_failover(h, "POST", (const char *const *)urls, servers->n, io_index, body,
                               deadline_ms, &resp, &attempts, &err);
    timing_add(TIMING_HTTP, t_us);
    timing_add_us(TIMING_HTTP_CONNECT, resp.connect_us);
    if (secret)
        secmem_wipe(body, strlen(body));
    if (r < 0) {
        client_msg(o, "%s (%u attempts)", bg_err_msg(&err), attempts);
        *ret_exit = r == -EINVAL ? CLIENT_EXIT_USAGE : CLIENT_EXIT_UNREACHABLE;
        return r;
    }
    if (*io_index != first)
        client_log(o, LOG_WARNING, "%s: %s answered by %s (failed over from %s)", who, what,
                   servers->url[*io_index], servers->url[first]);
    client_debug(o, "POST %s: HTTP %ld after %u attempt(s), %llu ms", urls[*io_index], resp.status,
                 attempts, (unsigned long long)(https_now_ms() - t0));
    ret->status = resp.status;
    ret->attempts = attempts;
    r = https_answer_json(&resp, &ret->json, &err);
    https_response_done(&resp);
    if (ret->status != 200)
        return -EPERM; /* the refusal's JSON, if it is JSON, is in ret->json */
    if (r < 0) {
        client_bad_answer(o, who, what, &err, ret_exit);
        return r;
    }
    return 0;
}
