/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "secmem.h"

static void test_wrap_roundtrip(void **state)
{
    uint8_t seed[32], nonce[32], key[64];
    uint8_t *wrapped = NULL, *out = NULL;
    size_t wsize = 0, osize = 0;
    bg_err err = {0};

    for (size_t i = 0; i < 32; i++)
        seed[i] = (uint8_t)i, nonce[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < 64; i++)
        key[i] = (uint8_t)(3 * i);
    assert_int_equal(
        proto_wrap_key(seed, nonce, 32, "node1", "uuid-1", key, 64, &wrapped, &wsize, &err), 0);
    assert_int_equal(wsize, 64 + 12 + 16);
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node1", "uuid-1", wrapped, wsize, &out, &osize, &err),
        0);
    assert_int_equal(osize, 64);
    assert_memory_equal(out, key, 64);
    secmem_free(out);
    out = NULL;

    /* every binding input matters: other node, other volume, other nonce, other seed */
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node2", "uuid-1", wrapped, wsize, &out, &osize, &err),
        -EBADMSG);
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node1", "uuid-2", wrapped, wsize, &out, &osize, &err),
        -EBADMSG);
    nonce[0] ^= 1;
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node1", "uuid-1", wrapped, wsize, &out, &osize, &err),
        -EBADMSG);
    nonce[0] ^= 1;
    seed[31] ^= 0x80;
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node1", "uuid-1", wrapped, wsize, &out, &osize, &err),
        -EBADMSG);
    seed[31] ^= 0x80;
    wrapped[20] ^= 1;
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node1", "uuid-1", wrapped, wsize, &out, &osize, &err),
        -EBADMSG);
    assert_null(out);
    /* truncated */
    assert_int_equal(
        proto_unwrap_key(seed, nonce, 32, "node1", "uuid-1", wrapped, 20, &out, &osize, &err),
        -EBADMSG);
    free(wrapped);
}

static void test_unlock_roundtrip(void **state)
{
    proto_unlock_req req = {0}, back = {0};
    uint8_t blob[5] = {1, 2, 3, 4, 5};
    bg_err err = {0};
    json_object *j, *parsed = NULL;
    const char *s;

    strcpy(req.node_id, "abc");
    strcpy(req.volume_uuid, "0000-1111");
    req.nonce_size = 32;
    memset(req.nonce, 7, 32);
    req.ak_public = (proto_bytes){blob, 5};
    req.attest = (proto_bytes){blob, 4};
    req.signature = (proto_bytes){blob, 3};
    req.event_log = (proto_bytes){blob, 2};
    req.pcrs.alg = TPMALG_SHA256;
    req.pcrs.digest_size = 32;
    for (unsigned i = 0; i < 12; i++) {
        req.pcrs.mask |= 1u << i;
        memset(req.pcrs.pcr[i], (int)i, 32);
    }
    j = proto_unlock_req_encode(&req);
    assert_non_null(j);
    s = json_object_to_json_string(j);
    assert_int_equal(proto_parse_body(s, strlen(s), &parsed, &err), 0);
    assert_int_equal(proto_unlock_req_decode(parsed, &back, &err), 0);
    assert_string_equal(back.node_id, "abc");
    assert_string_equal(back.volume_uuid, "0000-1111");
    assert_int_equal(back.nonce_size, 32);
    assert_memory_equal(back.nonce, req.nonce, 32);
    assert_int_equal(back.ak_public.size, 5);
    assert_int_equal(back.attest.size, 4);
    assert_int_equal(back.signature.size, 3);
    assert_int_equal(back.event_log.size, 2);
    assert_int_equal(back.ima_log.size, 0);
    assert_int_equal(back.pcrs.mask, 0xfff);
    assert_memory_equal(back.pcrs.pcr[11], req.pcrs.pcr[11], 32);
    proto_unlock_req_done(&back);
    json_object_put(parsed);

    /* bad inputs, each rejected with a message naming the field */
    static const struct {
        const char *body, *needle;
    } bad[] = {
        {"{\"node_id\":\"a\"}", "volume_uuid"},
        {"{\"node_id\":5,\"volume_uuid\":\"u\"}", "node_id"},
        {"{\"node_id\":\"a\",\"volume_uuid\":\"u\",\"nonce\":\"!!\"}", "nonce"},
        {"{\"node_id\":\"a\",\"volume_uuid\":\"u\",\"nonce\":\"AAAA\",\"ak_public\":\"AA==\","
         "\"attest\":\"AA==\",\"signature\":\"AA==\",\"pcr_bank\":\"sha256\",\"pcrs\":{\"24\":"
         "\"00\"}}",
         "PCR index"},
        {"{\"node_id\":\"a\",\"volume_uuid\":\"u\",\"nonce\":\"AAAA\",\"ak_public\":\"AA==\","
         "\"attest\":\"AA==\",\"signature\":\"AA==\",\"pcr_bank\":\"sha256\",\"pcrs\":{\"1\":"
         "\"00\"}}",
         "PCR 1"},
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(proto_parse_body(bad[i].body, strlen(bad[i].body), &parsed, &err), 0);
        assert_int_equal(proto_unlock_req_decode(parsed, &back, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, bad[i].needle));
        json_object_put(parsed);
    }
    json_object_put(j);
}

