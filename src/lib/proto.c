/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "proto.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "secjson.h"
#include "secmem.h"
#include "util.h"

void proto_bytes_free(proto_bytes *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->size = 0;
}

/* ---- field helpers (decoding untrusted JSON) ---- */

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when it is not
 * well-formed (RFC 3629 section 4: no overlong forms, no surrogates, nothing
 * above U+10FFFF); *ret_cp gets the code point. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
    uint32_t cp, min;
    size_t len;

    if (s[0] < 0x80) {
        *ret_cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, cp = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, cp = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *ret_cp = cp;
    return len;
}

int proto_check_string(const char *name, const char *s, size_t len, bg_err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = utf8_next(u + i, len - i, &cp);
        if (n == 0)
            return bg_err_set(err, -EBADMSG, "field '%s' is not valid UTF-8 (byte %zu)", name, i);
        if (cp == 0)
            return bg_err_set(err, -EBADMSG, "field '%s' contains NUL", name);
        /* C0, DEL and C1: never part of an id, a name or a reason */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return bg_err_set(err, -EBADMSG, "field '%s' contains a control character (byte %zu)",
                              name, i);
        i += n;
    }
    return 0;
}

static int get_field(json_object *j, const char *name, json_type type, bool optional,
                     json_object **ret, bg_err *err)
{
    json_object *v = NULL;
    if (!j || !json_object_is_type(j, json_type_object))
        return bg_err_set(err, -EBADMSG, "body is not a JSON object");
    if (!json_object_object_get_ex(j, name, &v) || json_object_is_type(v, json_type_null)) {
        *ret = NULL;
        if (optional)
            return 0;
        return bg_err_set(err, -EBADMSG, "field '%s' missing", name);
    }
    if (!json_object_is_type(v, type))
        return bg_err_set(err, -EBADMSG, "field '%s' has the wrong type", name);
    *ret = v;
    return 0;
}

static int get_string(json_object *j, const char *name, char *out, size_t out_size, bool optional,
                      bg_err *err)
{
    json_object *v;
    int r = get_field(j, name, json_type_string, optional, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        out[0] = '\0';
        return 0;
    }
    size_t len = (size_t)json_object_get_string_len(v);
    const char *s = json_object_get_string(v);
    if (len == 0 && !optional)
        return bg_err_set(err, -EBADMSG, "field '%s' is empty", name);
    if (len >= out_size)
        return bg_err_set(err, -EBADMSG, "field '%s' longer than %zu bytes", name, out_size - 1);
    r = proto_check_string(name, s, len, err);
    if (r < 0)
        return r;
    memcpy(out, s, len + 1);
    return 0;
}

static int get_b64(json_object *j, const char *name, size_t max, bool optional, proto_bytes *out,
                   bg_err *err)
{
    json_object *v;
    bg_err sub = {0};
    int r = get_field(j, name, json_type_string, optional, &v, err);
    if (r < 0)
        return r;
    out->data = NULL;
    out->size = 0;
    if (!v)
        return 0;
    /* base64 expands 3 -> 4: reject before decoding anything oversized */
    if ((size_t)json_object_get_string_len(v) / 4 > max / 3 + 1)
        return bg_err_set(err, -EBADMSG, "field '%s' larger than %zu bytes", name, max);
    r = base64_decode_alloc(json_object_get_string(v), &out->data, &out->size, &sub);
    if (r < 0)
        return bg_err_set(err, -EBADMSG, "field '%s': %s", name, bg_err_msg(&sub));
    if (out->size > max) {
        proto_bytes_free(out);
        return bg_err_set(err, -EBADMSG, "field '%s' larger than %zu bytes", name, max);
    }
    if (out->size == 0 && !optional) {
        proto_bytes_free(out);
        return bg_err_set(err, -EBADMSG, "field '%s' is empty", name);
    }
    return 0;
}

/* Decodes base64 of exactly size bytes into a fixed buffer; ret_size gets the
 * decoded length so that callers can report "nonce of 0 bytes" precisely. */
static int get_b64_fixed(json_object *j, const char *name, uint8_t *out, size_t size,
                         size_t *ret_size, bg_err *err)
{
    _cleanup_(proto_bytes_free) proto_bytes b = {0};
    int r = get_b64(j, name, size, false, &b, err);
    if (r < 0)
        return r;
    if (ret_size)
        *ret_size = b.size;
    if (b.size != size) {
        secmem_wipe(b.data, b.size);
        return bg_err_set(err, -EBADMSG, "field '%s' must be %zu bytes, got %zu", name, size,
                          b.size);
    }
    memcpy(out, b.data, size);
    secmem_wipe(b.data, b.size);
    return 0;
}

