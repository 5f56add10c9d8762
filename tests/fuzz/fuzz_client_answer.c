/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgate-unlock's handling of a server's answer after libcurl: the
 * Content-Type and body check (https_answer_json), every decoder of an
 * answer (challenge, unlock released or denied, enroll, activate) and the
 * text of a refusal as the console shows it. Oracle beyond the sanitizers:
 * nothing the client prints (the refusal text, the error messages) carries
 * a control character (C0, DEL, C1) from the answer, so an answer cannot
 * drive the console's terminal.
 * Input: byte 0 picks the HTTP status, then the Content-Type up to the first
 * '\n', then the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "https.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 403, 400, 401, 404, 409, 413, 429, 500, 503};

/* Printed text must be free of control characters: C0, DEL, and C1 in its
 * UTF-8 form (U+0080..U+009F, e.g. U+009B CSI). Bytes only: a message cut at
 * its buffer's end may end inside a UTF-8 sequence. */
static void check_printable(const char *s)
{
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if (*u < 0x20 || *u == 0x7f || (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    https_response resp = {0};
    client_answer a = {0};
    bg_err err = {0};
    const uint8_t *nl;
    size_t ct;

    if (size < 1)
        return 0;
    resp.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    data++, size--;
    nl = memchr(data, '\n', size);
    ct = nl ? (size_t)(nl - data) : 0;
    if (ct >= sizeof(resp.content_type) || memchr(data, 0, ct))
        return 0;
    memcpy(resp.content_type, data, ct);
    if (nl)
        data += ct + 1, size -= ct + 1;
    resp.body = malloc(size + 1);
    if (!resp.body)
        return 0;
    memcpy(resp.body, data, size);
    resp.body[size] = 0;
    resp.size = size;

    a.status = resp.status;
    if (https_answer_json(&resp, &a.json, &err) < 0) {
        check_printable(bg_err_msg(&err));
    } else {
        char text[512];
        proto_challenge_resp c;
        proto_unlock_ok ok = {0};
        proto_unlock_denied d = {0};
        proto_enroll_resp e = {0};
        proto_activate_resp act = {0};

        (void)proto_challenge_resp_decode(a.json, &c, &err);
        if (proto_unlock_ok_decode(a.json, &ok, &err) == 0)
            proto_unlock_ok_done(&ok);
        if (proto_unlock_denied_decode(a.json, &d, &err) == 0) {
            check_printable(d.verdict);
            for (size_t i = 0; i < d.n_explanation; i++)
                check_printable(d.explanation[i]);
        }
        proto_unlock_denied_done(&d);
        if (proto_enroll_resp_decode(a.json, &e, &err) == 0)
            proto_enroll_resp_done(&e);
        (void)proto_activate_resp_decode(a.json, &act, &err);
        client_refusal_text(&a, text, sizeof(text));
        check_printable(text);
        client_answer_done(&a);
    }
    free(resp.body);
    return 0;
}