static void test_parse_body(void **state)
{
    json_object *j = NULL;
    bg_err err = {0};
    assert_int_equal(proto_parse_body("{}", 2, &j, &err), 0);
    json_object_put(j);
    assert_int_equal(proto_parse_body("{} ", 3, &j, &err), 0);
    json_object_put(j);
    assert_int_equal(proto_parse_body("{}x", 3, &j, &err), -EBADMSG);
    assert_int_equal(proto_parse_body("[1]", 3, &j, &err), -EBADMSG);
    assert_int_equal(proto_parse_body("{\"a\":", 5, &j, &err), -EBADMSG);
    assert_int_equal(proto_parse_body("", 0, &j, &err), -EBADMSG);
    /* duplicate keys at any depth, also spelled differently; ':' in strings
     * and escaped quotes do not count as members */
    static const struct {
        const char *body;
        int ret;
    } dup[] = {
        {"{\"a\":1,\"a\":2}", -EBADMSG},
        {"{\"a\":1,\"\\u0061\":2}", -EBADMSG},
        {"{\"x\":[{\"b\":1},{\"b\":2,\"b\":3}]}", -EBADMSG},
        {"{\"x\":{\"y\":{\"z\":1,\"z\":1}}}", -EBADMSG},
        {"{\"a\":\"b:c\\\":d\",\"e\":[1,{\"f\":\"::\"}]}", 0},
        {"{\"a\":{\"a\":{\"a\":1}}}", 0},
    };
    for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
        j = NULL;
        assert_int_equal(proto_parse_body(dup[i].body, strlen(dup[i].body), &j, &err), dup[i].ret);
        json_object_put(j);
    }
}

static void test_denied_and_enroll_roundtrip(void **state)
{
    char *lines[] = {"PCR 4 differs", "event 12 new"};
    proto_unlock_denied d = {.n_explanation = 2, .explanation = lines, .audit_seq = 9};
    proto_unlock_denied back = {0};
    proto_enroll_req e = {0}, eback = {0};
    uint8_t blob[3] = {9, 8, 7};
    bg_err err = {0};
    json_object *j;

    strcpy(d.verdict, "policy_mismatch");
    strcpy(d.breakglass_code, "BG-ABCD-EFGH");
    j = proto_unlock_denied_encode(&d);
    assert_int_equal(proto_unlock_denied_decode(j, &back, &err), 0);
    assert_string_equal(back.verdict, "policy_mismatch");
    assert_int_equal(back.n_explanation, 2);
    assert_string_equal(back.explanation[1], "event 12 new");
    assert_string_equal(back.breakglass_code, "BG-ABCD-EFGH");
    assert_int_equal(back.audit_seq, 9);
    proto_unlock_denied_done(&back);
    json_object_put(j);

    strcpy(e.group, "web");
    strcpy(e.hostname, "h1");
    e.ek_public = (proto_bytes){blob, 3};
    e.ak_public = (proto_bytes){blob, 2};
    e.n_volumes = 1;
    strcpy(e.volumes[0].uuid, "vol");
    e.volumes[0].key = blob;
    e.volumes[0].key_size = 3;
    j = proto_enroll_req_encode(&e);
    assert_int_equal(proto_enroll_req_decode(j, &eback, &err), 0);
    assert_string_equal(eback.group, "web");
    assert_int_equal(eback.n_volumes, 1);
    assert_int_equal(eback.volumes[0].key_size, 3);
    assert_memory_equal(eback.volumes[0].key, blob, 3);
    assert_int_equal(eback.ek_cert.size, 0);
    proto_enroll_req_done(&eback);
    json_object_put(j);
}

