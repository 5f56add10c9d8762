/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real configuration formats over conf_parse (fuzz_conf covers the
 * parser with a synthetic table): byte 0 picks bootgated.conf
 * (srv_config_format, with its finish step: store/db, audit head file) or
 * unlock.conf (client_config_format, inline comments), the rest is the
 * file's text. Whoever can write /etc/bootgate or the initramfs's config can
 * feed these, and a parsed config must leave every string NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "config.h"
#include "../../src/client/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t size)
{
    if (strnlen(s, size) == size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bg_err err = {0};

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        srv_config c;
        srv_config_defaults(&c);
        if (conf_parse(&srv_config_format, &c, (const char *)data + 1, size - 1,
                       "/etc/bootgate/bootgated.conf", &err) == 0) {
            check_str(c.store_url, sizeof(c.store_url));
            check_str(c.db, sizeof(c.db));
            check_str(c.audit_head_file, sizeof(c.audit_head_file));
            check_str(c.tls_cert, sizeof(c.tls_cert));
            check_str(c.listen_address, sizeof(c.listen_address));
            if (c.breakglass_max_ttl > 24 * 3600)
                abort(); /* DESIGN §4: never more than 24 h */
        }
    } else {
        client_config c;
        config_defaults(&c);
        if (conf_parse(&client_config_format, &c, (const char *)data + 1, size - 1,
                       "/etc/bootgate/unlock.conf", &err) == 0) {
            check_str(c.tcti, sizeof(c.tcti));
            check_str(c.server, sizeof(c.server));
            check_str(c.event_log, sizeof(c.event_log));
        }
    }
    return 0;
}
