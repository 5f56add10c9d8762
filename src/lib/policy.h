/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Boot policies (DESIGN.md section 3): parse, canonical form, Ed25519
 * signatures, evaluation against quoted PCRs + event log + IMA log.
 *
 * Parsing is strict: unknown keys are rejected, types and sizes checked, and
 * every error names the JSON path ("baselines[0].pcrs.4: not 64 hex digits").
 *
 * Canonical form (the exact bytes that are signed, and what the server stores):
 * RFC 8785 (JCS) restricted to documents without fractional numbers, i.e.
 *   - object members sorted by key, bytewise (all policy keys are ASCII),
 *   - no whitespace at all,
 *   - integers in plain decimal, true/false/null,
 *   - strings in UTF-8, escaping only '"', '\\' and control characters:
 *     \b \f \n \r \t, other bytes < 0x20 as \u00xx (lowercase hex);
 *     '/' and non-ASCII are written as they are.
 * It is computed from the parsed document, so whitespace, key order and
 * escapes of the file do not matter, and a duplicated key cannot make signer
 * and verifier read different documents (json-c keeps the last one; so does
 * the canonical form).
 *
 * Signature: Ed25519 (RFC 8032, pure) over POLICY_SIG_CONTEXT || canonical.
 * The context string separates policy signatures from break-glass grant
 * signatures made with the same kind of key. A signature file holds the 64
 * signature bytes in base64 and a newline (a raw 64-byte file is accepted
 * too). Trusted signers are PEM public keys "<dir>/<name>.pub"; the signer is
 * reported by <name> and the SHA-256 of its raw 32-byte public key. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "bgerr.h"
#include "eventlog.h"
#include "ima.h"
#include "tpmalg.h"
#include "verdict.h"
#include "verify.h"

#define POLICY_MAX_SIZE          (4u << 20) /* bytes of JSON */
#define POLICY_MAX_BASELINES     64u
#define POLICY_MAX_EVENTS        1024u /* per baseline */
#define POLICY_MAX_RULES         256u
#define POLICY_MAX_RULE_DIGESTS  64u
#define POLICY_MAX_IMA_ALLOW     100000u
#define POLICY_MAX_IMA_IGNORE    64u
#define POLICY_MAX_NAME          128u /* policy and baseline names */
#define POLICY_MAX_DESC          512u
#define POLICY_MAX_REGEX         256u
#define POLICY_MAX_SIGNERS       64u
#define POLICY_DIGEST_SIZE       32u /* the policy bank is sha256 */
#define POLICY_SIG_SIZE          64u
#define POLICY_SIG_CONTEXT       "bootgate-policy-v1\n"
#define POLICY_DEFAULT_GATE_MASK 0xBFFu /* PCRs 0-9 and 11 */

typedef enum policy_mode {
    POLICY_MODE_ENFORCE,
    POLICY_MODE_AUDIT, /* evaluate and record, release anyway */
} policy_mode;

typedef struct policy_event {
    uint32_t pcr;
    uint32_t type;
    char *desc; /* informational (from eventlog_event_describe), may be NULL */
    uint8_t digest[POLICY_DIGEST_SIZE];
} policy_event;

typedef struct policy_baseline {
    char *name;
    uint32_t pcr_mask; /* PCRs that have a value in "pcrs" */
    uint8_t pcrs[PCR_COUNT][POLICY_DIGEST_SIZE];
    size_t n_events;
    policy_event *events; /* in log order */
} policy_baseline;

typedef struct policy_rule {
    uint32_t pcr;
    uint32_t type;
    char *desc; /* NULL = any; else must occur in the event's description */
    size_t n_digests;
    uint8_t (*digests)[POLICY_DIGEST_SIZE];
} policy_rule;

typedef struct policy_ima_digest {
    uint16_t alg; /* TPMALG_* */
    uint16_t size;
    uint8_t bytes[TPMALG_MAX_DIGEST];
} policy_ima_digest;

typedef struct policy_ima {
    size_t n_allow;
    policy_ima_digest *allow; /* sorted for bsearch */
    size_t n_ignore;
    char **ignore_src;
    void *ignore_re; /* regex_t[n_ignore], POSIX extended, no sub-matches */
} policy_ima;

typedef struct policy {
    char *name;
    uint64_t version; /* >= 1 */
    policy_mode mode;
    uint32_t gate_mask; /* bit i: PCR i is gated; 10 only with an ima section */
    size_t n_baselines;
    policy_baseline *baselines;
    size_t n_rules;
    policy_rule *rules;
    policy_ima *ima; /* NULL when the policy has no "ima" section */
    bool has_not_after;
    time_t not_after; /* valid while now < not_after */
    char *not_after_str;
    struct json_object *doc; /* the validated document (a reference is held) */
    /* The canonical bytes (see above); NUL-terminated, size excludes the NUL. */
    char *canonical;
    size_t canonical_size;
} policy;

/* Parses and validates a policy document. */
int policy_parse(const char *json, size_t size, policy **ret, bg_err *err);
/* A policy or baseline name: 1..POLICY_MAX_NAME of letters, digits and . _ - + : @
 * (safe in an admin API path, too). */
