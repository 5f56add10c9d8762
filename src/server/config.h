/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgated configuration: a `key = value` file (default
 * /etc/bootgate/bootgated.conf, `-c PATH`). '#' starts a comment line.
 * Every key, its meaning and its default are in
 * src/server/bootgated.conf.example; unknown keys are an error so that a
 * typo cannot silently leave a safe default in place of what was meant. */

#include <stdbool.h>
#include <stdint.h>

#include "bgerr.h"

#define SRV_DEFAULT_CONFIG "/etc/bootgate/bootgated.conf"
#define SRV_DEFAULT_DB     "/var/lib/bootgate/bootgate.db"
/* the signed audit head of a replica on a shared (PostgreSQL) store */
#define SRV_DEFAULT_HEAD "/var/lib/bootgate/audit-head"

typedef struct srv_config {
    char listen_address[64];
    unsigned port;
    unsigned workers;
    char tls_cert[4096];
    char tls_key[4096];
    char client_ca[4096]; /* admin mTLS; empty = admin API disabled */
    char ek_ca_bundle[4096];
    char kek_file[4096];
    char nonce_secret_file[4096];
    /* store = URL (sqlite:///abs/path.db or postgresql://...; DESIGN §6).
     * db = PATH is its alias for sqlite://PATH; after loading both are
     * filled, db with the plain path (empty for PostgreSQL). */
    char store_url[4096 + 16];
    char db[4096];
    char policy_signers_dir[4096];
    char approvers_dir[4096];
    char audit_signing_key[4096];  /* Ed25519 PEM; empty = heads are not signed */
    unsigned audit_sign_interval;  /* seconds between signed heads */
    char audit_head_file[4096];    /* the latest signed head; default "<db>.audit-head" or
                                      SRV_DEFAULT_HEAD (one per replica on PostgreSQL) */
    unsigned breakglass_approvals; /* distinct approvers a grant needs */
    unsigned breakglass_max_ttl;   /* seconds, never more than 24 h */
    unsigned breakglass_max_uses;
    unsigned nonce_ttl;       /* seconds */
    unsigned enroll_ttl;      /* seconds for the activation step */
    size_t max_body;          /* bytes */
    size_t max_headers;       /* bytes */
    unsigned request_timeout; /* seconds without progress while reading or writing */
    /* Bounded resources (conn.c): connections at once in all and per source
     * IP; deadlines for the whole TLS handshake + request line + headers
     * (also the idle time of a kept-alive connection) and for the body after
     * them, however slowly the bytes trickle in; unlock requests between
     * their headers and their answer (beyond: 503 + Retry-After). */
    unsigned max_connections;
    unsigned max_connections_per_source;
    unsigned header_timeout;         /* seconds */
    unsigned body_timeout;           /* seconds */
    unsigned max_concurrent_unlocks; /* requests */
    unsigned unlock_retry_after;     /* seconds, the 503's Retry-After */
    /* Evidence kept (store.h attempts): per node the newest attempts_keep
     * attempts, none older than attempts_max_age_days (0: no age limit). */
    unsigned attempts_keep;
    unsigned attempts_max_age_days;
    /* The activation check (lockout.h) judges the latest boot of at most
     * activation_check_max_nodes nodes, evaluating at most
     * activation_check_max_states distinct boot states; the rest is
     * unchecked, which refuses the activation unless forced. */
    unsigned activation_check_max_nodes;
    unsigned activation_check_max_states;
    bool tls12;       /* also accept TLS 1.2 with AEAD suites */
    bool lock_memory; /* mlockall at start: no secret reaches swap */
    /* Started as root, bootgated becomes this user (privdrop.h) once the
     * key files are read and the sockets bound; empty: no switch (a warning
     * when root). */
    char user[64];
    /* Audit rows for denials before the quote signature verifies (the caller
     * has proven nothing yet): a token bucket per source IP and one for all
     * sources; denials past them are counted in /metrics and syslog only. */
    unsigned denial_audit_burst;             /* rows per source IP at once */
    unsigned denial_audit_per_minute;        /* refill per source IP */
    unsigned denial_audit_global_per_minute; /* refill (and burst) for all sources */
    /* Notifications (notify.h): a command run with the event on stdin, an
     * https:// webhook (its server verified against notify_webhook_ca, or the
     * system's CAs when empty), seconds each delivery may take. Empty: off. */
    char notify_command[4096];
    char notify_webhook[2048];
    char notify_webhook_ca[4096];
    unsigned notify_timeout;
} srv_config;

/* The field table (src/lib/conf.h): every key, its limits and its default. */
extern const struct conf_format srv_config_format;

void srv_config_defaults(srv_config *c);
/* Reads path over the defaults. Paths given relative are taken relative to
 * the config file's directory. Fills store_url and db from each other and
 * audit_head_file ("<db>.audit-head") when unset. */
int srv_config_load(srv_config *c, const char *path, bg_err *err);
