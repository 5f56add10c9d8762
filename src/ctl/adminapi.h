/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small client for bootgated's admin API (/v1/admin/...): HTTPS with mutual
 * TLS, JSON in and out. The client certificate decides the role on the server
 * (admin, enroller, approver, auditor; see DESIGN §6 and README).
 *
 * The transport is bootgate-unlock's hardened client (https.h): only the
 * configured CA is trusted (no system store, SSL_CERT_FILE/CURL_CA_BUNDLE have
 * no effect), proxy variables are ignored, https only, no redirects, TLS >= 1.2,
 * timeouts and a size cap. Answers are decoded strictly: one JSON object with
 * Content-Type application/json, and a 200 answer must carry the fields the
 * command expects.
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
 *     static const adminapi_field want[] = {{"name", json_type_string}, {}};
 *     r = adminapi_request(&o, "POST", "/v1/admin/policies", body, want, &status, &reply, &err);
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
    "  --ca FILE             CA certificate(s) that signed the server certificate; required:\n"    \
    "                        neither a system CA store nor a proxy is ever used\n"                 \
    "  --cert FILE           client certificate (its OU is the role)\n"                            \
    "  --key FILE            client private key\n"                                                 \
    "  --admin-config FILE   key = value file with server, ca, cert, key\n"

/* Consumes one getopt result; true when it was one of the shared options. */
bool adminapi_opt(adminapi_opts *o, int opt, const char *arg);
void adminapi_opts_done(adminapi_opts *o);

/* Fills unset fields from the environment and config file; -EINVAL with a
 * message if the server URL is still missing. */
int adminapi_resolve(adminapi_opts *o, bg_err *err);

/* A field that a 200 answer must have, with its JSON type; a table of them
 * ends with an entry whose name is NULL. */
typedef struct adminapi_field {
    const char *name;
    json_type type;
} adminapi_field;

/* Sends one request. body may be NULL (no body); expect may be NULL (any
 * object). Returns 0 when the server answered with a JSON object: *ret_status
 * is the HTTP status and *ret_reply the object (4xx/5xx are not errors of this
 * function). Otherwise -errno with a message:
 *   -EINVAL   configuration (no server, no CA, not https://)
 *   -EBADMSG  the answer is not a JSON object (any status; e.g. an HTML error
 *             page of a proxy or another server), or a 200 answer lacks an
 *             expected field
 *   other     transport failures (-ENETUNREACH, -ETIMEDOUT, -EPROTO for a
 *             server certificate not from the configured CA, -EFBIG, -EIO).
 * Resolves the options itself if needed. */
int adminapi_request(adminapi_opts *o, const char *method, const char *path, json_object *body,
                     const adminapi_field *expect, long *ret_status, json_object **ret_reply,
                     bg_err *err);

/* The "error"/"reason" of an error reply as one line, for messages. */
const char *adminapi_reply_reason(json_object *reply);
