/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libevent's memory through evmem: request bodies read back intact (also
 * once pulled up into one block, which grows by realloc), and their memory
 * leaves the process when freed, but for the small bounded cache, in a
 * worker thread with all memory locked as bootgated runs (where glibc could
 * not give a thread arena's freed pages back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "evmem.h"

#define BODY (16u << 20)

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void fill(struct evbuffer *b, size_t n)
{
    char chunk[4096];
    for (size_t off = 0; off < n; off += sizeof(chunk)) {
        for (size_t i = 0; i < sizeof(chunk); i++)
            chunk[i] = (char)((off + i) * 7 + (off + i) / 4096);
        assert_int_equal(evbuffer_add(b, chunk, sizeof(chunk)), 0);
    }
}

static void check(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 7 + i / 4096))
            fail_msg("byte %zu differs", i);
}

static void test_body_roundtrip(void **state)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    fill(b, BODY);
    assert_int_equal(evbuffer_get_length(b), BODY);
    /* one contiguous block: libevent reallocates as it goes */
    check(evbuffer_pullup(b, -1), BODY);
    evbuffer_free(b);
}

static void *one_round(void *arg)
{
    long *kb = arg;
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return NULL;
    kb[0] = rss_kb();
    fill(b, BODY);
    kb[1] = rss_kb();
    evbuffer_free(b);
    kb[2] = rss_kb();
    return NULL;
}

static void test_memory_returned(void **state)
{
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
        skip();
    for (int round = 0; round < 3; round++) {
        long kb[3] = {0};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, one_round, kb), 0);
        pthread_join(t, NULL);
        /* the body was resident, and is gone again but for the cache (< 3 MiB) */
        assert_true(kb[1] - kb[0] > (long)(BODY / 1024) / 2);
        if (kb[2] - kb[0] >= 3 * 1024)
            fail_msg("round %d: %ld KiB still resident after the body was freed", round,
                     kb[2] - kb[0]);
    }
    munlockall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_roundtrip),
        cmocka_unit_test(test_memory_returned),
    };
    evmem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
