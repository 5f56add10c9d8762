/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl node list|show|approve|revoke|delete (admin API, role admin;
 * list/show also auditor); attempts|explain in ctl_attempts.c. */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "adminapi.h"
#include "ctl_attempts.h"
#include "ctlutil.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bootgatectl node list [--json]\n"
            "       bootgatectl node show NODE_ID [--json]\n"
            "       bootgatectl node approve NODE_ID --ek-fingerprint HEX [--json]\n"
            "       bootgatectl node revoke NODE_ID [--json]\n"
            "       bootgatectl node delete NODE_ID [--json]   (revoked nodes only)\n"
            "       bootgatectl node attempts NODE_ID [--limit N] [--json]\n"
            "       bootgatectl node explain NODE_ID [--attempt ID] [--policy FILE] [--json]\n\n"
            "approve activates a pending node (its EK had no trusted certificate) after the\n"
            "operator compared the EK fingerprint with the one read on the machine:\n"
            "  tpm2_createek -c ek.ctx -G rsa -u ek.pub; sha256 of ek.pub without its 2-byte "
            "size.\n\n" ADMINAPI_USAGE "  --json                print the server's JSON reply\n");
}

static void print_node_line(json_object *n)
{
    printf("%-32s  %-10s  %-12s  %-20s  %s\n", ctl_jstr(n, "node_id"), ctl_jstr(n, "state"),
           ctl_jstr(n, "group"), ctl_jstr(n, "hostname"), ctl_jstr(n, "ek_fingerprint"));
}

/* What each answer must carry (adminapi_request checks a 200 answer). */
static const adminapi_field want_list[] = {{"nodes", json_type_array}, {}};
static const adminapi_field want_node[] = {
    {"node_id", json_type_string}, {"state", json_type_string}, {}};
static const adminapi_field want_change[] = {
    {"node_id", json_type_string}, {"state", json_type_string}, {"audit_seq", json_type_int}, {}};

int ctl_node_main(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"ek-fingerprint", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    json_object *reply = NULL, *body = NULL;
    const char *fingerprint = NULL, *verb, *id = NULL;
    char path[512];
    bool json = false;
    long status = 0;
    bg_err err = {0};
    int c, r, ret;

    /* the verbs with options of their own (ctl_attempts.c) */
    if (argc >= 2 && !strcmp(argv[1], "attempts"))
        return ctl_node_attempts(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "explain"))
        return ctl_node_explain(argc - 1, argv + 1);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'F':
            fingerprint = optarg;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("node", "unknown option");
        }
    }
    if (optind >= argc)
        return ctl_usage_error("node", "expected list, show, approve, revoke or delete");
    verb = argv[optind++];
    if (strcmp(verb, "list") != 0) {
        if (optind + 1 != argc)
            return ctl_usage_error("node", "'%s' needs one NODE_ID", verb);
        id = argv[optind];
        if (strspn(id, "0123456789abcdefABCDEF-_.") != strlen(id) || strlen(id) > 128)
            return ctl_usage_error("node", "bad node id '%s'", id);
    } else if (optind != argc) {
        return ctl_usage_error("node", "list takes no arguments");
    }

    if (!strcmp(verb, "list")) {
        r = adminapi_request(&o, "GET", "/v1/admin/nodes", NULL, want_list, &status, &reply, &err);
    } else if (!strcmp(verb, "show")) {
        snprintf(path, sizeof(path), "/v1/admin/nodes/%s", id);
        r = adminapi_request(&o, "GET", path, NULL, want_node, &status, &reply, &err);
    } else if (!strcmp(verb, "approve")) {
        if (!fingerprint)
            return ctl_usage_error("node", "approve needs --ek-fingerprint");
        body = json_object_new_object();
        json_object_object_add(body, "ek_fingerprint", json_object_new_string(fingerprint));
        snprintf(path, sizeof(path), "/v1/admin/nodes/%s/approve", id);
        r = adminapi_request(&o, "POST", path, body, want_change, &status, &reply, &err);
    } else if (!strcmp(verb, "revoke")) {
        snprintf(path, sizeof(path), "/v1/admin/nodes/%s/revoke", id);
        r = adminapi_request(&o, "POST", path, NULL, want_change, &status, &reply, &err);
    } else if (!strcmp(verb, "delete")) {
        snprintf(path, sizeof(path), "/v1/admin/nodes/%s", id);
        r = adminapi_request(&o, "DELETE", path, NULL, want_change, &status, &reply, &err);
    } else {
        return ctl_usage_error("node", "unknown command '%s'", verb);
    }
    json_object_put(body);
    ret = ctl_admin_failed("node", verb, r, &err, status, reply, json);
    if (ret >= 0)
        return ret;
    if (json) {
        ctl_print_json(reply);
    } else if (!strcmp(verb, "list")) {
        json_object *a = NULL;
        printf("%-32s  %-10s  %-12s  %-20s  %s\n", "NODE", "STATE", "GROUP", "HOSTNAME",
               "EK FINGERPRINT");
        if (json_object_object_get_ex(reply, "nodes", &a))
            for (size_t i = 0; i < json_object_array_length(a); i++)
                print_node_line(json_object_array_get_idx(a, i));
    } else if (!strcmp(verb, "show")) {
        json_object_object_foreach(reply, k, v)
        {
            printf("%-18s %s\n", k, json_object_get_string(v));
        }
    } else {
        printf("node %s: %s (audit #%s)\n", ctl_jstr(reply, "node_id"), ctl_jstr(reply, "state"),
               ctl_jstr(reply, "audit_seq"));
    }
    json_object_put(reply);
    return CTL_EXIT_OK;
}
