/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "auditchain.h"

#include <errno.h>

#include <json-c/json.h>
#include <openssl/evp.h>

int auditchain_hash(const uint8_t prev[AUDITCHAIN_HASH_SIZE], const auditchain_record *rec,
                    uint8_t ret[AUDITCHAIN_HASH_SIZE], bg_err *err)
{
    json_object *a = json_object_new_array();
    const char *s;
    size_t len;
    int r = -ENOMEM;

    if (!a)
        return -ENOMEM;
    if (json_object_array_add(a, json_object_new_int64(rec->seq)) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->time ? rec->time : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->actor ? rec->actor : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->action ? rec->action : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->node ? rec->node : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->details ? rec->details : "")) < 0)
        goto out;
    s = json_object_to_json_string_length(
        a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        goto out;
    {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned n = 0;
        if (!md)
            goto out;
        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, prev, AUDITCHAIN_HASH_SIZE) != 1 ||
            EVP_DigestUpdate(md, s, len) != 1 || EVP_DigestFinal_ex(md, ret, &n) != 1)
            r = bg_err_set(err, -EIO, "SHA-256 failed");
        else
            r = 0;
        EVP_MD_CTX_free(md);
    }
out:
    json_object_put(a);
    return r;
}