static int get_int(json_object *j, const char *name, int64_t *ret, bg_err *err)
{
    json_object *v;
    int r = get_field(j, name, json_type_int, false, &v, err);
    if (r < 0)
        return r;
    *ret = json_object_get_int64(v);
    return 0;
}

static int add_b64(json_object *o, const char *name, const uint8_t *data, size_t size)
{
    char *s = base64_encode_alloc(data, size);
    int r;
    if (!s)
        return -ENOMEM;
    r = json_object_object_add(o, name, json_object_new_string(s)) < 0 ? -ENOMEM : 0;
    /* the field may be a volume key or a seed (enroll, activate) */
    secmem_wipe(s, strlen(s));
    free(s);
    return r;
}

static int add_str(json_object *o, const char *name, const char *s)
{
    return json_object_object_add(o, name, json_object_new_string(s)) < 0 ? -ENOMEM : 0;
}

static int add_int(json_object *o, const char *name, int64_t v)
{
    return json_object_object_add(o, name, json_object_new_int64(v)) < 0 ? -ENOMEM : 0;
}

/* Adds *child to o; o owns it from then on and *child is cleared, so that the
 * caller's json_object_put(*child) on the way out only frees a child not added. */
static int add_owned(json_object *o, const char *name, json_object **child)
{
    if (json_object_object_add(o, name, *child) < 0)
        return -ENOMEM;
    *child = NULL;
    return 0;
}

/* ---- field tables ----
 * The plain fields of a message in wire order: name, where the value lives in
 * the struct and its limit. One walk encodes, decodes (failing at the first bad
 * field, in table order) or frees them; fields that need more (nonce, PCRs,
 * arrays) stay hand-written between the table walks. */

typedef enum field_kind {
    FIELD_STR, /* char[size] */
    FIELD_B64, /* proto_bytes, base64 on the wire, at most size bytes */
    FIELD_INT, /* int64_t */
} field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
    bool optional; /* decode: may be absent or empty; FIELD_B64 encode: left out when empty */
    size_t offset;
    size_t size;
} field;

/* clang-format off */
#define FIELD_STR(T, member, key, opt) {key, FIELD_STR, opt, offsetof(T, member), sizeof(((T *)NULL)->member)}
#define FIELD_B64(T, member, key, max, opt) {key, FIELD_B64, opt, offsetof(T, member), max}
#define FIELD_INT(T, member, key) {key, FIELD_INT, false, offsetof(T, member), 0}
/* clang-format on */

static int encode_fields(json_object *o, const void *m, const field *f, size_t n)
{
    int r = 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        const uint8_t *p = (const uint8_t *)m + f[i].offset;
        const proto_bytes *b = (const proto_bytes *)p;
        switch (f[i].kind) {
        case FIELD_STR:
            r = add_str(o, f[i].name, (const char *)p);
            break;
        case FIELD_B64:
            if (!f[i].optional || b->size > 0)
                r = add_b64(o, f[i].name, b->data, b->size);
            break;
        case FIELD_INT:
            r = add_int(o, f[i].name, *(const int64_t *)p);
            break;
        }
    }
    return r;
}

static int decode_fields(json_object *j, void *ret, const field *f, size_t n, bg_err *err)
{
    int r = 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        uint8_t *p = (uint8_t *)ret + f[i].offset;
        switch (f[i].kind) {
        case FIELD_STR:
            r = get_string(j, f[i].name, (char *)p, f[i].size, f[i].optional, err);
            break;
        case FIELD_B64:
            r = get_b64(j, f[i].name, f[i].size, f[i].optional, (proto_bytes *)p, err);
            break;
        case FIELD_INT:
            r = get_int(j, f[i].name, (int64_t *)p, err);
            break;
        }
    }
    return r;
}

static void free_fields(void *m, const field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].kind == FIELD_B64)
            proto_bytes_free((proto_bytes *)((uint8_t *)m + f[i].offset));
}

