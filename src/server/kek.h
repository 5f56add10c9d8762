/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Key files the server holds in mlock'd memory: the KEK (volume keys at rest,
 * AES-256-GCM with aad = "bootgate-kek-v1|" node_id "|" volume_uuid) and the
 * nonce secret. Both are exactly 32 bytes; a file readable by group or other
 * is refused. */

#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"

#define KEK_SIZE 32u

/* 0 when path is a regular file (not a symlink) that neither group nor
 * others can access; -EPERM (mode named in err) or the open/stat error. */
int kek_check_private_file(const char *path, bg_err *err);
/* Reads a 32-byte secret file into secmem (*ret, free with secmem_free). */
int kek_load_secret_file(const char *path, uint8_t **ret, bg_err *err);

int kek_wrap(const uint8_t *kek, const char *node_id, const char *volume_uuid, const uint8_t *key,
             size_t key_size, uint8_t **ret, size_t *ret_size, bg_err *err);
/* *ret_key in secmem. */
int kek_unwrap(const uint8_t *kek, const char *node_id, const char *volume_uuid,
               const uint8_t *wrapped, size_t wrapped_size, uint8_t **ret_key, size_t *ret_key_size,
               bg_err *err);
