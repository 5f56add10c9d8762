/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"
#include "util.h"

static const conf_enum_name ek_types[] = {
    {"auto", TPM_EK_AUTO},
    {"rsa", TPM_EK_RSA},
    {"ecc", TPM_EK_ECC},
    {NULL, 0},
};

static const conf_field client_fields[] = {
    CONF_STR(client_config, "tcti", tcti, CONFIG_DEFAULT_TCTI, "TPM access (tss2 TCTI string)"),
    CONF_STR(client_config, "server", server, NULL,
             "server URLs, failover in order (URL[,URL...]); overrides the token's"),
    CONF_STR(client_config, "ca", ca, CONFIG_DEFAULT_CA, "CA that signed the server certificate"),
    CONF_STR(client_config, "client_cert", client_cert, NULL, "TLS client certificate"),
    CONF_STR(client_config, "client_key", client_key, NULL, "TLS client key"),
    CONF_STR(client_config, "event_log", event_log, CONFIG_DEFAULT_EVLOG, "TCG event log"),
    CONF_STR(client_config, "ima_log", ima_log, CONFIG_DEFAULT_IMALOG, "IMA measurement log"),
    CONF_UINT(client_config, "timeout", timeout_s, 0, 86400, 300, "seconds for the whole run"),
    CONF_UINT(client_config, "connect_timeout", connect_timeout_s, 0, 3600, 5,
              "seconds per connection attempt"),
    CONF_UINT(client_config, "request_timeout", request_timeout_s, 0, 3600, 30,
              "seconds per request"),
    CONF_UINT(client_config, "backoff_initial_ms", backoff_initial_ms, 0, 600000, 500,
              "first retry delay"),
    CONF_UINT(client_config, "backoff_max_ms", backoff_max_ms, 0, 3600000, 16000,
              "longest retry delay"),
    CONF_UINT(client_config, "poll_interval", poll_interval_s, 0, 3600, 15,
              "seconds between attempts after a denial"),
    CONF_UINT(client_config, "tpm_wait", tpm_wait_s, 0, 600, 10,
              "seconds to wait for the TPM and bootgate disks"),
    CONF_BOOL(client_config, "allow_discards", allow_discards, false, "open volumes with discards"),
    CONF_ENUM(client_config, "ek_type", ek_type, ek_types, TPM_EK_AUTO, "auto, rsa or ecc"),
};

const conf_format client_config_format = {
    .name = "unlock.conf",
    .fields = client_fields,
    .n_fields = ELEMENTSOF(client_fields),
    .struct_size = sizeof(client_config),
    .max_file = 64u << 10,
    .inline_comments = true,
};

void config_defaults(client_config *c)
{
    conf_defaults(&client_config_format, c);
}

int config_set(client_config *c, const char *key, const char *v, bg_err *err)
{
    return conf_set(&client_config_format, c, key, v, err);
}

int config_load(client_config *c, const char *path, bool required, bg_err *err)
{
    return conf_load(&client_config_format, c, path, required, err);
}

/* rd.bootgate.* on the kernel command line: the unlock.conf key each sets */
static const struct {
    const char *arg;
    const char *key;
} cmdline_keys[] = {
    {"rd.bootgate.timeout", "timeout"},
    /* overrides the servers named in the LUKS2 token (moved servers):
     * rd.bootgate.url=https://a:8443,https://b:8443 */
    {"rd.bootgate.url", "server"},
};

int config_load_cmdline(client_config *c, const char *path, bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    client_config next = *c;
    size_t size;
    int r;

    r = read_file(path, 64u << 10, &buf, &size, NULL);
    if (r < 0)
        return 0; /* no /proc (tests, containers): nothing to apply */
    for (char *tok = strtok((char *)buf, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
        for (size_t i = 0; i < ELEMENTSOF(cmdline_keys); i++) {
            size_t n = strlen(cmdline_keys[i].arg);
            if (strncmp(tok, cmdline_keys[i].arg, n) != 0 || tok[n] != '=')
                continue;
            r = conf_set(&client_config_format, &next, cmdline_keys[i].key, tok + n + 1, err);
            if (r < 0)
                return bg_err_prefix(err, r, "%s", cmdline_keys[i].arg);
        }
    *c = next;
    return 0;
}
