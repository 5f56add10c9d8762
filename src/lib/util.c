/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cleanup.h"

void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

char *hex_encode_alloc(const uint8_t *in, size_t n)
{
    char *out;
    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    out = malloc(2 * n + 1);
    if (out)
        hex_encode(in, n, out);
    return out;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex_decode_into(const char *hex, size_t len, uint8_t *out, bg_err *err)
{
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return bg_err_set(err, -EINVAL, "invalid hex digit at position %zu",
                              hi < 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int hex_decode_alloc(const char *hex, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    size_t len = strlen(hex);
    _cleanup_(freep) uint8_t *out = NULL;
    int r;

    if (len % 2)
        return bg_err_set(err, -EINVAL, "hex string has odd length %zu", len);
    out = malloc(len / 2 + 1);
    if (!out)
        return -ENOMEM;
    r = hex_decode_into(hex, len, out, err);
    if (r < 0)
        return r;
    *ret_size = len / 2;
    *ret = TAKE_PTR(out);
    return 0;
}

int hex_decode_exact(const char *hex, uint8_t *out, size_t out_size, bg_err *err)
{
    size_t len = strlen(hex);
    if (len != 2 * out_size)
        return bg_err_set(err, -EINVAL, "expected %zu hex digits, got %zu", 2 * out_size, len);
    return hex_decode_into(hex, len, out, err);
}

char *base64_encode_alloc(const uint8_t *in, size_t n)
{
    char *out;
    if (n > INT_MAX / 2)
        return NULL;
    out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

int base64_decode_alloc(const char *in, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    size_t len = strlen(in), pad = 0;
    _cleanup_(freep) uint8_t *out = NULL;
    int n;

    if (len % 4)
        return bg_err_set(err, -EINVAL, "base64 length %zu is not a multiple of 4", len);
    if (len > INT_MAX)
        return bg_err_set(err, -E2BIG, "base64 input too large");
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= len - 2);
        if (!ok)
            return bg_err_set(err, -EINVAL, "invalid base64 character at position %zu", i);
    }
    if (len >= 1 && in[len - 1] == '=')
        pad++;
    if (len >= 2 && in[len - 2] == '=')
        pad++;
    if (pad == 1 && in[len - 2] == '=')
        return bg_err_set(err, -EINVAL, "invalid base64 padding");
    out = malloc(len / 4 * 3 + 1);
    if (!out)
        return -ENOMEM;
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0) {
        OPENSSL_cleanse(out, len / 4 * 3 + 1); /* may hold part of a key */
        return bg_err_set(err, -EINVAL, "invalid base64");
    }
    *ret_size = (size_t)n - pad;
    *ret = TAKE_PTR(out);
    return 0;
}

int read_file(const char *path, size_t max_size, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    _cleanup_(closep) int fd = -1;
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size = 0, alloc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    for (;;) {
        ssize_t n;
        if (size == alloc) {
            size_t next = alloc ? alloc * 2 : 65536;
            uint8_t *p;
            if (next > max_size + 1)
                next = max_size + 1;
            if (next <= size)
                return bg_err_set(err, -EFBIG, "%s: larger than the limit of %zu bytes", path,
                                  max_size);
            p = realloc(buf, next + 1);
            if (!p)
                return -ENOMEM;
            buf = p;
            alloc = next;
        }
        n = read(fd, buf + size, alloc - size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bg_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        size += (size_t)n;
        if (size > max_size)
            return bg_err_set(err, -EFBIG, "%s: larger than the limit of %zu bytes", path,
                              max_size);
    }
    if (!buf) {
        buf = malloc(1);
        if (!buf)
            return -ENOMEM;
    }
    buf[size] = '\0';
    *ret = TAKE_PTR(buf);
    *ret_size = size;
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, unsigned mode, bg_err *err)
{
    _cleanup_(freep) char *tmp = NULL;
    _cleanup_(closep) int fd = -1;
    const uint8_t *p = data;
    int r;

    if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
        return -ENOMEM;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return bg_err_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, mode) < 0) {
        r = bg_err_set(err, -errno, "cannot chmod %s: %s", tmp, strerror(errno));
        goto fail;
    }
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = bg_err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        p += n;
        size -= (size_t)n;
    }
    if (fsync(fd) < 0 || rename(tmp, path) < 0) {
        r = bg_err_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    (void)unlink(tmp);
    return r;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_line_split(char *line, char **ret_key, char **ret_value)
{
    char *k = trim(line), *eq;
    if (!*k || *k == '#')
        return 1;
    eq = strchr(k, '=');
    if (!eq)
        return -EINVAL;
    *eq = '\0';
    *ret_key = trim(k);
    *ret_value = trim(eq + 1);
    return 0;
}
