/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Token buckets, thread-safe: burst tokens, refilled at per_minute tokens per
 * minute. With slots > 0 the key (a source IP) picks one of slots buckets by
 * a keyed hash; keys that collide share a bucket, which keeps memory fixed
 * and errs on the side of fewer tokens. The hash starts from a random
 * per-process seed, so which addresses collide is not known in advance (it
 * is not a cryptographic PRF; a collision only costs audit rows, and the
 * global bucket bounds the total either way). */

#include <stdbool.h>
#include <stddef.h>

typedef struct ratelimit ratelimit;

/* slots 0: one bucket for every key. NULL on ENOMEM. */
ratelimit *ratelimit_new(unsigned burst, unsigned per_minute, size_t slots);
void ratelimit_free(ratelimit *rl);
/* Takes a token from key's bucket at time now (seconds, monotonic); false
 * when the bucket is empty. */
bool ratelimit_take(ratelimit *rl, const char *key, double now);