static json_object *finish(json_object *o, int r)
{
    if (r < 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* ---- challenge ---- */

json_object *proto_challenge_req_encode(const proto_challenge_req *m)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    return finish(o, add_str(o, "node_id", m->node_id));
}

int proto_challenge_req_decode(json_object *j, proto_challenge_req *ret, bg_err *err)
{
    memset(ret, 0, sizeof(*ret));
    return get_string(j, "node_id", ret->node_id, sizeof(ret->node_id), false, err);
}

json_object *proto_challenge_resp_encode(const proto_challenge_resp *m)
{
    json_object *o = json_object_new_object();
    int r;
    if (!o)
        return NULL;
    r = add_b64(o, "nonce", m->nonce, sizeof(m->nonce));
    if (r >= 0)
        r = add_int(o, "expires", (int64_t)m->expires);
    return finish(o, r);
}

int proto_challenge_resp_decode(json_object *j, proto_challenge_resp *ret, bg_err *err)
{
    int64_t exp;
    int r;
    memset(ret, 0, sizeof(*ret));
    r = get_b64_fixed(j, "nonce", ret->nonce, sizeof(ret->nonce), NULL, err);
    if (r < 0)
        return r;
    r = get_int(j, "expires", &exp, err);
    if (r < 0)
        return r;
    if (exp < 0)
        return bg_err_set(err, -EBADMSG, "field 'expires' is negative");
    ret->expires = (uint64_t)exp;
    return 0;
}

/* ---- unlock ---- */

static const field unlock_req_ids[] = {
    FIELD_STR(proto_unlock_req, node_id, "node_id", false),
    FIELD_STR(proto_unlock_req, volume_uuid, "volume_uuid", false),
};
/* after the nonce */
static const field unlock_req_tpm[] = {
    FIELD_B64(proto_unlock_req, ak_public, "ak_public", PROTO_MAX_TPM_BLOB, false),
    FIELD_B64(proto_unlock_req, attest, "attest", PROTO_MAX_TPM_BLOB, false),
    FIELD_B64(proto_unlock_req, signature, "signature", PROTO_MAX_TPM_BLOB, false),
};
/* after the PCRs */
static const field unlock_req_logs[] = {
    FIELD_B64(proto_unlock_req, event_log, "event_log", PROTO_MAX_EVENTLOG, false),
    FIELD_B64(proto_unlock_req, ima_log, "ima_log", PROTO_MAX_IMALOG, true),
};

void proto_unlock_req_done(proto_unlock_req *req)
{
    if (!req)
        return;
    free_fields(req, unlock_req_tpm, ELEMENTSOF(unlock_req_tpm));
    free_fields(req, unlock_req_logs, ELEMENTSOF(unlock_req_logs));
}

static int encode_pcrs(json_object *o, const pcr_bank *bank)
{
    const tpmalg *alg = tpmalg_by_id(bank->alg);
    json_object *p = json_object_new_object();
    int r;
    if (!p || !alg) {
        json_object_put(p);
        return -EINVAL;
    }
    for (unsigned i = 0; i < PCR_COUNT; i++) {
        if (!(bank->mask & (1u << i)))
            continue;
        char key[4], hex[2 * TPMALG_MAX_DIGEST + 1];
        snprintf(key, sizeof(key), "%u", i);
        hex_encode(bank->pcr[i], bank->digest_size, hex);
        if (add_str(p, key, hex) < 0) {
            json_object_put(p);
            return -ENOMEM;
        }
    }
    r = add_str(o, "pcr_bank", alg->name);
    if (r < 0) {
        json_object_put(p);
        return r;
    }
    return json_object_object_add(o, "pcrs", p) < 0 ? -ENOMEM : 0;
}

static int decode_pcrs(json_object *j, pcr_bank *bank, bg_err *err)
{
    char bank_name[16];
    json_object *p;
    const tpmalg *alg;
    int r = get_string(j, "pcr_bank", bank_name, sizeof(bank_name), false, err);
    if (r < 0)
        return r;
    alg = tpmalg_by_name(bank_name);
    if (!alg)
        return bg_err_set(err, -EBADMSG, "unknown pcr_bank '%s'", bank_name);
    r = get_field(j, "pcrs", json_type_object, false, &p, err);
    if (r < 0)
        return r;
    memset(bank, 0, sizeof(*bank));
    bank->alg = alg->id;
    bank->digest_size = alg->size;
    json_object_object_foreach(p, key, val)
    {
        char *end;
        unsigned long idx;
        bg_err sub = {0};
        if (!key[0] || strlen(key) > 2)
            return bg_err_set(err, -EBADMSG, "pcrs: bad PCR index '%.8s'", key);
        idx = strtoul(key, &end, 10);
        if (*end || idx >= PCR_COUNT || (key[0] == '0' && key[1]))
            return bg_err_set(err, -EBADMSG, "pcrs: bad PCR index '%.8s'", key);
        if (bank->mask & (1u << idx))
            return bg_err_set(err, -EBADMSG, "pcrs: PCR %lu twice", idx);
        if (!json_object_is_type(val, json_type_string))
            return bg_err_set(err, -EBADMSG, "pcrs: PCR %lu is not a string", idx);
        r = hex_decode_exact(json_object_get_string(val), bank->pcr[idx], alg->size, &sub);
        if (r < 0)
            return bg_err_set(err, -EBADMSG, "pcrs: PCR %lu: %s", idx, bg_err_msg(&sub));
        bank->mask |= 1u << idx;
    }
    return 0;
}

json_object *proto_unlock_req_encode(const proto_unlock_req *m)
{
    json_object *o = json_object_new_object();
    int r;
    if (!o)
        return NULL;
    r = encode_fields(o, m, unlock_req_ids, ELEMENTSOF(unlock_req_ids));
    if (r >= 0)
        r = add_b64(o, "nonce", m->nonce, m->nonce_size);
    if (r >= 0)
        r = encode_fields(o, m, unlock_req_tpm, ELEMENTSOF(unlock_req_tpm));
    if (r >= 0)
        r = encode_pcrs(o, &m->pcrs);
    if (r >= 0)
        r = encode_fields(o, m, unlock_req_logs, ELEMENTSOF(unlock_req_logs));
    return finish(o, r);
}

int proto_unlock_req_decode(json_object *j, proto_unlock_req *ret, bg_err *err)
{
    proto_bytes nonce = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    r = decode_fields(j, ret, unlock_req_ids, ELEMENTSOF(unlock_req_ids), err);
    if (r >= 0) {
        /* The nonce keeps its sent length: "missing", "empty" and "wrong size"
         * all fail later in one place, the nonce check (DESIGN §1 a). */
        r = get_b64(j, "nonce", PROTO_NONCE_SIZE, true, &nonce, err);
        if (r >= 0) {
            ret->nonce_size = nonce.size;
            if (nonce.size > 0)
                memcpy(ret->nonce, nonce.data, nonce.size);
            proto_bytes_free(&nonce);
        }
    }
    if (r >= 0)
        r = decode_fields(j, ret, unlock_req_tpm, ELEMENTSOF(unlock_req_tpm), err);
    if (r >= 0)
        r = decode_pcrs(j, &ret->pcrs, err);
    if (r >= 0)
        r = decode_fields(j, ret, unlock_req_logs, ELEMENTSOF(unlock_req_logs), err);
    if (r < 0)
        proto_unlock_req_done(ret);
    return r;
}

static const field unlock_ok_fields[] = {
    FIELD_B64(proto_unlock_ok, credential_blob, "credential_blob", PROTO_MAX_TPM_BLOB, false),
    FIELD_B64(proto_unlock_ok, encrypted_secret, "encrypted_secret", PROTO_MAX_TPM_BLOB, false),
    FIELD_B64(proto_unlock_ok, wrapped_key, "wrapped_key",
              PROTO_MAX_VOLUME_KEY + PROTO_WRAP_IV_SIZE + PROTO_WRAP_TAG_SIZE, false),
    FIELD_B64(proto_unlock_ok, ek_name, "ek_name", PROTO_MAX_TPM_NAME, false),
};
/* inside "policy" */
static const field unlock_ok_policy[] = {
    FIELD_STR(proto_unlock_ok, policy_name, "name", false),
    FIELD_INT(proto_unlock_ok, policy_version, "version"),
    FIELD_STR(proto_unlock_ok, policy_mode, "mode", false),
};

void proto_unlock_ok_done(proto_unlock_ok *ok)
{
    if (!ok)
        return;
    free_fields(ok, unlock_ok_fields, ELEMENTSOF(unlock_ok_fields));
}

json_object *proto_unlock_ok_encode(const proto_unlock_ok *m)
{
    json_object *o = json_object_new_object(), *p = json_object_new_object();
    int r = (o && p) ? 0 : -ENOMEM;
    if (r >= 0)
        r = encode_fields(o, m, unlock_ok_fields, ELEMENTSOF(unlock_ok_fields));
    if (r >= 0)
        r = encode_fields(p, m, unlock_ok_policy, ELEMENTSOF(unlock_ok_policy));
    if (r >= 0)
        r = add_owned(o, "policy", &p);
    if (r >= 0)
        r = add_int(o, "audit_seq", m->audit_seq);
    json_object_put(p);
    return finish(o, r);
}

int proto_unlock_ok_decode(json_object *j, proto_unlock_ok *ret, bg_err *err)
{
    json_object *p;
    int r;
    memset(ret, 0, sizeof(*ret));
    r = decode_fields(j, ret, unlock_ok_fields, ELEMENTSOF(unlock_ok_fields), err);
    if (r >= 0)
        r = get_field(j, "policy", json_type_object, false, &p, err);
    if (r >= 0)
        r = decode_fields(p, ret, unlock_ok_policy, ELEMENTSOF(unlock_ok_policy), err);
    if (r >= 0)
        r = get_int(j, "audit_seq", &ret->audit_seq, err);
    if (r < 0)
        proto_unlock_ok_done(ret);
    return r;
}

void proto_unlock_denied_done(proto_unlock_denied *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_explanation; i++)
        free(d->explanation[i]);
    free(d->explanation);
    d->explanation = NULL;
    d->n_explanation = 0;
}

