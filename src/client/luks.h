/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* LUKS2 side of the client (libcryptsetup): the `bootgate` token that tells
 * the initramfs where to go, the volume key for enrollment, and activation or
 * verification with the key the server released. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libcryptsetup.h>

#include "bgerr.h"
#include "cleanup.h"
#include "token.h"

#define LUKS_MAX_DEVICES 64
#define LUKS_KEY_MAX     512 /* bytes; LUKS2 volume keys are 32..64 in practice */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct crypt_device *, crypt_free)

/* crypt_init + crypt_load(LUKS2); -EINVAL when the device is not LUKS2. */
int luks_open(const char *path, struct crypt_device **ret, bg_err *err);
const char *luks_uuid(struct crypt_device *cd);

/* The first bootgate token; -ENOENT when there is none. ret_id may be NULL. */
int luks_token_read(struct crypt_device *cd, luks_token *ret, int *ret_id, bg_err *err);
/* Replaces any existing bootgate token. */
int luks_token_write(struct crypt_device *cd, const luks_token *tok, bg_err *err);

/* The volume key, unlocked with a passphrase (or key file contents, as
 * cryptsetup --key-file does). *ret_key is secmem. */
int luks_volume_key_get(struct crypt_device *cd, const char *pass, size_t pass_size,
                        uint8_t **ret_key, size_t *ret_size, bg_err *err);
int luks_volume_key_verify(struct crypt_device *cd, const uint8_t *key, size_t size, bg_err *err);
/* Activates as "luks-<UUID>". flags: CRYPT_ACTIVATE_*. */
int luks_activate(struct crypt_device *cd, const uint8_t *key, size_t size, uint32_t flags,
                  bg_err *err);

/* Calls found() for each block device (from /sys/class/block) that is LUKS2
 * with a bootgate token, with its loaded header and token; found() may take
 * *cd (TAKE_PTR), else it is freed. A negative return from found() stops the
 * scan and is returned. */
typedef int (*luks_scan_fn)(const char *path, struct crypt_device **cd, const luks_token *tok,
                            void *userdata, bg_err *err);
int luks_scan(luks_scan_fn found, void *userdata, bg_err *err);

/* The paths luks_scan finds (at most LUKS_MAX_DEVICES): a NULL-terminated
 * malloc'd array of malloc'd "/dev/NAME" strings. */
int luks_find_devices(char ***ret, bg_err *err);
void luks_strv_free(char **v);
