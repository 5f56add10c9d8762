/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bootgate LUKS2 token: parsing its JSON text, which comes from a disk
 * header anyone with the disk can rewrite (untrusted; fuzzed by
 * tests/fuzz/fuzz_client_token.c). */

#include "bgerr.h"

#define LUKS_TOKEN_TYPE "bootgate"
#define LUKS_TOKEN_MAX  (64u << 10) /* LUKS2 metadata areas are at most 4 MiB; tokens are small */

/* The servers a node asks, in order (replicas of one service: the same CA,
 * KEK and nonce secret): failover goes down this list. */
#define SERVERS_MAX    8
#define SERVER_URL_MAX 512
typedef struct server_list {
    size_t n;
    char url[SERVERS_MAX][SERVER_URL_MAX];
} server_list;

/* Appends url unless it is in the list already; -EINVAL when it is empty, too
 * long or holds a blank or a comma, -E2BIG past SERVERS_MAX. */
int server_list_add(server_list *l, const char *url, bg_err *err);
/* A list written "URL[,URL...]" (commas and/or blanks between; unlock.conf's
 * server, rd.bootgate.url=). */
int server_list_parse(const char *text, server_list *ret, bg_err *err);
/* "URL, URL" for messages (cut at size). */
void server_list_format(const server_list *l, char *buf, size_t size);

/* Token JSON: {"type":"bootgate","keyslots":[],"server":URL,"servers":[URL,...],
 * "node_id":ID,"ca_sha256":HEX,"ak_name":HEX}. "servers" (1..SERVERS_MAX)
 * is the list the client fails over along; "server", its first entry, is
 * what tokens written before the list carry and what older clients read (a
 * token with "servers" needs no "server"). ak_name (the AK name pinned at
 * enrollment) lets the client tell "this TPM was cleared or replaced" before
 * asking the server; it is optional for tokens written by other tools. */
typedef struct luks_token {
    server_list servers;
    char node_id[129]; /* PROTO_MAX_ID + 1 */
    char ca_sha256[65];
    char ak_name[2 * 68 + 1];
} luks_token;

/* Fills ret from the token JSON; -EBADMSG with the field named on failure. */
int luks_token_parse(const char *json, luks_token *ret, bg_err *err);
