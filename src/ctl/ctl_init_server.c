/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl init-server DIR: everything a test or first server needs.
 *
 *   ca.crt ca.key                 CA for the server and the admin client certificates
 *   server.crt server.key         TLS server certificate (127.0.0.1, ::1, localhost + --san)
 *   {admin,enroller,approver,auditor}.{crt,key}   client certificates, subject OU = role
 *   kek nonce-secret              32 random bytes each, mode 0600
 *   policy-signer.key             Ed25519; policy-signers.d/policy-signer.pub
 *   approver1.key approver2.key   Ed25519; approvers.d/approver{1,2}.pub
 *   audit-signer.key              Ed25519 that signs audit heads; audit-signer.pub
 *   bootgated.conf                server configuration pointing at the above
 *   admin.conf                    bootgatectl admin connection (role admin) */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "secmem.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)

static const char *const roles[] = {"admin", "enroller", "approver", "auditor"};

static EVP_PKEY *new_ec_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static EVP_PKEY *new_ed25519_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -EINVAL;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return 0;
}

/* issuer == NULL: self-signed CA. ou may be NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *ou, X509 *issuer,
                       EVP_PKEY *issuer_key, const char *san, bool server)
{
    X509 *x = X509_new();
    X509_NAME *name;
    uint8_t serial[16];
    BIGNUM *bn;
    bool ok = true;

    if (!x)
        return NULL;
    X509_set_version(x, 2);
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)(issuer ? 825 : 3650) * 24 * 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"bootgate", -1, -1,
                               0);
    if (ou)
        X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    if (!issuer) {
        ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") >= 0 &&
             add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") >= 0 &&
             add_ext(x, x, NID_subject_key_identifier, "hash") >= 0;
    } else {
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") >= 0 &&
             add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") >= 0 &&
             add_ext(x, issuer, NID_ext_key_usage, server ? "serverAuth" : "clientAuth") >= 0 &&
             add_ext(x, issuer, NID_authority_key_identifier, "keyid") >= 0;
        if (ok && san)
            ok = add_ext(x, issuer, NID_subject_alt_name, san) >= 0;
    }
    if (!ok || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

static int write_pem(const char *dir, const char *file, EVP_PKEY *key, X509 *cert, bool pub,
                     bg_err *err)
{
    _cleanup_(freep) char *path = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long n;
    int ok, r;
    if (!b || asprintf(&path, "%s/%s", dir, file) < 0) {
        BIO_free(b);
        return -ENOMEM;
    }
    if (cert)
        ok = PEM_write_bio_X509(b, cert);
    else if (pub)
        ok = PEM_write_bio_PUBKEY(b, key);
    else
        ok = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    if (!ok) {
        BIO_free(b);
        return bg_err_set(err, -EIO, "cannot encode %s", file);
    }
    n = BIO_get_mem_data(b, &data);
    r = write_file_atomic(path, data, (size_t)n, (cert || pub) ? 0644 : 0600, err);
    BIO_free_all(b);
    return r;
}

static int write_secret(const char *dir, const char *file, bg_err *err)
{
    _cleanup_(freep) char *path = NULL;
    uint8_t *s = secmem_alloc(32);
    int r;
    if (!s || asprintf(&path, "%s/%s", dir, file) < 0) {
        secmem_free(s);
        return -ENOMEM;
    }
    if (RAND_bytes(s, 32) != 1)
        r = bg_err_set(err, -EIO, "no random bytes");
    else
        r = write_file_atomic(path, s, 32, 0600, err);
    secmem_free(s);
    return r;
}

static int write_text(const char *dir, const char *file, const char *text, bg_err *err)
{
    _cleanup_(freep) char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, file) < 0)
        return -ENOMEM;
    return write_file_atomic(path, text, strlen(text), 0644, err);
}

static int mkdir_in(const char *dir, const char *sub, bg_err *err)
{
    _cleanup_(freep) char *path = NULL;
    if (asprintf(&path, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "") < 0)
        return -ENOMEM;
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return bg_err_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bootgatectl init-server [OPTIONS] DIR\n\n"
            "Creates a CA, server and role client certificates, KEK, nonce secret, a policy\n"
            "signing key, two break-glass approver keys and bootgated.conf + admin.conf in DIR.\n\n"
            "  --port N         port written to bootgated.conf and admin.conf (default 8443)\n"
            "  --listen ADDR    listen_address for bootgated.conf (default 127.0.0.1)\n"
            "  --san SAN        extra subjectAltName for the server certificate,\n"
            "                   e.g. IP:10.0.2.2 or DNS:keys.example.org (repeatable)\n"
            "  --force          overwrite existing files\n"
            "  --json           print the created files as JSON\n"
            "  -h, --help       this help\n");
}

int ctl_init_server_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"san", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(freep) char *san = strdup("IP:127.0.0.1,IP:::1,DNS:localhost");
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *ca_key = NULL;
    _cleanup_(X509_freep) X509 *ca = NULL;
    const char *listen = "127.0.0.1", *dir;
    unsigned long port = 8443;
    bool force = false, json = false;
    bg_err err = {0};
    char conf[4096];
    struct stat st;
    int c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case 'p': {
            char *end;
            port = strtoul(optarg, &end, 10);
            if (*end || port > 65535)
                return ctl_usage_error("init-server", "bad port '%s'", optarg);
            break;
        }
        case 'l':
            listen = optarg;
            break;
        case 's': {
            char *n = NULL;
            if (asprintf(&n, "%s,%s", san, optarg) < 0)
                return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
            free(san);
            san = n;
            break;
        }
        case 'f':
            force = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("init-server", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return ctl_usage_error("init-server", "expected one directory");
    dir = argv[optind];
    if (!san)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");

    r = mkdir_in(dir, NULL, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    {
        _cleanup_(freep) char *probe = NULL;
        if (asprintf(&probe, "%s/kek", dir) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        if (!force && stat(probe, &st) == 0)
            return ctl_error(CTL_EXIT_FAIL, "%s already holds a server (use --force)", dir);
    }
    if (mkdir_in(dir, "policy-signers.d", &err) < 0 || mkdir_in(dir, "approvers.d", &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));

    ca_key = new_ec_key();
    ca = ca_key ? make_cert(ca_key, "bootgate CA", NULL, NULL, NULL, NULL, false) : NULL;
    if (!ca)
        return ctl_error(CTL_EXIT_RUNTIME, "cannot create the CA");
    r = write_pem(dir, "ca.key", ca_key, NULL, false, &err);
    if (r >= 0)
        r = write_pem(dir, "ca.crt", NULL, ca, false, &err);
    {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = new_ec_key();
        _cleanup_(X509_freep) X509 *x =
            k ? make_cert(k, "bootgated", NULL, ca, ca_key, san, true) : NULL;
        if (!x)
            return ctl_error(CTL_EXIT_RUNTIME, "cannot create the server certificate (SAN %s)",
                             san);
        if (r >= 0)
            r = write_pem(dir, "server.key", k, NULL, false, &err);
        if (r >= 0)
            r = write_pem(dir, "server.crt", NULL, x, false, &err);
    }
    for (size_t i = 0; r >= 0 && i < ELEMENTSOF(roles); i++) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = new_ec_key();
        char cn[64], file[64];
        snprintf(cn, sizeof(cn), "bootgate-%s", roles[i]);
        _cleanup_(X509_freep) X509 *x =
            k ? make_cert(k, cn, roles[i], ca, ca_key, NULL, false) : NULL;
        if (!x)
            return ctl_error(CTL_EXIT_RUNTIME, "cannot create the %s certificate", roles[i]);
        snprintf(file, sizeof(file), "%s.key", roles[i]);
        r = write_pem(dir, file, k, NULL, false, &err);
        snprintf(file, sizeof(file), "%s.crt", roles[i]);
        if (r >= 0)
            r = write_pem(dir, file, NULL, x, false, &err);
    }
    if (r >= 0)
        r = write_secret(dir, "kek", &err);
    if (r >= 0)
        r = write_secret(dir, "nonce-secret", &err);
    {
        static const char *const eds[][2] = {
            {"policy-signer.key", "policy-signers.d/policy-signer.pub"},
            {"approver1.key", "approvers.d/approver1.pub"},
            {"approver2.key", "approvers.d/approver2.pub"},
            {"audit-signer.key", "audit-signer.pub"},
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(eds); i++) {
            _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = new_ed25519_key();
            if (!k)
                return ctl_error(CTL_EXIT_RUNTIME, "cannot create an Ed25519 key");
            r = write_pem(dir, eds[i][0], k, NULL, false, &err);
            if (r >= 0)
                r = write_pem(dir, eds[i][1], k, NULL, true, &err);
        }
    }
    if (r >= 0) {
        snprintf(conf, sizeof(conf),
                 "# written by bootgatectl init-server; see bootgated.conf.example for all keys\n"
                 "listen_address = %s\nport = %lu\nworkers = 2\n"
                 "tls_cert = server.crt\ntls_key = server.key\nclient_ca = ca.crt\n"
                 "#ek_ca_bundle = /var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem\n"
                 "kek_file = kek\nnonce_secret_file = nonce-secret\ndb = bootgate.db\n"
                 "policy_signers_dir = policy-signers.d\napprovers_dir = approvers.d\n"
                 "audit_signing_key = audit-signer.key\naudit_sign_interval = 300\n"
                 "nonce_ttl = 120\n",
                 listen, port);
        r = write_text(dir, "bootgated.conf", conf, &err);
    }
    if (r >= 0) {
        _cleanup_(freep) char *abs = realpath(dir, NULL);
        const char *host = strchr(listen, ':') ? "[::1]" : "127.0.0.1";
        snprintf(conf, sizeof(conf),
                 "# bootgatectl admin connection (role admin)\nserver = https://%s:%lu\n"
                 "ca = %s/ca.crt\ncert = %s/admin.crt\nkey = %s/admin.key\n",
                 host, port, abs ? abs : dir, abs ? abs : dir, abs ? abs : dir);
        r = write_text(dir, "admin.conf", conf, &err);
    }
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "dir", json_object_new_string(dir));
        json_object_object_add(o, "config", json_object_new_string("bootgated.conf"));
        json_object_object_add(o, "admin_config", json_object_new_string("admin.conf"));
        json_object_object_add(o, "port", json_object_new_int64((int64_t)port));
        ctl_print_json(o);
        json_object_put(o);
    } else {
        printf("Created a bootgate server in %s:\n  bootgated -c %s/bootgated.conf\n"
               "  bootgatectl node list --admin-config %s/admin.conf  (role admin)\n",
               dir, dir, dir);
    }
    return CTL_EXIT_OK;
}
