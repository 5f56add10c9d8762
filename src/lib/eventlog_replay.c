/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventlog.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "cleanup.h"

static void md_ctx_freep(EVP_MD_CTX **ctx)
{
    EVP_MD_CTX_free(*ctx);
}

static void md_freep(EVP_MD **md)
{
    EVP_MD_free(*md);
}

int eventlog_replay(const eventlog *log, uint16_t alg, pcr_bank *ret, bg_err *err)
{
    _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = NULL;
    _cleanup_(md_freep) EVP_MD *md = NULL;
    const tpmalg *info = tpmalg_by_id(alg);
    const EVP_MD *builtin = tpmalg_md(alg);
    unsigned k;

    for (k = 0; k < log->n_banks; k++)
        if (log->bank_algs[k] == alg)
            break;
    if (k == log->n_banks || !info)
        return bg_err_set(err, -EOPNOTSUPP, "the event log has no %s bank",
                          info ? info->name : "such");
    /* An explicit fetch once per replay: the implicit fetch behind EVP_sha256()
     * would be repeated on every DigestInit (OpenSSL 3 performance notes). */
    if (builtin)
        md = EVP_MD_fetch(NULL, EVP_MD_get0_name(builtin), NULL);
    ctx = EVP_MD_CTX_new();
    if (!md || !ctx)
        return bg_err_set(err, -EOPNOTSUPP, "cannot compute %s", info->name);

    memset(ret, 0, sizeof(*ret));
    ret->alg = alg;
    ret->digest_size = info->size;
    /* TPM 2.0 Part 1 34.3 / PFP 10.4.5.3: the H-CRTM sequence starts PCR 0
     * at locality 4; otherwise the StartupLocality event names the locality
     * of TPM2_Startup, which is PCR 0's initial last byte. */
    ret->pcr[0][info->size - 1] = log->hcrtm ? 4 : log->startup_locality;
    if (ret->pcr[0][info->size - 1])
        ret->mask |= 1u;

    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        uint8_t *pcr = ret->pcr[ev->pcr];
        uint8_t in[2 * TPMALG_MAX_DIGEST];
        unsigned out_len = 0;

        /* PFP 10.4.1: EV_NO_ACTION is informational, never extended. */
        if (ev->type == EV_NO_ACTION)
            continue;
        if (k >= ev->n_digests || ev->digests[k].alg != alg)
            return bg_err_set(err, -ENODATA, "offset %zu: event %u has no %s digest", ev->offset,
                              ev->index, info->name);
        /* One update of PCR || digest: each EVP call has a fixed cost that
         * matters at ~100 events per log. */
        memcpy(in, pcr, info->size);
        memcpy(in + info->size, ev->digests[k].bytes, info->size);
        if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, in, 2 * info->size) ||
            !EVP_DigestFinal_ex(ctx, pcr, &out_len) || out_len != info->size)
            return bg_err_set(err, -EIO, "%s extend failed", info->name);
        ret->mask |= 1u << ev->pcr;
    }
    return 0;
}
