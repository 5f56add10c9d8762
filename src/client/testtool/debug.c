/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The commands of bootgate-unlock-test: each drives one layer of the client at
 * a time so that integration tests can check it against independent tools
 * (tpm2-tools, cryptsetup, openssl s_server). They use exactly the functions
 * the unlock and enroll paths use. `activate` prints the recovered credential
 * secret: it exists for tests with tpm2_makecredential and never handles a
 * volume key. */
#include "testtool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cursor.h"
#include "http.h"
#include "luks.h"
#include "secmem.h"
#include "tpm.h"
#include "util.h"

static int write_out(const char *path, const uint8_t *buf, size_t size)
{
    bg_err err = {{0}};
    if (!path)
        return 0;
    if (write_file_atomic(path, buf, size, 0644, &err) < 0) {
        client_msg(NULL, "%s", bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    return 0;
}

static void print_hex(const char *label, const uint8_t *buf, size_t size)
{
    _cleanup_(freep) char *hex = hex_encode_alloc(buf, size);
    printf("%s %s\n", label, hex ? hex : "?");
}

/* Finds "--name VALUE" in argv; NULL if absent. */
static const char *arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

int testtool_keys(client_opts *o, int argc, char **argv)
{
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    uint8_t buf[TPM_BLOB_MAX];
    size_t size;
    bg_err err = {{0}};
    int r;

    r = client_tpm_setup(o, &t);
    if (r != 0)
        return r;
    printf("ek_type %s\n", tpm_ek_loaded_type(t) == TPM_EK_ECC ? "ecc" : "rsa");
    if (tpm_ek_name(t, buf, sizeof(buf), &size, &err) < 0)
        goto fail;
    print_hex("ek_name", buf, size);
    if (tpm_ek_public(t, buf, sizeof(buf), &size, &err) < 0)
        goto fail;
    if ((r = write_out(arg(argc, argv, "--ek-public"), buf, size)))
        return r;
    if (tpm_ak_name(t, buf, sizeof(buf), &size, &err) < 0)
        goto fail;
    print_hex("ak_name", buf, size);
    if (tpm_ak_public(t, buf, sizeof(buf), &size, &err) < 0)
        goto fail;
    if ((r = write_out(arg(argc, argv, "--ak-public"), buf, size)))
        return r;
    if (arg(argc, argv, "--ek-cert")) {
        _cleanup_(freep) uint8_t *cert = NULL;
        r = tpm_ek_cert(t, &cert, &size, &err);
        if (r == -ENOENT) {
            printf("ek_cert none\n");
            return CLIENT_EXIT_OK;
        }
        if (r < 0)
            goto fail;
        printf("ek_cert %zu bytes\n", size);
        return write_out(arg(argc, argv, "--ek-cert"), cert, size);
    }
    return CLIENT_EXIT_OK;
fail:
    client_msg(o, "%s", bg_err_msg(&err));
    return CLIENT_EXIT_TPM;
}

int testtool_quote(client_opts *o, int argc, char **argv)
{
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    _cleanup_(freep) uint8_t *nonce = NULL;
    const char *nonce_hex = arg(argc, argv, "--nonce");
    size_t nonce_size;
    tpm_quote q;
    bg_err err = {{0}};
    int r;

    if (!nonce_hex || hex_decode_alloc(nonce_hex, &nonce, &nonce_size, &err) < 0) {
        client_msg(o, "quote: --nonce HEX required %s", err.msg);
        return CLIENT_EXIT_USAGE;
    }
    r = client_tpm_setup(o, &t);
    if (r != 0)
        return r;
    r = tpm_quote_pcrs(t, nonce, nonce_size, &q, &err);
    if (r < 0) {
        client_msg(o, "%s: %s", client_tpm_strerror(r), bg_err_msg(&err));
        return CLIENT_EXIT_TPM;
    }
    printf("tries %u\n", q.tries);
    for (unsigned i = 0; i < 12; i++) {
        char label[16];
        snprintf(label, sizeof(label), "pcr%u", i);
        print_hex(label, q.pcrs[i], 32);
    }
    if ((r = write_out(arg(argc, argv, "--attest"), q.attest, q.attest_size)) ||
        (r = write_out(arg(argc, argv, "--signature"), q.signature, q.signature_size)))
        return r;
    return CLIENT_EXIT_OK;
}

/* The credential file of tpm2_makecredential: magic 0xBADCC0DE, version 1
 * (both u32 BE), then TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET, marshalled. */
int testtool_activate(client_opts *o, int argc, char **argv)
{
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    _cleanup_(freep) uint8_t *file = NULL;
    _cleanup_(secmem_freep) uint8_t *seed = NULL;
    const char *path = arg(argc, argv, "--credential-file");
    const uint8_t *blob, *secret, *skip;
    uint32_t magic, version;
    uint16_t blob_size, secret_size;
    size_t size, seed_size = 0;
    bg_err err = {{0}};
    cursor c;
    int r;

    if (!path) {
        client_msg(o, "activate: --credential-file FILE required");
        return CLIENT_EXIT_USAGE;
    }
    r = read_file(path, 64u << 10, &file, &size, &err);
    if (r < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    c = cursor_init(file, size);
    r = cursor_u32be(&c, &magic, "magic", &err);
    if (r >= 0)
        r = cursor_u32be(&c, &version, "version", &err);
    /* Each TPM2B is handed over marshalled, its u16 size prefix included. */
    blob = c.buf + c.off;
    if (r >= 0)
        r = cursor_u16be(&c, &blob_size, "credential size", &err);
    if (r >= 0)
        r = cursor_bytes(&c, blob_size, &skip, "credential", &err);
    secret = c.buf + c.off;
    if (r >= 0)
        r = cursor_u16be(&c, &secret_size, "secret size", &err);
    if (r >= 0)
        r = cursor_bytes(&c, secret_size, &skip, "secret", &err);
    if (r >= 0 && (magic != 0xBADCC0DEu || version != 1))
        r = bg_err_set(&err, -EBADMSG, "not a tpm2-tools credential file");
    if (r < 0) {
        client_msg(o, "%s: %s", path, bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    seed = secmem_alloc(64);
    if (!seed)
        return CLIENT_EXIT_TPM;
    r = client_tpm_setup(o, &t);
    if (r != 0)
        return r;
    r = tpm_activate_credential(t, blob, (size_t)blob_size + 2, secret, (size_t)secret_size + 2,
                                seed, 64, &seed_size, &err);
    if (r < 0) {
        client_msg(o, "%s: %s", client_tpm_strerror(r), bg_err_msg(&err));
        return CLIENT_EXIT_TPM;
    }
    /* Test hook (this binary only): crash with the seed in memory, as a
     * fault would, so that a test can check that no core dump keeps it. */
    if (arg(argc, argv, "--crash") && !strcmp(arg(argc, argv, "--crash"), "abort"))
        raise(SIGABRT);
    print_hex("secret", seed, seed_size);
    return CLIENT_EXIT_OK;
}

int testtool_luks(client_opts *o, int argc, char **argv)
{
    _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
    const char *dev = argc > 1 ? argv[1] : NULL, *s;
    bg_err err = {{0}};
    luks_token tok;
    int r;

    if (!dev || dev[0] == '-') {
        client_msg(o, "luks DEVICE [--write-token --server URL --node-id ID "
                      "--ca-sha256 HEX [--ak-name HEX]] [--volume-key-file F] "
                      "[--key-file F --expect-volume-key-file F]");
        return CLIENT_EXIT_USAGE;
    }
    if (luks_open(dev, &cd, &err) < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    memset(&tok, 0, sizeof(tok));
    printf("uuid %s\n", luks_uuid(cd));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--write-token")) {
            if ((s = arg(argc, argv, "--server")) && server_list_parse(s, &tok.servers, &err) < 0) {
                client_msg(o, "%s", bg_err_msg(&err));
                return CLIENT_EXIT_USAGE;
            }
            if ((s = arg(argc, argv, "--node-id")))
                snprintf(tok.node_id, sizeof(tok.node_id), "%s", s);
            if ((s = arg(argc, argv, "--ca-sha256")))
                snprintf(tok.ca_sha256, sizeof(tok.ca_sha256), "%s", s);
            if ((s = arg(argc, argv, "--ak-name")))
                snprintf(tok.ak_name, sizeof(tok.ak_name), "%s", s);
            r = luks_token_write(cd, &tok, &err);
            if (r < 0) {
                client_msg(o, "%s", bg_err_msg(&err));
                return CLIENT_EXIT_USAGE;
            }
            printf("token_id %d\n", r);
        }
    r = luks_token_read(cd, &tok, NULL, &err);
    if (r == 0) {
        char servers[SERVERS_MAX * SERVER_URL_MAX];
        server_list_format(&tok.servers, servers, sizeof(servers));
        printf("server %s\nnode_id %s\nca_sha256 %s\nak_name %s\n", servers, tok.node_id,
               tok.ca_sha256, tok.ak_name);
    } else
        printf("token none (%s)\n", bg_err_msg(&err));

    /* Verify a raw volume key file against the header (what --verify-only does). */
    if ((s = arg(argc, argv, "--volume-key-file"))) {
        _cleanup_(freep) uint8_t *vk = NULL;
        size_t size;
        if (read_file(s, LUKS_KEY_MAX, &vk, &size, &err) < 0 ||
            luks_volume_key_verify(cd, vk, size, &err) < 0) {
            secmem_wipe(vk, vk ? size : 0);
            client_msg(o, "%s", bg_err_msg(&err));
            return CLIENT_EXIT_DENIED;
        }
        secmem_wipe(vk, size);
        printf("volume_key verified\n");
    }
    /* Read the volume key with a passphrase file (what enroll does) and compare
     * it, in constant time, with the expected key; prints only the verdict. */
    if ((s = arg(argc, argv, "--key-file"))) {
        _cleanup_(freep) uint8_t *pass = NULL, *expect = NULL;
        _cleanup_(secmem_freep) uint8_t *vk = NULL;
        size_t pass_size, vk_size, expect_size;
        const char *e = arg(argc, argv, "--expect-volume-key-file");
        r = read_file(s, 8192, &pass, &pass_size, &err);
        if (r >= 0)
            r = luks_volume_key_get(cd, (const char *)pass, pass_size, &vk, &vk_size, &err);
        secmem_wipe(pass, pass ? pass_size : 0);
        if (r < 0) {
            client_msg(o, "%s", bg_err_msg(&err));
            return CLIENT_EXIT_DENIED;
        }
        if (e) {
            if (read_file(e, LUKS_KEY_MAX, &expect, &expect_size, &err) < 0) {
                client_msg(o, "%s", bg_err_msg(&err));
                return CLIENT_EXIT_USAGE;
            }
            bool same = expect_size == vk_size && CRYPTO_memcmp(expect, vk, vk_size) == 0;
            secmem_wipe(expect, expect_size);
            printf("volume_key %s\n", same ? "matches" : "differs");
            if (!same)
                return CLIENT_EXIT_DENIED;
        } else
            printf("volume_key read %zu bytes\n", vk_size);
    }
    return CLIENT_EXIT_OK;
}

int testtool_http(client_opts *o, int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : NULL, *body = arg(argc, argv, "--body");
    https_opts h = client_https_opts(o);
    https_response resp = {0};
    server_list servers;
    const char *urls[SERVERS_MAX];
    size_t index = 0;
    bg_err err = {{0}};
    unsigned attempts = 0;
    uint64_t start = https_now_ms();
    int r;

    if (!url || url[0] == '-') {
        client_msg(o, "http URL[,URL...] [--body JSON]   (uses ca, timeout, ... of the config;\n"
                      "several URLs: failover in order, as the unlock's requests)");
        return CLIENT_EXIT_USAGE;
    }
    if (server_list_parse(url, &servers, &err) < 0 || servers.n == 0) {
        client_msg(o, "http: %s", servers.n ? bg_err_msg(&err) : "no URL");
        return CLIENT_EXIT_USAGE;
    }
    for (size_t i = 0; i < servers.n; i++)
        urls[i] = servers.url[i];
    r = https_request_failover(&h, "POST", urls, servers.n, &index, body ? body : "{}",
                               start + (uint64_t)o->cfg.timeout_s * 1000, &resp, &attempts, &err);
    printf("attempts %u\nserver %zu\nelapsed_ms %llu\n", attempts, index,
           (unsigned long long)(https_now_ms() - start));
    if (r < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        return r == -EINVAL ? CLIENT_EXIT_USAGE : CLIENT_EXIT_UNREACHABLE;
    }
    printf("status %ld\nbytes %zu\n", resp.status, resp.size);
    https_response_done(&resp);
    return CLIENT_EXIT_OK;
}
