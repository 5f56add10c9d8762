/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tpmalg.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

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
