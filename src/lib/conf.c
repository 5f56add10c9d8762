/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "conf.h"

#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

const conf_field *conf_find(const conf_format *fmt, const char *key)
{
    for (size_t i = 0; i < fmt->n_fields; i++)
        if (!strcmp(fmt->fields[i].key, key))
            return &fmt->fields[i];
    return NULL;
}

bool conf_seen(const conf_format *fmt, const bool *seen, const char *key)
{
    const conf_field *f = conf_find(fmt, key);
    return f && seen[f - fmt->fields];
}

static void put_uint(void *p, size_t size, unsigned long long v)
{
    if (size == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, sizeof(x));
    } else {
        uint64_t x = v;
        memcpy(p, &x, sizeof(x));
    }
}

static void put_str(char *dst, size_t size, const char *v)
{
    snprintf(dst, size, "%s", v ? v : "");
}

void conf_defaults(const conf_format *fmt, void *obj)
{
    memset(obj, 0, fmt->struct_size);
    for (size_t i = 0; i < fmt->n_fields; i++) {
        const conf_field *f = &fmt->fields[i];
        char *p = (char *)obj + f->offset;
        switch (f->type) {
        case CONF_STRING:
        case CONF_PATH:
            put_str(p, f->size, f->def_str);
            break;
        case CONF_UINT:
            put_uint(p, f->size, f->def_num);
            break;
        case CONF_BOOL:
            *(bool *)p = f->def_num != 0;
            break;
        case CONF_ENUM:
            *(int *)p = (int)f->def_num;
            break;
        }
    }
}

static int parse_uint(const conf_field *f, const char *v, unsigned long long *ret, bg_err *err)
{
    unsigned long long x;
    char *end;

    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < f->min || x > f->max)
        return bg_err_set(err, -EINVAL, "%s: '%s' is not a number in %llu..%llu", f->key, v, f->min,
                          f->max);
    *ret = x;
    return 0;
}

static int parse_bool(const conf_field *f, const char *v, bool *ret, bg_err *err)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *ret = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *ret = false;
    else
        return bg_err_set(err, -EINVAL, "%s: '%s' is not yes/no", f->key, v);
    return 0;
}

