/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cleanup.h"
#include "util.h"

static int fail(evidence *e, bg_verdict v, const char *fmt, ...) _printf_(3, 4);
static int fail(evidence *e, bg_verdict v, const char *fmt, ...)
{
    va_list ap;
    e->verdict = v;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    return 0;
}

static void mark(const evidence_input *in, const char *stage)
{
    if (in->mark)
        in->mark(in->mark_arg, stage);
}

/* Compares the replayed bank with the verified values on every PCR of
 * e->quoted.mask; the differences are kept for the explanation. */
static int compare_replay(evidence *e, uint32_t mask)
{
    for (unsigned i = 0; i < PCR_COUNT; i++) {
        evidence_replay_diff *d;
        if (!(mask & (1u << i)) ||
            CRYPTO_memcmp(e->replayed.pcr[i], e->quoted.pcr[i], e->quoted.digest_size) == 0)
            continue;
        d = &e->diffs[e->n_diffs++];
        d->pcr = i;
        d->ima = i == IMA_PCR;
        memcpy(d->replayed, e->replayed.pcr[i], e->quoted.digest_size);
        memcpy(d->quoted, e->quoted.pcr[i], e->quoted.digest_size);
    }
    if (e->n_diffs)
        return fail(e, VERDICT_EVENTLOG_MISMATCH,
                    "logs do not replay to the quoted PCRs (PCR %u%s)", e->diffs[0].pcr,
                    e->n_diffs > 1 ? " and others" : "");
    return 0;
}

static int replay_logs(evidence *e, uint32_t mask, bg_err *err)
{
    bg_err sub = {0};
    int r;

    e->replayed = (pcr_bank){.alg = e->quoted.alg};
    r = eventlog_replay(e->log, e->quoted.alg, &e->replayed, &sub);
    if (r == -ENOMEM)
        return bg_err_set(err, r, "event log replay: out of memory");
    if (r < 0)
        return fail(e, VERDICT_EVENTLOG_INVALID, "event log replay: %s", bg_err_msg(&sub));
    if (e->replayed.digest_size != e->quoted.digest_size)
        return fail(e, VERDICT_EVENTLOG_INVALID, "event log: no bank of the quoted algorithm");
    /* PCR 10 belongs to IMA: the replay of its log, of an empty one when none was sent */
    memset(e->replayed.pcr[IMA_PCR], 0, sizeof(e->replayed.pcr[IMA_PCR]));
    if (e->ima) {
        pcr_bank ib = {.alg = e->quoted.alg, .digest_size = e->quoted.digest_size};
        r = ima_replay(e->ima, &ib, &sub);
        if (r == -ENOMEM)
            return bg_err_set(err, r, "IMA log replay: out of memory");
        if (r < 0)
            return fail(e, VERDICT_IMALOG_INVALID, "IMA log: %s", bg_err_msg(&sub));
        memcpy(e->replayed.pcr[IMA_PCR], ib.pcr[IMA_PCR], sizeof(ib.pcr[IMA_PCR]));
    }
    e->replayed.mask |= 1u << IMA_PCR;
    return compare_replay(e, mask);
}

