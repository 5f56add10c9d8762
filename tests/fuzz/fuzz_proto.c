/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every wire-message decoder of proto.h over one parsed body (the server runs
 * proto_parse_body then one decoder per route); decoded messages are encoded
 * again so the encoders see decoder output too. */
#include <stdint.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *j = NULL;
    bg_err err = {0};

    if (proto_parse_body((const char *)data, size, &j, &err) < 0)
        return 0;
    {
        proto_challenge_req m;
        if (proto_challenge_req_decode(j, &m, &err) == 0)
            json_object_put(proto_challenge_req_encode(&m));
    }
    {
        proto_challenge_resp m;
        if (proto_challenge_resp_decode(j, &m, &err) == 0)
            json_object_put(proto_challenge_resp_encode(&m));
    }
    {
        proto_unlock_req m;
        if (proto_unlock_req_decode(j, &m, &err) == 0) {
            json_object_put(proto_unlock_req_encode(&m));
            proto_unlock_req_done(&m);
        }
    }
    {
        proto_unlock_ok m;
        if (proto_unlock_ok_decode(j, &m, &err) == 0) {
            json_object_put(proto_unlock_ok_encode(&m));
            proto_unlock_ok_done(&m);
        }
    }
    {
        proto_unlock_denied m;
        if (proto_unlock_denied_decode(j, &m, &err) == 0) {
            json_object_put(proto_unlock_denied_encode(&m));
            proto_unlock_denied_done(&m);
        }
    }
    {
        proto_enroll_req m;
        if (proto_enroll_req_decode(j, &m, &err) == 0) {
            json_object_put(proto_enroll_req_encode(&m));
            proto_enroll_req_done(&m);
        }
    }
    {
        proto_enroll_resp m;
        if (proto_enroll_resp_decode(j, &m, &err) == 0) {
            json_object_put(proto_enroll_resp_encode(&m));
            proto_enroll_resp_done(&m);
        }
    }
    {
        proto_activate_req m;
        if (proto_activate_req_decode(j, &m, &err) == 0)
            json_object_put(proto_activate_req_encode(&m));
    }
    {
        proto_activate_resp m;
        if (proto_activate_resp_decode(j, &m, &err) == 0)
            json_object_put(proto_activate_resp_encode(&m));
    }
    json_object_put(j);
    return 0;
}
