/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "luks.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "secmem.h"

/* libcryptsetup logs to stderr by default; the library boundary stays quiet. */
static void luks_log_quiet(int level, const char *msg, void *usrptr)
{
}

int luks_open(const char *path, struct crypt_device **ret, bg_err *err)
{
    _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
    int r;

    crypt_set_log_callback(NULL, luks_log_quiet, NULL);
    r = crypt_init(&cd, path);
    if (r < 0)
        return bg_err_set(err, r, "%s: cannot open: %s", path, strerror(-r));
    crypt_set_log_callback(cd, luks_log_quiet, NULL);
    r = crypt_load(cd, CRYPT_LUKS2, NULL);
    if (r < 0)
        return bg_err_set(err, -EINVAL, "%s: not a LUKS2 volume (%s)", path, strerror(-r));
    *ret = TAKE_PTR(cd);
    return 0;
}

const char *luks_uuid(struct crypt_device *cd)
{
    return crypt_get_uuid(cd);
}

int luks_token_read(struct crypt_device *cd, luks_token *ret, int *ret_id, bg_err *err)
{
    int max = crypt_token_max(CRYPT_LUKS2);

    for (int id = 0; id < max; id++) {
        const char *type = NULL, *json = NULL;
        crypt_token_info st = crypt_token_status(cd, id, &type);
        if (st != CRYPT_TOKEN_EXTERNAL_UNKNOWN && st != CRYPT_TOKEN_EXTERNAL)
            continue;
        if (!type || strcmp(type, LUKS_TOKEN_TYPE) != 0)
            continue;
        int r = crypt_token_json_get(cd, id, &json);
        if (r < 0)
            return bg_err_set(err, r, "reading token %d: %s", id, strerror(-r));
        r = luks_token_parse(json, ret, err);
        if (r < 0)
            return bg_err_prefix(err, r, "token %d", id);
        if (ret_id)
            *ret_id = id;
        return 0;
    }
    return bg_err_set(err, -ENOENT, "no bootgate token");
}

int luks_token_write(struct crypt_device *cd, const luks_token *tok, bg_err *err)
{
    json_object *o = json_object_new_object();
    luks_token old;
    int id, r;

    if (!o)
        return bg_err_set(err, -ENOMEM, "out of memory");
    json_object_object_add(o, "type", json_object_new_string(LUKS_TOKEN_TYPE));
    json_object_object_add(o, "keyslots", json_object_new_array());
    json_object *servers = json_object_new_array();
    if (!servers) {
        json_object_put(o);
        return bg_err_set(err, -ENOMEM, "out of memory");
    }
    /* "server" for clients that predate the list */
    json_object_object_add(o, "server", json_object_new_string(tok->servers.url[0]));
    for (size_t i = 0; i < tok->servers.n; i++)
        json_object_array_add(servers, json_object_new_string(tok->servers.url[i]));
    json_object_object_add(o, "servers", servers);
    json_object_object_add(o, "node_id", json_object_new_string(tok->node_id));
    json_object_object_add(o, "ca_sha256", json_object_new_string(tok->ca_sha256));
    if (tok->ak_name[0])
        json_object_object_add(o, "ak_name", json_object_new_string(tok->ak_name));

    /* Replace in place so that re-enrolling never leaves two tokens. */
    while (luks_token_read(cd, &old, &id, NULL) == 0) {
        r = crypt_token_json_set(cd, id, NULL);
        if (r < 0) {
            json_object_put(o);
            return bg_err_set(err, r, "removing old bootgate token %d: %s", id, strerror(-r));
        }
    }
    r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN,
                             json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    if (r < 0)
        return bg_err_set(err, r, "writing bootgate token: %s", strerror(-r));
    return r;
}

int luks_volume_key_get(struct crypt_device *cd, const char *pass, size_t pass_size,
                        uint8_t **ret_key, size_t *ret_size, bg_err *err)
{
    _cleanup_(secmem_freep) uint8_t *key = NULL;
    size_t size;
    int r;

    r = crypt_get_volume_key_size(cd);
    if (r <= 0 || (size_t)r > LUKS_KEY_MAX)
        return bg_err_set(err, -EINVAL, "unexpected volume key size %d", r);
    size = (size_t)r;
    key = secmem_alloc(size);
    if (!key)
        return bg_err_set(err, -ENOMEM, "out of secure memory");
    r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)key, &size, pass, pass_size);
    if (r < 0)
        return bg_err_set(err, r == -EPERM ? -EPERM : r, "%s",
                          r == -EPERM ? "no key slot accepts this passphrase or key file"
                                      : "reading the volume key failed");
    *ret_key = TAKE_PTR(key);
    *ret_size = size;
    return 0;
}

int luks_volume_key_verify(struct crypt_device *cd, const uint8_t *key, size_t size, bg_err *err)
{
    int r = crypt_volume_key_verify(cd, (const char *)key, size);
    if (r < 0)
        return bg_err_set(err, -EKEYREJECTED, "the key does not open %s (%s)",
                          crypt_get_device_name(cd), strerror(-r));
    return 0;
}

int luks_activate(struct crypt_device *cd, const uint8_t *key, size_t size, uint32_t flags,
                  bg_err *err)
{
    char name[64];
    int r;

    snprintf(name, sizeof(name), "luks-%s", crypt_get_uuid(cd));
    r = crypt_activate_by_volume_key(cd, name, (const char *)key, size, flags);
    if (r == -EEXIST)
        return 0; /* already active: someone (or an earlier run) unlocked it */
    if (r < 0)
        return bg_err_set(err, r, "activating %s as %s: %s", crypt_get_device_name(cd), name,
                          strerror(-r));
    return 0;
}

void luks_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int luks_scan(luks_scan_fn found, void *userdata, bg_err *err)
{
    DIR *d = opendir("/sys/class/block");
    struct dirent *de;
    int r = 0;

    if (!d)
        return 0; /* no sysfs: nothing to find */
    while (r >= 0 && (de = readdir(d))) {
        char path[300];
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        luks_token tok;
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "loop", 4) ||
            !strncmp(de->d_name, "ram", 3) || !strncmp(de->d_name, "dm-", 3))
            continue;
        snprintf(path, sizeof(path), "/dev/%s", de->d_name);
        if (luks_open(path, &cd, NULL) < 0 || luks_token_read(cd, &tok, NULL, NULL) < 0)
            continue;
        r = found(path, &cd, &tok, userdata, err);
    }
    closedir(d);
    return r < 0 ? r : 0;
}

typedef struct found_paths {
    char **v;
    size_t n;
} found_paths;

static int collect_path(const char *path, struct crypt_device **cd, const luks_token *tok,
                        void *userdata, bg_err *err)
{
    found_paths *f = userdata;
    if (f->n >= LUKS_MAX_DEVICES)
        return 0;
    if (!(f->v[f->n] = strdup(path)))
        return bg_err_set(err, -ENOMEM, "out of memory");
    f->n++;
    return 0;
}

int luks_find_devices(char ***ret, bg_err *err)
{
    found_paths f = {.v = calloc(LUKS_MAX_DEVICES + 1, sizeof(char *))};
    int r;

    if (!f.v)
        return bg_err_set(err, -ENOMEM, "out of memory");
    r = luks_scan(collect_path, &f, err);
    if (r < 0) {
        luks_strv_free(f.v);
        return r;
    }
    *ret = f.v;
    return 0;
}
