/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bench/loadgen: synthetic nodes that play the TPM side in software against a
 * running bootgated (issue 12, points 6 and 7). Nothing here is linked into
 * the server, the client or the library: the software TPM exists only in
 * this benchmark.
 *
 *   softtpm.c  software EK and AK, TPM2_Quote, TPM2_ActivateCredential
 *   node.c     enrollment (enroll, activate, admin approve) and one boot
 *              (challenge, quote, unlock, activate, unwrap, key check)
 *   floor.c    the crypto floor of one release, measured in process
 *   tang.c     a clevis-decrypt-equivalent Tang client (McCallum-Relyea)
 *   loadgen.c  options, open- and closed-loop drivers, statistics */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "bgerr.h"
#include "credential.h"
#include "https.h"
#include "tpmalg.h"
#include "tpmpub.h"

#define LG_VOLUME_KEY_SIZE 64u
#define LG_SEED_SIZE       32u

/* ---- software TPM (softtpm.c) ---- */

typedef struct softtpm {
    EVP_PKEY *ek_key, *ak_key;
    tpmpub *ek, *ak; /* public areas, names */
} softtpm;

/* A new ECC P-256 EK (TCG EK Credential Profile template L-2) and an ECC
 * P-256 AK with the restricted signing attributes of DESIGN §1. */
int softtpm_new(softtpm *ret, bg_err *err);
void softtpm_done(softtpm *t);

/* TPM2_Quote of sha256:0..11 over pcrs with qualifyingData = nonce, signed
 * ECDSA-SHA256 by the AK; marshalled TPMS_ATTEST and TPMT_SIGNATURE (malloc'd). */
int softtpm_quote(const softtpm *t, const pcr_bank *pcrs, const uint8_t *nonce, size_t nonce_size,
                  uint8_t **ret_attest, size_t *ret_attest_size, uint8_t **ret_sig,
                  size_t *ret_sig_size, bg_err *err);

/* TPM2_ActivateCredential (TPM 2.0 Part 3 §12.5) in software: recovers the
 * seed with the EK (ECDH + KDFe), checks the outer HMAC over the AK name
 * (KDFa "INTEGRITY"), decrypts (KDFa "STORAGE", AES-128-CFB). Inputs are the
 * marshalled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET. -EBADMSG when the
 * integrity check fails or the sizes are wrong. */
int softtpm_activate(const softtpm *t, const uint8_t *id_object, size_t id_object_size,
                     const uint8_t *enc_secret, size_t enc_secret_size,
                     uint8_t ret_secret[CREDENTIAL_MAX_SECRET], size_t *ret_size, bg_err *err);

/* ---- nodes (node.c) ---- */

typedef struct lg_server {
    const char *url; /* https://127.0.0.1:PORT */
    https_opts node; /* CA only */
    https_opts enroller;
    https_opts admin;
    const char *group;
    const char *volume_uuid;
} lg_server;

typedef struct lg_node {
    softtpm tpm;
    char node_id[129];
    uint8_t volume_key[LG_VOLUME_KEY_SIZE];
} lg_node;

/* What went wrong in one boot or enrollment; counted by kind. */
typedef enum lg_error {
    LG_OK = 0,
    LG_ERR_TRANSPORT, /* connect, TLS, reset, timeout */
    LG_ERR_HTTP_4XX,
    LG_ERR_HTTP_5XX,
    LG_ERR_DECODE,   /* an answer that does not decode */
    LG_ERR_ACTIVATE, /* the credential does not activate with this EK/AK */
    LG_ERR_EK_NAME,  /* the answer names another EK */
    LG_ERR_UNWRAP,   /* the wrapped key does not open */
    LG_ERR_KEY,      /* it opens to another key than the enrolled one */
    LG_ERR_LOCAL,    /* out of memory, OpenSSL failure in the generator */
    _LG_ERR_MAX,
} lg_error;

const char *lg_error_name(lg_error e);

/* The node's boot evidence: an event log and the PCRs it replays to. */
typedef struct lg_boot_log {
    uint8_t *data;
    size_t size;
    pcr_bank pcrs; /* sha256, PCRs 0..11 (PCR 10 zero: no IMA log) */
} lg_boot_log;

int lg_boot_log_load(const char *path, lg_boot_log *ret, bg_err *err);

/* New software TPM, POST /v1/enroll, activate, POST /v1/enroll/activate,
 * POST /v1/admin/nodes/ID/approve. */
lg_error lg_node_enroll(const lg_server *srv, lg_node *node, bg_err *err);

/* One boot on a new TLS connection: challenge, quote, unlock, activate,
 * unwrap, key check. *ret_status is the HTTP status of the last answer. */
lg_error lg_node_boot(const lg_server *srv, const lg_node *node, const lg_boot_log *log,
                      long *ret_status, bg_err *err);

/* ---- crypto floor (floor.c) ---- */

typedef struct lg_floor {
    double tls_us, quote_us, makecred_us, wrap_us, total_us;
    /* the node's side, what any load generator must spend per boot: the
     * client's TLS 1.3 handshake, the quote's signature, ActivateCredential,
     * the unwrap */
    double client_tls_us, sign_us, activate_us, unwrap_us, client_total_us;
} lg_floor;

/* CPU time of the server's side of one release, measured here: a TLS 1.3
 * handshake (server SSL object only, in-memory BIO pair) with cert/key and
 * the client CA list as bootgated has them, quote_verify_signed, credential_make,
 * proto_wrap_key; and of the node's side (the client SSL object of the same
 * handshakes, softtpm_quote, softtpm_activate, proto_unwrap_key). */
int lg_floor_measure(const char *cert, const char *key, const char *client_ca, const char *ca,
                     const lg_boot_log *log, unsigned rounds, lg_floor *ret, bg_err *err);

/* ---- Tang (tang.c) ---- */

typedef struct lg_tang lg_tang;
/* GET /adv once, a binding to its ECMR key (as clevis encrypt does). */
int lg_tang_bind(const char *host, unsigned port, lg_tang **ret, bg_err *err);
/* One recovery on a new TCP connection (as clevis decrypt does): POST
 * /rec/KID with a blinded point, unblind, compare with the bound key. */
lg_error lg_tang_recover(const lg_tang *t, bg_err *err);
void lg_tang_free(lg_tang *t);

/* ---- time ---- */
uint64_t lg_now_ns(void);
uint64_t lg_thread_cpu_ns(void);
