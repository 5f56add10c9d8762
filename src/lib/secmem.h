/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Memory for secrets (volume keys, credential seeds, KEK, nonce secret), in
 * the manner of cryptsetup's crypt_safe_alloc: page-backed, mlock'd, excluded
 * from core dumps, zeroed on allocation and wiped on free. */

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

void *secmem_alloc(size_t size);
void secmem_free(void *p);
/* Wipes memory that is not from secmem (stack buffers). */
void secmem_wipe(void *p, size_t size);
/* Constant-time comparison; 0 when equal. */
int secmem_memcmp(const void *a, const void *b, size_t size);
/* For programs that hold secrets: no core dumps (PR_SET_DUMPABLE 0 and
 * RLIMIT_CORE 0), no ptrace by other users. */
int secmem_harden_process(void);
/* mlockall: every page of the process, now and later, stays out of swap
 * (secrets also pass through library buffers that secmem cannot own:
 * json-c, libevent, OpenSSL, libcurl). Pages are locked as they are touched
 * (MCL_ONFAULT), so thread stacks and malloc arenas are not populated up
 * front. Needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK that covers the whole
 * address space (systemd: LimitMEMLOCK=infinity). -errno on failure. */
int secmem_lock_all(void);
/* True when /proc/swaps lists an active swap area (or cannot be read: then
 * the caller must assume there is one). Without swap, locking every page
 * protects nothing and costs the short-lived client most of a millisecond. */
bool secmem_swap_active(void);

static inline void secmem_freep(void *p)
{
    secmem_free(*(void **)p);
}
