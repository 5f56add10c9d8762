/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The migrations of every backend, side by side (schema.h). Append only:
 * never edit a released migration; a new one gets both dialects. */
#include "schema.h"

#include "cleanup.h"

const store_migration store_migrations[] = {
    /* 1: nodes, volumes, used nonces, policies, the audit log */
    {
        .sqlite =
            "CREATE TABLE nodes ("
            " id TEXT PRIMARY KEY, hostname TEXT NOT NULL, grp TEXT NOT NULL,"
            " state INTEGER NOT NULL, ek_fingerprint TEXT NOT NULL UNIQUE,"
            " ek_cert_verified INTEGER NOT NULL, ek_cert_subject TEXT NOT NULL,"
            " ek_pub BLOB NOT NULL, ak_pub BLOB NOT NULL, ak_name BLOB NOT NULL,"
            " activation_hash BLOB, activation_expires INTEGER NOT NULL,"
            " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
            "CREATE TABLE volumes ("
            " node_id TEXT NOT NULL REFERENCES nodes(id), uuid TEXT NOT NULL,"
            " wrapped BLOB NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (node_id, uuid));"
            "CREATE TABLE used_nonces (nonce BLOB PRIMARY KEY, expires INTEGER NOT NULL);"
            "CREATE INDEX used_nonces_expires ON used_nonces(expires);"
            "CREATE TABLE policies ("
            " name TEXT NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL,"
            " signature TEXT NOT NULL, signer TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0,"
            " created INTEGER NOT NULL, PRIMARY KEY (name, version));"
            "CREATE TABLE audit ("
            " seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL,"
            " action TEXT NOT NULL, node TEXT NOT NULL, details TEXT NOT NULL,"
            " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
            /* append-only; someone with write access to the file can drop
             * these, which is what the hash chain is for */
            "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
            " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
            "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
            " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
        .postgres =
            "CREATE TABLE nodes ("
            " id TEXT PRIMARY KEY, hostname TEXT NOT NULL, grp TEXT NOT NULL,"
            " state INTEGER NOT NULL, ek_fingerprint TEXT NOT NULL UNIQUE,"
            " ek_cert_verified INTEGER NOT NULL, ek_cert_subject TEXT NOT NULL,"
            " ek_pub BYTEA NOT NULL, ak_pub BYTEA NOT NULL, ak_name BYTEA NOT NULL,"
            " activation_hash BYTEA, activation_expires BIGINT NOT NULL,"
            " created BIGINT NOT NULL, updated BIGINT NOT NULL);"
            "CREATE TABLE volumes ("
            " node_id TEXT NOT NULL REFERENCES nodes(id), uuid TEXT NOT NULL,"
            " wrapped BYTEA NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (node_id, uuid));"
            "CREATE TABLE used_nonces (nonce BYTEA PRIMARY KEY, expires BIGINT NOT NULL);"
            "CREATE INDEX used_nonces_expires ON used_nonces(expires);"
            "CREATE TABLE policies ("
            " name TEXT NOT NULL, version BIGINT NOT NULL, json TEXT NOT NULL,"
            " signature TEXT NOT NULL, signer TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0,"
            " created BIGINT NOT NULL, PRIMARY KEY (name, version));"
            /* seq is the primary key: a second writer that computed the same
             * seq fails instead of forking the chain (the advisory lock in
             * postgres_audit.c keeps that from happening at all) */
            "CREATE TABLE audit ("
            " seq BIGINT PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL,"
            " action TEXT NOT NULL, node TEXT NOT NULL, details TEXT NOT NULL,"
            " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
            "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'audit log is append-only'; END$$;"
            "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit"
            " FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
            " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
    },
    /* 2: break-glass grants (DESIGN §4) */
    {
        .sqlite = "CREATE TABLE grants ("
                  " id TEXT PRIMARY KEY, node_id TEXT NOT NULL, code TEXT NOT NULL,"
                  " scope TEXT NOT NULL, pcrs TEXT NOT NULL, reason TEXT NOT NULL,"
                  " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, uses INTEGER NOT NULL,"
                  " uses_left INTEGER NOT NULL, state INTEGER NOT NULL, requested_by TEXT NOT NULL,"
                  " created INTEGER NOT NULL);"
                  "CREATE INDEX grants_node ON grants(node_id, state);"
                  "CREATE TABLE grant_approvals ("
                  " grant_id TEXT NOT NULL REFERENCES grants(id), approver TEXT NOT NULL,"
                  " signature TEXT NOT NULL, created INTEGER NOT NULL,"
                  " PRIMARY KEY (grant_id, approver));",
        .postgres =
            "CREATE TABLE grants ("
            " id TEXT PRIMARY KEY, node_id TEXT NOT NULL, code TEXT NOT NULL,"
            " scope TEXT NOT NULL, pcrs BYTEA NOT NULL, reason TEXT NOT NULL,"
            " not_before BIGINT NOT NULL, not_after BIGINT NOT NULL, uses BIGINT NOT NULL,"
            " uses_left BIGINT NOT NULL, state INTEGER NOT NULL, requested_by TEXT NOT NULL,"
            " created BIGINT NOT NULL);"
            "CREATE INDEX grants_node ON grants(node_id, state);"
            "CREATE TABLE grant_approvals ("
            " grant_id TEXT NOT NULL REFERENCES grants(id), approver TEXT NOT NULL,"
            " signature TEXT NOT NULL, created BIGINT NOT NULL,"
            " PRIMARY KEY (grant_id, approver));"
            /* break-glass codes are looked up in the denials' details */
            "CREATE INDEX audit_breakglass_code ON audit ((details::jsonb ->> 'breakglass_code'))"
            " WHERE action = 'unlock_denied';",
    },
    /* 3: the used-nonce horizon every server on the database shares: rows
     * below it are purged, a nonce expiring below it is refused as expired.
     * Kept per process before, a replica whose clock ran ahead purged rows
     * another replica still accepted: a replay. */
    {
        .sqlite = "CREATE TABLE nonce_horizon ("
                  " id INTEGER PRIMARY KEY CHECK (id = 1), cutoff INTEGER NOT NULL);"
                  "INSERT INTO nonce_horizon VALUES (1, 0);",
        .postgres = "CREATE TABLE nonce_horizon ("
                    " id INTEGER PRIMARY KEY CHECK (id = 1), cutoff BIGINT NOT NULL);"
                    "INSERT INTO nonce_horizon VALUES (1, 0);",
    },
    /* 4: the evidence of each unlock attempt whose quote verified: the logs
     * once per distinct content (zlib, named by the SHA-256 of the raw
     * log), the attempts naming them (store.h) */
    {
        .sqlite = "CREATE TABLE evidence_blobs ("
                  " sha256 TEXT PRIMARY KEY, raw_size INTEGER NOT NULL, data BLOB NOT NULL);"
                  "CREATE TABLE attempts ("
                  " id INTEGER PRIMARY KEY AUTOINCREMENT, node_id TEXT NOT NULL,"
                  " grp TEXT NOT NULL, time INTEGER NOT NULL, released INTEGER NOT NULL,"
                  " verdict TEXT NOT NULL, mode TEXT NOT NULL, policy_name TEXT NOT NULL,"
                  " policy_version INTEGER NOT NULL, audit_verdict TEXT NOT NULL,"
                  " audit_seq INTEGER NOT NULL, eventlog TEXT NOT NULL, ima TEXT NOT NULL,"
                  " pcrs TEXT NOT NULL, evaluation TEXT NOT NULL);"
                  "CREATE INDEX attempts_node ON attempts(node_id, id);"
                  "CREATE INDEX attempts_group ON attempts(grp, node_id, id);"
                  "CREATE INDEX attempts_time ON attempts(time);"
                  "CREATE INDEX attempts_eventlog ON attempts(eventlog);"
                  "CREATE INDEX attempts_ima ON attempts(ima);",
        .postgres = "CREATE TABLE evidence_blobs ("
                    " sha256 TEXT PRIMARY KEY, raw_size BIGINT NOT NULL, data BYTEA NOT NULL);"
                    "CREATE TABLE attempts ("
                    " id BIGSERIAL PRIMARY KEY, node_id TEXT NOT NULL,"
                    " grp TEXT NOT NULL, time BIGINT NOT NULL, released INTEGER NOT NULL,"
                    " verdict TEXT NOT NULL, mode TEXT NOT NULL, policy_name TEXT NOT NULL,"
                    " policy_version BIGINT NOT NULL, audit_verdict TEXT NOT NULL,"
                    " audit_seq BIGINT NOT NULL, eventlog TEXT NOT NULL, ima TEXT NOT NULL,"
                    " pcrs TEXT NOT NULL, evaluation TEXT NOT NULL);"
                    "CREATE INDEX attempts_node ON attempts(node_id, id);"
                    "CREATE INDEX attempts_group ON attempts(grp, node_id, id);"
                    "CREATE INDEX attempts_time ON attempts(time);"
                    "CREATE INDEX attempts_eventlog ON attempts(eventlog);"
                    "CREATE INDEX attempts_ima ON attempts(ima);",
    },
    /* 5: PostgreSQL's group commit writes a row here in its flush barrier
     * (postgres.c wal_flush): a commit that wrote no WAL of its own is not
     * flushed synchronously. Rows keyed by the flushing session's pid modulo
     * 1024, so replicas rarely share one. SQLite syncs its WAL file itself
     * and never uses the table. */
    {
        .sqlite = "CREATE TABLE commit_barrier (slot INTEGER PRIMARY KEY, n INTEGER NOT NULL);",
        .postgres = "CREATE TABLE commit_barrier (slot INTEGER PRIMARY KEY, n BIGINT NOT NULL);",
    },
};

const size_t store_schema_latest = ELEMENTSOF(store_migrations);
