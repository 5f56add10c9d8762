/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"
#include "notify.h"

#define SQLITE_SCHEME   "sqlite://"
#define POSTGRES_SCHEME "postgresql://"

static bool is_postgres(const char *url)
{
    return !strncmp(url, POSTGRES_SCHEME, strlen(POSTGRES_SCHEME));
}

/* store = BACKEND://...: sqlite:// followed by an absolute path
 * (sqlite:///var/lib/bootgate/bootgate.db), or a libpq URI
 * (postgresql://bootgate@db.example/bootgate?sslmode=verify-full), which
 * several replicas share. */
static int check_store_url(const char *v, bg_err *err)
{
    const char *sep = strstr(v, "://");
    if (!sep || sep == v)
        return bg_err_set(err, -EINVAL, "store: '%.64s' is not a URL like %s/path/to/bootgate.db",
                          v, SQLITE_SCHEME);
    if (is_postgres(v))
        return 0;
    if ((size_t)(sep - v) != strlen("sqlite") || strncmp(v, "sqlite", strlen("sqlite")) != 0)
        return bg_err_set(err, -EINVAL,
                          "store: unsupported backend '%.*s' (this build has: sqlite, postgresql)",
                          (int)(sep - v) > 32 ? 32 : (int)(sep - v), v);
    if (v[strlen(SQLITE_SCHEME)] != '/')
        return bg_err_set(err, -EINVAL, "store: the SQLite path must be absolute (%s/path/to/db)",
                          SQLITE_SCHEME);
    return 0;
}

/* notify_webhook = https://host[:port]/path, or empty: no webhook */
static int check_webhook_url(const char *v, bg_err *err)
{
    int r;
    if (!v[0])
        return 0;
    r = notify_webhook_url_check(v, err);
    if (r < 0)
        return bg_err_prefix(err, r, "notify_webhook");
    return 0;
}

static const conf_field srv_fields[] = {
    CONF_STR(srv_config, "listen_address", listen_address, "127.0.0.1", "address to listen on"),
    CONF_UINT(srv_config, "port", port, 0, 65535, 8443, "TCP port; 0 picks a free one"),
    CONF_UINT(srv_config, "workers", workers, 1, 64, 2, "worker threads"),
    CONF_PATH(srv_config, "tls_cert", tls_cert, "/etc/bootgate/server.crt", "server chain (PEM)"),
    CONF_PATH(srv_config, "tls_key", tls_key, "/etc/bootgate/server.key", "server key (PEM)"),
    CONF_PATH(srv_config, "client_ca", client_ca, NULL, "admin mTLS CA; empty: admin API off"),
    CONF_PATH(srv_config, "ek_ca_bundle", ek_ca_bundle, NULL, "TPM manufacturer CAs for EK certs"),
    CONF_PATH(srv_config, "kek_file", kek_file, "/etc/bootgate/kek", "32-byte volume-key KEK"),
    CONF_PATH(srv_config, "nonce_secret_file", nonce_secret_file, "/etc/bootgate/nonce-secret",
              "32-byte nonce HMAC secret"),
    CONF_STR_CHECKED(srv_config, "store", store_url, SQLITE_SCHEME SRV_DEFAULT_DB, check_store_url,
                     "store URL: sqlite:///absolute/path.db or postgresql://..."),
    CONF_PATH(srv_config, "db", db, SRV_DEFAULT_DB, "alias: store = sqlite://PATH"),
    CONF_PATH(srv_config, "policy_signers_dir", policy_signers_dir,
              "/etc/bootgate/policy-signers.d", "policy signer public keys"),
    CONF_PATH(srv_config, "approvers_dir", approvers_dir, "/etc/bootgate/approvers.d",
              "break-glass approver public keys"),
    CONF_PATH(srv_config, "audit_signing_key", audit_signing_key, NULL,
              "Ed25519 key for audit heads; empty: unsigned"),
    CONF_PATH(srv_config, "audit_head_file", audit_head_file, NULL,
              "latest signed head; empty: DB.audit-head (SQLite), " SRV_DEFAULT_HEAD
              " (PostgreSQL)"),
    CONF_UINT(srv_config, "audit_sign_interval", audit_sign_interval, 1, 86400, 300,
              "seconds between signed heads"),
    CONF_UINT(srv_config, "breakglass_approvals", breakglass_approvals, 1, 16, 2,
              "approvers a grant needs"),
    CONF_UINT(srv_config, "breakglass_max_ttl", breakglass_max_ttl, 60, 86400, 3600,
              "longest grant, seconds"),
    CONF_UINT(srv_config, "breakglass_max_uses", breakglass_max_uses, 1, 100, 5,
              "most uses of a grant"),
    CONF_UINT(srv_config, "nonce_ttl", nonce_ttl, 5, 3600, 120, "seconds a nonce is valid"),
    CONF_UINT(srv_config, "enroll_ttl", enroll_ttl, 30, 86400, 600, "seconds to finish enrollment"),
    CONF_UINT(srv_config, "max_body", max_body, 1024, 64u << 20, 16u << 20, "request body bytes"),
    CONF_UINT(srv_config, "max_headers", max_headers, 1024, 1u << 20, 16u << 10,
              "request header bytes"),
    CONF_UINT(srv_config, "request_timeout", request_timeout, 1, 600, 30,
              "seconds without progress reading or writing"),
    CONF_UINT(srv_config, "max_connections", max_connections, 1, 1000000, 1024,
              "open connections, all sources"),
    CONF_UINT(srv_config, "max_connections_per_source", max_connections_per_source, 1, 1000000, 64,
              "open connections per source IP"),
    CONF_UINT(srv_config, "header_timeout", header_timeout, 1, 600, 10,
              "seconds for TLS handshake + request headers (and keep-alive idle)"),
    CONF_UINT(srv_config, "body_timeout", body_timeout, 1, 3600, 30,
              "seconds for the request body after its headers"),
    CONF_UINT(srv_config, "max_concurrent_unlocks", max_concurrent_unlocks, 1, 100000, 64,
              "unlock requests in progress; beyond: 503"),
    CONF_UINT(srv_config, "unlock_retry_after", unlock_retry_after, 1, 3600, 2,
              "Retry-After seconds of that 503"),
    CONF_UINT(srv_config, "denial_audit_burst", denial_audit_burst, 1, 100000, 10,
              "unauthenticated denial rows per source IP at once"),
    CONF_UINT(srv_config, "denial_audit_per_minute", denial_audit_per_minute, 1, 100000, 6,
              "refill per source IP and minute"),
    CONF_UINT(srv_config, "denial_audit_global_per_minute", denial_audit_global_per_minute, 1,
              1000000, 600, "refill and burst for all sources"),
    CONF_UINT(srv_config, "attempts_keep", attempts_keep, 1, 100000, 20,
              "unlock attempts (with their evidence) kept per node"),
    CONF_UINT(srv_config, "attempts_max_age_days", attempts_max_age_days, 0, 36500, 90,
              "days an attempt is kept at most (0: no limit)"),
    CONF_PATH(srv_config, "notify_command", notify_command, NULL,
              "run with each event (JSON) on stdin; empty: none"),
    CONF_STR_CHECKED(srv_config, "notify_webhook", notify_webhook, "", check_webhook_url,
                     "https:// URL each event is POSTed to; empty: none"),
    CONF_PATH(srv_config, "notify_webhook_ca", notify_webhook_ca, NULL,
              "CA bundle of the webhook's server; empty: the system's CAs"),
    CONF_UINT(srv_config, "notify_timeout", notify_timeout, 1, 300, 10,
              "seconds a delivery may take (then killed or cut)"),
    CONF_UINT(srv_config, "activation_check_max_nodes", activation_check_max_nodes, 1, 10000000,
              100000, "nodes whose latest boot an activation check judges at most"),
    CONF_UINT(srv_config, "activation_check_max_states", activation_check_max_states, 1, 100000,
              256, "distinct boot states an activation check evaluates at most"),
    CONF_BOOL(srv_config, "tls12", tls12, false, "also accept TLS 1.2 (AEAD suites)"),
    CONF_BOOL(srv_config, "lock_memory", lock_memory, true, "mlockall at start"),
    CONF_STR(srv_config, "user", user, "",
             "started as root: the user to switch to once keys and sockets are open"),
};

