/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Wire messages between bootgate-unlock and bootgated (DESIGN §1, §2) and the
 * release crypto both sides share.
 *
 * All bodies are JSON objects (json-c). Binary fields are standard base64
 * with padding; PCR values are lowercase hex. Every decoder treats its input
 * as untrusted: it rejects missing or mistyped fields, unknown sizes, and
 * anything larger than the PROTO_MAX_* caps, with a message naming the field.
 *
 *   POST /v1/challenge        proto_challenge_req  -> proto_challenge_resp
 *   POST /v1/unlock           proto_unlock_req     -> 200 proto_unlock_ok
 *                                                  -> 403 proto_unlock_denied
 *   POST /v1/enroll           proto_enroll_req     -> proto_enroll_resp
 *   POST /v1/enroll/activate  proto_activate_req   -> proto_activate_resp
 *
 * Errors other than a policy denial are {"error": "...", "reason": "..."}
 * with 4xx/5xx (proto_error_encode). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "bgerr.h"
#include "cleanup.h"
#include "tpmalg.h"

/* Hard caps on decoded fields. */
#define PROTO_MAX_BODY         (16u << 20) /* whole request body (event log + IMA log) */
#define PROTO_MAX_ID           128u        /* node_id, volume uuid, group, names */
#define PROTO_MAX_TPM_BLOB     4096u /* TPM2B_PUBLIC, TPMS_ATTEST, TPMT_SIGNATURE, credential */
#define PROTO_MAX_TPM_NAME     68u   /* TPM2B_NAME contents: nameAlg (2) + digest */
#define PROTO_MAX_CERT         (16u << 10) /* EK certificate (DER) */
#define PROTO_MAX_EVENTLOG     (8u << 20)
#define PROTO_MAX_IMALOG       (8u << 20)
#define PROTO_MAX_VOLUMES      16u
#define PROTO_MAX_VOLUME_KEY   128u /* LUKS2 volume keys are at most 64 bytes; headroom */
#define PROTO_MAX_EXPLANATIONS 256u

/* nonce = rand8 | expiry8 (u64 BE unix seconds) | HMAC-SHA256(...)[0..16) */
#define PROTO_NONCE_SIZE 32u
#define PROTO_SEED_SIZE  32u /* MakeCredential seed for the volume key */

/* The quoted PCR set of this protocol version: sha256, PCRs 0..11. */
#define PROTO_PCR_ALG   TPMALG_SHA256
#define PROTO_PCR_COUNT 12u

/* A decoded byte string (malloc'd). */
typedef struct proto_bytes {
    uint8_t *data;
    size_t size;
} proto_bytes;

void proto_bytes_free(proto_bytes *b);

static inline void json_object_putp(json_object **j)
{
    if (*j)
        json_object_put(*j);
}

/* POST /v1/challenge {"node_id": "..."} */
typedef struct proto_challenge_req {
    char node_id[PROTO_MAX_ID + 1];
} proto_challenge_req;

/* {"nonce": b64(32 bytes), "expires": unix seconds} */
typedef struct proto_challenge_resp {
    uint8_t nonce[PROTO_NONCE_SIZE];
    uint64_t expires;
} proto_challenge_resp;

/* POST /v1/unlock
 * {"node_id", "volume_uuid", "nonce": b64, "ak_public": b64(TPM2B_PUBLIC),
 *  "attest": b64(TPMS_ATTEST), "signature": b64(TPMT_SIGNATURE),
 *  "pcr_bank": "sha256", "pcrs": {"0": hex, ..., "11": hex},
 *  "event_log": b64 (binary_bios_measurements), "ima_log": b64 (optional)} */
typedef struct proto_unlock_req {
    char node_id[PROTO_MAX_ID + 1];
    char volume_uuid[PROTO_MAX_ID + 1];
    uint8_t nonce[PROTO_NONCE_SIZE];
    size_t nonce_size; /* as sent; the server rejects anything but 32 */
    proto_bytes ak_public;
    proto_bytes attest;
    proto_bytes signature;
    pcr_bank pcrs; /* alg sha256; mask = the PCRs the client sent */
    proto_bytes event_log;
    proto_bytes ima_log; /* size 0 when absent */
} proto_unlock_req;

