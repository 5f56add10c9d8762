/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

/* TCG PC Client PFP 10.4.5.1: Spec ID event signature of crypto-agile logs. */
static const char specid_signature[16] = "Spec ID Event03";
/* TCG PC Client PFP 10.4.5.3: TCG_EfiStartupLocalityEvent signature. */
static const char locality_signature[16] = "StartupLocality";

#define LEGACY_HEADER_SIZE (4 + 4 + 20 + 4)

/* Fixed part of TCG_EfiSpecIdEventStruct up to numberOfAlgorithms. */
#define SPECID_FIXED_SIZE (16 + 4 + 1 + 1 + 1 + 1 + 4)

void eventlog_free(eventlog *log)
{
    if (!log)
        return;
    free(log->events);
    free(log->buf);
    free(log);
}

/* TCG PC Client PFP 10.4.5.1 (TCG_EfiSpecIdEvent): the digest algorithms and
 * sizes of every following TCG_PCR_EVENT2. `c` covers only the event data. */
static int parse_specid(eventlog *log, cursor *c, bg_err *err)
{
    uint32_t n_algs;
    uint8_t vendor_size;
    const uint8_t *skip;
    int r;

    r = cursor_bytes(c, SPECID_FIXED_SIZE - 4, &skip, "Spec ID event", err);
    if (r < 0)
        return r;
    r = cursor_u32le(c, &n_algs, "Spec ID numberOfAlgorithms", err);
    if (r < 0)
        return r;
    if (n_algs == 0)
        return bg_err_set(err, -EBADMSG, "offset %zu: Spec ID event lists no algorithm",
                          c->off - 4);
    if (n_algs > EVENTLOG_MAX_BANKS)
        return bg_err_set(err, -E2BIG, "offset %zu: Spec ID event lists %u algorithms, at most %u",
                          c->off - 4, n_algs, EVENTLOG_MAX_BANKS);
    for (uint32_t i = 0; i < n_algs; i++) {
        uint16_t alg, size;
        size_t at = c->off;
        const tpmalg *known;

        r = cursor_u16le(c, &alg, "Spec ID algorithmId", err);
        if (r < 0)
            return r;
        r = cursor_u16le(c, &size, "Spec ID digestSize", err);
        if (r < 0)
            return r;
        if (size == 0 || size > TPMALG_MAX_DIGEST)
            return bg_err_set(err, -EBADMSG,
                              "offset %zu: Spec ID algorithm 0x%04x has digest size %u", at, alg,
                              size);
        known = tpmalg_by_id(alg);
        if (known && known->size != size)
            return bg_err_set(err, -EBADMSG,
                              "offset %zu: Spec ID declares %s with %u bytes, not %zu", at,
                              known->name, size, known->size);
        for (uint32_t j = 0; j < i; j++)
            if (log->bank_algs[j] == alg)
                return bg_err_set(err, -EBADMSG, "offset %zu: Spec ID lists algorithm 0x%04x twice",
                                  at, alg);
        log->bank_algs[i] = alg;
        log->bank_sizes[i] = size;
    }
    log->n_banks = n_algs;
    r = cursor_u8(c, &vendor_size, "Spec ID vendorInfoSize", err);
    if (r < 0)
        return r;
    return cursor_bytes(c, vendor_size, &skip, "Spec ID vendorInfo", err);
}

static int parse_data(cursor *c, eventlog_event *ev, bg_err *err)
{
    size_t at = c->off;
    uint32_t data_size;
    int r = cursor_u32le(c, &data_size, "event data size", err);
    if (r < 0)
        return r;
    if (data_size > EVENTLOG_MAX_EVENT_DATA)
        return bg_err_set(err, -E2BIG, "offset %zu: event data size %u exceeds the cap of %u", at,
                          data_size, EVENTLOG_MAX_EVENT_DATA);
    r = cursor_bytes(c, data_size, &ev->data, "event data", err);
    if (r < 0)
        return r;
    ev->data_size = data_size;
    return 0;
}

