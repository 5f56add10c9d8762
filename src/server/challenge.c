/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/challenge: a stateless nonce bound to the node id (DESIGN §1 step 1).
 * No database access, so a flood of challenges costs one HMAC each. */
#include "srv.h"

#include <time.h>

#include "nonce.h"

void srv_handle_challenge(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    proto_challenge_req req;
    proto_challenge_resp resp = {0};
    bg_err err = {0};

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0 ||
        proto_challenge_req_decode(body, &req, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    if (nonce_make(r->srv->nonce_secret, req.node_id, (uint64_t)time(NULL), r->srv->cfg.nonce_ttl,
                   resp.nonce, &resp.expires) < 0)
        return srv_reply_error(r, 500, "internal", "cannot make a nonce");
    srv_reply_json(r, 200, proto_challenge_resp_encode(&resp));
}
