/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl breakglass request|approve|list|show|revoke (DESIGN §4), over
 * the admin API. approve signs the server's canonical grant ("to_sign")
 * with the approver's Ed25519 key locally; the key never leaves the machine. */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "adminapi.h"
#include "auditchain.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: bootgatectl breakglass request --code BG-XXXX-XXXX --reason TEXT\n"
               "                              [--ttl 30m] [--uses 1] [--scope observed|any]\n"
               "       bootgatectl breakglass approve ID --approver-key APPROVER.key\n"
               "       bootgatectl breakglass list | show ID | revoke ID\n\n"
               "A grant waives the policy (never nonce, quote or enrolled EK/AK) for the node of\n"
               "the denied attempt named by the code; it is active after the server's number of\n"
               "distinct approvers signed it. Scope observed (default) covers only the PCR values\n"
               "of that attempt. TTL and uses are capped by the server. (--key is the TLS client\n"
               "key, as for every admin command; the Ed25519 approver key is "
               "--approver-key.)\n\n" ADMINAPI_USAGE
               "  --json                print the server's JSON reply\n");
}

static int sign_grant(const char *key_path, const char *msg, char **ret_b64, bg_err *err)
{
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t sig[64];
    size_t siglen = sizeof(sig);
    int r = auditchain_load_key(key_path, true, &key, err);
    if (r < 0)
        return r;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const uint8_t *)msg, strlen(msg)) != 1)
        r = bg_err_set(err, -EIO, "Ed25519 signing failed");
    else if (!(*ret_b64 = base64_encode_alloc(sig, siglen)))
        r = -ENOMEM;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return r;
}

/* What each answer must carry (adminapi_request checks a 200 answer). */
static const adminapi_field want_grant[] = {
    {"id", json_type_string}, {"state", json_type_string}, {}};
static const adminapi_field want_to_sign[] = {{"to_sign", json_type_string}, {}};
static const adminapi_field want_list[] = {{"grants", json_type_array}, {}};

int ctl_breakglass_main(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"code", required_argument, NULL, 'c'},
        {"reason", required_argument, NULL, 'r'},
        {"ttl", required_argument, NULL, 't'},
        {"uses", required_argument, NULL, 'u'},
        {"scope", required_argument, NULL, 's'},
        {"approver-key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    const char *code = NULL, *reason = NULL, *scope = "observed", *key = NULL, *verb, *id = NULL;
    int64_t ttl = 1800;
    long long uses = 1;
    json_object *body = NULL, *reply = NULL;
    char path[256];
    bool json = false;
    long status = 0;
    bg_err err = {0};
    int c, r, ret = CTL_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'c':
            code = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 't':
            if (ctl_parse_duration(optarg, &ttl) < 0)
                return ctl_usage_error("breakglass", "bad --ttl");
            break;
        case 'u':
            uses = strtoll(optarg, NULL, 10);
            if (uses < 1)
                return ctl_usage_error("breakglass", "bad --uses");
            break;
        case 's':
            scope = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("breakglass", "unknown option");
        }
    }
    if (optind >= argc)
        return ctl_usage_error("breakglass", "expected request, approve, list, show or revoke");
    verb = argv[optind++];
    if (!strcmp(verb, "approve") || !strcmp(verb, "show") || !strcmp(verb, "revoke")) {
        if (optind + 1 != argc || strspn(argv[optind], "0123456789abcdef") != 32 ||
            strlen(argv[optind]) != 32)
            return ctl_usage_error("breakglass", "%s needs one grant ID (32 hex digits)", verb);
        id = argv[optind];
    } else if (optind != argc) {
        return ctl_usage_error("breakglass", "unexpected argument");
    }

    if (!strcmp(verb, "request")) {
        if (!code || !reason)
            return ctl_usage_error("breakglass", "request needs --code and --reason");
        body = json_object_new_object();
        json_object_object_add(body, "code", json_object_new_string(code));
        json_object_object_add(body, "reason", json_object_new_string(reason));
        json_object_object_add(body, "ttl", json_object_new_int64(ttl));
        json_object_object_add(body, "uses", json_object_new_int64(uses));
        json_object_object_add(body, "scope", json_object_new_string(scope));
        r = adminapi_request(&o, "POST", "/v1/admin/breakglass", body, want_grant, &status, &reply,
                             &err);
    } else if (!strcmp(verb, "approve")) {
        _cleanup_(freep) char *sig = NULL;
        if (!key)
            return ctl_usage_error("breakglass", "approve needs --approver-key");
        snprintf(path, sizeof(path), "/v1/admin/breakglass/%s", id);
        r = adminapi_request(&o, "GET", path, NULL, want_to_sign, &status, &reply, &err);
        if (r >= 0 && status == 200) {
            r = sign_grant(key, ctl_jstr(reply, "to_sign"), &sig, &err);
            json_object_put(reply);
            reply = NULL;
            if (r >= 0) {
                body = json_object_new_object();
                json_object_object_add(body, "signature", json_object_new_string(sig));
                snprintf(path, sizeof(path), "/v1/admin/breakglass/%s/approve", id);
                r = adminapi_request(&o, "POST", path, body, want_grant, &status, &reply, &err);
            }
        }
    } else if (!strcmp(verb, "list")) {
        r = adminapi_request(&o, "GET", "/v1/admin/breakglass", NULL, want_list, &status, &reply,
                             &err);
    } else if (!strcmp(verb, "show")) {
        snprintf(path, sizeof(path), "/v1/admin/breakglass/%s", id);
        r = adminapi_request(&o, "GET", path, NULL, want_grant, &status, &reply, &err);
    } else if (!strcmp(verb, "revoke")) {
        snprintf(path, sizeof(path), "/v1/admin/breakglass/%s/revoke", id);
        r = adminapi_request(&o, "POST", path, NULL, want_grant, &status, &reply, &err);
    } else {
        return ctl_usage_error("breakglass", "unknown command '%s'", verb);
    }
    json_object_put(body);
    ret = ctl_admin_failed("breakglass", verb, r, &err, status, reply, json);
    if (ret >= 0)
        return ret;
    ret = CTL_EXIT_OK;
    if (json) {
        ctl_print_json(reply);
    } else if (!strcmp(verb, "list")) {
        json_object *a = NULL;
        printf("%-32s  %-9s  %-8s  %-32s  %s\n", "GRANT", "STATE", "SCOPE", "NODE", "USES LEFT");
        if (json_object_object_get_ex(reply, "grants", &a))
            for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *g = json_object_array_get_idx(a, i);
                printf("%-32s  %-9s  %-8s  %-32s  %s\n", ctl_jstr(g, "id"), ctl_jstr(g, "state"),
                       ctl_jstr(g, "scope"), ctl_jstr(g, "node_id"), ctl_jstr(g, "uses_left"));
            }
    } else {
        printf("grant %s: %s, scope %s, node %s, %s approval(s), %s use(s) left\n",
               ctl_jstr(reply, "id"), ctl_jstr(reply, "state"), ctl_jstr(reply, "scope"),
               ctl_jstr(reply, "node_id"), ctl_jstr(reply, "approvals"),
               ctl_jstr(reply, "uses_left"));
    }
    json_object_put(reply);
    return ret;
}