/* PCR index and event type, the start of both event formats. */
static int parse_event_header(cursor *c, eventlog_event *ev, bg_err *err)
{
    int r;

    ev->offset = c->off;
    r = cursor_u32le(c, &ev->pcr, "PCR index", err);
    if (r < 0)
        return r;
    if (ev->pcr >= PCR_COUNT)
        return bg_err_set(err, -EBADMSG, "offset %zu: PCR index %u out of range", ev->offset,
                          ev->pcr);
    return cursor_u32le(c, &ev->type, "event type", err);
}

/* TCG PC Client PFP 10.2.1: TCG_PCClientPCREvent (SHA-1 only). */
static int parse_legacy_event(cursor *c, eventlog_event *ev, bg_err *err)
{
    int r;

    r = parse_event_header(c, ev, err);
    if (r < 0)
        return r;
    ev->n_digests = 1;
    ev->digests[0].alg = TPMALG_SHA1;
    ev->digests[0].size = 20;
    r = cursor_copy(c, ev->digests[0].bytes, 20, "SHA-1 digest", err);
    if (r < 0)
        return r;
    return parse_data(c, ev, err);
}

/* TCG PC Client PFP 10.2.2: TCG_PCR_EVENT2. Each digest's algorithm must be
 * one of the Spec ID event, whose table gives its size (so an algorithm this
 * code cannot hash is still skipped exactly). Digests are stored in the
 * order of bank_algs. PFP wants one digest per listed bank; some firmware
 * and tools write fewer, so a missing one leaves its slot empty and only a
 * replay of that bank fails. */
static int parse_agile_event(const eventlog *log, cursor *c, eventlog_event *ev, bg_err *err)
{
    uint32_t count;
    unsigned seen = 0;
    size_t at;
    int r;

    r = parse_event_header(c, ev, err);
    if (r < 0)
        return r;
    at = c->off;
    r = cursor_u32le(c, &count, "digest count", err);
    if (r < 0)
        return r;
    if (count == 0 || count > log->n_banks)
        return bg_err_set(err, -EBADMSG, "offset %zu: digest count %u, Spec ID event lists %u", at,
                          count, log->n_banks);
    for (uint32_t i = 0; i < count; i++) {
        uint16_t alg;
        unsigned k;

        at = c->off;
        r = cursor_u16le(c, &alg, "digest algorithm", err);
        if (r < 0)
            return r;
        for (k = 0; k < log->n_banks; k++)
            if (log->bank_algs[k] == alg)
                break;
        if (k == log->n_banks)
            return bg_err_set(err, -EBADMSG,
                              "offset %zu: digest algorithm 0x%04x is not in the Spec ID event", at,
                              alg);
        if (seen & (1u << k))
            return bg_err_set(err, -EBADMSG, "offset %zu: digest algorithm 0x%04x repeated", at,
                              alg);
        seen |= 1u << k;
        ev->digests[k].alg = alg;
        ev->digests[k].size = log->bank_sizes[k];
        r = cursor_copy(c, ev->digests[k].bytes, log->bank_sizes[k], "digest", err);
        if (r < 0)
            return r;
    }
    ev->n_digests = log->n_banks;
    return parse_data(c, ev, err);
}

/* Startup locality (PFP 10.4.5.3) and H-CRTM (PFP 10.4.1) set PCR 0's start. */
static void note_pcr0_start(eventlog *log, const eventlog_event *ev, bool *have_locality)
{
    if (ev->pcr != 0)
        return;
    if (ev->type == EV_EFI_HCRTM_EVENT)
        log->hcrtm = true;
    else if (ev->type == EV_NO_ACTION && !*have_locality && ev->data_size >= 17 &&
             !memcmp(ev->data, locality_signature, sizeof(locality_signature))) {
        log->startup_locality = ev->data[16];
        *have_locality = true;
    }
}

/* Walks the records after the first one. With events == NULL it only counts
 * (and validates); otherwise it fills events[1..]. */
