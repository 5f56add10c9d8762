/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `bootgate-unlock enroll` (DESIGN §2), from the installed OS:
 * EK (+ certificate) and AK from the TPM, the volume key from an existing
 * passphrase or key file, POST /v1/enroll as role enroller (client
 * certificate), ActivateCredential of the server's challenge to prove that EK
 * and AK live in one TPM, POST /v1/enroll/activate, then the LUKS2 token and
 * the pinned CA for the initramfs. */
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>

#include "http.h"
#include "luks.h"
#include "proto.h"
#include "secjson.h"
#include "secmem.h"
#include "tpm.h"
#include "util.h"

static void enroll_usage(FILE *f)
{
    fprintf(f,
            "Usage: bootgate-unlock enroll --server URL [--server URL...] --ca FILE [--group G]\n"
            "           [--key-file F] [--client-cert F --client-key F] [--hostname H] DEVICE...\n"
            "--server: each replica of the service, in the order the node asks them at boot\n"
            "(written to the token; enrollment itself also fails over along them).\n"
            "Reads the volume key with the passphrase in --key-file (or the first line of\n"
            "stdin), registers this TPM and volume with the server and writes the bootgate\n"
            "LUKS2 token. --client-cert/--client-key: a certificate with role enroller\n"
            "(default: client_cert/client_key of the configuration).\n");
}

/* POSTs req (with volume keys or the activation secret: wiped once sent) and
 * decodes the 200 answer; prints and returns an exit code. */
static int enroll_post(const client_opts *o, const https_opts *h, const server_list *servers,
                       size_t *io_server, const char *path, const char *what, json_object *req,
                       json_object **ret)
{
    client_answer a = {0};
    int r, ex = CLIENT_EXIT_USAGE;

    r = client_post(o, h, "enroll", what, servers, io_server, path, req, true,
                    https_now_ms() + (uint64_t)o->cfg.timeout_s * 1000, &a, &ex);
    if (r == -EPERM) {
        client_print_refusal(o, "enroll", &a);
        client_answer_done(&a);
        return CLIENT_EXIT_DENIED;
    }
    if (r < 0)
        return ex;
    *ret = TAKE_PTR(a.json);
    return CLIENT_EXIT_OK;
}

