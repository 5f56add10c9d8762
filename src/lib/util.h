/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Allocating variant; NULL on ENOMEM. */
char *hex_encode_alloc(const uint8_t *in, size_t n);
/* Decodes hex (either case, even length) into a newly malloc'd buffer. */
int hex_decode_alloc(const char *hex, uint8_t **ret, size_t *ret_size, bg_err *err);
/* Decodes exactly out_size bytes of hex into out. */
int hex_decode_exact(const char *hex, uint8_t *out, size_t out_size, bg_err *err);

/* Standard base64 with padding, no newlines. */
char *base64_encode_alloc(const uint8_t *in, size_t n);
int base64_decode_alloc(const char *in, uint8_t **ret, size_t *ret_size, bg_err *err);

/* Reads a whole file, refusing files larger than max_size. The buffer gets a
 * terminating NUL that is not counted in *ret_size. */
int read_file(const char *path, size_t max_size, uint8_t **ret, size_t *ret_size, bg_err *err);
/* One line of a `key = value` file (server and admin configs), split in place:
 * 0 with *ret_key and *ret_value trimmed of white space, 1 for a blank or '#'
 * comment line, -EINVAL for a line without '='. */
int config_line_split(char *line, char **ret_key, char **ret_value);
/* Writes a file atomically (temporary file + fsync + rename) with the given mode. */
int write_file_atomic(const char *path, const void *data, size_t size, unsigned mode, bg_err *err);
