/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bootgate LUKS2 token: parsing its JSON text, which comes from a disk
 * header anyone with the disk can rewrite (untrusted; fuzzed by
 * tests/fuzz/fuzz_client_token.c). */

#include "bgerr.h"

#define LUKS_TOKEN_TYPE "bootgate"
#define LUKS_TOKEN_MAX  (64u << 10) /* LUKS2 metadata areas are at most 4 MiB; tokens are small */

/* Token JSON: {"type":"bootgate","keyslots":[],"server":URL,"node_id":ID,
 * "ca_sha256":HEX,"ak_name":HEX}. ak_name (the AK name pinned at enrollment)
 * lets the client tell "this TPM was cleared or replaced" before asking the
 * server; it is optional for tokens written by other tools. */
typedef struct luks_token {
    char server[512];
    char node_id[129]; /* PROTO_MAX_ID + 1 */
    char ca_sha256[65];
    char ak_name[2 * 68 + 1];
} luks_token;

/* Fills ret from the token JSON; -EBADMSG with the field named on failure. */
int luks_token_parse(const char *json, luks_token *ret, bg_err *err);