static int read_passphrase(const char *dev, const char *key_file, uint8_t **ret, size_t *ret_size,
                           bg_err *err)
{
    _cleanup_(secmem_freep) uint8_t *pass = secmem_alloc(8192);
    size_t n = 0;

    if (!pass)
        return bg_err_set(err, -ENOMEM, "out of secure memory");
    if (key_file) {
        /* As cryptsetup --key-file: the whole file is the passphrase. */
        _cleanup_(freep) uint8_t *buf = NULL;
        int r = read_file(key_file, 8191, &buf, &n, err);
        if (r < 0)
            return r;
        memcpy(pass, buf, n);
        secmem_wipe(buf, n);
    } else {
        /* First line of stdin, without its newline; on a terminal, prompt
         * with echo off. */
        struct termios old, quiet;
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
        uint8_t c;
        if (tty) {
            fprintf(stderr, "Passphrase for %s: ", dev);
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
            (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        /* read(2) byte by byte: no stdio buffer keeps a copy of the passphrase */
        while (n < 8191 && read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
            pass[n++] = c;
        secmem_wipe(&c, sizeof(c));
        if (tty) {
            (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
            fputc('\n', stderr);
        }
    }
    if (n == 0)
        return bg_err_set(err, -EINVAL, "empty passphrase");
    *ret = TAKE_PTR(pass);
    *ret_size = n;
    return 0;
}

typedef struct enroll_volume {
    const char *dev;
    struct crypt_device *cd;
    uint8_t *key; /* secmem */
    size_t key_size;
} enroll_volume;

typedef struct enroll_volumes {
    size_t n;
    enroll_volume v[PROTO_MAX_VOLUMES];
} enroll_volumes;

static void enroll_volumes_done(enroll_volumes *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        secmem_free(vs->v[i].key);
        crypt_free(vs->v[i].cd);
    }
    vs->n = 0;
}

int client_enroll_main(client_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'c'},
        {"group", required_argument, NULL, 'g'},
        {"key-file", required_argument, NULL, 'k'},
        {"client-cert", required_argument, NULL, 'C'},
        {"client-key", required_argument, NULL, 'K'},
        {"hostname", required_argument, NULL, 'H'},
        {},
    };
    const char *ca = NULL, *group = "default", *key_file = NULL;
    server_list servers = {0};
    size_t server = 0; /* the replica that answered: activation goes there first */
    const char *cert = o->cfg.client_cert[0] ? o->cfg.client_cert : NULL;
    const char *ckey = o->cfg.client_key[0] ? o->cfg.client_key : NULL;
    char hostname[PROTO_MAX_ID + 1] = "";
    _cleanup_(enroll_volumes_done) enroll_volumes vols = {0};
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    _cleanup_(secmem_freep) uint8_t *pass = NULL, *seed = NULL;
    _cleanup_(freep) uint8_t *ek_cert = NULL;
    _cleanup_(secjson_putp) json_object *jreq = NULL; /* volume keys, then the secret */
    _cleanup_(json_object_putp) json_object *jresp = NULL;
    uint8_t ek_pub[TPM_BLOB_MAX], ak_pub[TPM_BLOB_MAX], ak_name[TPM_NAME_MAX];
    size_t pass_size = 0, ek_pub_size, ak_pub_size, ak_name_size, cert_size = 0;
    size_t seed_size = 0;
    proto_enroll_req req;
    proto_enroll_resp eresp;
    proto_activate_req areq;
    proto_activate_resp aresp;
    luks_token tok;
    bg_err err = {{0}};
    int c, r, ex;

    optind = 0; /* glibc: full reset after main's getopt */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case 'h':
            enroll_usage(stdout);
            return CLIENT_EXIT_OK;
        case 's':
            if (server_list_add(&servers, optarg, &err) < 0) {
                client_msg(o, "enroll: --server: %s", bg_err_msg(&err));
                return CLIENT_EXIT_USAGE;
            }
            break;
        case 'c':
            ca = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'C':
            cert = optarg;
            break;
        case 'K':
            ckey = optarg;
            break;
        case 'H':
            snprintf(hostname, sizeof(hostname), "%s", optarg);
            break;
        default:
            enroll_usage(stderr);
            return CLIENT_EXIT_USAGE;
        }
    }
    if (servers.n == 0 || !ca || optind >= argc || argc - optind > (int)PROTO_MAX_VOLUMES) {
        client_msg(o, "enroll: --server, --ca and 1..%u DEVICEs are required", PROTO_MAX_VOLUMES);
        enroll_usage(stderr);
        return CLIENT_EXIT_USAGE;
    }
    if (strlen(group) > PROTO_MAX_ID) {
        client_msg(o, "enroll: --group too long");
        return CLIENT_EXIT_USAGE;
    }
    if (!hostname[0] && gethostname(hostname, sizeof(hostname) - 1) < 0)
        snprintf(hostname, sizeof(hostname), "unknown");

    /* 1. the volumes and their keys (one passphrase or key file for all, as
     * an installer sets them up) */
    for (int i = optind; i < argc; i++) {
        enroll_volume *v = &vols.v[vols.n];
        v->dev = argv[i];
        if (luks_open(v->dev, &v->cd, &err) < 0) {
            client_msg(o, "%s", bg_err_msg(&err));
            return CLIENT_EXIT_USAGE;
        }
        vols.n++;
        if (!pass) {
            r = read_passphrase(v->dev, key_file, &pass, &pass_size, &err);
            if (r < 0) {
                client_msg(o, "%s: %s", v->dev, bg_err_msg(&err));
                return CLIENT_EXIT_USAGE;
            }
        }
        r = luks_volume_key_get(v->cd, (const char *)pass, pass_size, &v->key, &v->key_size, &err);
        if (r < 0) {
            client_msg(o, "%s: %s", v->dev, bg_err_msg(&err));
            return CLIENT_EXIT_USAGE;
        }
        if (v->key_size > PROTO_MAX_VOLUME_KEY) {
            client_msg(o, "%s: volume key of %zu bytes is too large", v->dev, v->key_size);
            return CLIENT_EXIT_USAGE;
        }
        for (size_t j = 0; j + 1 < vols.n; j++)
            if (!strcmp(luks_uuid(vols.v[j].cd), luks_uuid(v->cd))) {
                client_msg(o, "%s and %s are the same volume", vols.v[j].dev, v->dev);
                return CLIENT_EXIT_USAGE;
            }
    }
    secmem_free(TAKE_PTR(pass));

    /* 2. the TPM: EK (+ certificate), AK */
    ex = client_tpm_setup(o, &t);
    if (ex != 0)
        return ex;
    if (tpm_ek_public(t, ek_pub, sizeof(ek_pub), &ek_pub_size, &err) < 0 ||
        tpm_ak_public(t, ak_pub, sizeof(ak_pub), &ak_pub_size, &err) < 0 ||
        tpm_ak_name(t, ak_name, sizeof(ak_name), &ak_name_size, &err) < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        return CLIENT_EXIT_TPM;
    }
    r = tpm_ek_cert(t, &ek_cert, &cert_size, &err);
    if (r == -ENOENT)
        client_log(o, LOG_WARNING,
                   "no EK certificate in NV: the server will hold this node 'pending' until "
                   "an operator approves its EK fingerprint");
    else if (r < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        return CLIENT_EXIT_TPM;
    }

    /* 3. register */
    https_opts h = client_https_opts(o);
    h.ca_file = ca;
    h.client_cert = cert;
    h.client_key = ckey;
    memset(&req, 0, sizeof(req));
    snprintf(req.hostname, sizeof(req.hostname), "%s", hostname);
    snprintf(req.group, sizeof(req.group), "%s", group);
    req.ek_public = (proto_bytes){ek_pub, ek_pub_size};
    req.ek_cert = (proto_bytes){ek_cert, ek_cert ? cert_size : 0};
    req.ak_public = (proto_bytes){ak_pub, ak_pub_size};
    req.n_volumes = vols.n;
    for (size_t i = 0; i < vols.n; i++) {
        snprintf(req.volumes[i].uuid, sizeof(req.volumes[i].uuid), "%s", luks_uuid(vols.v[i].cd));
        req.volumes[i].key = vols.v[i].key;
        req.volumes[i].key_size = vols.v[i].key_size;
    }
    jreq = proto_enroll_req_encode(&req);
    if (!jreq)
        return CLIENT_EXIT_USAGE;
    ex = enroll_post(o, &h, &servers, &server, "/v1/enroll", "enroll", jreq, &jresp);
    secjson_putp(&jreq);
    for (size_t i = 0; i < vols.n; i++) {
        secmem_free(TAKE_PTR(vols.v[i].key));
        vols.v[i].key_size = 0;
    }
    if (ex != 0)
        return ex;
    r = proto_enroll_resp_decode(jresp, &eresp, &err);
    json_object_put(TAKE_PTR(jresp));
    if (r < 0) {
        client_bad_answer(o, "enroll", "enroll", &err, &ex);
        return ex;
    }

    /* 4. prove EK and AK are in this TPM */
    seed = secmem_alloc(64);
    if (!seed) {
        proto_enroll_resp_done(&eresp);
        return CLIENT_EXIT_USAGE;
    }
    r = tpm_activate_credential(t, eresp.credential_blob.data, eresp.credential_blob.size,
                                eresp.encrypted_secret.data, eresp.encrypted_secret.size, seed, 64,
                                &seed_size, &err);
    if (r >= 0 && seed_size != PROTO_SEED_SIZE)
        r = bg_err_set(&err, -EBADMSG, "credential of %zu bytes", seed_size);
    if (r < 0) {
        client_msg(o, "%s: %s", client_tpm_strerror(r), bg_err_msg(&err));
        proto_enroll_resp_done(&eresp);
        return CLIENT_EXIT_TPM;
    }
    memset(&areq, 0, sizeof(areq));
    snprintf(areq.node_id, sizeof(areq.node_id), "%s", eresp.node_id);
    memcpy(areq.secret, seed, PROTO_SEED_SIZE);
    areq.secret_size = PROTO_SEED_SIZE;
    jreq = proto_activate_req_encode(&areq);
    secmem_wipe(&areq, sizeof(areq));
    if (!jreq) {
        proto_enroll_resp_done(&eresp);
        return CLIENT_EXIT_USAGE;
    }
    ex = enroll_post(o, &h, &servers, &server, "/v1/enroll/activate", "activate", jreq, &jresp);
    if (ex == 0 && (r = proto_activate_resp_decode(jresp, &aresp, &err)) < 0)
        client_bad_answer(o, "enroll", "activate", &err, &ex);
    if (ex != 0) {
        proto_enroll_resp_done(&eresp);
        return ex;
    }

    /* 5. the token and the pinned CA for the initramfs */
    memset(&tok, 0, sizeof(tok));
    tok.servers = servers;
    snprintf(tok.node_id, sizeof(tok.node_id), "%s", eresp.node_id);
    hex_encode(ak_name, ak_name_size, tok.ak_name);
    proto_enroll_resp_done(&eresp);
    if (https_file_sha256_hex(ca, tok.ca_sha256, &err) < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    for (size_t i = 0; i < vols.n; i++)
        if (luks_token_write(vols.v[i].cd, &tok, &err) < 0) {
            client_msg(o, "%s: %s", vols.v[i].dev, bg_err_msg(&err));
            return CLIENT_EXIT_USAGE;
        }
    if (strcmp(ca, o->cfg.ca) != 0) {
        _cleanup_(freep) uint8_t *pem = NULL;
        size_t pem_size;
        _cleanup_(freep) char *dir = strdup(o->cfg.ca);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash && slash != dir) {
            *slash = 0;
            (void)mkdir(dir, 0755); /* /etc/bootgate on a fresh install */
        }
        if (read_file(ca, 1u << 20, &pem, &pem_size, &err) < 0 ||
            write_file_atomic(o->cfg.ca, pem, pem_size, 0644, &err) < 0) {
            client_msg(o, "installing the CA as %s: %s", o->cfg.ca, bg_err_msg(&err));
            return CLIENT_EXIT_USAGE;
        }
    }
    printf("node_id %s\nstate %s\nek_fingerprint %s\nak_name %s\n", aresp.node_id, aresp.state,
           aresp.ek_fingerprint, tok.ak_name);
    if (!strcmp(aresp.state, "pending"))
        client_log(o, LOG_INFO, "enrolled, pending approval: bootgatectl node approve %s --ek %s",
                   aresp.node_id, aresp.ek_fingerprint);
    return CLIENT_EXIT_OK;
}
