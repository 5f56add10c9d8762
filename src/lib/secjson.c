/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secjson.h"

#include "secmem.h"

#define SECJSON_MAX_DEPTH 64 /* proto_parse_body's tokener depth is 32 */

static void wipe(json_object *j, unsigned depth)
{
    if (!j || depth > SECJSON_MAX_DEPTH)
        return;
    switch (json_object_get_type(j)) {
    case json_type_string:
        /* json_object_get_string returns the object's own buffer (inline or
         * heap); the caller owns the tree, so it may be overwritten */
        secmem_wipe((char *)json_object_get_string(j), (size_t)json_object_get_string_len(j));
        break;
    case json_type_array:
        for (size_t i = 0, n = json_object_array_length(j); i < n; i++)
            wipe(json_object_array_get_idx(j, i), depth + 1);
        break;
    case json_type_object: {
        json_object_object_foreach(j, key, v)
        {
            (void)key;
            wipe(v, depth + 1);
        }
        break;
    }
    default:
        break;
    }
}

void secjson_wipe(json_object *j)
{
    wipe(j, 0);
}

void secjson_putp(json_object **j)
{
    if (!*j)
        return;
    secjson_wipe(*j);
    json_object_put(*j);
    *j = NULL;
}