/* store and its alias db name one database: the one given fills the other
 * (db stays the plain path the SQLite store opens; with PostgreSQL it is
 * unused). The audit head lives outside the table it signs: beside the
 * SQLite file, or in a file of each replica's own (DESIGN §5). */
static int srv_config_finish(const conf_format *fmt, void *obj, const bool *seen, const char *path,
                             bg_err *err)
{
    srv_config *c = obj;
    int n;

    if (conf_seen(fmt, seen, "store") && conf_seen(fmt, seen, "db"))
        return bg_err_set(err, -EINVAL, "%s: store and db both set (db = PATH is store = %sPATH)",
                          path, SQLITE_SCHEME);
    if (conf_seen(fmt, seen, "db")) {
        n = snprintf(c->store_url, sizeof(c->store_url), "%s%s", SQLITE_SCHEME, c->db);
        if (n < 0 || (size_t)n >= sizeof(c->store_url))
            return bg_err_set(err, -EINVAL, "%s: db path too long", path);
    } else if (is_postgres(c->store_url)) {
        c->db[0] = 0;
    } else if (strlen(c->store_url) - strlen(SQLITE_SCHEME) >= sizeof(c->db)) {
        return bg_err_set(err, -EINVAL, "%s: store path too long", path);
    } else {
        snprintf(c->db, sizeof(c->db), "%s", c->store_url + strlen(SQLITE_SCHEME));
    }
    if (!c->audit_head_file[0] && !c->db[0])
        snprintf(c->audit_head_file, sizeof(c->audit_head_file), "%s", SRV_DEFAULT_HEAD);
    else if (!c->audit_head_file[0]) {
        n = snprintf(c->audit_head_file, sizeof(c->audit_head_file), "%s.audit-head", c->db);
        if (n < 0 || (size_t)n >= sizeof(c->audit_head_file))
            return bg_err_set(err, -ENAMETOOLONG, "%s: db path too long", path);
    }
    return 0;
}

const conf_format srv_config_format = {
    .name = "bootgated.conf",
    .fields = srv_fields,
    .n_fields = ELEMENTSOF(srv_fields),
    .struct_size = sizeof(srv_config),
    .max_file = 1u << 20,
    .finish = srv_config_finish,
};

void srv_config_defaults(srv_config *c)
{
    conf_defaults(&srv_config_format, c);
}

int srv_config_load(srv_config *c, const char *path, bg_err *err)
{
    return conf_load(&srv_config_format, c, path, true, err);
}
