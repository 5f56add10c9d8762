/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `bootgate-unlock status [DEVICE...]`: what the initramfs would do, without
 * contacting the server: the volumes with a bootgate token, their server,
 * node id and pinned CA, and whether this TPM still has the enrolled AK. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "https.h"
#include "luks.h"
#include "tpm.h"
#include "util.h"

int client_status_main(client_opts *o, int argc, char **argv)
{
    char **found = NULL;
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    char ak_hex[2 * TPM_NAME_MAX + 1] = "";
    bg_err err = {{0}};
    int ret = CLIENT_EXIT_OK, r;

    if (argc > 1 && !strcmp(argv[1], "--help")) {
        printf("Usage: bootgate-unlock status [DEVICE...]\n");
        return CLIENT_EXIT_OK;
    }
    if (argc < 2) {
        if (luks_find_devices(&found, &err) < 0) {
            client_msg(o, "%s", bg_err_msg(&err));
            return CLIENT_EXIT_USAGE;
        }
        if (!found[0])
            printf("no block device with a bootgate token\n");
    }

    r = tpm_open(o->cfg.tcti, &t, &err);
    if (r >= 0)
        r = tpm_load_ak(t, &err);
    if (r >= 0) {
        uint8_t name[TPM_NAME_MAX];
        size_t n;
        if (tpm_ak_name(t, name, sizeof(name), &n, &err) >= 0)
            hex_encode(name, n, ak_hex);
        printf("tpm: %s, AK name %s\n", o->cfg.tcti, ak_hex);
    } else {
        printf("tpm: %s: %s\n", client_tpm_strerror(r), bg_err_msg(&err));
        ret = CLIENT_EXIT_TPM;
    }

    for (int i = 0;; i++) {
        const char *dev = found ? found[i] : (i + 1 < argc ? argv[i + 1] : NULL);
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        luks_token tok;
        char ca_hex[65] = "", servers[SERVERS_MAX * SERVER_URL_MAX];
        if (!dev)
            break;
        if (luks_open(dev, &cd, &err) < 0) {
            printf("%s: %s\n", dev, bg_err_msg(&err));
            ret = CLIENT_EXIT_USAGE;
            continue;
        }
        if (luks_token_read(cd, &tok, NULL, &err) < 0) {
            printf("%s: uuid %s: %s\n", dev, luks_uuid(cd), bg_err_msg(&err));
            continue;
        }
        server_list_format(&tok.servers, servers, sizeof(servers));
        printf("%s: uuid %s\n  server %s\n  node_id %s\n", dev, luks_uuid(cd),
               o->cfg.server[0] ? o->cfg.server : servers, tok.node_id);
        if (https_file_sha256_hex(o->cfg.ca, ca_hex, &err) < 0)
            printf("  ca %s: %s\n", o->cfg.ca, bg_err_msg(&err));
        else
            printf("  ca %s: %s\n", o->cfg.ca,
                   !tok.ca_sha256[0]                    ? "not pinned in token"
                   : strcmp(ca_hex, tok.ca_sha256) == 0 ? "matches token"
                                                        : "DIFFERS from token");
        if (tok.ak_name[0] && ak_hex[0])
            printf("  ak %s\n", strcmp(tok.ak_name, ak_hex) == 0
                                    ? "matches enrollment"
                                    : "DIFFERS from enrollment (TPM cleared or replaced?)");
    }
    luks_strv_free(found);
    return ret;
}