json_object *proto_unlock_denied_encode(const proto_unlock_denied *m)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    int r = (o && a) ? 0 : -ENOMEM;
    if (r >= 0)
        r = add_str(o, "verdict", m->verdict);
    for (size_t i = 0; r >= 0 && i < m->n_explanation; i++)
        r = json_object_array_add(a, json_object_new_string(m->explanation[i])) < 0 ? -ENOMEM : 0;
    if (r >= 0)
        r = add_owned(o, "explanation", &a);
    if (r >= 0)
        r = add_str(o, "breakglass_code", m->breakglass_code);
    if (r >= 0)
        r = add_int(o, "audit_seq", m->audit_seq);
    json_object_put(a);
    return finish(o, r);
}

int proto_unlock_denied_decode(json_object *j, proto_unlock_denied *ret, bg_err *err)
{
    json_object *a;
    size_t n;
    int r;
    memset(ret, 0, sizeof(*ret));
    r = get_string(j, "verdict", ret->verdict, sizeof(ret->verdict), false, err);
    if (r >= 0)
        r = get_field(j, "explanation", json_type_array, false, &a, err);
    if (r < 0)
        return r;
    n = json_object_array_length(a);
    if (n > PROTO_MAX_EXPLANATIONS)
        return bg_err_set(err, -EBADMSG, "explanation has more than %u lines",
                          PROTO_MAX_EXPLANATIONS);
    if (n > 0) {
        ret->explanation = calloc(n, sizeof(char *));
        if (!ret->explanation)
            return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(a, i);
        if (!json_object_is_type(s, json_type_string)) {
            proto_unlock_denied_done(ret);
            return bg_err_set(err, -EBADMSG, "explanation[%zu] is not a string", i);
        }
        /* lines for the console: the same rule as every other string field */
        r = proto_check_string("explanation", json_object_get_string(s),
                               (size_t)json_object_get_string_len(s), err);
        if (r < 0) {
            proto_unlock_denied_done(ret);
            return r;
        }
        ret->explanation[i] = strdup(json_object_get_string(s));
        if (!ret->explanation[i]) {
            proto_unlock_denied_done(ret);
            return -ENOMEM;
        }
        ret->n_explanation = i + 1;
    }
    r = get_string(j, "breakglass_code", ret->breakglass_code, sizeof(ret->breakglass_code), true,
                   err);
    if (r >= 0 && json_object_object_get_ex(j, "audit_seq", NULL))
        r = get_int(j, "audit_seq", &ret->audit_seq, err);
    if (r < 0)
        proto_unlock_denied_done(ret);
    return r;
}

