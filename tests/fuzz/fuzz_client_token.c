/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bootgate LUKS2 token parser of bootgate-unlock (src/client/token.c,
 * compiled in: the client's sources are not part of libbootgate). The token
 * JSON comes from a disk header that whoever holds the disk can rewrite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/client/token.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    luks_token tok;
    bg_err err = {0};
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    if (luks_token_parse(s, &tok, &err) == 0) {
        /* every field NUL-terminated inside its buffer */
        if (tok.servers.n < 1 || tok.servers.n > SERVERS_MAX)
            abort();
        for (size_t i = 0; i < tok.servers.n; i++)
            if (strnlen(tok.servers.url[i], SERVER_URL_MAX) == SERVER_URL_MAX ||
                !tok.servers.url[i][0])
                abort();
        if (strnlen(tok.node_id, sizeof(tok.node_id)) == sizeof(tok.node_id) ||
            strnlen(tok.ca_sha256, sizeof(tok.ca_sha256)) == sizeof(tok.ca_sha256) ||
            strnlen(tok.ak_name, sizeof(tok.ak_name)) == sizeof(tok.ak_name))
            abort();
    }
    free(s);
    return 0;
}
