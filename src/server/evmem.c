/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evmem.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/event.h>

#define EVMEM_MAP_MIN     4000u        /* a body chain (libevent reads 4 KiB at a time) */
#define EVMEM_MMAP_THRESH (128u << 10) /* glibc's default, kept fixed */
/* Freed mappings of up to EVMEM_CACHE_PAGES pages wait for reuse, at most
 * EVMEM_CACHE_DEPTH of each size (~2.3 MiB in all): a fresh mapping costs
 * two system calls and a page fault per page, ~15 % of a small request's
 * CPU, while the cache keeps what stays held bounded. */
#define EVMEM_PAGE        4096u
#define EVMEM_CACHE_PAGES 8u
#define EVMEM_CACHE_DEPTH 16u

/* In front of every block: its size, and whether it is a mapping of its
 * own; 16 bytes keep the block aligned as malloc's are. */
typedef struct evmem_hdr {
    size_t size;
    size_t mapped; /* bytes mapped, header included; 0: from malloc */
} evmem_hdr;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static void *cache[EVMEM_CACHE_PAGES + 1][EVMEM_CACHE_DEPTH];
static unsigned cached[EVMEM_CACHE_PAGES + 1];

static void *map_take(size_t total)
{
    size_t pages = total / EVMEM_PAGE;
    void *p = NULL;

    if (pages <= EVMEM_CACHE_PAGES) {
        pthread_mutex_lock(&cache_lock);
        if (cached[pages] > 0)
            p = cache[pages][--cached[pages]];
        pthread_mutex_unlock(&cache_lock);
        if (p)
            return p;
    }
    p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void map_give(void *p, size_t total)
{
    size_t pages = total / EVMEM_PAGE;

    if (pages <= EVMEM_CACHE_PAGES) {
        pthread_mutex_lock(&cache_lock);
        if (cached[pages] < EVMEM_CACHE_DEPTH) {
            cache[pages][cached[pages]++] = p;
            p = NULL;
        }
        pthread_mutex_unlock(&cache_lock);
        if (!p)
            return;
    }
    munmap(p, total);
}

static void *evmem_malloc(size_t n)
{
    evmem_hdr *h;

    if (n > SIZE_MAX - sizeof(*h) - EVMEM_PAGE)
        return NULL;
    if (n >= EVMEM_MAP_MIN) {
        size_t total = (n + sizeof(*h) + EVMEM_PAGE - 1) & ~(size_t)(EVMEM_PAGE - 1);
        h = map_take(total);
        if (!h)
            return NULL;
        h->mapped = total;
    } else {
        h = malloc(sizeof(*h) + n);
        if (!h)
            return NULL;
        h->mapped = 0;
    }
    h->size = n;
    return h + 1;
}

static void evmem_free(void *p)
{
    evmem_hdr *h;

    if (!p)
        return;
    h = (evmem_hdr *)p - 1;
    if (h->mapped)
        map_give(h, h->mapped);
    else
        free(h);
}

static void *evmem_realloc(void *p, size_t n)
{
    evmem_hdr *h;
    void *q;

    if (!p)
        return evmem_malloc(n);
    if (n == 0) {
        evmem_free(p);
        return NULL;
    }
    h = (evmem_hdr *)p - 1;
    if (h->mapped && n + sizeof(*h) <= h->mapped) {
        h->size = n;
        return p;
    }
    q = evmem_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    evmem_free(p);
    return q;
}

void evmem_init(void)
{
    (void)mallopt(M_MMAP_THRESHOLD, EVMEM_MMAP_THRESH);
    event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
}
