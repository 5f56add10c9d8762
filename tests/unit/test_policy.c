/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy documents: strict parsing with JSON paths, the canonical form,
 * Ed25519 signatures against a directory of trusted signers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "policy.h"

#define H64        "1111111111111111111111111111111111111111111111111111111111111111"
#define H2         "2222222222222222222222222222222222222222222222222222222222222222"
#define BL         "\"baselines\":[{\"name\":\"b1\",\"pcrs\":{\"4\":\"" H64 "\"}}]"
#define DOC(extra) "{\"name\":\"web\",\"version\":7," extra BL "}"

static void test_parse_ok(void **state)
{
    static const char *const ok[] = {
        DOC(""),
        DOC("\"mode\":\"audit\",\"pcr_bank\":\"sha256\",\"gate_pcrs\":[4,7],"),
        DOC("\"not_after\":\"2027-06-01T00:00:00Z\","),
        DOC("\"ima\":{\"allow\":[\"sha256:" H64 "\"],\"ignore_paths\":[\"^/tmp/\"]},"
            "\"gate_pcrs\":[0,10],"),
        "{\"name\":\"rules-only\",\"version\":1,\"event_rules\":[{\"pcr\":4,\"type\":"
        "\"EV_EFI_BOOT_SERVICES_APPLICATION\",\"digests\":[\"" H64 "\",\"" H2 "\"]}]}",
    };
    for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
        policy *p = NULL;
        bg_err err = {{0}};
        int r = policy_parse(ok[i], strlen(ok[i]), &p, &err);
        if (r < 0)
            fail_msg("vector %zu: %s", i, err.msg);
        assert_non_null(p);
        policy_free(p);
    }

    policy *p = NULL;
    const char *d = DOC("\"mode\":\"audit\",\"gate_pcrs\":[4,7],\"not_after\":"
                        "\"2027-06-01T00:00:00Z\",");
    assert_int_equal(policy_parse(d, strlen(d), &p, NULL), 0);
    assert_string_equal(p->name, "web");
    assert_int_equal(p->version, 7);
    assert_int_equal(p->mode, POLICY_MODE_AUDIT);
    assert_int_equal(p->gate_mask, (1u << 4) | (1u << 7));
    assert_int_equal(p->n_baselines, 1);
    assert_int_equal(p->baselines[0].pcr_mask, 1u << 4);
    assert_int_equal(p->baselines[0].pcrs[4][0], 0x11);
    assert_true(p->has_not_after);
    assert_int_equal(p->not_after, 1811808000); /* date -d 2027-06-01Z +%s */
    policy_free(p);

    assert_int_equal(policy_parse(DOC(""), strlen(DOC("")), &p, NULL), 0);
    assert_int_equal(p->gate_mask, POLICY_DEFAULT_GATE_MASK);
    assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
    policy_free(p);
}