static int parse_records(eventlog *log, size_t first_off, eventlog_event *events,
                         bool *have_locality, size_t *ret_n, bg_err *err)
{
    cursor c = cursor_init(log->buf, log->size);
    eventlog_event scratch = {0};
    size_t n = 1;
    int r;

    c.off = first_off;
    while (!cursor_eof(&c)) {
        eventlog_event *ev = events ? &events[n] : &scratch;

        if (n >= EVENTLOG_MAX_EVENTS)
            return bg_err_set(err, -E2BIG, "offset %zu: more than %u events", c.off,
                              EVENTLOG_MAX_EVENTS);
        /* No memset: the fill pass writes into calloc'd memory, and what the
         * counting pass leaves in its scratch event is never read. */
        r = log->crypto_agile ? parse_agile_event(log, &c, ev, err)
                              : parse_legacy_event(&c, ev, err);
        if (r < 0)
            return r;
        ev->index = (uint32_t)n;
        if (events)
            note_pcr0_start(log, ev, have_locality);
        n++;
    }
    *ret_n = n;
    return 0;
}

int eventlog_parse(const uint8_t *buf, size_t size, eventlog **ret, bg_err *err)
{
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    eventlog_event first = {0};
    cursor c;
    size_t n = 0;
    bool locality_seen = false;
    int r;

    if (size == 0)
        return bg_err_set(err, -EBADMSG, "offset 0: empty event log");
    if (size > EVENTLOG_MAX_SIZE)
        return bg_err_set(err, -E2BIG, "offset 0: event log of %zu bytes exceeds the cap of %u",
                          size, EVENTLOG_MAX_SIZE);
    log = calloc(1, sizeof(*log));
    if (!log)
        return -ENOMEM;
    log->buf = malloc(size);
    if (!log->buf)
        return -ENOMEM;
    memcpy(log->buf, buf, size);
    log->size = size;

    /* The first record is always in the SHA-1 format; in an agile log it is
     * the Spec ID event (PFP 10.4.5.1). */
    c = cursor_init(log->buf, size);
    r = parse_legacy_event(&c, &first, err);
    if (r < 0)
        return r;
    if (first.type == EV_NO_ACTION && first.pcr == 0 && first.data_size >= 16 &&
        !memcmp(first.data, specid_signature, sizeof(specid_signature))) {
        /* A cursor that ends with the event data, so offsets stay absolute. */
        cursor sc = cursor_init(log->buf, LEGACY_HEADER_SIZE + (size_t)first.data_size);
        sc.off = LEGACY_HEADER_SIZE;
        for (size_t i = 0; i < 20; i++)
            if (first.digests[0].bytes[i])
                return bg_err_set(err, -EBADMSG, "offset 8: Spec ID event digest is not zero");
        r = parse_specid(log, &sc, err);
        if (r < 0)
            return bg_err_prefix(err, r, "Spec ID event");
        log->crypto_agile = true;
    } else {
        log->n_banks = 1;
        log->bank_algs[0] = TPMALG_SHA1;
        log->bank_sizes[0] = 20;
    }

    /* Count first so that one allocation holds every event. */
    r = parse_records(log, c.off, NULL, NULL, &n, err);
    if (r < 0)
        return r;
    log->events = calloc(n, sizeof(*log->events));
    if (!log->events)
        return -ENOMEM;
    log->events[0] = first;
    note_pcr0_start(log, &first, &locality_seen);
    r = parse_records(log, c.off, log->events, &locality_seen, &n, err);
    if (r < 0)
        return r;
    log->n_events = n;
    *ret = TAKE_PTR(log);
    return 0;
}

const eventlog_digest *eventlog_event_digest(const eventlog_event *ev, uint16_t alg)
{
    for (unsigned i = 0; i < ev->n_digests && i < EVENTLOG_MAX_BANKS; i++)
        if (ev->digests[i].alg == alg)
            return &ev->digests[i];
    return NULL;
}