/* ---- enroll ---- */

/* before "volumes" */
static const field enroll_req_fields[] = {
    FIELD_STR(proto_enroll_req, hostname, "hostname", true),
    FIELD_STR(proto_enroll_req, group, "group", false),
    FIELD_B64(proto_enroll_req, ek_public, "ek_public", PROTO_MAX_TPM_BLOB, false),
    FIELD_B64(proto_enroll_req, ek_cert, "ek_cert", PROTO_MAX_CERT, true),
    FIELD_B64(proto_enroll_req, ak_public, "ak_public", PROTO_MAX_TPM_BLOB, false),
};

void proto_enroll_req_done(proto_enroll_req *req)
{
    if (!req)
        return;
    free_fields(req, enroll_req_fields, ELEMENTSOF(enroll_req_fields));
    for (size_t i = 0; i < req->n_volumes; i++) {
        secmem_free(req->volumes[i].key);
        req->volumes[i].key = NULL;
    }
    req->n_volumes = 0;
}

json_object *proto_enroll_req_encode(const proto_enroll_req *m)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    int r = (o && a) ? 0 : -ENOMEM;
    if (r >= 0)
        r = encode_fields(o, m, enroll_req_fields, ELEMENTSOF(enroll_req_fields));
    for (size_t i = 0; r >= 0 && i < m->n_volumes; i++) {
        json_object *v = json_object_new_object();
        if (!v || json_object_array_add(a, v) < 0) {
            json_object_put(v);
            r = -ENOMEM;
            break;
        }
        r = add_str(v, "uuid", m->volumes[i].uuid);
        if (r >= 0)
            r = add_b64(v, "key", m->volumes[i].key, m->volumes[i].key_size);
    }
    if (r >= 0)
        r = add_owned(o, "volumes", &a);
    json_object_put(a);
    return finish(o, r);
}

