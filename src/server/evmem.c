/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evmem.h"

#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/event.h>

#define EVMEM_MAP_MIN     4000u        /* a body chain (libevent reads 4 KiB at a time) */
#define EVMEM_MMAP_THRESH (128u << 10) /* glibc's default, kept fixed */

/* In front of every block: its size, and whether it is a mapping of its
 * own; 16 bytes keep the block aligned as malloc's are. */
typedef struct evmem_hdr {
    size_t size;
    size_t mapped; /* bytes mapped, header included; 0: from malloc */
} evmem_hdr;

static void *evmem_malloc(size_t n)
{
    evmem_hdr *h;

    if (n > SIZE_MAX - sizeof(*h) - 4096)
        return NULL;
    if (n >= EVMEM_MAP_MIN) {
        size_t total = (n + sizeof(*h) + 4095) & ~(size_t)4095;
        void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        h = p;
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
        munmap(h, h->mapped);
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