/* The 200 answer carries the enrolled EK's name; an answer without it (or
 * with one longer than a TPM2B_NAME) is refused, never treated as "no check". */
static void test_unlock_ok_ek_name(void **state)
{
    uint8_t blob[4] = {1, 2, 3, 4}, name[34] = {0x00, 0x0b, 0xaa}, big[PROTO_MAX_TPM_NAME + 1];
    proto_unlock_ok ok = {.audit_seq = 7}, back = {0};
    bg_err err = {0};
    json_object *j;

    memset(big, 0x5a, sizeof(big));
    ok.credential_blob = (proto_bytes){blob, 4};
    ok.encrypted_secret = (proto_bytes){blob, 3};
    ok.wrapped_key = (proto_bytes){blob, 2};
    ok.ek_name = (proto_bytes){name, sizeof(name)};
    strcpy(ok.policy_name, "web");
    strcpy(ok.policy_mode, "enforce");
    j = proto_unlock_ok_encode(&ok);
    assert_int_equal(proto_unlock_ok_decode(j, &back, &err), 0);
    assert_int_equal(back.ek_name.size, sizeof(name));
    assert_memory_equal(back.ek_name.data, name, sizeof(name));
    proto_unlock_ok_done(&back);

    json_object_object_del(j, "ek_name");
    assert_int_equal(proto_unlock_ok_decode(j, &back, &err), -EBADMSG);
    assert_non_null(strstr(bg_err_msg(&err), "ek_name"));
    json_object_put(j);

    ok.ek_name = (proto_bytes){big, sizeof(big)};
    j = proto_unlock_ok_encode(&ok);
    assert_true(proto_unlock_ok_decode(j, &back, &err) < 0);
    json_object_put(j);
    (void)state;
}

/* Strings from the wire are text: well-formed UTF-8, no NUL, no control characters. */
static void test_check_string(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        int expect;
    } vectors[] = {
        {"0123456789abcdef", 16, 0},
        {"host-\xc3\xa9t\xc3\xa9", 10, 0}, /* é, 2 bytes */
        {"\xe2\x82\xac", 3, 0},            /* €, 3 bytes */
        {"\xf0\x9f\x94\x91", 4, 0},        /* U+1F511, 4 bytes */
        {"", 0, 0},
        {"abc\xff", 4, -EBADMSG},              /* never valid in UTF-8 */
        {"\x80", 1, -EBADMSG},                 /* lone continuation byte */
        {"\xc3", 1, -EBADMSG},                 /* truncated sequence */
        {"\xc3(", 2, -EBADMSG},                /* bad continuation */
        {"\xc0\xaf", 2, -EBADMSG},             /* overlong '/' */
        {"\xe0\x80\xaf", 3, -EBADMSG},         /* overlong, 3 bytes */
        {"\xed\xa0\x80", 3, -EBADMSG},         /* U+D800, a surrogate */
        {"\xf4\x90\x80\x80", 4, -EBADMSG},     /* above U+10FFFF */
        {"\xf8\x88\x80\x80\x80", 5, -EBADMSG}, /* 5-byte form */
        {"a\nb", 3, -EBADMSG},                 /* C0 */
        {"a\x7f", 2, -EBADMSG},                /* DEL */
        {"a\xc2\x85", 3, -EBADMSG},            /* U+0085, C1 */
        {"a\0b", 3, -EBADMSG},                 /* NUL inside */
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        bg_err err = {0};
        int r = proto_check_string("node_id", vectors[i].s, vectors[i].len, &err);
        if (r != vectors[i].expect)
            fail_msg("vector %zu: expected %d, got %d (%s)", i, vectors[i].expect, r,
                     bg_err_msg(&err));
        if (r < 0)
            assert_non_null(strstr(bg_err_msg(&err), "node_id"));
    }
}

