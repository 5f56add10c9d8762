/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl policy publish / activate / list / show --remote: the policy
 * store of bootgated through the admin API (mTLS, role admin or auditor). */
#include "ctl_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adminapi.h"
#include "ctl.h"
#include "ctlutil.h"
#include "policy.h"
#include "util.h"

/* What each answer must carry (adminapi_request checks a 200 answer). */
static const adminapi_field want_change[] = {
    {"name", json_type_string}, {"version", json_type_int}, {"audit_seq", json_type_int}, {}};
static const adminapi_field want_list[] = {{"policies", json_type_array}, {}};
static const adminapi_field want_policy[] = {
    {"policy", json_type_string}, {"signature", json_type_string}, {}};

/* Sends the request and turns the outcome into an exit code: transport
 * failures are runtime errors, HTTP errors are refusals with the server's reason. */
static int request(adminapi_opts *o, const char *what, const char *method, const char *path,
                   json_object *body, const adminapi_field *expect, json_object **ret)
{
    return ctl_admin_request(o, what, method, path, body, expect, ret);
}

static int parse_u64(const char *s, long long *ret)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !*s || *end || v < 1)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The option loop of every online command: the admin API options, --json and
 * --help (help, then the connection options). Returns -1 to go on, else the
 * exit code. */
static int online_options(int argc, char **argv, const char *cmd, const char *help,
                          adminapi_opts *o, bool *json)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(o, c, optarg))
            continue;
        switch (c) {
        case 'j':
            *json = true;
            break;
        case 'h':
            printf("%s%s", help, ADMINAPI_USAGE);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error(cmd, "bad option");
        }
    }
    return -1;
}