static void test_parse_errors(void **state)
{
    static const struct {
        const char *doc, *msg;
    } v[] = {
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{\"4\":\"abc\"}}"
         "]}",
         "baselines[0].pcrs.4: not 64 hex digits"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{\"4\":\"" H64
         "\"}},{\"name\":\"b2\",\"pcrs\":{\"9\":\"zz" H64 "\"}}]}",
         "baselines[1].pcrs.9: longer than 64 bytes"},
        {DOC("\"extra\":1,"), "extra: unknown key"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{},"
         "\"events\":[{\"pcr\":4,\"type\":\"EV_IPL\",\"digest\":\"" H64 "\",\"foo\":1}]}]}",
         "baselines[0].events[0].foo: unknown key"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{},"
         "\"events\":[{\"pcr\":4,\"type\":\"EV_BOGUS\",\"digest\":\"" H64 "\"}]}]}",
         "baselines[0].events[0].type: unknown event type 'EV_BOGUS'"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{},"
         "\"events\":[{\"pcr\":24,\"type\":\"EV_IPL\",\"digest\":\"" H64 "\"}]}]}",
         "baselines[0].events[0].pcr: integer out of range 0..23"},
        {"{\"name\":\"web\",\"version\":\"7\"," BL "}",
         "version: expected an integer, got a string"},
        {"{\"name\":\"web\",\"version\":0," BL "}", "version: integer out of range"},
        {"{\"name\":\"web\",\"version\":1.5," BL "}",
         "version: expected an integer, got a fractional number"},
        {"{\"name\":\"web\",\"version\":-3," BL "}", "version: integer out of range"},
        {"{\"name\":\"web\",\"version\":99999999999999999999," BL "}",
         "version: integer out of range"},
        {DOC("\"mode\":\"permissive\","), "mode: must be \"enforce\" or \"audit\""},
        {DOC("\"pcr_bank\":\"sha1\","), "pcr_bank: only \"sha256\""},
        {DOC("\"gate_pcrs\":[4,4],"), "gate_pcrs[1]: PCR 4 listed twice"},
        {DOC("\"gate_pcrs\":[24],"), "gate_pcrs[0]: integer out of range"},
        {DOC("\"gate_pcrs\":[],"), "gate_pcrs: needs at least 1 element"},
        {DOC("\"gate_pcrs\":[9,10],"), "gate_pcrs: PCR 10 is gated only with an \"ima\" section"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{\"04\":\"" H64
         "\"}}]}",
         "baselines[0].pcrs.04: not a PCR index 0..23"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":[]}]}",
         "baselines[0].pcrs: expected an object, got an array"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":{}},"
         "{\"name\":\"b1\",\"pcrs\":{}}]}",
         "baselines[1].name: 'b1' used twice"},
        {"{\"name\":\"web\",\"version\":7,\"baselines\":[{\"pcrs\":{}}]}",
         "baselines[0].name: missing"},
        {"{\"name\":\"web\",\"version\":7,\"event_rules\":[{\"pcr\":4,\"type\":\"EV_IPL\","
         "\"digests\":[]}]}",
         "event_rules[0].digests: needs at least 1 element"},
        {"{\"name\":\"web\",\"version\":7,\"event_rules\":[{\"pcr\":4,\"type\":\"EV_IPL\","
         "\"digests\":[\"" H64 "\",7]}]}",
         "event_rules[0].digests[1]: expected a string, got an integer"},
        {DOC("\"ima\":{\"allow\":[\"md5:00\"]},"), "ima.allow[0]: not ALG:HEX"},
        {DOC("\"ima\":{\"allow\":[\"sha256:00\"]},"), "ima.allow[0]: not ALG:HEX"},
        {DOC("\"ima\":{\"ignore_paths\":[\"(\"]},"), "ima.ignore_paths[0]: bad regular expression"},
        {DOC("\"ima\":{\"deny\":[]},"), "ima.deny: unknown key"},
        {DOC("\"not_after\":\"2027-02-30T00:00:00Z\","), "not_after: not a UTC time"},
        {DOC("\"not_after\":\"2027-06-01 00:00:00\","), "not_after: not a UTC time"},
        {"{\"version\":7," BL "}", "name: missing"},
        {"{\"name\":\"web/../x\",\"version\":7," BL "}", "name: names use letters"},
        {"{\"name\":\"a\\u0000b\",\"version\":7," BL "}", "name: contains a NUL character"},
        {"{\"name\":\"web\",\"version\":7}", "needs at least one baseline or event rule"},
        {"[1,2]", "(document): expected an object, got an array"},
        {"{", "not valid JSON"},
        {DOC("") " x", "offset 135: not valid JSON"},
        {"{\"name\":\"w\xff\",\"version\":7," BL "}", "not valid JSON"},
        {"{\"name\":\"web\",\"version\":7," BL ",}", "not valid JSON"},
    };
    for (size_t i = 0; i < ELEMENTSOF(v); i++) {
        policy *p = NULL;
        bg_err err = {{0}};
        int r = policy_parse(v[i].doc, strlen(v[i].doc), &p, &err);
        if (r >= 0)
            fail_msg("vector %zu parsed but should fail with '%s'", i, v[i].msg);
        assert_null(p);
        if (!strstr(err.msg, v[i].msg))
            fail_msg("vector %zu: got '%s', want '%s'", i, err.msg, v[i].msg);
    }
}

static void test_parse_caps(void **state)
{
    /* 65 baselines: one more than POLICY_MAX_BASELINES. */
    size_t cap = 65 * 64 + 128;
    char *doc = malloc(cap), *q = doc;
    q += sprintf(q, "{\"name\":\"web\",\"version\":1,\"baselines\":[");
    for (int i = 0; i < 65; i++)
        q += sprintf(q, "%s{\"name\":\"b%d\",\"pcrs\":{}}", i ? "," : "", i);
    q += sprintf(q, "]}");
    policy *p = NULL;
    bg_err err = {{0}};
    assert_int_equal(policy_parse(doc, strlen(doc), &p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "baselines: more than 64 elements"));
    free(doc);

    /* Too large a document is refused before it is parsed. */
    size_t big = POLICY_MAX_SIZE + 1;
    doc = malloc(big);
    memset(doc, ' ', big);
    assert_int_equal(policy_parse(doc, big, &p, &err), -EFBIG);
    free(doc);

    /* Nesting deeper than the tokenizer's limit. */
    char deep[200];
    memset(deep, '[', sizeof deep);
    assert_int_equal(policy_parse(deep, sizeof deep, &p, &err), -EINVAL);
}

static char *canonical_of(const char *doc)
{
    policy *p = NULL;
    bg_err err = {{0}};
    if (policy_parse(doc, strlen(doc), &p, &err) < 0)
        fail_msg("%s", err.msg);
    char *c = strdup(p->canonical);
    assert_int_equal(strlen(c), p->canonical_size);
    policy_free(p);
    return c;
}

static void test_canonical(void **state)
{
    /* Key order, whitespace and escapes of the file do not matter. */
    const char *a = "{\"name\":\"web\",\"version\":7,\"baselines\":[{\"name\":\"b1\",\"pcrs\":"
                    "{\"4\":\"" H64 "\",\"10\":\"" H2 "\"}}],\"description\":\"a\\\"b\\\\c\\n"
                    "\\u0001\\/\\u00e9\\t\"}";
    const char *b = "\n{ \"description\" : \"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\\u0009\",\r\n"
                    "  \"baselines\" : [ { \"pcrs\" : { \"10\":\"" H2 "\", \"4\" : \"" H64
                    "\" }, \"name\" : \"b1\" } ],\n  \"version\" : 7, \"name\" : \"w\\u0065b\" }\n";
    const char *want = "{\"baselines\":[{\"name\":\"b1\",\"pcrs\":{\"10\":\"" H2 "\",\"4\":\"" H64
                       "\"}}],\"description\":\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\\t\",\"name\":"
                       "\"web\",\"version\":7}";
    char *ca = canonical_of(a), *cb = canonical_of(b);
    assert_string_equal(ca, want);
    assert_string_equal(cb, want);
    /* Idempotent: the canonical form parses back to itself. */
    char *cc = canonical_of(ca);
    assert_string_equal(cc, want);
    free(ca);
    free(cb);
    free(cc);

    /* A duplicated key: the value json-c keeps is the one in the canonical form,
     * so signer and verifier read the same document. */
    char *cd = canonical_of("{\"name\":\"web\",\"version\":1,\"version\":2," BL "}");
    assert_non_null(strstr(cd, "\"version\":2}"));
    assert_null(strstr(cd, "\"version\":1"));
    free(cd);

    /* A different value gives different bytes. */
    char *c1 = canonical_of(DOC("\"mode\":\"enforce\",")), *c2 = canonical_of(DOC(""));
    assert_string_not_equal(c1, c2);
    free(c1);
    free(c2);

    /* Fractional numbers have no canonical form. */
    json_object *o = json_tokener_parse("{\"a\":1.5}");
    char *out = NULL;
    size_t n;
    bg_err err = {{0}};
    assert_int_equal(policy_canonicalize(o, &out, &n, &err), -EINVAL);
    json_object_put(o);
}

/* Signatures -------------------------------------------------------------- */

typedef struct keyset {
    char dir[64];
    char signers[96], other_signers[96], empty[96];
    char alice_key[128], mallory_key[128];
} keyset;

static void write_key(EVP_PKEY *k, const char *path, bool private)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
                             : PEM_write_PUBKEY(f, k),
                     1);
    fclose(f);
}