void proto_unlock_req_done(proto_unlock_req *req);

/* 200 {"credential_blob": b64(TPM2B_ID_OBJECT), "encrypted_secret": b64(TPM2B_ENCRYPTED_SECRET),
 *      "wrapped_key": b64(iv12|ciphertext|tag16), "policy": {"name","version","mode"},
 *      "audit_seq": n} */
typedef struct proto_unlock_ok {
    proto_bytes credential_blob;
    proto_bytes encrypted_secret;
    proto_bytes wrapped_key;
    /* Name of the enrolled EK, the one MakeCredential used. The client salts
     * the session that carries the seed out of ActivateCredential to the EK its
     * TPM showed it; it checks first that this is the same key, so that nobody
     * answering in the TPM's place on the bus gets the salt (and the seed). */
    proto_bytes ek_name;
    char policy_name[PROTO_MAX_ID + 1];
    int64_t policy_version;
    char policy_mode[16];
    int64_t audit_seq;
} proto_unlock_ok;

void proto_unlock_ok_done(proto_unlock_ok *ok);

/* 403 {"verdict": "...", "explanation": ["...", ...], "breakglass_code": "BG-XXXX-XXXX",
 *      "audit_seq": n} */
typedef struct proto_unlock_denied {
    char verdict[64];
    size_t n_explanation;
    char **explanation;
    char breakglass_code[16];
    int64_t audit_seq;
} proto_unlock_denied;

void proto_unlock_denied_done(proto_unlock_denied *d);

typedef struct proto_volume {
    char uuid[PROTO_MAX_ID + 1];
    uint8_t *key; /* secmem */
    size_t key_size;
} proto_volume;

/* POST /v1/enroll (role enroller)
 * {"hostname": "...", "group": "web", "ek_public": b64(TPM2B_PUBLIC),
 *  "ek_cert": b64(DER, optional), "ak_public": b64(TPM2B_PUBLIC),
 *  "volumes": [{"uuid": "...", "key": b64}]} */
typedef struct proto_enroll_req {
    char hostname[PROTO_MAX_ID + 1];
    char group[PROTO_MAX_ID + 1];
    proto_bytes ek_public;
    proto_bytes ek_cert; /* size 0 when absent */
    proto_bytes ak_public;
    size_t n_volumes;
    proto_volume volumes[PROTO_MAX_VOLUMES];
} proto_enroll_req;

void proto_enroll_req_done(proto_enroll_req *req);

/* {"node_id", "ek_fingerprint": hex sha256, "state": "activating",
 *  "credential_blob": b64, "encrypted_secret": b64} */
typedef struct proto_enroll_resp {
    char node_id[PROTO_MAX_ID + 1];
    char ek_fingerprint[65];
    char state[16];
    proto_bytes credential_blob;
    proto_bytes encrypted_secret;
} proto_enroll_resp;

void proto_enroll_resp_done(proto_enroll_resp *r);

/* POST /v1/enroll/activate {"node_id", "secret": b64(32 bytes from ActivateCredential)} */
typedef struct proto_activate_req {
    char node_id[PROTO_MAX_ID + 1];
    uint8_t secret[PROTO_SEED_SIZE];
    size_t secret_size;
} proto_activate_req;

/* {"node_id", "state": "active" | "pending", "ek_fingerprint"} — pending means
 * no EK certificate chain: an operator runs `bootgatectl node approve`. */
typedef struct proto_activate_resp {
    char node_id[PROTO_MAX_ID + 1];
    char state[16];
    char ek_fingerprint[65];
} proto_activate_resp;

/* Each encoder returns a new json_object (NULL on ENOMEM); each decoder
 * fills *ret from a parsed JSON object and returns 0 or -EBADMSG/-ENOMEM. */