bool policy_name_ok(const char *s);
/* Validates an already parsed json-c object (the server gets it inside a request). */
int policy_from_json(struct json_object *obj, policy **ret, bg_err *err);
int policy_load(const char *path, policy **ret, bg_err *err);
void policy_free(policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(policy *, policy_free)

/* Canonical serialization of any json-c value (see the header comment).
 * Fails with -EINVAL on a double (policies contain integers only). The result
 * is malloc'd and NUL-terminated. */
int policy_canonicalize(struct json_object *obj, char **ret, size_t *ret_size, bg_err *err);

/* Signatures ------------------------------------------------------------ */

typedef struct policy_signer {
    char name[256];       /* file name without ".pub" */
    char fingerprint[65]; /* hex SHA-256 of the raw 32-byte public key */
} policy_signer;

/* Signs p->canonical with an Ed25519 private key (PEM, PKCS#8). */
int policy_sign(const policy *p, const char *key_path, uint8_t ret_sig[POLICY_SIG_SIZE],
                bg_err *err);
/* Reads a signature file (base64 text or 64 raw bytes). */
int policy_signature_read(const char *path, uint8_t ret_sig[POLICY_SIG_SIZE], bg_err *err);
int policy_signature_decode(const uint8_t *buf, size_t size, uint8_t ret_sig[POLICY_SIG_SIZE],
                            bg_err *err);
/* base64 + "\n", malloc'd */
char *policy_signature_encode(const uint8_t sig[POLICY_SIG_SIZE]);
/* Verifies against every "*.pub" in signers_dir (files in name order).
 * Returns 0 and fills ret_signer (may be NULL) on the first key that verifies;
 * -EPERM when none does (-ENOENT when the directory holds no key). */
int policy_verify(const policy *p, const uint8_t sig[POLICY_SIG_SIZE], const char *signers_dir,
                  policy_signer *ret_signer, bg_err *err);
/* Same check over canonical bytes already at hand (the server's store). */
int policy_verify_canonical(const char *canonical, size_t size, const uint8_t sig[POLICY_SIG_SIZE],
                            const char *signers_dir, policy_signer *ret_signer, bg_err *err);

/* For bootgated's upload route: parses the policy text (exactly as sent),
 * decodes the base64 signature and verifies it against signers_dir.
 * -EINVAL (bad policy, message names the JSON path), -EBADMSG (bad signature
 * encoding), -EPERM (no trusted signer), -ENOENT (no signer keys). ret may be NULL. */
int policy_check_upload(const char *json, size_t size, const char *sig_b64, const char *signers_dir,
                        policy **ret, policy_signer *ret_signer, bg_err *err);

/* Evaluation ------------------------------------------------------------- */

typedef enum policy_verdict {
    POLICY_PASS,
    POLICY_FAIL,     /* the boot state is not allowed */
    POLICY_EXPIRED,  /* now >= not_after */
    POLICY_EVIDENCE, /* the evidence lacks what the policy checks (no IMA log):
                      * a failure of evidence, never of policy (DESIGN 1.f) */
    POLICY_INVALID,  /* the policy gates PCRs the evidence does not cover */
} policy_verdict;

struct explanation; /* explain.h */

typedef struct policy_result {
    policy_verdict verdict;
    bg_verdict code; /* the same outcome in the verdict table (verdict.h) */
    policy_mode mode;
    /* true when the key may be released: PASS, or audit mode and the
     * verdict is FAIL/EXPIRED (never for EVIDENCE or INVALID). */
    bool release;
    char reason[256];                  /* one line, e.g. "PCR 4, 9 differ from baseline web-7" */
    char matched[POLICY_MAX_NAME + 1]; /* baseline that passed, "" for rules only / none */
    uint32_t rule_pcrs;                /* gated PCRs that passed through event_rules */
    struct explanation *explanation;   /* set when verdict != PASS (NULL on PASS) */
} policy_result;

/* Evaluates the boot state of evidence that verified (verify.h: its logs
 * replay to its PCR values; nothing is parsed or replayed here). Returns 0
 * with a verdict in ret (free with policy_result_done), or -errno on
 * internal errors (ENOMEM, unverified evidence, ...). */
int policy_evaluate(const policy *p, const evidence *ev, time_t now, policy_result *ret,
                    bg_err *err);
/* -EINVAL (message names the PCRs) when p gates a PCR outside quoted_mask:
 * its value would be a claim nobody signed. */
int policy_check_quotable(const policy *p, uint32_t quoted_mask, bg_err *err);
/* What an upload or activation requires: policy_check_quotable, and a
 * not_after still in the future. */
int policy_check_deployable(const policy *p, uint32_t quoted_mask, time_t now, bg_err *err);
void policy_result_done(policy_result *r);

const char *
policy_verdict_name(policy_verdict v);       /* "pass", "fail", "expired", "evidence", "invalid" */
const char *policy_mode_name(policy_mode m); /* "enforce", "audit" */

/* {"verdict":..,"mode":..,"release":..,"reason":..,"matched_baseline":..,
 *  "rule_pcrs":[..],"explanation":{..}} — the 403 body's core. */
struct json_object *policy_result_to_json(const policy_result *r);
/* A few lines for a console at 3 a.m.; malloc'd. */
char *policy_result_summary(const policy_result *r);

/* true when an event rule allows ev (pcr, type, sha256 digest, desc substring). */
bool policy_event_allowed(const policy *p, const eventlog_event *ev);

/* Helpers shared with the CLI --------------------------------------------- */

/* "0,1,2-9,11" -> mask; -EINVAL on bad syntax or PCR >= 24. */
int policy_parse_pcr_list(const char *s, uint32_t *ret_mask, bg_err *err);
/* Formats a mask as "0-9,11". */
void policy_format_pcr_mask(uint32_t mask, char *buf, size_t size);
