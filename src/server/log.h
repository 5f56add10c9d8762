/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgated's one log path. Under systemd (the journal's socket exists, or
 * BOOTGATE_JOURNAL_SOCKET names one) every record is a native journal entry
 * (systemd's "Native Journal Protocol", one datagram) with structured fields:
 *
 *   MESSAGE             the same text a syslog line would have
 *   MESSAGE_ID          one per kind of event (SRV_LOG_MSGID_*)
 *   BOOTGATE_ACTION     the audit action, or the event kind
 *   BOOTGATE_AUDIT_SEQ  the audit record's seq; -1: no record
 *   BOOTGATE_NODE, BOOTGATE_ACTOR, BOOTGATE_VERDICT, BOOTGATE_POLICY (when known)
 *
 * so that `journalctl -u bootgated BOOTGATE_VERDICT=policy_denied` works.
 * Otherwise, or when the journal refuses a datagram, the record is a syslog
 * line (facility daemon). --log-stderr copies every record's text to stderr. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* key_released, unlock_denied (audited or not), breakglass_used, every other
 * audit record, and a denial left out of the audit (rate limit) */
#define SRV_LOG_MSGID_KEY_RELEASED     "a34910fe81f8429580ac333545def047"
#define SRV_LOG_MSGID_UNLOCK_DENIED    "9ad3d51b8e464e939409df5d124f73e4"
#define SRV_LOG_MSGID_BREAKGLASS_USED  "5dbb59b8367542cd99600f50e4939c66"
#define SRV_LOG_MSGID_AUDIT            "c6a0242c37f94d5cae5e4f1c1a76c36b"
#define SRV_LOG_MSGID_DENIAL_UNAUDITED "ea527c737d7c4dde8feec3f1035b1574"

/* The cut of an audit line's detail, in bytes. */
#define SRV_LOG_DETAIL_MAX 1024

typedef struct srv_log_fields {
    const char *action;  /* BOOTGATE_ACTION; picks the MESSAGE_ID */
    const char *node;    /* NULL or "": none */
    const char *actor;   /* NULL: none */
    int64_t seq;         /* -1: not audited */
    const char *verdict; /* NULL: none */
    const char *policy;  /* NULL or "": none */
    bool unaudited;      /* a denial whose audit row the rate limit left out */
} srv_log_fields;

/* Chooses the journal or syslog, once, before the workers start. */
void srv_log_open(bool copy_stderr);
void srv_log_close(void);

/* True when records go to the journal. */
bool srv_log_to_journal(void);

/* The MESSAGE_ID of an action. */
const char *srv_log_message_id(const srv_log_fields *f);

/* A value for a key=value log field: characters other than [A-Za-z0-9-_.:@/]
 * become '_', empty becomes "-". */
void srv_log_field(char *out, size_t size, const char *in);

/* One record: MESSAGE is the formatted text, the other fields from f. */
void srv_log(int priority, const srv_log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The record of an audit entry (or of a denial without one, f->unaudited):
 * text "BOOTGATE_AUDIT_SEQ=... BOOTGATE_ACTION=... BOOTGATE_NODE=...
 * BOOTGATE_ACTOR=... DETAIL", the detail cut at SRV_LOG_DETAIL_MAX bytes. */
void srv_log_audit(int priority, const srv_log_fields *f, const char *detail);
