/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kek.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"
#include "secmem.h"

static int check_private(int fd, const char *path, struct stat *st, bg_err *err)
{
    if (fstat(fd, st) < 0)
        return bg_err_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st->st_mode))
        return bg_err_set(err, -EINVAL, "%s is not a regular file", path);
    if (st->st_mode & 077)
        return bg_err_set(err, -EPERM, "%s is accessible by group or others (mode %04o), want 0600",
                          path, (unsigned)(st->st_mode & 07777));
    return 0;
}

int kek_check_private_file(const char *path, bg_err *err)
{
    _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;

    if (fd < 0)
        return bg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    return check_private(fd, path, &st, err);
}

int kek_load_secret_file(const char *path, uint8_t **ret, bg_err *err)
{
    _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    uint8_t *buf;
    ssize_t n;

    int r;

    if (fd < 0)
        return bg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    r = check_private(fd, path, &st, err);
    if (r < 0)
        return r;
    if (st.st_size != KEK_SIZE)
        return bg_err_set(err, -EINVAL, "%s must hold exactly %u bytes", path, KEK_SIZE);
    buf = secmem_alloc(KEK_SIZE);
    if (!buf)
        return -ENOMEM;
    n = read(fd, buf, KEK_SIZE);
    if (n != (ssize_t)KEK_SIZE) {
        secmem_free(buf);
        return bg_err_set(err, -EIO, "short read from %s", path);
    }
    *ret = buf;
    return 0;
}

static char *kek_aad(const char *node_id, const char *volume_uuid, size_t *ret_size)
{
    char *aad = NULL;
    int n = asprintf(&aad, "bootgate-kek-v1|%s|%s", node_id, volume_uuid);
    if (n < 0)
        return NULL;
    *ret_size = (size_t)n;
    return aad;
}

int kek_wrap(const uint8_t *kek, const char *node_id, const char *volume_uuid, const uint8_t *key,
             size_t key_size, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    size_t n = 0;
    _cleanup_(freep) char *aad = kek_aad(node_id, volume_uuid, &n);
    if (!aad)
        return -ENOMEM;
    return proto_aead_seal(kek, (const uint8_t *)aad, n, key, key_size, ret, ret_size, err);
}

int kek_unwrap(const uint8_t *kek, const char *node_id, const char *volume_uuid,
               const uint8_t *wrapped, size_t wrapped_size, uint8_t **ret_key, size_t *ret_key_size,
               bg_err *err)
{
    size_t n = 0;
    _cleanup_(freep) char *aad = kek_aad(node_id, volume_uuid, &n);
    if (!aad)
        return -ENOMEM;
    return proto_aead_open(kek, (const uint8_t *)aad, n, wrapped, wrapped_size, ret_key,
                           ret_key_size, err);
}