/* The decoders refuse a string field that is not text, naming the field,
 * whether the bytes came raw or as \u escapes. */
static void test_decode_rejects_non_utf8(void **state)
{
    static const struct {
        const char *body;
        const char *field;
    } vectors[] = {
        {"{\"node_id\":\"abc\xff\"}", "node_id"},
        {"{\"node_id\":\"\xc0\xaf\"}", "node_id"},
        {"{\"node_id\":\"a\\u0085\"}", "node_id"},
        {"{\"node_id\":\"a\\u0000b\"}", "node_id"},
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        json_object *j = NULL;
        proto_challenge_req ch;
        proto_activate_req act;
        bg_err err = {0};
        /* the parser takes any bytes inside a string: the decoder is the edge */
        assert_int_equal(proto_parse_body(vectors[i].body, strlen(vectors[i].body), &j, &err), 0);
        assert_int_equal(proto_challenge_req_decode(j, &ch, &err), -EBADMSG);
        assert_non_null(strstr(bg_err_msg(&err), vectors[i].field));
        assert_int_equal(proto_activate_req_decode(j, &act, &err), -EBADMSG);
        json_object_put(j);
    }

    /* unlock: node_id and volume_uuid */
    {
        const char *bodies[] = {
            "{\"node_id\":\"n\xfe\",\"volume_uuid\":\"v\"}",
            "{\"node_id\":\"n\",\"volume_uuid\":\"v\xed\xb0\x80\"}",
        };
        const char *fields[] = {"node_id", "volume_uuid"};
        for (size_t i = 0; i < 2; i++) {
            json_object *j = NULL;
            proto_unlock_req req;
            bg_err err = {0};
            assert_int_equal(proto_parse_body(bodies[i], strlen(bodies[i]), &j, &err), 0);
            assert_int_equal(proto_unlock_req_decode(j, &req, &err), -EBADMSG);
            assert_non_null(strstr(bg_err_msg(&err), fields[i]));
            json_object_put(j);
        }
    }

    /* enroll: hostname, group and a volume uuid */
    {
        const char *bodies[] = {
            "{\"hostname\":\"h\xc3\",\"group\":\"web\"}",
            "{\"hostname\":\"h\",\"group\":\"w\x80\"}",
            ("{\"hostname\":\"h\",\"group\":\"web\",\"ek_public\":\"AAEC\",\"ak_public\":\"AAEC\","
             "\"volumes\":[{\"uuid\":\"u\xff\",\"key\":\"AAEC\"}]}"),
        };
        const char *fields[] = {"hostname", "group", "uuid"};
        for (size_t i = 0; i < 3; i++) {
            json_object *j = NULL;
            proto_enroll_req req;
            bg_err err = {0};
            assert_int_equal(proto_parse_body(bodies[i], strlen(bodies[i]), &j, &err), 0);
            assert_int_equal(proto_enroll_req_decode(j, &req, &err), -EBADMSG);
            assert_non_null(strstr(bg_err_msg(&err), fields[i]));
            json_object_put(j);
        }
    }

    /* the same decoders still accept text that is not ASCII (json-c turns a
     * lone surrogate escape into U+FFFD, which is text) */
    {
        const char *body = "{\"node_id\":\"n\xc3\xa9\"}";
        json_object *j = NULL;
        proto_challenge_req ch;
        bg_err err = {0};
        assert_int_equal(proto_parse_body(body, strlen(body), &j, &err), 0);
        assert_int_equal(proto_challenge_req_decode(j, &ch, &err), 0);
        assert_string_equal(ch.node_id, "n\xc3\xa9");
        json_object_put(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_roundtrip),
        cmocka_unit_test(test_unlock_roundtrip),
        cmocka_unit_test(test_parse_body),
        cmocka_unit_test(test_denied_and_enroll_roundtrip),
        cmocka_unit_test(test_unlock_ok_ek_name),
        cmocka_unit_test(test_check_string),
        cmocka_unit_test(test_decode_rejects_non_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