int proto_enroll_req_decode(json_object *j, proto_enroll_req *ret, bg_err *err)
{
    json_object *a;
    size_t n;
    int r;
    memset(ret, 0, sizeof(*ret));
    r = decode_fields(j, ret, enroll_req_fields, ELEMENTSOF(enroll_req_fields), err);
    if (r >= 0)
        r = get_field(j, "volumes", json_type_array, false, &a, err);
    if (r < 0)
        goto fail;
    n = json_object_array_length(a);
    if (n > PROTO_MAX_VOLUMES) {
        r = bg_err_set(err, -EBADMSG, "more than %u volumes", PROTO_MAX_VOLUMES);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        proto_volume *vol = &ret->volumes[i];
        _cleanup_(proto_bytes_free) proto_bytes key = {0};
        bg_err sub = {0};
        r = get_string(v, "uuid", vol->uuid, sizeof(vol->uuid), false, &sub);
        if (r >= 0)
            r = get_b64(v, "key", PROTO_MAX_VOLUME_KEY, false, &key, &sub);
        if (r < 0) {
            r = bg_err_set(err, -EBADMSG, "volumes[%zu]: %s", i, bg_err_msg(&sub));
            goto fail;
        }
        vol->key = secmem_alloc(key.size);
        if (!vol->key) {
            secmem_wipe(key.data, key.size);
            r = -ENOMEM;
            goto fail;
        }
        memcpy(vol->key, key.data, key.size);
        vol->key_size = key.size;
        secmem_wipe(key.data, key.size);
        ret->n_volumes = i + 1;
    }
    return 0;
fail:
    proto_enroll_req_done(ret);
    return r;
}

static const field enroll_resp_fields[] = {
    FIELD_STR(proto_enroll_resp, node_id, "node_id", false),
    FIELD_STR(proto_enroll_resp, ek_fingerprint, "ek_fingerprint", false),
    FIELD_STR(proto_enroll_resp, state, "state", false),
    FIELD_B64(proto_enroll_resp, credential_blob, "credential_blob", PROTO_MAX_TPM_BLOB, false),
    FIELD_B64(proto_enroll_resp, encrypted_secret, "encrypted_secret", PROTO_MAX_TPM_BLOB, false),
};

void proto_enroll_resp_done(proto_enroll_resp *resp)
{
    if (!resp)
        return;
    free_fields(resp, enroll_resp_fields, ELEMENTSOF(enroll_resp_fields));
}

json_object *proto_enroll_resp_encode(const proto_enroll_resp *m)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    return finish(o, encode_fields(o, m, enroll_resp_fields, ELEMENTSOF(enroll_resp_fields)));
}

int proto_enroll_resp_decode(json_object *j, proto_enroll_resp *ret, bg_err *err)
{
    int r;
    memset(ret, 0, sizeof(*ret));
    r = decode_fields(j, ret, enroll_resp_fields, ELEMENTSOF(enroll_resp_fields), err);
    if (r < 0)
        proto_enroll_resp_done(ret);
    return r;
}

json_object *proto_activate_req_encode(const proto_activate_req *m)
{
    json_object *o = json_object_new_object();
    int r = o ? 0 : -ENOMEM;
    if (r >= 0)
        r = add_str(o, "node_id", m->node_id);
    if (r >= 0)
        r = add_b64(o, "secret", m->secret, m->secret_size);
    return finish(o, r);
}

int proto_activate_req_decode(json_object *j, proto_activate_req *ret, bg_err *err)
{
    int r;
    memset(ret, 0, sizeof(*ret));
    r = get_string(j, "node_id", ret->node_id, sizeof(ret->node_id), false, err);
    if (r >= 0)
        r = get_b64_fixed(j, "secret", ret->secret, sizeof(ret->secret), &ret->secret_size, err);
    return r;
}

static const field activate_resp_fields[] = {
    FIELD_STR(proto_activate_resp, node_id, "node_id", false),
    FIELD_STR(proto_activate_resp, state, "state", false),
    FIELD_STR(proto_activate_resp, ek_fingerprint, "ek_fingerprint", false),
};

json_object *proto_activate_resp_encode(const proto_activate_resp *m)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    return finish(o, encode_fields(o, m, activate_resp_fields, ELEMENTSOF(activate_resp_fields)));
}

int proto_activate_resp_decode(json_object *j, proto_activate_resp *ret, bg_err *err)
{
    memset(ret, 0, sizeof(*ret));
    return decode_fields(j, ret, activate_resp_fields, ELEMENTSOF(activate_resp_fields), err);
}

json_object *proto_error_encode(const char *error, const char *reason)
{
    json_object *o = json_object_new_object();
    int r = o ? 0 : -ENOMEM;
    if (r >= 0)
        r = add_str(o, "error", error);
    if (r >= 0 && reason)
        r = add_str(o, "reason", reason);
    return finish(o, r);
}

