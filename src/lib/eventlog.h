/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* UEFI event log (TCG PC Client Platform Firmware Profile, "PFP"): the legacy
 * SHA-1 format (TCG_PCClientPCREvent) and the crypto-agile format (first event
 * carries "Spec ID Event03", then TCG_PCR_EVENT2 with one digest per algorithm
 * listed in the header). Parsing copies the input, so events stay valid for
 * the life of the eventlog. Untrusted input: every failure names the offset. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"
#include "tpmalg.h"

/* Hard caps: a real log is tens of KB with a few hundred events. */
#define EVENTLOG_MAX_SIZE       (8u << 20)
#define EVENTLOG_MAX_EVENTS     16384u
#define EVENTLOG_MAX_EVENT_DATA (1u << 20)
#define EVENTLOG_MAX_BANKS      5u

/* Event types, TCG PC Client PFP 10.4.1 */
#define EV_PREBOOT_CERT                  0x00000000
#define EV_POST_CODE                     0x00000001
#define EV_NO_ACTION                     0x00000003
#define EV_SEPARATOR                     0x00000004
#define EV_ACTION                        0x00000005
#define EV_EVENT_TAG                     0x00000006
#define EV_S_CRTM_CONTENTS               0x00000007
#define EV_S_CRTM_VERSION                0x00000008
#define EV_CPU_MICROCODE                 0x00000009
#define EV_PLATFORM_CONFIG_FLAGS         0x0000000A
#define EV_TABLE_OF_DEVICES              0x0000000B
#define EV_COMPACT_HASH                  0x0000000C
#define EV_IPL                           0x0000000D
#define EV_IPL_PARTITION_DATA            0x0000000E
#define EV_NONHOST_CODE                  0x0000000F
#define EV_NONHOST_CONFIG                0x00000010
#define EV_NONHOST_INFO                  0x00000011
#define EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012
#define EV_EFI_EVENT_BASE                0x80000000
#define EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001
#define EV_EFI_VARIABLE_BOOT             0x80000002
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003
#define EV_EFI_BOOT_SERVICES_DRIVER      0x80000004
#define EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005
#define EV_EFI_GPT_EVENT                 0x80000006
#define EV_EFI_ACTION                    0x80000007
#define EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008
#define EV_EFI_HANDOFF_TABLES            0x80000009
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000A
#define EV_EFI_HANDOFF_TABLES2           0x8000000B
#define EV_EFI_VARIABLE_BOOT2            0x8000000C
#define EV_EFI_HCRTM_EVENT               0x80000010
#define EV_EFI_VARIABLE_AUTHORITY        0x800000E0
#define EV_EFI_SPDM_FIRMWARE_BLOB        0x800000E1
#define EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000E2

typedef struct eventlog_digest {
    uint16_t alg;
    uint16_t size;
    uint8_t bytes[TPMALG_MAX_DIGEST];
} eventlog_digest;

typedef struct eventlog_event {
    uint32_t index; /* position in the log, 0 = first record (the header in agile logs) */
    size_t offset;  /* byte offset of the record in the log */
    uint32_t pcr;
    uint32_t type;
    /* digests[k] belongs to the log's bank_algs[k]; a slot with size 0 (alg 0)
     * means the event carried no digest for that bank. Legacy: 1 (sha1). */
    unsigned n_digests;
    eventlog_digest digests[EVENTLOG_MAX_BANKS];
    const uint8_t *data; /* points into the eventlog's own copy */
    uint32_t data_size;
} eventlog_event;

typedef struct eventlog {
    bool crypto_agile;
    unsigned n_banks; /* agile: the algorithms of the Spec ID event; legacy: sha1 only */
    uint16_t bank_algs[EVENTLOG_MAX_BANKS];
    uint16_t bank_sizes[EVENTLOG_MAX_BANKS]; /* digest sizes as the Spec ID event declares them */
    uint8_t startup_locality; /* from EV_NO_ACTION "StartupLocality", 0 when absent */
    bool hcrtm;               /* an EV_EFI_HCRTM_EVENT extends PCR 0 */
    size_t n_events;
    eventlog_event *events;
    uint8_t *buf; /* owned copy of the input */
    size_t size;
} eventlog;

/* -EBADMSG for a malformed log, -E2BIG when a count or size exceeds a cap;
 * the message names the byte offset. */
int eventlog_parse(const uint8_t *buf, size_t size, eventlog **ret, bg_err *err);
void eventlog_free(eventlog *log);
DEFINE_TRIVIAL_CLEANUP_FUNC(eventlog *, eventlog_free)

/* Replays the bank `alg` into ret (all 24 PCRs start at zero; mask has the
 * PCRs that any extending event touched, plus PCR 0 when StartupLocality or
 * H-CRTM gives it a non-zero start, the set tpm2_eventlog prints).
 * TCG PC Client PFP 10.4.5.3: PCR 0 starts at StartupLocality; with an
 * H-CRTM event (EV_EFI_HCRTM_EVENT) it starts at locality 4 (TPM 2.0 Part 1
 * 34.3); EV_NO_ACTION is never extended. PCR 10 is left to ima_replay.
 * -EOPNOTSUPP when the log has no such bank or OpenSSL cannot hash it;
 * -ENODATA (message names the offset) when an extending event lacks the
 * bank's digest. */
int eventlog_replay(const eventlog *log, uint16_t alg, pcr_bank *ret, bg_err *err);

/* The digest of an event for alg, or NULL when the event has none. */
const eventlog_digest *eventlog_event_digest(const eventlog_event *ev, uint16_t alg);

/* "EV_EFI_BOOT_SERVICES_APPLICATION"; NULL for a type this code does not know
 * (callers print it as 0x%08x). */
const char *eventlog_type_name(uint32_t type);
/* Parses "EV_SEPARATOR" or a number; -EINVAL if neither. */
int eventlog_type_from_name(const char *name, uint32_t *ret);

/* A one-line human description of the event data: EFI variable GUID + name,
 * device path of a boot services application, the strings of EV_EVENT_TAG /
 * EV_IPL / EV_EFI_ACTION / EV_ACTION, separator value, S-CRTM version, post
 * code. Always NUL-terminates; non-printable bytes escaped. */
void eventlog_event_describe(const eventlog_event *ev, char *buf, size_t size);