int evidence_verify(const evidence_input *in, evidence *ret, bg_err *err)
{
    quote_evidence qe = {0};
    quote_result qr;
    bg_err sub = {0};
    uint32_t quoted_mask = 0;
    int r;

    memset(ret, 0, sizeof(*ret));
    ret->verdict = VERDICT_INTERNAL;
    if (!in || !in->ak || !in->pcrs || !in->required || !in->pinned_ak_name ||
        in->required->n_banks != 1 || in->pcrs->alg != in->required->banks[0].alg)
        return bg_err_set(err, -EINVAL, "evidence incomplete");

    /* c + d + e: AK attributes and pinned name, signature, attest fields,
     * nonce, selection, pcrDigest over the claimed values of the selection */
    qe.ak = in->ak;
    qe.pinned_ak_name = in->pinned_ak_name;
    qe.pinned_ak_name_size = in->pinned_ak_name_size;
    qe.attest = in->attest;
    qe.attest_size = in->attest_size;
    qe.sig = in->sig;
    qe.sig_size = in->sig_size;
    qe.nonce = in->nonce;
    qe.nonce_size = in->nonce_size;
    qe.banks = in->pcrs;
    qe.n_banks = 1;
    qe.required = in->required;
    if (!qe.attest || !qe.sig)
        return fail(ret, VERDICT_SIGNATURE_MALFORMED, "quote and signature are required");
    r = quote_verify_ak(&qe, &qr, err);
    if (r < 0)
        return r;
    mark(in, "ak");
    if (qr.verdict == QUOTE_VALID) {
        r = quote_verify_signed(&qe, &qr, err);
        if (r < 0)
            return r;
        mark(in, "quote");
    }
    if (qr.verdict != QUOTE_VALID)
        return fail(ret, verdict_from_quote(qr.verdict), "%s", qr.reason);

    /* values outside the quote are claims nobody signed: refused, never evaluated */
    quoted_mask = in->required->banks[0].mask;
    if (in->pcrs->mask & ~quoted_mask) {
        unsigned first = (unsigned)__builtin_ctz(in->pcrs->mask & ~quoted_mask);
        return fail(ret, VERDICT_PCR_NOT_QUOTED, "PCR %u was sent but the quote does not cover it",
                    first);
    }
    ret->quoted = *in->pcrs;
    ret->quoted.mask = quoted_mask;

    /* f: the logs replay to the quoted values */
    r = eventlog_parse(in->event_log, in->event_log_size, &ret->owned_log, &sub);
    if (r == -ENOMEM)
        return bg_err_set(err, r, "event log: out of memory");
    if (r < 0)
        return fail(ret, VERDICT_EVENTLOG_INVALID, "event log: %s", bg_err_msg(&sub));
    ret->log = ret->owned_log;
    if (in->ima_log_size > 0) {
        r = ima_parse(in->ima_log, in->ima_log_size, &ret->owned_ima, &sub);
        if (r == -ENOMEM)
            return bg_err_set(err, r, "IMA log: out of memory");
        if (r < 0)
            return fail(ret, VERDICT_IMALOG_INVALID, "IMA log: %s", bg_err_msg(&sub));
        ret->ima = ret->owned_ima;
    }
    r = replay_logs(ret, ret->quoted.mask, err);
    if (r < 0)
        return r;
    if (ret->verdict == VERDICT_INTERNAL) {
        ret->verdict = VERDICT_OK;
        snprintf(ret->reason, sizeof(ret->reason), "quote verifies and the logs replay to it");
    }
    mark(in, "replay");
    return 0;
}

int evidence_replay(const pcr_bank *pcrs, const eventlog *log, const ima_log *ima, evidence *ret,
                    bg_err *err)
{
    int r;
    memset(ret, 0, sizeof(*ret));
    ret->verdict = VERDICT_INTERNAL;
    if (!pcrs || !log)
        return bg_err_set(err, -EINVAL, "PCR values and an event log are required");
    ret->quoted = *pcrs;
    ret->log = log;
    ret->ima = ima;
    /* without an IMA log, PCR 10 is not part of what is being explained */
    r = replay_logs(ret, ima ? pcrs->mask : pcrs->mask & ~(1u << IMA_PCR), err);
    if (r < 0)
        return r;
    if (ret->verdict == VERDICT_INTERNAL) {
        ret->verdict = VERDICT_OK;
        snprintf(ret->reason, sizeof(ret->reason), "the logs replay to the PCR values");
    }
    return 0;
}

int evidence_from_logs(const eventlog *log, const ima_log *ima, uint32_t mask, evidence *ret,
                       bg_err *err)
{
    int r;
    memset(ret, 0, sizeof(*ret));
    ret->verdict = VERDICT_INTERNAL;
    if (!log)
        return bg_err_set(err, -EINVAL, "an event log is required");
    ret->quoted = (pcr_bank){.alg = TPMALG_SHA256, .digest_size = 32};
    ret->log = log;
    ret->ima = ima;
    /* one replay: nothing to compare it with */
    r = replay_logs(ret, 0, err);
    if (r < 0 || ret->verdict != VERDICT_INTERNAL)
        return r;
    ret->quoted = ret->replayed;
    ret->quoted.mask = mask;
    ret->verdict = VERDICT_OK;
    snprintf(ret->reason, sizeof(ret->reason), "the logs' replay stands in for a quote");
    return 0;
}

void evidence_done(evidence *e)
{
    if (!e)
        return;
    eventlog_free(e->owned_log);
    ima_log_free(e->owned_ima);
    e->owned_log = NULL;
    e->owned_ima = NULL;
    e->log = NULL;
    e->ima = NULL;
}