static int keys_setup(void **state)
{
    keyset *ks = calloc(1, sizeof *ks);
    snprintf(ks->dir, sizeof ks->dir, "/tmp/test_policy.XXXXXX");
    assert_non_null(mkdtemp(ks->dir));
    snprintf(ks->signers, sizeof ks->signers, "%s/signers", ks->dir);
    snprintf(ks->other_signers, sizeof ks->other_signers, "%s/other", ks->dir);
    snprintf(ks->empty, sizeof ks->empty, "%s/empty", ks->dir);
    assert_int_equal(mkdir(ks->signers, 0755), 0);
    assert_int_equal(mkdir(ks->other_signers, 0755), 0);
    assert_int_equal(mkdir(ks->empty, 0755), 0);
    EVP_PKEY *alice = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *bob = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *mallory = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(alice);
    assert_non_null(ec);
    char path[160];
    snprintf(ks->alice_key, sizeof ks->alice_key, "%s/alice.key", ks->dir);
    snprintf(ks->mallory_key, sizeof ks->mallory_key, "%s/mallory.key", ks->dir);
    write_key(alice, ks->alice_key, true);
    write_key(mallory, ks->mallory_key, true);
    /* signers: bob first in name order, then alice; a stray non-.pub file. */
    snprintf(path, sizeof path, "%s/0-bob.pub", ks->signers);
    write_key(bob, path, false);
    snprintf(path, sizeof path, "%s/alice.pub", ks->signers);
    write_key(alice, path, false);
    snprintf(path, sizeof path, "%s/mallory.pub.disabled", ks->signers);
    write_key(mallory, path, false);
    /* other: an EC key (not Ed25519) and bob. */
    snprintf(path, sizeof path, "%s/ec.pub", ks->other_signers);
    write_key(ec, path, false);
    snprintf(path, sizeof path, "%s/bob.pub", ks->other_signers);
    write_key(bob, path, false);
    EVP_PKEY_free(alice);
    EVP_PKEY_free(bob);
    EVP_PKEY_free(mallory);
    EVP_PKEY_free(ec);
    *state = ks;
    return 0;
}

