/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgated: the key server (DESIGN §1, §2, §5, §6). */
#include "srv.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libgen.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "auditchain.h"
#include "evidence.h"
#include "kek.h"
#include "metrics.h"
#include "nonce.h"
#include "notify.h"
#include "privdrop.h"
#include "secmem.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: bootgated [-c CONFIG] [--check] [--log-stderr]\n\n"
               "  -c, --config PATH  configuration file (default " SRV_DEFAULT_CONFIG ")\n"
               "      --check        load and check the configuration and keys, then exit\n"
               "      --log-stderr   copy the log records to stderr (foreground runs, tests)\n"
               "  -h, --help         this help\n"
               "      --version      print the version\n\n"
               "See bootgated.conf.example for every configuration key.\n");
}

static int load_ek_cas(srv *s, bg_err *err)
{
    if (!s->cfg.ek_ca_bundle[0])
        return 0;
    s->ek_cas = X509_STORE_new();
    if (!s->ek_cas)
        return -ENOMEM;
    if (X509_STORE_load_file(s->ek_cas, s->cfg.ek_ca_bundle) != 1)
        return bg_err_set(err, -EINVAL, "cannot load EK CA bundle %s", s->cfg.ek_ca_bundle);
    return 0;
}

/* A log that no longer reaches the signed head written out last was cut
 * back or rewritten while the server was down: refuse to run on it (and to
 * sign over it) until someone has looked. */
static int check_audit_head(srv *s, bg_err *err)
{
    auditchain_head h;
    struct stat st;
    int64_t bad = 0;
    int r = srv_audit_head_load(s, &h, err);
    if (r == -ENOENT)
        return 0;
    if (r >= 0)
        r = srv_audit_head_reached(s, &h, &bad, err);
    if (r < 0)
        return bg_err_prefix(err, r,
                             "audit log check (move %s away only after the log was examined)",
                             s->cfg.audit_head_file);
    if (stat(s->cfg.audit_head_file, &st) == 0)
        metrics_audit_signed_head(h.seq, (int64_t)st.st_mtime);
    return 0;
}

/* The directory of path: dirname(3) of a copy in buf. */
static const char *dir_of(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    return dirname(buf);
}

/* After the drop, what the server opens later is the user's to open: the
 * SQLite state directory (the database, its -wal and -shm files are
 * created there), the directory of the signed head (written atomically
 * beside it), and the key directories read per request. A clear error now
 * instead of a failed request, or a store that cannot write, later. */
