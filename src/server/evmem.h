/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Memory of request bodies goes back to the system after each request.
 *
 * A body arrives in libevent evbuffer chains of a few KiB each. From
 * malloc's arenas their pages are not returned when freed: glibc trims a
 * thread arena with madvise(MADV_DONTNEED), which fails on the locked
 * pages of lock_memory = yes, so 20 unfinished 15 MiB bodies left ~300 MB
 * locked for good. evmem_init routes libevent's allocations of a page and
 * more to their own mappings (munmap'd when freed, beyond a small bounded
 * cache of them for reuse) and fixes glibc's mmap
 * threshold, whose dynamic growth would otherwise move the next large
 * buffers (the body copy, json-c strings) into the arenas too. */

/* Before the first libevent call. */
void evmem_init(void);
