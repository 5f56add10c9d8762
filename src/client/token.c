/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "token.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

static int copy_field(json_object *o, const char *key, char *dst, size_t size, bool required,
                      bg_err *err)
{
    json_object *v;
    const char *s;

    if (!json_object_object_get_ex(o, key, &v)) {
        dst[0] = 0;
        return required ? bg_err_set(err, -EBADMSG, "bootgate token: no \"%s\"", key) : 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return bg_err_set(err, -EBADMSG, "bootgate token: \"%s\" is not a string", key);
    s = json_object_get_string(v);
    if ((size_t)json_object_get_string_len(v) != strlen(s))
        return bg_err_set(err, -EBADMSG, "bootgate token: \"%s\" contains a NUL", key);
    if (strlen(s) >= size)
        return bg_err_set(err, -EBADMSG, "bootgate token: \"%s\" longer than %zu", key, size - 1);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int server_list_add(server_list *l, const char *url, bg_err *err)
{
    size_t n = strlen(url);
    if (n == 0 || n >= SERVER_URL_MAX || strpbrk(url, " \t\n\r,"))
        return bg_err_set(err, -EINVAL, "server URL '%.64s%s' is empty, too long or has a blank",
                          url, n > 64 ? "..." : "");
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->url[i], url))
            return 0;
    if (l->n >= SERVERS_MAX)
        return bg_err_set(err, -E2BIG, "more than %d servers", SERVERS_MAX);
    memcpy(l->url[l->n++], url, n + 1);
    return 0;
}

int server_list_parse(const char *text, server_list *ret, bg_err *err)
{
    const char *p = text;
    memset(ret, 0, sizeof(*ret));
    while (*p) {
        char url[SERVER_URL_MAX];
        size_t n;
        int r;
        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n == 0)
            break;
        if (n >= sizeof(url))
            return bg_err_set(err, -EINVAL, "a server URL is longer than %d", SERVER_URL_MAX - 1);
        memcpy(url, p, n);
        url[n] = 0;
        r = server_list_add(ret, url, err);
        if (r < 0)
            return r;
        p += n;
    }
    return 0;
}

void server_list_format(const server_list *l, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < l->n && off < size; i++) {
        int k = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", l->url[i]);
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

/* "servers": an array of 1..SERVERS_MAX URL strings. */
static int parse_servers(json_object *o, server_list *ret, bg_err *err)
{
    json_object *a;
    size_t n;

    if (!json_object_object_get_ex(o, "servers", &a))
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return bg_err_set(err, -EBADMSG, "bootgate token: \"servers\" is not an array");
    n = json_object_array_length(a);
    if (n == 0 || n > SERVERS_MAX)
        return bg_err_set(err, -EBADMSG, "bootgate token: \"servers\" holds %zu URLs (1..%d)", n,
                          SERVERS_MAX);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        const char *s;
        int r;
        if (!json_object_is_type(v, json_type_string))
            return bg_err_set(err, -EBADMSG, "bootgate token: \"servers\"[%zu] is not a string", i);
        s = json_object_get_string(v);
        if ((size_t)json_object_get_string_len(v) != strlen(s))
            return bg_err_set(err, -EBADMSG, "bootgate token: \"servers\"[%zu] contains a NUL", i);
        r = server_list_add(ret, s, err);
        if (r < 0)
            return bg_err_prefix(err, -EBADMSG, "bootgate token: \"servers\"[%zu]", i);
    }
    return 0;
}

int luks_token_parse(const char *json, luks_token *ret, bg_err *err)
{
    json_object *o, *type;
    char server[SERVER_URL_MAX];
    int r;

    if (strlen(json) > LUKS_TOKEN_MAX)
        return bg_err_set(err, -EBADMSG, "bootgate token: longer than %u bytes", LUKS_TOKEN_MAX);
    o = json_tokener_parse(json);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bg_err_set(err, -EBADMSG, "bootgate token: not a JSON object");
    }
    memset(ret, 0, sizeof(*ret));
    if (!json_object_object_get_ex(o, "type", &type) ||
        !json_object_is_type(type, json_type_string) ||
        strcmp(json_object_get_string(type), LUKS_TOKEN_TYPE) != 0)
        r = bg_err_set(err, -EBADMSG, "token type is not \"%s\"", LUKS_TOKEN_TYPE);
    else if ((r = parse_servers(o, &ret->servers, err)) < 0 ||
             (r = copy_field(o, "server", server, sizeof(server), ret->servers.n == 0, err)) < 0 ||
             (ret->servers.n == 0 && (r = server_list_add(&ret->servers, server, err)) < 0) ||
             (r = copy_field(o, "node_id", ret->node_id, sizeof(ret->node_id), true, err)) < 0 ||
             (r = copy_field(o, "ca_sha256", ret->ca_sha256, sizeof(ret->ca_sha256), false, err)) <
                 0 ||
             (r = copy_field(o, "ak_name", ret->ak_name, sizeof(ret->ak_name), false, err)) < 0) {
        /* r and err say which field */
    }
    json_object_put(o);
    return r < 0 ? r : 0;
}