static int keys_teardown(void **state)
{
    keyset *ks = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ks->dir);
    if (system(cmd) != 0)
        return -1;
    free(ks);
    return 0;
}

static void test_sign_verify(void **state)
{
    keyset *ks = *state;
    policy *p = NULL, *p2 = NULL;
    bg_err err = {{0}};
    uint8_t sig[POLICY_SIG_SIZE], sig2[POLICY_SIG_SIZE];
    policy_signer who;

    assert_int_equal(policy_parse(DOC(""), strlen(DOC("")), &p, &err), 0);
    assert_int_equal(policy_sign(p, ks->alice_key, sig, &err), 0);
    assert_int_equal(policy_verify(p, sig, ks->signers, &who, &err), 0);
    assert_string_equal(who.name, "alice");
    assert_int_equal(strlen(who.fingerprint), 64);

    /* Ed25519 is deterministic: signing twice gives the same bytes. */
    assert_int_equal(policy_sign(p, ks->alice_key, sig2, &err), 0);
    assert_memory_equal(sig, sig2, POLICY_SIG_SIZE);

    /* The same document in another layout verifies with the same signature. */
    const char *relaid = "{ \"baselines\": [{\"pcrs\": {\"4\": \"" H64 "\"}, \"name\": \"b1\"}],"
                         " \"version\": 7, \"name\": \"web\" }";
    assert_int_equal(policy_parse(relaid, strlen(relaid), &p2, &err), 0);
    assert_int_equal(policy_verify(p2, sig, ks->signers, NULL, &err), 0);
    policy_free(p2);

    /* Changed content: version 8. */
    const char *v8 = "{\"name\":\"web\",\"version\":8," BL "}";
    assert_int_equal(policy_parse(v8, strlen(v8), &p2, &err), 0);
    assert_int_equal(policy_verify(p2, sig, ks->signers, NULL, &err), -EPERM);
    assert_non_null(strstr(err.msg, "does not verify"));
    policy_free(p2);

    /* A flipped bit in the signature. */
    memcpy(sig2, sig, sizeof sig);
    sig2[17] ^= 0x04;
    assert_int_equal(policy_verify(p, sig2, ks->signers, NULL, &err), -EPERM);

    /* A key that is not trusted (mallory.pub.disabled is not *.pub). */
    assert_int_equal(policy_sign(p, ks->mallory_key, sig2, &err), 0);
    assert_int_equal(policy_verify(p, sig2, ks->signers, NULL, &err), -EPERM);

    /* Unknown signer: alice is not in the other directory (EC key is skipped). */
    assert_int_equal(policy_verify(p, sig, ks->other_signers, NULL, &err), -EPERM);
    assert_int_equal(policy_verify(p, sig, ks->empty, NULL, &err), -ENOENT);
    assert_int_equal(policy_verify(p, sig, "/nonexistent/dir", NULL, &err), -ENOENT);

    /* A signature of the bare canonical bytes (no context) must not verify:
     * policies and other documents signed by the same keys cannot be swapped. */
    {
        FILE *f = fopen(ks->alice_key, "r");
        EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t sl = sizeof sig2;
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k), 1);
        assert_int_equal(
            EVP_DigestSign(ctx, sig2, &sl, (const uint8_t *)p->canonical, p->canonical_size), 1);
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(k);
        assert_int_equal(policy_verify(p, sig2, ks->signers, NULL, &err), -EPERM);
    }

    /* A public key is not a signing key. */
    char pub[160];
    snprintf(pub, sizeof pub, "%s/alice.pub", ks->signers);
    assert_true(policy_sign(p, pub, sig2, &err) < 0);
    policy_free(p);
}