/* The tokener keeps the last string it parsed (an enrollment's volume key,
 * base64) in its printbuf; json_tokener_free does not wipe it. */
static void tokener_free_wiped(struct json_tokener *tok)
{
    if (tok->pb && tok->pb->buf && tok->pb->size > 0)
        secmem_wipe(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
}

/* Object members as written: the ':' outside strings (the text is valid
 * JSON already, where ':' appears only between a key and its value). */
static size_t members_written(const char *buf, size_t size)
{
    size_t n = 0;
    bool in_string = false;
    for (size_t i = 0; i < size; i++) {
        if (in_string) {
            if (buf[i] == '\\')
                i++;
            else if (buf[i] == '"')
                in_string = false;
        } else if (buf[i] == '"') {
            in_string = true;
        } else if (buf[i] == ':') {
            n++;
        }
    }
    return n;
}

/* Object members as parsed (json-c keeps the last of duplicate keys). The
 * tokener's depth limit bounds the recursion. */
static size_t members_parsed(json_object *j)
{
    size_t n = 0;
    if (json_object_is_type(j, json_type_object)) {
        json_object_object_foreach(j, k, v)
        {
            (void)k;
            n += 1 + members_parsed(v);
        }
    } else if (json_object_is_type(j, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(j); i++)
            n += members_parsed(json_object_array_get_idx(j, i));
    }
    return n;
}

int proto_parse_body(const char *buf, size_t size, json_object **ret, bg_err *err)
{
    struct json_tokener *tok;
    json_object *j;
    size_t used;

    if (size == 0)
        return bg_err_set(err, -EBADMSG, "empty body");
    if (size > PROTO_MAX_BODY || size > INT32_MAX)
        return bg_err_set(err, -EMSGSIZE, "body larger than %u bytes", PROTO_MAX_BODY);
    tok = json_tokener_new_ex(32);
    if (!tok)
        return -ENOMEM;
    j = json_tokener_parse_ex(tok, buf, (int)size);
    if (!j) {
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t off = json_tokener_get_parse_end(tok);
        tokener_free_wiped(tok);
        return bg_err_set(err, -EBADMSG, "offset %zu: invalid JSON: %s", off,
                          e == json_tokener_continue ? "truncated" : json_tokener_error_desc(e));
    }
    used = json_tokener_get_parse_end(tok);
    tokener_free_wiped(tok);
    while (used < size &&
           (buf[used] == ' ' || buf[used] == '\n' || buf[used] == '\r' || buf[used] == '\t'))
        used++;
    if (used != size) {
        json_object_put(j);
        return bg_err_set(err, -EBADMSG, "offset %zu: trailing data after JSON", used);
    }
    if (!json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return bg_err_set(err, -EBADMSG, "body is not a JSON object");
    }
    /* a key given twice means what the last one says to json-c and may mean
     * the first to whatever else reads the same bytes (a proxy, a log) */
    if (members_written(buf, size) != members_parsed(j)) {
        secjson_putp(&j);
        return bg_err_set(err, -EBADMSG, "duplicate key in a JSON object");
    }
    *ret = j;
    return 0;
}

/* ---- release crypto ---- */

int proto_aead_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_size, const uint8_t *pt,
                    size_t pt_size, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *out = NULL;
    size_t total;
    int len, r = -EIO;

    if (pt_size > INT32_MAX || aad_size > INT32_MAX ||
        __builtin_add_overflow(pt_size, PROTO_WRAP_IV_SIZE + PROTO_WRAP_TAG_SIZE, &total))
        return bg_err_set(err, -EINVAL, "plaintext too large");
    out = malloc(total);
    ctx = EVP_CIPHER_CTX_new();
    if (!out || !ctx) {
        r = -ENOMEM;
        goto out;
    }
    if (RAND_bytes(out, PROTO_WRAP_IV_SIZE) != 1) {
        r = bg_err_set(err, -EIO, "no random bytes for the IV");
        goto out;
    }
    if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, out, NULL) != 1 ||
        (aad_size > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_size) != 1) ||
        EVP_EncryptUpdate(ctx, out + PROTO_WRAP_IV_SIZE, &len, pt, (int)pt_size) != 1 ||
        EVP_EncryptFinal_ex(ctx, out + PROTO_WRAP_IV_SIZE + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PROTO_WRAP_TAG_SIZE,
                            out + PROTO_WRAP_IV_SIZE + pt_size) != 1) {
        r = bg_err_set(err, -EIO, "AES-256-GCM encryption failed");
        goto out;
    }
    *ret = TAKE_PTR(out);
    *ret_size = total;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    free(out);
    return r;
}

