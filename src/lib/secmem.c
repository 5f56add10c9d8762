/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Each allocation is its own mapping; the size sits in a header page-aligned
 * in front of the user pointer so that secmem_free can wipe and unmap it. */
typedef struct secmem_header {
    size_t map_size;
    size_t user_size;
} secmem_header;

#define SECMEM_HEADER_SIZE 64 /* keeps the user pointer 64-byte aligned */

/* Freed one-page mappings, wiped, still locked and excluded from dumps, for
 * the next allocation: a server allocates and frees a few small secrets per
 * request, and mmap + mlock + madvise + munlock + munmap each time (munmap
 * of a multi-threaded process also flushes the other CPUs' TLBs) cost more
 * than the cryptography they hold. Bounded; larger mappings are unmapped. */
#define SECMEM_POOL_MAX 16

static struct {
    pthread_mutex_t lock;
    uint8_t *page[SECMEM_POOL_MAX];
    size_t n;
} secmem_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint8_t *pool_take(void)
{
    uint8_t *base = NULL;
    pthread_mutex_lock(&secmem_pool.lock);
    if (secmem_pool.n > 0)
        base = secmem_pool.page[--secmem_pool.n];
    pthread_mutex_unlock(&secmem_pool.lock);
    return base;
}

static bool pool_give(uint8_t *base)
{
    bool kept = false;
    pthread_mutex_lock(&secmem_pool.lock);
    if (secmem_pool.n < SECMEM_POOL_MAX) {
        secmem_pool.page[secmem_pool.n++] = base;
        kept = true;
    }
    pthread_mutex_unlock(&secmem_pool.lock);
    return kept;
}

void *secmem_alloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), map_size;
    uint8_t *base;

    if (size == 0 || __builtin_add_overflow(size, SECMEM_HEADER_SIZE + page - 1, &map_size))
        return NULL;
    map_size &= ~(page - 1);
    /* a pooled page was wiped (all zero) when it was freed */
    if (map_size == page && (base = pool_take())) {
        ((secmem_header *)base)->map_size = map_size;
        ((secmem_header *)base)->user_size = size;
        return base + SECMEM_HEADER_SIZE;
    }
    base = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    /* Failing to lock (RLIMIT_MEMLOCK) is tolerated: the pages are still
     * excluded from dumps and wiped. Swap is the residual risk, logged by
     * callers that care via secmem_harden_process(). */
    (void)mlock(base, map_size);
    (void)madvise(base, map_size, MADV_DONTDUMP);
    ((secmem_header *)base)->map_size = map_size;
    ((secmem_header *)base)->user_size = size;
    return base + SECMEM_HEADER_SIZE;
}

void secmem_free(void *p)
{
    uint8_t *base;
    size_t map_size;

    if (!p)
        return;
    base = (uint8_t *)p - SECMEM_HEADER_SIZE;
    map_size = ((secmem_header *)base)->map_size;
    OPENSSL_cleanse(base, map_size);
    if (map_size == (size_t)sysconf(_SC_PAGESIZE) && pool_give(base))
        return;
    (void)munlock(base, map_size);
    (void)munmap(base, map_size);
}

void secmem_wipe(void *p, size_t size)
{
    if (p && size)
        OPENSSL_cleanse(p, size);
}

int secmem_memcmp(const void *a, const void *b, size_t size)
{
    return CRYPTO_memcmp(a, b, size);
}

int secmem_harden_process(void)
{
    /* Both: a non-dumpable process is still dumped (root-owned) when
     * fs.suid_dumpable = 2, and a core_pattern pipe (systemd-coredump) is
     * told the limit. setrlimit may be filtered (the unit's LimitCORE=0 then
     * holds); PR_SET_DUMPABLE must work. */
    struct rlimit no_core = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no_core);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

bool secmem_swap_active(void)
{
    char line[512];
    unsigned lines = 0;
    FILE *f = fopen("/proc/swaps", "re");

    if (!f)
        return true;
    while (fgets(line, sizeof(line), f))
        lines++;
    fclose(f);
    return lines > 1; /* the first line is the column header */
}

int secmem_lock_all(void)
{
#ifdef MCL_ONFAULT
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0)
        return 0;
    if (errno != EINVAL) /* EINVAL: a kernel before 4.4 without MCL_ONFAULT */
        return -errno;
#endif
    if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        return -errno;
    return 0;
}