int ctl_policy_publish(int argc, char **argv)
{
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    bool json = false;
    int r =
        online_options(argc, argv, "policy publish",
                       "Usage: bootgatectl policy publish [OPTIONS] POLICY [SIG]\n"
                       "Uploads a signed policy (SIG defaults to POLICY.sig). The server checks\n"
                       "the signature against its policy-signers.d and accepts only a version\n"
                       "greater than every stored version of the name. Publishing does not\n"
                       "activate: see 'policy activate'.\n\n",
                       &o, &json);
    if (r >= 0)
        return r;
    if (optind >= argc || argc - optind > 2)
        return ctl_usage_error("policy publish", "expected POLICY [SIG]");

    const char *ppath = argv[optind];
    _cleanup_(freep) char *def = NULL;
    const char *spath = argv[optind + 1];
    if (!spath) {
        if (asprintf(&def, "%s.sig", ppath) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        spath = def;
    }
    /* Validate locally first: a malformed policy is named with its JSON path here. */
    _cleanup_(policy_freep) policy *p = NULL;
    _cleanup_(freep) uint8_t *text = NULL;
    size_t size;
    bg_err err = {{0}};
    uint8_t sig[POLICY_SIG_SIZE];
    if ((r = read_file(ppath, POLICY_MAX_SIZE, &text, &size, &err)) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if ((r = policy_parse((const char *)text, size, &p, &err)) < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", ppath, bg_err_msg(&err));
    if ((r = policy_signature_read(spath, sig, &err)) < 0)
        return ctl_error(r == -EBADMSG ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    _cleanup_(freep) char *sig64 = policy_signature_encode(sig);
    if (!sig64)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    sig64[strcspn(sig64, "\n")] = 0;

    json_object *body = json_object_new_object(), *reply = NULL;
    json_object_object_add(body, "policy",
                           json_object_new_string_len((const char *)text, (int)size));
    json_object_object_add(body, "signature", json_object_new_string(sig64));
    r = request(&o, "policy publish", "POST", "/v1/admin/policies", body, want_change, &reply);
    json_object_put(body);
    if (r != CTL_EXIT_OK)
        return r;
    if (json)
        ctl_print_json(reply);
    else
        printf("published %s v%llu (audit record %lld); activate with: bootgatectl policy "
               "activate %s %llu\n",
               p->name, (unsigned long long)p->version,
               (long long)json_object_get_int64(json_object_object_get(reply, "audit_seq")),
               p->name, (unsigned long long)p->version);
    json_object_put(reply);
    return CTL_EXIT_OK;
}

/* The 409 would_lock_out answer: the nodes and how to override. */
static int print_lockout(json_object *reply, const char *name, long long version)
{
    json_object *nodes = json_object_object_get(reply, "nodes");
    size_t n = json_object_array_length(nodes);
    long long deny = (long long)json_object_get_int64(json_object_object_get(reply, "would_deny"));
    long long unchecked =
        (long long)json_object_get_int64(json_object_object_get(reply, "unchecked"));
    fprintf(stderr,
            "bootgatectl: policy activate: refused: %s v%lld would deny %lld node(s) whose latest "
            "boot the active version v%lld released%s\n",
            name, version, deny,
            (long long)json_object_get_int64(json_object_object_get(reply, "active_version")),
            unchecked ? ", and could not check some" : "");
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(nodes, i);
        fprintf(stderr, "  %s: %s\n", ctl_jstr(x, "node_id"), ctl_jstr(x, "reason"));
    }
    if ((long long)n < deny)
        fprintf(stderr, "  ... %lld more\n", deny - (long long)n);
    if (unchecked)
        fprintf(stderr, "  %lld node(s) could not be checked (too many distinct boot states)\n",
                unchecked);
    fprintf(stderr,
            "See 'bootgatectl policy what-if'. To activate anyway (audited):\n"
            "  bootgatectl policy activate %s %lld --force --reason TEXT\n",
            name, version);
    return CTL_EXIT_FAIL;
}

int ctl_policy_activate(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"force", no_argument, NULL, 'f'},
        {"reason", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    bool json = false, force = false;
    const char *reason = NULL;
    int c, r;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'f':
            force = true;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            printf("Usage: bootgatectl policy activate [OPTIONS] NAME VERSION\n"
                   "Makes a stored version the active policy of NAME (also to roll back).\n"
                   "The server refuses (exit 1, the nodes listed with the reasons) a version\n"
                   "that would deny nodes whose latest boot the active version released.\n"
                   "Audited on the server.\n\n"
                   "  --force               activate even so (requires --reason)\n"
                   "  --reason TEXT         why (3..255 characters), kept in the audit record\n"
                   "  --json                print the server's answer\n\n%s",
                   ADMINAPI_USAGE);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy activate", "bad option");
        }
    }
    long long version;
    if (optind + 2 != argc)
        return ctl_usage_error("policy activate", "expected NAME VERSION");
    if (!policy_name_ok(argv[optind]))
        return ctl_usage_error("policy activate", "bad policy name '%s'", argv[optind]);
    if (parse_u64(argv[optind + 1], &version) < 0)
        return ctl_usage_error("policy activate", "VERSION: a positive integer");
    if (force && (!reason || strlen(reason) < 3))
        return ctl_usage_error("policy activate",
                               "--force requires --reason TEXT (3..255 characters)");
    if (reason && !force)
        return ctl_usage_error("policy activate", "--reason goes with --force");
    char path[256];
    long status = 0;
    bg_err err = {{0}};
    json_object *body = json_object_new_object(), *reply = NULL;
    if (force) {
        json_object_object_add(body, "force", json_object_new_boolean(1));
        json_object_object_add(body, "reason", json_object_new_string(reason));
    }
    snprintf(path, sizeof path, "/v1/admin/policies/%s/%lld/activate", argv[optind], version);
    r = adminapi_request(&o, "POST", path, body, want_change, &status, &reply, &err);
    json_object_put(body);
    if (r >= 0 && status == 409 && !strcmp(ctl_jstr(reply, "error"), "would_lock_out")) {
        if (json)
            ctl_print_json(reply);
        r = print_lockout(reply, argv[optind], version);
        json_object_put(reply);
        return r;
    }
    if ((r = ctl_admin_failed("policy", "activate", r, &err, status, reply, json)) >= 0)
        return r;
    if (json)
        ctl_print_json(reply);
    else
        printf("activated %s v%lld (audit record %lld%s)\n", argv[optind], version,
               (long long)json_object_get_int64(json_object_object_get(reply, "audit_seq")),
               force ? ", forced" : "");
    json_object_put(reply);
    return CTL_EXIT_OK;
}

int ctl_policy_list(int argc, char **argv)
{
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    bool json = false;
    int r =
        online_options(argc, argv, "policy list",
                       "Usage: bootgatectl policy list [OPTIONS]\n"
                       "Lists the stored policies: name, version, active, signer, upload time.\n\n",
                       &o, &json);
    if (r >= 0)
        return r;
    if (optind != argc)
        return ctl_usage_error("policy list", "no arguments expected");
    json_object *reply = NULL, *a = NULL;
    if ((r = request(&o, "policy list", "GET", "/v1/admin/policies", NULL, want_list, &reply)) !=
        CTL_EXIT_OK)
        return r;
    if (json) {
        ctl_print_json(reply);
        json_object_put(reply);
        return CTL_EXIT_OK;
    }
    printf("%-24s %8s  %-6s  %-20s  %s\n", "NAME", "VERSION", "ACTIVE", "UPLOADED", "SIGNER");
    if (json_object_object_get_ex(reply, "policies", &a))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *p = json_object_array_get_idx(a, i);
            char t[32];
            ctl_format_time(json_object_get_int64(json_object_object_get(p, "created")), t);
            printf("%-24s %8lld  %-6s  %-20s  %s\n",
                   json_object_get_string(json_object_object_get(p, "name")),
                   (long long)json_object_get_int64(json_object_object_get(p, "version")),
                   json_object_get_boolean(json_object_object_get(p, "active")) ? "yes" : "", t,
                   json_object_get_string(json_object_object_get(p, "signer")));
        }
    json_object_put(reply);
    return CTL_EXIT_OK;
}

