/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

void srv_config_defaults(srv_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_address, sizeof(c->listen_address), "127.0.0.1");
    c->port = 8443;
    c->workers = 2;
    snprintf(c->tls_cert, sizeof(c->tls_cert), "/etc/bootgate/server.crt");
    snprintf(c->tls_key, sizeof(c->tls_key), "/etc/bootgate/server.key");
    snprintf(c->kek_file, sizeof(c->kek_file), "/etc/bootgate/kek");
    snprintf(c->nonce_secret_file, sizeof(c->nonce_secret_file), "/etc/bootgate/nonce-secret");
    snprintf(c->db, sizeof(c->db), "/var/lib/bootgate/bootgate.db");
    snprintf(c->policy_signers_dir, sizeof(c->policy_signers_dir),
             "/etc/bootgate/policy-signers.d");
    snprintf(c->approvers_dir, sizeof(c->approvers_dir), "/etc/bootgate/approvers.d");
    c->audit_sign_interval = 300;
    c->breakglass_approvals = 2;
    c->breakglass_max_ttl = 3600;
    c->breakglass_max_uses = 5;
    c->nonce_ttl = 120;
    c->enroll_ttl = 600;
    c->max_body = 16u << 20;
    c->max_headers = 16u << 10;
    c->request_timeout = 30;
    c->tls12 = false;
    c->lock_memory = true;
    c->denial_audit_burst = 10;
    c->denial_audit_per_minute = 6;
    c->denial_audit_global_per_minute = 600;
}

static int set_path(char *dst, size_t size, const char *dir, const char *v)
{
    int n;
    if (v[0] == '/' || v[0] == '\0')
        n = snprintf(dst, size, "%s", v);
    else
        n = snprintf(dst, size, "%s/%s", dir, v);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int set_uint(unsigned long long *ret, const char *v, unsigned long long min,
                    unsigned long long max)
{
    char *end;
    unsigned long long x;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        return -EINVAL;
    *ret = x;
    return 0;
}

static int set_bool(bool *ret, const char *v)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *ret = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *ret = false;
    else
        return -EINVAL;
    return 0;
}

int srv_config_load(srv_config *c, const char *path, bg_err *err)
{
    _cleanup_(fclosep) FILE *f = fopen(path, "re");
    _cleanup_(freep) char *pathcopy = strdup(path);
    char line[8192];
    const char *dir;
    unsigned lineno = 0;

    if (!pathcopy)
        return -ENOMEM;
    if (!f)
        return bg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    dir = dirname(pathcopy);
    while (fgets(line, sizeof(line), f)) {
        char *k, *v;
        unsigned long long n = 0;
        int r = config_line_split(line, &k, &v);
        lineno++;
        if (r > 0)
            continue;
        if (r < 0)
            return bg_err_set(err, -EINVAL, "%s:%u: expected key = value", path, lineno);
#define PATHKEY(name) else if (!strcmp(k, #name)) r = set_path(c->name, sizeof(c->name), dir, v)
#define UINTKEY(name, min, max)                                                                    \
    else if (!strcmp(k, #name))                                                                    \
    {                                                                                              \
        r = set_uint(&n, v, min, max);                                                             \
        if (r >= 0)                                                                                \
            c->name = n;                                                                           \
    }
        if (!strcmp(k, "listen_address")) {
            if (strlen(v) >= sizeof(c->listen_address))
                r = -EINVAL;
            else
                snprintf(c->listen_address, sizeof(c->listen_address), "%s", v);
        }
        UINTKEY(port, 0, 65535)
        UINTKEY(workers, 1, 64)
        PATHKEY(tls_cert);
        PATHKEY(tls_key);
        PATHKEY(client_ca);
        PATHKEY(ek_ca_bundle);
        PATHKEY(kek_file);
        PATHKEY(nonce_secret_file);
        PATHKEY(db);
        PATHKEY(policy_signers_dir);
        PATHKEY(approvers_dir);
        PATHKEY(audit_signing_key);
        PATHKEY(audit_head_file);
        UINTKEY(audit_sign_interval, 1, 86400)
        UINTKEY(breakglass_approvals, 1, 16)
        UINTKEY(breakglass_max_ttl, 60, 86400)
        UINTKEY(breakglass_max_uses, 1, 100)
        UINTKEY(nonce_ttl, 5, 3600)
        UINTKEY(enroll_ttl, 30, 86400)
        UINTKEY(max_body, 1024, 64u << 20)
        UINTKEY(max_headers, 1024, 1u << 20)
        UINTKEY(request_timeout, 1, 600)
        UINTKEY(denial_audit_burst, 1, 100000)
        UINTKEY(denial_audit_per_minute, 1, 100000)
        UINTKEY(denial_audit_global_per_minute, 1, 1000000)
        else if (!strcmp(k, "tls12")) r = set_bool(&c->tls12, v);
        else if (!strcmp(k, "lock_memory")) r = set_bool(&c->lock_memory, v);
        else return bg_err_set(err, -EINVAL, "%s:%u: unknown key '%s'", path, lineno, k);
#undef PATHKEY
#undef UINTKEY
        if (r < 0)
            return bg_err_set(err, -EINVAL, "%s:%u: bad value for '%s'", path, lineno, k);
    }
    /* beside the database unless configured: outside the table it signs */
    if (!c->audit_head_file[0] &&
        snprintf(c->audit_head_file, sizeof(c->audit_head_file), "%s.audit-head", c->db) >=
            (int)sizeof(c->audit_head_file))
        return bg_err_set(err, -ENAMETOOLONG, "%s: db path too long", path);
    return 0;
}
