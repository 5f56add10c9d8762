/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A read cursor over untrusted bytes. Every read checks the remaining length
 * in subtraction form (it cannot overflow) and fails with -EBADMSG and a
 * message naming the offset and what was being read. Nothing is ever laid
 * over the input as a struct. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bgerr.h"

typedef struct cursor {
    const uint8_t *buf;
    size_t len;
    size_t off;
} cursor;

static inline cursor cursor_init(const void *buf, size_t len)
{
    return (cursor){.buf = buf, .len = len, .off = 0};
}

static inline size_t cursor_left(const cursor *c)
{
    return c->len - c->off;
}

static inline bool cursor_eof(const cursor *c)
{
    return c->off >= c->len;
}

static inline int cursor_need(const cursor *c, size_t n, const char *what, bg_err *err)
{
    if (n > c->len - c->off)
        return bg_err_set(err, -EBADMSG, "offset %zu: %s: need %zu bytes, %zu left", c->off, what,
                          n, c->len - c->off);
    return 0;
}

static inline int cursor_u8(cursor *c, uint8_t *ret, const char *what, bg_err *err)
{
    int r = cursor_need(c, 1, what, err);
    if (r < 0)
        return r;
    *ret = c->buf[c->off++];
    return 0;
}

static inline int cursor_u16le(cursor *c, uint16_t *ret, const char *what, bg_err *err)
{
    int r = cursor_need(c, 2, what, err);
    if (r < 0)
        return r;
    const uint8_t *p = c->buf + c->off;
    *ret = (uint16_t)(p[0] | p[1] << 8);
    c->off += 2;
    return 0;
}

static inline int cursor_u32le(cursor *c, uint32_t *ret, const char *what, bg_err *err)
{
    int r = cursor_need(c, 4, what, err);
    if (r < 0)
        return r;
    const uint8_t *p = c->buf + c->off;
    *ret = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    c->off += 4;
    return 0;
}

static inline int cursor_u64le(cursor *c, uint64_t *ret, const char *what, bg_err *err)
{
    uint32_t lo = 0, hi = 0;
    int r = cursor_need(c, 8, what, err);
    if (r < 0)
        return r;
    (void)cursor_u32le(c, &lo, what, err);
    (void)cursor_u32le(c, &hi, what, err);
    *ret = (uint64_t)hi << 32 | lo;
    return 0;
}

static inline int cursor_u16be(cursor *c, uint16_t *ret, const char *what, bg_err *err)
{
    int r = cursor_need(c, 2, what, err);
    if (r < 0)
        return r;
    const uint8_t *p = c->buf + c->off;
    *ret = (uint16_t)(p[0] << 8 | p[1]);
    c->off += 2;
    return 0;
}

static inline int cursor_u32be(cursor *c, uint32_t *ret, const char *what, bg_err *err)
{
    int r = cursor_need(c, 4, what, err);
    if (r < 0)
        return r;
    const uint8_t *p = c->buf + c->off;
    *ret = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
    c->off += 4;
    return 0;
}

/* Returns a pointer into the buffer (no copy) and advances past n bytes. */
static inline int cursor_bytes(cursor *c, size_t n, const uint8_t **ret, const char *what,
                               bg_err *err)
{
    int r = cursor_need(c, n, what, err);
    if (r < 0)
        return r;
    *ret = c->buf + c->off;
    c->off += n;
    return 0;
}

static inline int cursor_copy(cursor *c, void *dst, size_t n, const char *what, bg_err *err)
{
    const uint8_t *p;
    int r = cursor_bytes(c, n, &p, what, err);
    if (r < 0)
        return r;
    memcpy(dst, p, n);
    return 0;
}