/* The active (else newest) stored version of name. */
static int pick_version(adminapi_opts *o, const char *name, long long *ret)
{
    json_object *reply = NULL, *a = NULL;
    int r = request(o, "policy show", "GET", "/v1/admin/policies", NULL, want_list, &reply);
    if (r != CTL_EXIT_OK)
        return r;
    long long newest = 0, active = 0;
    if (json_object_object_get_ex(reply, "policies", &a))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *p = json_object_array_get_idx(a, i);
            if (strcmp(json_object_get_string(json_object_object_get(p, "name")), name))
                continue;
            long long v = (long long)json_object_get_int64(json_object_object_get(p, "version"));
            if (v > newest)
                newest = v;
            if (json_object_get_boolean(json_object_object_get(p, "active")))
                active = v;
        }
    json_object_put(reply);
    if (!newest)
        return ctl_error(CTL_EXIT_FAIL, "policy show: no policy named '%s' on the server", name);
    *ret = active ? active : newest;
    return CTL_EXIT_OK;
}

int ctl_policy_show_remote(adminapi_opts *o, bool json, int argc, char **argv)
{
    long long version = 0;
    int r;
    if (argc < 1 || argc > 2)
        return ctl_usage_error("policy show", "--remote: expected NAME [VERSION]");
    if (!policy_name_ok(argv[0]))
        return ctl_usage_error("policy show", "bad policy name '%s'", argv[0]);
    if (argc == 2 && parse_u64(argv[1], &version) < 0)
        return ctl_usage_error("policy show", "VERSION: a positive integer");
    if (!version && (r = pick_version(o, argv[0], &version)) != CTL_EXIT_OK)
        return r;

    char path[256];
    json_object *reply = NULL, *pj = NULL;
    snprintf(path, sizeof path, "/v1/admin/policies/%s/%lld", argv[0], version);
    if ((r = request(o, "policy show", "GET", path, NULL, want_policy, &reply)) != CTL_EXIT_OK)
        return r;
    if (json) {
        ctl_print_json(reply);
        json_object_put(reply);
        return CTL_EXIT_OK;
    }
    _cleanup_(policy_freep) policy *p = NULL;
    bg_err err = {{0}};
    if (!json_object_object_get_ex(reply, "policy", &pj) ||
        policy_parse(json_object_get_string(pj), (size_t)json_object_get_string_len(pj), &p, &err) <
            0) {
        json_object_put(reply);
        return ctl_error(CTL_EXIT_FAIL, "the server's copy does not parse: %s", bg_err_msg(&err));
    }
    char t[32];
    ctl_format_time(json_object_get_int64(json_object_object_get(reply, "created")), t);
    printf("stored: %s, signer %s, uploaded %s\n",
           json_object_get_boolean(json_object_object_get(reply, "active")) ? "ACTIVE"
                                                                            : "not active",
           json_object_get_string(json_object_object_get(reply, "signer")), t);
    ctl_policy_show_human(p);
    json_object_put(reply);
    return CTL_EXIT_OK;
}
