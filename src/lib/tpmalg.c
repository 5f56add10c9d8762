/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tpmalg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cleanup.h"
#include "util.h"

static const tpmalg algs[] = {
    {TPMALG_SHA1, "sha1", 20},     {TPMALG_SHA256, "sha256", 32},   {TPMALG_SHA384, "sha384", 48},
    {TPMALG_SHA512, "sha512", 64}, {TPMALG_SM3_256, "sm3_256", 32},
};

const tpmalg *tpmalg_by_id(uint16_t id)
{
    for (size_t i = 0; i < ELEMENTSOF(algs); i++)
        if (algs[i].id == id)
            return &algs[i];
    return NULL;
}

const tpmalg *tpmalg_by_name(const char *name)
{
    for (size_t i = 0; i < ELEMENTSOF(algs); i++)
        if (!strcmp(algs[i].name, name))
            return &algs[i];
    return NULL;
}

const EVP_MD *tpmalg_md(uint16_t id)
{
    switch (id) {
    case TPMALG_SHA1:
        return EVP_sha1();
    case TPMALG_SHA256:
        return EVP_sha256();
    case TPMALG_SHA384:
        return EVP_sha384();
    case TPMALG_SHA512:
        return EVP_sha512();
    case TPMALG_SM3_256:
        return EVP_sm3();
    default:
        return NULL;
    }
}

int pcr_bank_extend(pcr_bank *bank, unsigned pcr, const uint8_t *digest)
{
    const EVP_MD *md = tpmalg_md(bank->alg);
    uint8_t buf[2 * TPMALG_MAX_DIGEST];
    unsigned out_len = 0;

    if (!md || pcr >= PCR_COUNT || bank->digest_size > TPMALG_MAX_DIGEST)
        return -EINVAL;
    memcpy(buf, bank->pcr[pcr], bank->digest_size);
    memcpy(buf + bank->digest_size, digest, bank->digest_size);
    if (!EVP_Digest(buf, 2 * bank->digest_size, bank->pcr[pcr], &out_len, md, NULL) ||
        out_len != bank->digest_size)
        return -EIO;
    bank->mask |= 1u << pcr;
    return 0;
}

size_t pcr_bank_encode(const pcr_bank *bank, uint8_t out[PCR_BANK_ENCODED_MAX])
{
    const tpmalg *a = tpmalg_by_id(bank->alg);
    size_t n = 0;
    if (!a || a->size != bank->digest_size)
        return 0;
    out[n++] = (uint8_t)(bank->alg >> 8);
    out[n++] = (uint8_t)bank->alg;
    for (int shift = 24; shift >= 0; shift -= 8)
        out[n++] = (uint8_t)(bank->mask >> shift);
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (bank->mask & (1u << i)) {
            memcpy(out + n, bank->pcr[i], a->size);
            n += a->size;
        }
    return n;
}

int pcr_bank_decode(const uint8_t *buf, size_t size, pcr_bank *ret)
{
    const tpmalg *a;
    uint32_t mask;
    size_t n = 6;
    memset(ret, 0, sizeof(*ret));
    if (!buf || size < 6)
        return -EBADMSG;
    a = tpmalg_by_id((uint16_t)(buf[0] << 8 | buf[1]));
    mask = (uint32_t)buf[2] << 24 | (uint32_t)buf[3] << 16 | (uint32_t)buf[4] << 8 | buf[5];
    if (!a || (mask >> PCR_COUNT) != 0 || size - n != (size_t)__builtin_popcount(mask) * a->size)
        return -EBADMSG;
    ret->alg = a->id;
    ret->digest_size = a->size;
    ret->mask = mask;
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (mask & (1u << i)) {
            memcpy(ret->pcr[i], buf + n, a->size);
            n += a->size;
        }
    return 0;
}

bool pcr_bank_equal(const pcr_bank *a, const pcr_bank *b)
{
    uint8_t ea[PCR_BANK_ENCODED_MAX], eb[PCR_BANK_ENCODED_MAX];
    size_t na = pcr_bank_encode(a, ea), nb = pcr_bank_encode(b, eb);
    return na > 0 && na == nb && CRYPTO_memcmp(ea, eb, na) == 0;
}

char *pcr_bank_encode_hex(const pcr_bank *bank)
{
    uint8_t enc[PCR_BANK_ENCODED_MAX];
    size_t n = pcr_bank_encode(bank, enc);
    return n ? hex_encode_alloc(enc, n) : NULL;
}

int pcr_bank_decode_hex(const char *hex, pcr_bank *ret)
{
    _cleanup_(freep) uint8_t *enc = NULL;
    size_t n = 0;
    if (!hex || strlen(hex) > 2 * PCR_BANK_ENCODED_MAX || hex_decode_alloc(hex, &enc, &n, NULL) < 0)
        return -EBADMSG;
    return pcr_bank_decode(enc, n, ret);
}