int proto_aead_open(const uint8_t key[32], const uint8_t *aad, size_t aad_size, const uint8_t *in,
                    size_t in_size, uint8_t **ret_pt, size_t *ret_pt_size, bg_err *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *pt = NULL, tag[PROTO_WRAP_TAG_SIZE];
    size_t pt_size;
    int len, r = -EIO;

    if (in_size < PROTO_WRAP_IV_SIZE + PROTO_WRAP_TAG_SIZE + 1 || in_size > INT32_MAX ||
        aad_size > INT32_MAX)
        return bg_err_set(err, -EBADMSG, "wrapped key has a bad size (%zu bytes)", in_size);
    pt_size = in_size - PROTO_WRAP_IV_SIZE - PROTO_WRAP_TAG_SIZE;
    memcpy(tag, in + in_size - PROTO_WRAP_TAG_SIZE, sizeof(tag));
    pt = secmem_alloc(pt_size);
    ctx = EVP_CIPHER_CTX_new();
    if (!pt || !ctx) {
        r = -ENOMEM;
        goto out;
    }
    if (EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, in, NULL) != 1 ||
        (aad_size > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_size) != 1) ||
        EVP_DecryptUpdate(ctx, pt, &len, in + PROTO_WRAP_IV_SIZE, (int)pt_size) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1) {
        r = bg_err_set(err, -EIO, "AES-256-GCM decryption failed");
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, pt + len, &len) != 1) {
        r = bg_err_set(err, -EBADMSG, "authentication tag does not verify");
        goto out;
    }
    *ret_pt = TAKE_PTR(pt);
    *ret_pt_size = pt_size;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    secmem_free(pt);
    return r;
}

static int wrap_derive(const uint8_t seed[PROTO_SEED_SIZE], const uint8_t *nonce, size_t nonce_size,
                       uint8_t k[32], bg_err *err)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5], *p = params;
    int r = 0;

    EVP_KDF_free(kdf);
    if (!ctx)
        return bg_err_set(err, -EIO, "HKDF is not available");
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)seed, PROTO_SEED_SIZE);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)nonce, nonce_size);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)PROTO_WRAP_INFO,
                                             strlen(PROTO_WRAP_INFO));
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, k, 32, params) != 1)
        r = bg_err_set(err, -EIO, "HKDF-SHA256 failed");
    EVP_KDF_CTX_free(ctx);
    return r;
}

/* The release key of (seed, nonce) sealing or opening in with the AAD
 * "node_id|volume_uuid", which binds a wrapped key to its node and volume. */
static int wrap_run(bool seal, const uint8_t seed[PROTO_SEED_SIZE], const uint8_t *nonce,
                    size_t nonce_size, const char *node_id, const char *volume_uuid,
                    const uint8_t *in, size_t in_size, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    uint8_t k[32];
    _cleanup_(freep) char *aad = NULL;
    int n = asprintf(&aad, "%s|%s", node_id, volume_uuid), r;

    if (n < 0) {
        aad = NULL;
        return -ENOMEM;
    }
    r = wrap_derive(seed, nonce, nonce_size, k, err);
    if (r >= 0 && seal)
        r = proto_aead_seal(k, (const uint8_t *)aad, (size_t)n, in, in_size, ret, ret_size, err);
    else if (r >= 0)
        r = proto_aead_open(k, (const uint8_t *)aad, (size_t)n, in, in_size, ret, ret_size, err);
    secmem_wipe(k, sizeof(k));
    return r;
}

int proto_wrap_key(const uint8_t seed[PROTO_SEED_SIZE], const uint8_t *nonce, size_t nonce_size,
                   const char *node_id, const char *volume_uuid, const uint8_t *key,
                   size_t key_size, uint8_t **ret_wrapped, size_t *ret_wrapped_size, bg_err *err)
{
    if (key_size == 0 || key_size > PROTO_MAX_VOLUME_KEY)
        return bg_err_set(err, -EINVAL, "volume key has a bad size (%zu bytes)", key_size);
    return wrap_run(true, seed, nonce, nonce_size, node_id, volume_uuid, key, key_size, ret_wrapped,
                    ret_wrapped_size, err);
}

int proto_unwrap_key(const uint8_t seed[PROTO_SEED_SIZE], const uint8_t *nonce, size_t nonce_size,
                     const char *node_id, const char *volume_uuid, const uint8_t *wrapped,
                     size_t wrapped_size, uint8_t **ret_key, size_t *ret_key_size, bg_err *err)
{
    return wrap_run(false, seed, nonce, nonce_size, node_id, volume_uuid, wrapped, wrapped_size,
                    ret_key, ret_key_size, err);
}
