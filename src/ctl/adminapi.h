/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small client for bootgated's admin API (/v1/admin/...): HTTPS with mutual
 * TLS, JSON in and out. The client certificate decides the role on the server
 * (admin, enroller, approver, auditor; see DESIGN §6 and README).
 *
 * Connection settings, first match wins for each of them:
 *   1. command-line options  --server URL --ca FILE --cert FILE --key FILE
 *   2. environment           BOOTGATE_ADMIN_SERVER, _CA, _CERT, _KEY
 *   3. config file           --admin-config FILE, else $BOOTGATE_ADMIN_CONFIG,
 *                            else ~/.config/bootgate/admin.conf; lines `key = value`
 *                            with keys server, ca, cert, key ('#' comments).
 *
 * Usage in a command:
 *     adminapi_opts o = {0};
 *     ... in getopt: if (adminapi_opt(&o, opt, optarg)) continue;   (see ADMINAPI_LONGOPTS)
 *     r = adminapi_request(&o, "POST", "/v1/admin/policies", body, &status, &reply, &err);
 */

#include <stdbool.h>
#include <getopt.h>

#include <json-c/json.h>

#include "bgerr.h"

typedef struct adminapi_opts {
    char *server; /* "https://127.0.0.1:8443" (no trailing slash needed) */
    char *ca;
    char *cert;
    char *key;
    char *config;
} adminapi_opts;

/* getopt_long option values for the shared options; add ADMINAPI_LONGOPTS to
 * a command's struct option table. */
enum {
    ADMINAPI_OPT_SERVER = 0x4100,
    ADMINAPI_OPT_CA,
    ADMINAPI_OPT_CERT,
    ADMINAPI_OPT_KEY,
    ADMINAPI_OPT_CONFIG,
};

#define ADMINAPI_LONGOPTS                                                                          \
    {"server", required_argument, NULL, ADMINAPI_OPT_SERVER},                                      \
        {"ca", required_argument, NULL, ADMINAPI_OPT_CA},                                          \
        {"cert", required_argument, NULL, ADMINAPI_OPT_CERT},                                      \
        {"key", required_argument, NULL, ADMINAPI_OPT_KEY},                                        \
    {                                                                                              \
        "admin-config", required_argument, NULL, ADMINAPI_OPT_CONFIG                               \
    }

#define ADMINAPI_USAGE                                                                             \
    "Server connection (else BOOTGATE_ADMIN_SERVER/_CA/_CERT/_KEY, else the admin config):\n"      \
    "  --server URL          bootgated base URL, e.g. https://127.0.0.1:8443\n"                    \
    "  --ca FILE             CA certificate(s) that signed the server certificate\n"               \
    "  --cert FILE           client certificate (its OU is the role)\n"                            \
    "  --key FILE            client private key\n"                                                 \
    "  --admin-config FILE   key = value file with server, ca, cert, key\n"

/* Consumes one getopt result; true when it was one of the shared options. */
bool adminapi_opt(adminapi_opts *o, int opt, const char *arg);
void adminapi_opts_done(adminapi_opts *o);

/* Fills unset fields from the environment and config file; -EINVAL with a
 * message if the server URL is still missing. */
int adminapi_resolve(adminapi_opts *o, bg_err *err);

/* Sends one request. body may be NULL (no body). On a completed exchange
 * returns 0 with *ret_status the HTTP status and *ret_reply the parsed JSON
 * reply (NULL if the reply was empty or not JSON) — 4xx/5xx are not errors
 * of this function. Transport failures return -EIO/-ECONNREFUSED/... with a
 * message. Resolves the options itself if needed. */
int adminapi_request(adminapi_opts *o, const char *method, const char *path, json_object *body,
                     long *ret_status, json_object **ret_reply, bg_err *err);

/* The "error"/"reason" of an error reply as one line, for messages. */
const char *adminapi_reply_reason(json_object *reply);
