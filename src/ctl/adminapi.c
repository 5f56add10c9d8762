/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "adminapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cleanup.h"
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

static int read_config(adminapi_opts *o, const char *path, bool must_exist, bg_err *err)
{
    _cleanup_(fclosep) FILE *f = fopen(path, "re");
    char line[4096];
    unsigned lineno = 0;

    if (!f) {
        if (!must_exist && errno == ENOENT)
            return 0;
        return bg_err_set(err, -errno, "cannot open admin config %s: %s", path, strerror(errno));
    }
    while (fgets(line, sizeof(line), f)) {
        char *k, *v;
        int r;
        lineno++;
        r = config_line_split(line, &k, &v);
        if (r > 0)
            continue;
        if (r < 0)
            return bg_err_set(err, -EINVAL, "%s:%u: expected key = value", path, lineno);
        if (!strcmp(k, "server"))
            set_default(&o->server, v);
        else if (!strcmp(k, "ca"))
            set_default(&o->ca, v);
        else if (!strcmp(k, "cert"))
            set_default(&o->cert, v);
        else if (!strcmp(k, "key"))
            set_default(&o->key, v);
        else
            return bg_err_set(err, -EINVAL, "%s:%u: unknown key '%s'", path, lineno, k);
    }
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

typedef struct reply_buf {
    char *data;
    size_t size;
    bool too_big;
} reply_buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    reply_buf *b = userdata;
    size_t n = size * nmemb;
    char *p;
    if (n > ADMINAPI_MAX_REPLY - b->size) {
        b->too_big = true;
        return 0;
    }
    p = realloc(b->data, b->size + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->size, ptr, n);
    b->data = p;
    b->size += n;
    b->data[b->size] = '\0';
    return n;
}

int adminapi_request(adminapi_opts *o, const char *method, const char *path, json_object *body,
                     long *ret_status, json_object **ret_reply, bg_err *err)
{
    CURL *c = NULL;
    struct curl_slist *hdr = NULL;
    reply_buf reply = {0};
    _cleanup_(freep) char *url = NULL;
    const char *base;
    size_t blen;
    CURLcode cc;
    int r;

    *ret_reply = NULL;
    r = adminapi_resolve(o, err);
    if (r < 0)
        return r;
    base = o->server;
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (asprintf(&url, "%.*s%s", (int)blen, base, path) < 0)
        return -ENOMEM;

    c = curl_easy_init();
    if (!c)
        return -ENOMEM;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (o->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca);
    if (o->cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
    if (o->key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (body) {
        const char *s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, s);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);

    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        r = bg_err_set(err, cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO, "%s %s: %s", method,
                       url, reply.too_big ? "reply too large" : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
    if (reply.size > 0)
        *ret_reply = json_tokener_parse(reply.data);
    r = 0;
out:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    free(reply.data);
    return r;
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
