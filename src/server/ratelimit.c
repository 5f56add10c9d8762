/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

typedef struct bucket {
    double tokens;
    double last; /* 0: never used, full */
} bucket;

struct ratelimit {
    pthread_mutex_t lock;
    double burst, per_second;
    size_t n;
    uint64_t hash_key;
    bucket b[];
};

ratelimit *ratelimit_new(unsigned burst, unsigned per_minute, size_t slots)
{
    size_t n = slots ? slots : 1, size;
    ratelimit *rl;

    if (__builtin_mul_overflow(n, sizeof(bucket), &size) ||
        __builtin_add_overflow(size, sizeof(ratelimit), &size))
        return NULL;
    rl = calloc(1, size);
    if (!rl)
        return NULL;
    if (pthread_mutex_init(&rl->lock, NULL) != 0 ||
        RAND_bytes((unsigned char *)&rl->hash_key, sizeof(rl->hash_key)) != 1) {
        free(rl);
        return NULL;
    }
    rl->burst = burst;
    rl->per_second = per_minute / 60.0;
    rl->n = n;
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

/* FNV-1a over the key, started from the random hash key, with a final
 * avalanche so that nearby addresses spread over the slots. */
static size_t slot_of(const ratelimit *rl, const char *key)
{
    uint64_t h = 0xcbf29ce484222325u ^ rl->hash_key;
    if (rl->n == 1 || !key)
        return 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return (size_t)(h % rl->n);
}

bool ratelimit_take(ratelimit *rl, const char *key, double now)
{
    bucket *b;
    bool ok;

    pthread_mutex_lock(&rl->lock);
    b = &rl->b[slot_of(rl, key)];
    if (b->last == 0) {
        b->tokens = rl->burst;
    } else if (now > b->last) {
        b->tokens += (now - b->last) * rl->per_second;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
    }
    if (now > b->last)
        b->last = now > 0 ? now : 1e-9;
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    pthread_mutex_unlock(&rl->lock);
    return ok;
}