static int parse_enum(const conf_field *f, const char *v, int *ret, bg_err *err)
{
    char names[256] = "";
    size_t len = 0;

    for (const conf_enum_name *e = f->names; e->name; e++)
        if (!strcmp(v, e->name)) {
            *ret = e->value;
            return 0;
        }
    for (const conf_enum_name *e = f->names; e->name && len < sizeof(names); e++) {
        int n = snprintf(names + len, sizeof(names) - len, "%s%s", len ? "/" : "", e->name);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    return bg_err_set(err, -EINVAL, "%s: '%s' is not %s", f->key, v, names);
}

/* Validates value for f and stores it at obj; nothing is written on error.
 * dir: the config file's directory for relative CONF_PATH values, or NULL. */
static int set_field(const conf_field *f, void *obj, const char *v, const char *dir, bg_err *err)
{
    char *p = (char *)obj + f->offset;
    unsigned long long n = 0;
    bool b = false;
    int e = 0, r, len;

    switch (f->type) {
    case CONF_STRING:
        if (strlen(v) >= f->size)
            return bg_err_set(err, -EINVAL, "%s: value longer than %zu", f->key, f->size - 1);
        if (f->check) {
            r = f->check(v, err);
            if (r < 0)
                return r;
        }
        memcpy(p, v, strlen(v) + 1);
        return 0;
    case CONF_PATH:
        if (!dir || v[0] == '/' || v[0] == '\0')
            len = snprintf(NULL, 0, "%s", v);
        else
            len = snprintf(NULL, 0, "%s/%s", dir, v);
        if (len < 0 || (size_t)len >= f->size)
            return bg_err_set(err, -EINVAL, "%s: path longer than %zu", f->key, f->size - 1);
        if (!dir || v[0] == '/' || v[0] == '\0')
            snprintf(p, f->size, "%s", v);
        else
            snprintf(p, f->size, "%s/%s", dir, v);
        return 0;
    case CONF_UINT:
        r = parse_uint(f, v, &n, err);
        if (r < 0)
            return r;
        put_uint(p, f->size, n);
        return 0;
    case CONF_BOOL:
        r = parse_bool(f, v, &b, err);
        if (r < 0)
            return r;
        *(bool *)p = b;
        return 0;
    case CONF_ENUM:
        r = parse_enum(f, v, &e, err);
        if (r < 0)
            return r;
        *(int *)p = e;
        return 0;
    }
    return bg_err_set(err, -EINVAL, "%s: unsupported field type", f->key);
}

/* Applies lines (or one key) to a copy of obj; the copy replaces obj only
 * when everything, finish included, succeeded. */
typedef struct conf_tx {
    const conf_format *fmt;
    void *copy;
    bool *seen;
} conf_tx;

static void conf_tx_done(conf_tx *tx)
{
    free(tx->copy);
    free(tx->seen);
}

static int conf_tx_begin(conf_tx *tx, const conf_format *fmt, const void *obj)
{
    *tx = (conf_tx){.fmt = fmt};
    tx->copy = malloc(fmt->struct_size);
    tx->seen = calloc(fmt->n_fields ? fmt->n_fields : 1, sizeof(bool));
    if (!tx->copy || !tx->seen)
        return -ENOMEM;
    memcpy(tx->copy, obj, fmt->struct_size);
    return 0;
}

static int conf_tx_apply(conf_tx *tx, const char *key, const char *value, const char *dir,
                         bg_err *err)
{
    const conf_field *f = conf_find(tx->fmt, key);
    int r;

    if (!f)
        return bg_err_set(err, -EINVAL, "unknown key '%s'", key);
    r = set_field(f, tx->copy, value, dir, err);
    if (r < 0)
        return r;
    tx->seen[f - tx->fmt->fields] = true;
    return 0;
}

static int conf_tx_commit(conf_tx *tx, void *obj, const char *path, bg_err *err)
{
    if (tx->fmt->finish) {
        int r = tx->fmt->finish(tx->fmt, tx->copy, tx->seen, path, err);
        if (r < 0)
            return r;
    }
    memcpy(obj, tx->copy, tx->fmt->struct_size);
    return 0;
}

int conf_set(const conf_format *fmt, void *obj, const char *key, const char *value, bg_err *err)
{
    _cleanup_(conf_tx_done) conf_tx tx = {0};
    int r;

    r = conf_tx_begin(&tx, fmt, obj);
    if (r >= 0)
        r = conf_tx_apply(&tx, key, value, NULL, err);
    if (r >= 0)
        r = conf_tx_commit(&tx, obj, fmt->name, err);
    return r;
}

int conf_parse(const conf_format *fmt, void *obj, const char *text, size_t size, const char *path,
               bg_err *err)
{
    _cleanup_(conf_tx_done) conf_tx tx = {0};
    _cleanup_(freep) char *buf = NULL;
    _cleanup_(freep) char *pathcopy = NULL;
    const char *dir;
    unsigned lineno = 0;
    int r;

    if (memchr(text, '\0', size))
        return bg_err_set(err, -EINVAL, "%s: contains a NUL byte", path);
    buf = strndup(text, size);
    pathcopy = strdup(path);
    if (!buf || !pathcopy)
        return -ENOMEM;
    dir = dirname(pathcopy);
    r = conf_tx_begin(&tx, fmt, obj);
    if (r < 0)
        return r;

    for (char *line = buf, *next; line; line = next) {
        char *k, *v;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (fmt->inline_comments) {
            char *hash = strchr(line, '#');
            if (hash)
                *hash = '\0';
        }
        r = config_line_split(line, &k, &v);
        if (r > 0)
            continue;
        if (r < 0)
            return bg_err_set(err, -EINVAL, "%s:%u: expected key = value", path, lineno);
        r = conf_tx_apply(&tx, k, v, dir, err);
        if (r < 0)
            return bg_err_prefix(err, r, "%s:%u", path, lineno);
    }
    return conf_tx_commit(&tx, obj, path, err);
}

int conf_load(const conf_format *fmt, void *obj, const char *path, bool required, bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    int r;

    r = read_file(path, fmt->max_file, &buf, &size, err);
    if (r == -ENOENT && !required)
        return 0;
    if (r < 0)
        return r;
    return conf_parse(fmt, obj, (const char *)buf, size, path, err);
}
