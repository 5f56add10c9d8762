/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgated's cache of parsed TPM public areas (src/server/evidence.c): a hit
 * only for the exact same bytes, never for a changed key or attribute, and no
 * caching of what failed to parse. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "evidence.h"
#include "akpub.h"
#include "tpmpub.h"

/* The AK template of DESIGN §1 around a fresh P-256 key, as TPM2B_PUBLIC bytes. */
static void make_ak(TPMT_PUBLIC *pub, uint8_t **ret, size_t *ret_size)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    bg_err err = {0};

    assert_non_null(key);
    ec_public(key, pub, TPM2_ECC_NIST_P256, 32);
    EVP_PKEY_free(key);
    assert_int_equal(tpmpub_marshal_tpm2b(pub, ret, ret_size, &err), 0);
}

static int check(const uint8_t *buf, size_t size, uint8_t name[68], size_t *name_size,
                 tpmpub **ret_ak)
{
    bg_verdict verdict = VERDICT_INTERNAL;
    bg_err err = {0};
    return evidence_ak_check(buf, size, name, 68, name_size, ret_ak, &verdict, &err);
}

static void test_hit_only_for_same_bytes(void **state)
{
    TPMT_PUBLIC pub, pub2;
    uint8_t *a = NULL, *b = NULL, name1[68], name2[68];
    size_t na = 0, nb = 0, n1 = 0, n2 = 0;
    tpmpub *k1 = NULL, *k2 = NULL;
    uint64_t hits;
    (void)state;

    evidence_tpmpub_cache_clear();
    make_ak(&pub, &a, &na);
    make_ak(&pub2, &b, &nb);
    hits = evidence_tpmpub_cache_hits();
    assert_int_equal(check(a, na, name1, &n1, &k1), 0);
    assert_int_equal(evidence_tpmpub_cache_hits(), hits);
    /* the same bytes again: answered by the cache, same name, same key */
    assert_int_equal(check(a, na, name2, &n2, &k2), 0);
    assert_int_equal(evidence_tpmpub_cache_hits(), hits + 1);
    assert_int_equal(n1, n2);
    assert_memory_equal(name1, name2, n1);
    assert_int_equal(EVP_PKEY_eq(k1->pkey, k2->pkey), 1);
    /* each caller owns its copy: freeing one leaves the cached entry intact */
    tpmpub_free(k1);
    tpmpub_free(k2);
    k1 = k2 = NULL;
    assert_int_equal(check(a, na, name2, &n2, &k2), 0);
    assert_int_equal(EVP_PKEY_get_bits(k2->pkey), 256);
    tpmpub_free(k2);
    k2 = NULL;

    /* another key is parsed, not served from the cache */
    hits = evidence_tpmpub_cache_hits();
    assert_int_equal(check(b, nb, name2, &n2, &k2), 0);
    assert_int_equal(evidence_tpmpub_cache_hits(), hits);
    assert_memory_not_equal(name1, name2, n1);
    tpmpub_free(k2);
    k2 = NULL;
    free(b);

    /* the cached key with one attribute more: refused (check c runs on
     * every request; the name differs as well) */
    pub.objectAttributes |= TPMA_OBJECT_DECRYPT;
    {
        bg_err err = {0};
        assert_int_equal(tpmpub_marshal_tpm2b(&pub, &b, &nb, &err), 0);
    }
    assert_int_equal(check(b, nb, name2, &n2, NULL), -EPERM);
    free(b);
    pub.objectAttributes &= ~(TPMA_OBJECT)TPMA_OBJECT_DECRYPT;

    /* the cached key with its point moved off the curve: refused, although
     * every other byte equals a cached entry; twice, so no failure is cached */
    pub.unique.ecc.y.buffer[31] ^= 1;
    {
        bg_err err = {0};
        assert_int_equal(tpmpub_marshal_tpm2b(&pub, &b, &nb, &err), 0);
    }
    hits = evidence_tpmpub_cache_hits();
    assert_true(check(b, nb, name2, &n2, NULL) < 0);
    assert_true(check(b, nb, name2, &n2, NULL) < 0);
    assert_int_equal(evidence_tpmpub_cache_hits(), hits);
    /* a truncated copy of cached bytes is not a hit either */
    assert_true(check(a, na - 1, name2, &n2, NULL) < 0);
    assert_int_equal(evidence_tpmpub_cache_hits(), hits);
    free(b);

    /* after clearing, the same bytes are parsed again */
    evidence_tpmpub_cache_clear();
    assert_int_equal(check(a, na, name2, &n2, NULL), 0);
    assert_int_equal(evidence_tpmpub_cache_hits(), 0);
    assert_memory_equal(name1, name2, n1);
    free(a);
    evidence_tpmpub_cache_clear();
}

static void test_many_keys(void **state)
{
    /* more keys than slots: every answer is still the key's own name */
    enum { N = 150 };
    static uint8_t *bufs[N], names[N][68];
    static size_t sizes[N], nsz[N];
    TPMT_PUBLIC pub;
    (void)state;

    evidence_tpmpub_cache_clear();
    for (size_t i = 0; i < N; i++) {
        make_ak(&pub, &bufs[i], &sizes[i]);
        assert_int_equal(check(bufs[i], sizes[i], names[i], &nsz[i], NULL), 0);
    }
    for (size_t round = 0; round < 2; round++)
        for (size_t i = 0; i < N; i++) {
            uint8_t name[68];
            size_t n = 0;
            assert_int_equal(check(bufs[i], sizes[i], name, &n, NULL), 0);
            assert_int_equal(n, nsz[i]);
            assert_memory_equal(name, names[i], n);
        }
    assert_true(evidence_tpmpub_cache_hits() > 0);
    for (size_t i = 0; i < N; i++)
        free(bufs[i]);
    evidence_tpmpub_cache_clear();
}

/* Worker threads share the cache: entries are replaced while other threads
 * hold copies of them (run under -DBOOTGATE_SANITIZE=ON to see a use after
 * free). Each thread checks every answer against the key's own name. */
enum { THREADS = 4, TKEYS = 100, TROUNDS = 300 };
static uint8_t *tbufs[TKEYS], tnames[TKEYS][68];
static size_t tsizes[TKEYS], tnsz[TKEYS];

static void *hammer(void *arg)
{
    size_t seed = (size_t)(uintptr_t)arg, bad = 0;
    for (size_t i = 0; i < TROUNDS; i++) {
        size_t k = (seed * 7919u + i * 104729u) % TKEYS;
        uint8_t name[68];
        size_t n = 0;
        tpmpub *ak = NULL;
        if (check(tbufs[k], tsizes[k], name, &n, &ak) != 0 || n != tnsz[k] ||
            memcmp(name, tnames[k], n) != 0 || !ak || EVP_PKEY_get_bits(ak->pkey) != 256)
            bad++;
        tpmpub_free(ak);
    }
    return (void *)(uintptr_t)bad;
}

static void test_threads(void **state)
{
    pthread_t t[THREADS];
    TPMT_PUBLIC pub;
    (void)state;

    evidence_tpmpub_cache_clear();
    for (size_t i = 0; i < TKEYS; i++) {
        make_ak(&pub, &tbufs[i], &tsizes[i]);
        assert_int_equal(check(tbufs[i], tsizes[i], tnames[i], &tnsz[i], NULL), 0);
    }
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)(i + 1)), 0);
    for (size_t i = 0; i < THREADS; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_int_equal((uintptr_t)bad, 0);
    }
    for (size_t i = 0; i < TKEYS; i++)
        free(tbufs[i]);
    evidence_tpmpub_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_only_for_same_bytes),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