json_object *proto_challenge_req_encode(const proto_challenge_req *m);
int proto_challenge_req_decode(json_object *j, proto_challenge_req *ret, bg_err *err);
json_object *proto_challenge_resp_encode(const proto_challenge_resp *m);
int proto_challenge_resp_decode(json_object *j, proto_challenge_resp *ret, bg_err *err);

json_object *proto_unlock_req_encode(const proto_unlock_req *m);
int proto_unlock_req_decode(json_object *j, proto_unlock_req *ret, bg_err *err);
json_object *proto_unlock_ok_encode(const proto_unlock_ok *m);
int proto_unlock_ok_decode(json_object *j, proto_unlock_ok *ret, bg_err *err);
json_object *proto_unlock_denied_encode(const proto_unlock_denied *m);
int proto_unlock_denied_decode(json_object *j, proto_unlock_denied *ret, bg_err *err);

json_object *proto_enroll_req_encode(const proto_enroll_req *m);
int proto_enroll_req_decode(json_object *j, proto_enroll_req *ret, bg_err *err);
json_object *proto_enroll_resp_encode(const proto_enroll_resp *m);
int proto_enroll_resp_decode(json_object *j, proto_enroll_resp *ret, bg_err *err);
json_object *proto_activate_req_encode(const proto_activate_req *m);
int proto_activate_req_decode(json_object *j, proto_activate_req *ret, bg_err *err);
json_object *proto_activate_resp_encode(const proto_activate_resp *m);
int proto_activate_resp_decode(json_object *j, proto_activate_resp *ret, bg_err *err);

/* {"error": error, "reason": reason} */
json_object *proto_error_encode(const char *error, const char *reason);

/* A string from the wire (len bytes, not counting a terminating NUL): 0 when
 * it is well-formed UTF-8 without NUL or control characters (C0, DEL, C1);
 * -EBADMSG naming the field and the byte offset otherwise. Every string field
 * the decoders accept passed it, so that nothing stored, audited or served
 * back as JSON carries bytes that are not text. */
int proto_check_string(const char *name, const char *s, size_t len, bg_err *err);

/* Parses a body of at most PROTO_MAX_BODY bytes; it must be one JSON object
 * and nothing else. */
int proto_parse_body(const char *buf, size_t size, json_object **ret, bg_err *err);

/* Release crypto (DESIGN §1 step i):
 *   k       = HKDF-SHA256(ikm = seed32, salt = nonce, info = "bootgate-volume-key-v1"), 32 bytes
 *   wrapped = iv(12, random) | AES-256-GCM(k, key, aad = node_id "|" volume_uuid) | tag(16)
 * proto_wrap_key allocates *ret_wrapped (malloc; ciphertext of a secret is not secret);
 * proto_unwrap_key allocates *ret_key in secmem. -EBADMSG when the tag does not verify. */
#define PROTO_WRAP_INFO     "bootgate-volume-key-v1"
#define PROTO_WRAP_IV_SIZE  12u
#define PROTO_WRAP_TAG_SIZE 16u

int proto_wrap_key(const uint8_t seed[PROTO_SEED_SIZE], const uint8_t *nonce, size_t nonce_size,
                   const char *node_id, const char *volume_uuid, const uint8_t *key,
                   size_t key_size, uint8_t **ret_wrapped, size_t *ret_wrapped_size, bg_err *err);
int proto_unwrap_key(const uint8_t seed[PROTO_SEED_SIZE], const uint8_t *nonce, size_t nonce_size,
                     const char *node_id, const char *volume_uuid, const uint8_t *wrapped,
                     size_t wrapped_size, uint8_t **ret_key, size_t *ret_key_size, bg_err *err);

/* Shared AES-256-GCM helpers (also used for the KEK at rest):
 * out = iv12 | ct | tag16 (malloc'd); open returns plaintext in secmem. */
int proto_aead_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_size, const uint8_t *pt,
                    size_t pt_size, uint8_t **ret, size_t *ret_size, bg_err *err);
int proto_aead_open(const uint8_t key[32], const uint8_t *aad, size_t aad_size, const uint8_t *in,
                    size_t in_size, uint8_t **ret_pt, size_t *ret_pt_size, bg_err *err);
