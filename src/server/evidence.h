/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The server's one door to the TPM-structure, event-log and policy code of
 * libbootgate (tpmpub/quote/credential, eventlog/ima, policy/explain), so
 * that the route handlers read as the check list of DESIGN §1 and nothing
 * else. Every function fails closed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "bgerr.h"
#include "eventlog.h"
#include "ima.h"
#include "policy.h"
#include "proto.h"
#include "store.h"
#include "tpmpub.h"
#include "verdict.h"
#include "verify.h"

/* The PCRs every quote covers (sha256:0-11, PROTO_PCR_COUNT): a policy may
 * gate only these. */
#define EVIDENCE_QUOTED_PCRS ((1u << PROTO_PCR_COUNT) - 1)

/* SHA-256 over the TPMT_PUBLIC inside a TPM2B_PUBLIC, lowercase hex: the
 * EK fingerprint operators compare with `tpm2_createek`'s output. */
int evidence_ek_fingerprint(const uint8_t *ek_pub, size_t size, char ret[65], bg_err *err);

/* The cache of parsed TPM public areas (keyed by their exact bytes): how
 * many parses it answered, and emptying it (tests, shutdown). */
uint64_t evidence_tpmpub_cache_hits(void);
void evidence_tpmpub_cache_clear(void);

/* Parses the AK TPM2B_PUBLIC (through the cache above) for evidence_verify,
 * which checks its attributes and pinned name. */
int evidence_ak_parse(const uint8_t *ak_pub, size_t size, tpmpub **ret_ak, bg_err *err);

/* At enrollment: parses the AK TPM2B_PUBLIC, checks it carries exactly the
 * restricted signing attributes of DESIGN §1 (c), returns its TPM name and,
 * when ret_ak is not NULL, the parsed key (tpmpub_free). */
int evidence_ak_check(const uint8_t *ak_pub, size_t size, uint8_t *ret_name, size_t name_max,
                      size_t *ret_name_size, tpmpub **ret_ak, bg_verdict *ret_verdict, bg_err *err);

/* Parses the EK TPM2B_PUBLIC (RSA 2048 or ECC P-256 EK template). */
int evidence_ek_check(const uint8_t *ek_pub, size_t size, bg_err *err);

/* Checks the EK certificate (DER) chains to cas and certifies ek_pub.
 * 0 = verified; -EPERM untrusted (message says why). */
int evidence_ek_cert_check(X509_STORE *cas, const uint8_t *cert, size_t cert_size,
                           const uint8_t *ek_pub, size_t ek_pub_size, char *ret_subject,
                           size_t subject_size, bg_err *err);

/* Frees the cached verified policy (at shutdown, after the workers ended). */
void evidence_policy_cache_clear(void);

/* Parses a stored policy and verifies its signature again against
 * signers_dir (the database is not trusted to hold only signed policies):
 * -EPERM when no trusted key signed it. */
int evidence_policy_load(const char *signers_dir, const store_policy *stored, policy **ret,
                         bg_err *err);

/* g: verifies the stored policy's signature again (the database is not
 * trusted to hold only signed policies), then evaluates it on the verified
 * evidence. 0: ret holds the evaluation (policy_result_done; ret->release
 * is the decision, audit mode releases with the explanation kept) and
 * *ret_verdict its verdict. -errno: the policy could not be judged
 * (*ret_verdict POLICY_INVALID or INTERNAL, err says why). */
int evidence_policy_evaluate(const char *signers_dir, const store_policy *stored,
                             const evidence *ev, policy_result *ret, bg_verdict *ret_verdict,
                             bg_err *err);

/* Parses and verifies a policy (JSON text or object) + base64 detached
 * signature against signers_dir at upload; refuses one that gates PCRs the
 * quote does not cover or whose not_after has passed. Returns the canonical JSON and
 * the normalized signature (malloc'd), name, version and signer. */
int evidence_policy_check_upload(const char *signers_dir, json_object *policy_json,
                                 const char *sig_b64, char **ret_canonical, char **ret_sig_b64,
                                 char *ret_name, size_t name_size, int64_t *ret_version,
                                 char *ret_signer, size_t signer_size, bg_err *err);

/* i: MakeCredential(EK, AK name, secret) in software. With ret_ek_name (at
 * least PROTO_MAX_TPM_NAME bytes), also the EK's name, which the client checks
 * against its own EK before it salts a session to it. */
int evidence_make_credential(const uint8_t *ek_pub, size_t ek_pub_size, const uint8_t *ak_name,
                             size_t ak_name_size, const uint8_t *secret, size_t secret_size,
                             proto_bytes *ret_blob, proto_bytes *ret_encrypted_secret,
                             proto_bytes *ret_ek_name, bg_err *err);
