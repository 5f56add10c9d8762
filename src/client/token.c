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

int luks_token_parse(const char *json, luks_token *ret, bg_err *err)
{
    json_object *o, *type;
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
    else if ((r = copy_field(o, "server", ret->server, sizeof(ret->server), true, err)) < 0 ||
             (r = copy_field(o, "node_id", ret->node_id, sizeof(ret->node_id), true, err)) < 0 ||
             (r = copy_field(o, "ca_sha256", ret->ca_sha256, sizeof(ret->ca_sha256), false, err)) <
                 0 ||
             (r = copy_field(o, "ak_name", ret->ak_name, sizeof(ret->ak_name), false, err)) < 0) {
        /* r and err say which field */
    }
    json_object_put(o);
    return r < 0 ? r : 0;
}
