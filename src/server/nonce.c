/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nonce.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "secmem.h"

#define NONCE_RAND_SIZE 8u
#define NONCE_EXP_SIZE  8u
#define NONCE_MAC_SIZE  16u

bg_verdict nonce_status_verdict(nonce_status s)
{
    switch (s) {
    case NONCE_OK:
        return VERDICT_OK;
    case NONCE_MISSING:
        return VERDICT_NONCE_MISSING;
    case NONCE_MALFORMED:
        return VERDICT_NONCE_MALFORMED;
    case NONCE_FORGED:
        return VERDICT_NONCE_FORGED;
    case NONCE_EXPIRED:
        return VERDICT_NONCE_EXPIRED;
    }
    return VERDICT_INTERNAL;
}

const char *nonce_status_name(nonce_status s)
{
    return verdict_name(nonce_status_verdict(s));
}

/* HMAC fetched once for the process: every challenge and unlock makes a MAC,
 * and a provider fetch by name costs more than the MAC of 60 bytes. Never
 * freed (the default library context lives as long as the process). */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static int nonce_mac(const uint8_t *secret, const char *node_id, const uint8_t *rand_exp,
                     uint8_t ret[NONCE_MAC_SIZE])
{
    EVP_MAC_CTX *ctx;
    OSSL_PARAM params[2];
    uint8_t full[32];
    size_t n = 0;
    int r = -EIO;

    pthread_once(&hmac_once, hmac_fetch);
    ctx = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
    if (!ctx)
        return -EIO;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, secret, NONCE_SECRET_SIZE, params) == 1 &&
        EVP_MAC_update(ctx, (const uint8_t *)node_id, strlen(node_id)) == 1 &&
        EVP_MAC_update(ctx, (const uint8_t *)"|", 1) == 1 &&
        EVP_MAC_update(ctx, rand_exp, NONCE_RAND_SIZE + NONCE_EXP_SIZE) == 1 &&
        EVP_MAC_final(ctx, full, &n, sizeof(full)) == 1 && n == sizeof(full)) {
        memcpy(ret, full, NONCE_MAC_SIZE);
        r = 0;
    }
    secmem_wipe(full, sizeof(full));
    EVP_MAC_CTX_free(ctx);
    return r;
}

int nonce_make(const uint8_t *secret, const char *node_id, uint64_t now, unsigned ttl,
               uint8_t ret[PROTO_NONCE_SIZE], uint64_t *ret_expiry)
{
    uint64_t exp = now + ttl;
    if (RAND_bytes(ret, NONCE_RAND_SIZE) != 1)
        return -EIO;
    for (unsigned i = 0; i < 8; i++)
        ret[NONCE_RAND_SIZE + i] = (uint8_t)(exp >> (56 - 8 * i));
    if (ret_expiry)
        *ret_expiry = exp;
    return nonce_mac(secret, node_id, ret, ret + NONCE_RAND_SIZE + NONCE_EXP_SIZE);
}

nonce_status nonce_check(const uint8_t *secret, const char *node_id, const uint8_t *nonce,
                         size_t nonce_size, uint64_t now, uint64_t *ret_expiry)
{
    uint8_t mac[NONCE_MAC_SIZE], zero[PROTO_NONCE_SIZE] = {0};
    uint64_t exp = 0;

    if (!nonce || nonce_size == 0)
        return NONCE_MISSING;
    if (nonce_size != PROTO_NONCE_SIZE || CRYPTO_memcmp(nonce, zero, PROTO_NONCE_SIZE) == 0)
        return NONCE_MALFORMED;
    if (nonce_mac(secret, node_id, nonce, mac) < 0)
        return NONCE_FORGED;
    if (CRYPTO_memcmp(mac, nonce + NONCE_RAND_SIZE + NONCE_EXP_SIZE, NONCE_MAC_SIZE) != 0)
        return NONCE_FORGED;
    for (unsigned i = 0; i < 8; i++)
        exp = exp << 8 | nonce[NONCE_RAND_SIZE + i];
    if (ret_expiry)
        *ret_expiry = exp;
    /* checked only after the MAC: the expiry is then the server's own */
    if (exp < now)
        return NONCE_EXPIRED;
    return NONCE_OK;
}
