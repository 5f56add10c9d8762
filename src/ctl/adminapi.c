/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "adminapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"
#include "https.h"
#include "proto.h"
#include "util.h"

#define ADMINAPI_MAX_REPLY (16u << 20)

bool adminapi_opt(adminapi_opts *o, int opt, const char *arg)
{
    char **field;
    switch (opt) {
    case ADMINAPI_OPT_SERVER:
        field = &o->server;
        break;
    case ADMINAPI_OPT_CA:
        field = &o->ca;
        break;
    case ADMINAPI_OPT_CERT:
        field = &o->cert;
        break;
    case ADMINAPI_OPT_KEY:
        field = &o->key;
        break;
    case ADMINAPI_OPT_CONFIG:
        field = &o->config;
        break;
    default:
        return false;
    }
    free(*field);
    *field = strdup(arg);
    return true;
}

void adminapi_opts_done(adminapi_opts *o)
{
    free(o->server);
    free(o->ca);
    free(o->cert);
    free(o->key);
    free(o->config);
    *o = (adminapi_opts){0};
}

static void set_default(char **field, const char *value)
{
    if (!*field && value && *value)
        *field = strdup(value);
}

/* admin.conf: the connection settings, each only where nothing before it
 * (command line, environment) set one */
typedef struct admin_conf {
    char server[4096];
    char ca[4096];
    char cert[4096];
    char key[4096];
} admin_conf;

static const conf_field admin_fields[] = {
    CONF_STR(admin_conf, "server", server, NULL, "bootgated base URL (https://...)"),
    CONF_STR(admin_conf, "ca", ca, NULL, "CA that signed the server certificate"),
    CONF_STR(admin_conf, "cert", cert, NULL, "client certificate (its OU is the role)"),
    CONF_STR(admin_conf, "key", key, NULL, "client private key"),
};

static const conf_format admin_conf_format = {
    .name = "admin.conf",
    .fields = admin_fields,
    .n_fields = ELEMENTSOF(admin_fields),
    .struct_size = sizeof(admin_conf),
    .max_file = 1u << 20,
};

static int read_config(adminapi_opts *o, const char *path, bool must_exist, bg_err *err)
{
    _cleanup_(freep) admin_conf *c = malloc(sizeof(*c));
    int r;

    if (!c)
        return -ENOMEM;
    conf_defaults(&admin_conf_format, c);
    r = conf_load(&admin_conf_format, c, path, must_exist, err);
    if (r < 0)
        return bg_err_prefix(err, r, "admin config");
    set_default(&o->server, c->server);
    set_default(&o->ca, c->ca);
    set_default(&o->cert, c->cert);
    set_default(&o->key, c->key);
    return 0;
}

int adminapi_resolve(adminapi_opts *o, bg_err *err)
{
    int r;
    set_default(&o->server, getenv("BOOTGATE_ADMIN_SERVER"));
    set_default(&o->ca, getenv("BOOTGATE_ADMIN_CA"));
    set_default(&o->cert, getenv("BOOTGATE_ADMIN_CERT"));
    set_default(&o->key, getenv("BOOTGATE_ADMIN_KEY"));
    if (o->config) {
        r = read_config(o, o->config, true, err);
    } else if (getenv("BOOTGATE_ADMIN_CONFIG")) {
        r = read_config(o, getenv("BOOTGATE_ADMIN_CONFIG"), true, err);
    } else {
        char path[4096];
        const char *home = getenv("HOME");
        r = 0;
        if (home && snprintf(path, sizeof(path), "%s/.config/bootgate/admin.conf", home) <
                        (int)sizeof(path))
            r = read_config(o, path, false, err);
    }
    if (r < 0)
        return r;
    if (!o->server)
        return bg_err_set(err, -EINVAL,
                          "no server: use --server, BOOTGATE_ADMIN_SERVER or an admin config");
    if (strncmp(o->server, "https://", 8) != 0)
        return bg_err_set(err, -EINVAL, "server URL must start with https://");
    return 0;
}

static const char *json_type_label(json_type t)
{
    switch (t) {
    case json_type_string:
        return "a string";
    case json_type_int:
        return "an integer";
    case json_type_boolean:
        return "a boolean";
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    default:
        return "a value";
    }
}

static int check_fields(json_object *reply, const adminapi_field *expect, bg_err *err)
{
    json_object *v;

    for (const adminapi_field *f = expect; f && f->name; f++)
        if (!json_object_object_get_ex(reply, f->name, &v) || !json_object_is_type(v, f->type))
            return bg_err_set(err, -EBADMSG, "answer has no \"%s\" that is %s", f->name,
                              json_type_label(f->type));
    return 0;
}

int adminapi_request(adminapi_opts *o, const char *method, const char *path, json_object *body,
                     const adminapi_field *expect, long *ret_status, json_object **ret_reply,
                     bg_err *err)
{
    _cleanup_(freep) char *url = NULL;
    _cleanup_(json_object_putp) json_object *reply = NULL;
    https_response resp = {0};
    https_opts h;
    const char *base;
    size_t blen;
    int r;

    *ret_reply = NULL;
    r = adminapi_resolve(o, err);
    if (r < 0)
        return r;
    if (!o->ca)
        return bg_err_set(err, -EINVAL,
                          "no CA: use --ca, BOOTGATE_ADMIN_CA or 'ca =' in the admin config "
                          "(the system CA store is never used)");
    base = o->server;
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (asprintf(&url, "%.*s%s", (int)blen, base, path) < 0)
        return -ENOMEM;

    h = (https_opts){
        .ca_file = o->ca,
        .client_cert = o->cert,
        .client_key = o->key,
        .connect_timeout_ms = 10000,
        .request_timeout_ms = 60000,
        .max_response = ADMINAPI_MAX_REPLY,
    };
    r = https_request(&h, method, url,
                      body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL,
                      &resp, err);
    if (r < 0)
        return bg_err_prefix(err, r, "%s request", method);
    r = https_answer_json(&resp, &reply, err);
    https_response_done(&resp);
    if (r >= 0 && resp.status == 200)
        r = check_fields(reply, expect, err);
    if (r < 0)
        return bg_err_prefix(err, r, "%s %s", method, url);
    *ret_status = resp.status;
    *ret_reply = TAKE_PTR(reply);
    return 0;
}

const char *adminapi_reply_reason(json_object *reply)
{
    json_object *v;
    if (reply && json_object_object_get_ex(reply, "reason", &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    if (reply && json_object_object_get_ex(reply, "error", &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "no reason given";
}