static void test_signature_encoding(void **state)
{
    uint8_t sig[POLICY_SIG_SIZE], back[POLICY_SIG_SIZE];
    bg_err err = {{0}};
    for (size_t i = 0; i < sizeof sig; i++)
        sig[i] = (uint8_t)(i * 37 + 1);
    char *text = policy_signature_encode(sig);
    assert_non_null(text);
    assert_int_equal(strlen(text), 88 + 1); /* 64 bytes = 88 base64 chars + newline */
    assert_int_equal(text[88], '\n');
    assert_int_equal(policy_signature_decode((uint8_t *)text, strlen(text), back, &err), 0);
    assert_memory_equal(sig, back, sizeof sig);
    /* raw 64 bytes */
    assert_int_equal(policy_signature_decode(sig, sizeof sig, back, &err), 0);
    assert_memory_equal(sig, back, sizeof sig);
    /* 63 bytes of base64 payload, garbage */
    assert_int_equal(policy_signature_decode((const uint8_t *)"AAAA", 4, back, &err), -EBADMSG);
    assert_int_equal(policy_signature_decode((const uint8_t *)"!!!!", 4, back, &err), -EBADMSG);
    text[10] = '*';
    assert_int_equal(policy_signature_decode((uint8_t *)text, strlen(text), back, &err), -EBADMSG);
    free(text);
}

static void test_pcr_list(void **state)
{
    static const struct {
        const char *in;
        int r;
        uint32_t mask;
        const char *fmt;
    } v[] = {
        {"0-9,11", 0, 0xBFF, "0-9,11"}, {"4", 0, 1u << 4, "4"},    {"0,1,2,7", 0, 0x87, "0-2,7"},
        {"7,8", 0, 0x180, "7,8"},       {"23", 0, 1u << 23, "23"}, {"24", -EINVAL, 0, NULL},
        {"", -EINVAL, 0, NULL},         {"1,", -EINVAL, 0, NULL},  {"5-3", -EINVAL, 0, NULL},
        {"a", -EINVAL, 0, NULL},        {"1;2", -EINVAL, 0, NULL},
    };
    for (size_t i = 0; i < ELEMENTSOF(v); i++) {
        uint32_t m = 0;
        char buf[64];
        assert_int_equal(policy_parse_pcr_list(v[i].in, &m, NULL), v[i].r);
        if (v[i].r < 0)
            continue;
        assert_int_equal(m, v[i].mask);
        policy_format_pcr_mask(m, buf, sizeof buf);
        assert_string_equal(buf, v[i].fmt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_caps),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test_setup_teardown(test_sign_verify, keys_setup, keys_teardown),
        cmocka_unit_test(test_signature_encoding),
        cmocka_unit_test(test_pcr_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
