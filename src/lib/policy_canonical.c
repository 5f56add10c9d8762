/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The canonical form of a policy: the bytes that are signed (see policy.h):
 * RFC 8785 (JCS) for documents without fractional numbers. */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > b->cap - b->n - 1 || !b->p) {
        size_t cap = b->cap ? b->cap : 256;
        while (n > cap - b->n - 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s, size_t n)
{
    sb_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (esc) {
            sb_put(b, s + i - run, run);
            run = 0;
            sb_put(b, esc, strlen(esc));
        } else
            run++;
    }
    sb_put(b, s + n - run, run);
    sb_put(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int canon(sbuf *b, json_object *o, unsigned depth, bg_err *err)
{
    char num[32];
    int r;
    if (depth > 64)
        return bg_err_set(err, -EINVAL, "JSON nested too deeply");
    switch (json_object_get_type(o)) {
    case json_type_null:
        sb_put(b, "null", 4);
        return 0;
    case json_type_boolean:
        if (json_object_get_boolean(o))
            sb_put(b, "true", 4);
        else
            sb_put(b, "false", 5);
        return 0;
    case json_type_int: {
        int64_t v = json_object_get_int64(o);
        if (v == INT64_MAX)
            snprintf(num, sizeof num, "%" PRIu64, json_object_get_uint64(o));
        else
            snprintf(num, sizeof num, "%" PRId64, v);
        sb_put(b, num, strlen(num));
        return 0;
    }
    case json_type_double:
        return bg_err_set(err, -EINVAL, "fractional numbers have no canonical form here");
    case json_type_string:
        sb_str(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        return 0;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        sb_put(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",", 1);
            if ((r = canon(b, json_object_array_get_idx(o, i), depth + 1, err)) < 0)
                return r;
        }
        sb_put(b, "]", 1);
        return 0;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(o), i = 0;
        _cleanup_(freep) const char **keys = calloc(n ? n : 1, sizeof *keys);
        if (!keys)
            return -ENOMEM;
        json_object_object_foreach(o, k, v)
        {
            (void)v;
            keys[i++] = k;
        }
        qsort(keys, n, sizeof *keys, key_cmp);
        sb_put(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",", 1);
            sb_str(b, keys[i], strlen(keys[i]));
            sb_put(b, ":", 1);
            if ((r = canon(b, json_object_object_get(o, keys[i]), depth + 1, err)) < 0)
                return r;
        }
        sb_put(b, "}", 1);
        return 0;
    }
    }
    return bg_err_set(err, -EINVAL, "unknown JSON type");
}

int policy_canonicalize(json_object *obj, char **ret, size_t *ret_size, bg_err *err)
{
    sbuf b = {0};
    int r = canon(&b, obj, 0, err);
    if (r >= 0 && b.oom)
        r = bg_err_set(err, -ENOMEM, "out of memory");
    if (r >= 0 && !b.p)
        r = bg_err_set(err, -EINVAL, "empty document");
    if (r < 0) {
        free(b.p);
        return r;
    }
    *ret = b.p;
    *ret_size = b.n;
    return 0;
}
