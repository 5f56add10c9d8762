/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Token buckets of bootgated's denial audit: burst, refill over time, keys
 * apart, one shared bucket without slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ratelimit.h"

static unsigned take_n(ratelimit *rl, const char *key, double now, unsigned n)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++)
        ok += ratelimit_take(rl, key, now);
    return ok;
}

static void test_burst_and_refill(void **state)
{
    ratelimit *rl = ratelimit_new(3, 6, 4096); /* 3 at once, one every 10 s */
    assert_non_null(rl);
    assert_int_equal(take_n(rl, "192.0.2.1", 100.0, 10), 3);
    /* 5 s later: half a token, none to take */
    assert_int_equal(take_n(rl, "192.0.2.1", 105.0, 1), 0);
    /* 10 s after the last take: one */
    assert_int_equal(take_n(rl, "192.0.2.1", 115.0, 5), 1);
    /* an hour later: the burst again, never more */
    assert_int_equal(take_n(rl, "192.0.2.1", 3715.0, 10), 3);
    /* another source has its own bucket (4096 slots: a collision of these
     * two would need the random hash key to cooperate; retry keys if so) */
    {
        unsigned best = 0;
        const char *others[] = {"192.0.2.2", "198.51.100.7", "2001:db8::1"};
        for (size_t i = 0; i < 3; i++) {
            unsigned got = take_n(rl, others[i], 3715.0, 10);
            if (got > best)
                best = got;
        }
        assert_int_equal(best, 3);
    }
    ratelimit_free(rl);
}

static void test_global(void **state)
{
    ratelimit *rl = ratelimit_new(5, 60, 0); /* one bucket, one per second */
    assert_non_null(rl);
    assert_int_equal(take_n(rl, "a", 10.0, 3) + take_n(rl, "b", 10.0, 3), 5);
    assert_int_equal(take_n(rl, NULL, 12.0, 5), 2);
    /* time going backwards (another thread's older timestamp) adds nothing */
    assert_int_equal(take_n(rl, NULL, 11.0, 5), 0);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_and_refill),
        cmocka_unit_test(test_global),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