static int check_user_paths(const srv *s, const privdrop_user *u, bg_err *err)
{
    char dir[4096], wal[4096 + 8], shm[4096 + 8];
    const char *dirs[] = {s->cfg.policy_signers_dir, s->cfg.approvers_dir};
    int r;

    if (s->cfg.db[0]) {
        const char *files[] = {s->cfg.db, wal, shm, NULL};
        snprintf(wal, sizeof(wal), "%s-wal", s->cfg.db);
        snprintf(shm, sizeof(shm), "%s-shm", s->cfg.db);
        r = privdrop_check_dir(u, "store", dir_of(s->cfg.db, dir, sizeof(dir)), files, err);
        if (r < 0)
            return r;
    }
    if (s->cfg.audit_signing_key[0]) {
        const char *files[] = {s->cfg.audit_head_file, NULL};
        r = privdrop_check_dir(u, "audit_head_file",
                               dir_of(s->cfg.audit_head_file, dir, sizeof(dir)), files, err);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
        if (access(dirs[i], R_OK | X_OK) < 0 && errno != ENOENT)
            return bg_err_set(err, -errno, "%s is not readable for user %s: %s", dirs[i], u->name,
                              strerror(errno));
    return 0;
}

/* user = NAME: looked up now (an unknown user stops the start before
 * anything else), switched to once the keys are read and the sockets bound. */
static int user_lookup(const srv *s, const char *config, privdrop_user *ret_user, bg_err *err)
{
    if (!s->cfg.user[0]) {
        if (privdrop_is_root())
            srv_log(LOG_WARNING, &(srv_log_fields){.action = "running_as_root", .seq = -1},
                    "running as root; set user = bootgate (an unprivileged account) in %s", config);
        return 0;
    }
    int r = privdrop_lookup(s->cfg.user, ret_user, err);
    return r < 0 ? r : privdrop_check_identity(ret_user, err);
}

/* Switches to u for good (a check when this is u already) and says so;
 * then what the server opens later must be u's to open. */
static int become_user(const srv *s, const privdrop_user *u, bool check_only, bg_err *err)
{
    bool was_root = privdrop_is_root();
    int r = privdrop_apply(u, err);
    if (r < 0)
        return r;
    if (check_only)
        printf("bootgated: runs as user %s (uid %u, gid %u)\n", u->name, (unsigned)u->uid,
               (unsigned)u->gid);
    else
        srv_log(LOG_INFO, &(srv_log_fields){.action = "privileges_dropped", .seq = -1},
                "%s user %s (uid %u, gid %u), no capabilities, no new privileges",
                was_root ? "switched to" : "runs as", u->name, (unsigned)u->uid, (unsigned)u->gid);
    return check_user_paths(s, u, err);
}

/* The store answers and its schema is one this bootgated can run on (an
 * older one is migrated at start). */
static int check_store(srv *s, bg_err *err)
{
    int64_t version = 0, latest = store_schema_latest_version();
    int r = store_open_connect(s->cfg.store_url, &s->store, err);
    if (r < 0)
        return r;
    r = store_schema_version(s->store, &version);
    if (r < 0)
        return bg_err_set(err, r, "store: cannot read the schema version");
    if (version > latest)
        return bg_err_set(err, -EPROTO,
                          "store: database schema %lld is newer than this bootgated (%lld)",
                          (long long)version, (long long)latest);
    printf("bootgated: store %s: schema %lld%s\n", store_backend_name(s->store), (long long)version,
           version < latest ? " (bootgated migrates it at start)" : " (current)");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'C'},
        {"log-stderr", no_argument, NULL, 'L'},   {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {},
    };
    const char *config = SRV_DEFAULT_CONFIG;
    bool check_only = false, log_stderr = false, listening = false;
    srv s = {0};
    privdrop_user user = {0};
    bg_err err = {0};
    int c, r;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'C':
            check_only = true;
            break;
        case 'L':
            log_stderr = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            puts("bootgated " BOOTGATE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    srv_log_open(log_stderr);
    /* no core dump, no ptrace by other users: the process holds the KEK */
    r = secmem_harden_process();
    if (r < 0) {
        fprintf(stderr, "bootgated: prctl(PR_SET_DUMPABLE, 0): %s\n", strerror(-r));
        return 1;
    }
    srv_config_defaults(&s.cfg);
    r = srv_config_load(&s.cfg, config, &err);
    if (r >= 0)
        r = user_lookup(&s, config, &user, &err);
    if (r >= 0 && s.cfg.user[0] && s.cfg.lock_memory && privdrop_is_root())
        r = privdrop_prepare_memlock(&err);
    /* before the first secret is read: volume keys also pass through json-c,
     * libevent and OpenSSL buffers that secmem cannot own */
    if (r >= 0 && s.cfg.lock_memory && (r = secmem_lock_all()) < 0)
        r = bg_err_set(&err, r,
                       "lock_memory = yes but mlockall failed: %s (raise RLIMIT_MEMLOCK, e.g. "
                       "systemd LimitMEMLOCK=infinity, or set lock_memory = no)",
                       strerror(-r));
    if (r >= 0)
        r = kek_load_secret_file(s.cfg.kek_file, &s.kek, &err);
    if (r >= 0)
        r = kek_load_secret_file(s.cfg.nonce_secret_file, &s.nonce_secret, &err);
    if (r >= 0)
        r = load_ek_cas(&s, &err);
    /* the other private keys: as private as the KEK (OpenSSL reads any mode) */
    if (r >= 0)
        r = kek_check_private_file(s.cfg.tls_key, &err);
    if (r >= 0 && s.cfg.audit_signing_key[0])
        r = kek_check_private_file(s.cfg.audit_signing_key, &err);
    if (r >= 0 && s.cfg.audit_signing_key[0])
        r = auditchain_load_key(s.cfg.audit_signing_key, true, &s.audit_key, &err);
    if (r >= 0 && srv_denial_limits_init(&s) < 0)
        r = bg_err_set(&err, -ENOMEM, "out of memory");
    if (r >= 0)
        r = srv_tls_init(&s, &err);
    /* root's part ends here: a port below 1024 is bound, then the user's
     * identity for good (--check too: it checks what the user can open) */
    if (r >= 0 && !check_only && (r = srv_http_listen(&s, &err)) >= 0)
        listening = true;
    if (r >= 0 && s.cfg.user[0])
        r = become_user(&s, &user, check_only, &err);
    if (r >= 0)
        r = notify_check(&s.cfg, &err);
    /* --check connects and reads the schema version; it never migrates */
    if (r >= 0)
        r = check_only ? check_store(&s, &err) : store_open(s.cfg.store_url, &s.store, &err);
    if (r >= 0)
        r = check_audit_head(&s, &err);
    if (r < 0) {
        fprintf(stderr, "bootgated: %s\n", bg_err_msg(&err));
        r = 1;
        goto out;
    }
    if (check_only) {
        printf("bootgated: configuration %s is valid\n", config);
        r = 0;
        goto out;
    }
    srv_routes_init();
    /* a server that cannot write its audit log cannot change anything either */
    if (srv_audited(&s, &(srv_audit_rec){.actor = "bootgated", .action = "server_start"}, NULL,
                    NULL, NULL) < 0) {
        /* the backend, not the URL: a PostgreSQL URL may carry a password */
        fprintf(stderr, "bootgated: cannot commit the server_start audit record to the %s store\n",
                store_backend_name(s.store));
        r = 1;
        goto out;
    }
    r = notify_start(&s.cfg, &err);
    if (r >= 0) {
        listening = false; /* the workers' listeners own the sockets now */
        r = srv_http_run(&s, &err);
    }
    /* the last events get a moment to go out, then are given up (counted) */
    notify_stop();
    {
        /* the last records of this run get a signed head too */
        bg_err serr = {0};
        if (srv_audit_sign_head(&s, &serr) < 0)
            fprintf(stderr, "bootgated: %s\n", bg_err_msg(&serr));
    }
    if (r < 0) {
        fprintf(stderr, "bootgated: %s\n", bg_err_msg(&err));
        r = 1;
        goto out;
    }
    r = 0;
out:
    evidence_policy_cache_clear();
    evidence_tpmpub_cache_clear();
    if (listening)
        srv_http_unlisten();
    store_close(s.store);
    SSL_CTX_free(s.ssl);
    X509_STORE_free(s.ek_cas);
    EVP_PKEY_free(s.audit_key);
    srv_denial_limits_free(&s);
    srv_log_close();
    secmem_free(s.kek);
    secmem_free(s.nonce_secret);
    return r;
}
