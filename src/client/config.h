/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* /etc/bootgate/unlock.conf: "key = value" lines, '#' comments. Precedence:
 * built-in defaults < config file < rd.bootgate.timeout=/url= on /proc/cmdline <
 * command-line options. */

#include <stdbool.h>
#include <stdint.h>

#include "bgerr.h"
#include "tpm.h"

#define CONFIG_DEFAULT_PATH   "/etc/bootgate/unlock.conf"
#define CONFIG_DEFAULT_TCTI   "device:/dev/tpmrm0"
#define CONFIG_DEFAULT_CA     "/etc/bootgate/ca.pem"
#define CONFIG_DEFAULT_EVLOG  "/sys/kernel/security/tpm0/binary_bios_measurements"
#define CONFIG_DEFAULT_IMALOG "/sys/kernel/security/ima/binary_runtime_measurements"

typedef struct client_config {
    char tcti[256];
    char server[4096]; /* "URL[,URL...]" (token.h server_list): overrides the token's servers */
    char ca[512];
    char client_cert[512];
    char client_key[512];
    char event_log[512];
    char ima_log[512];
    unsigned timeout_s;         /* total deadline of one run */
    unsigned connect_timeout_s; /* per connection attempt */
    unsigned request_timeout_s; /* per request */
    unsigned backoff_initial_ms;
    unsigned backoff_max_ms;
    unsigned poll_interval_s; /* between attempts after a denial */
    unsigned tpm_wait_s;      /* how long to wait for the TPM / bootgate disks to appear */
    bool allow_discards;
    tpm_ek_type ek_type;
} client_config;

/* The field table (src/lib/conf.h): every key, its limits and its default. */
extern const struct conf_format client_config_format;

void config_defaults(client_config *c);
/* Missing file is not an error when !required. Unknown keys are (-EINVAL). */
int config_load(client_config *c, const char *path, bool required, bg_err *err);
/* Parses one "key = value" pair; also used for command-line overrides. */
int config_set(client_config *c, const char *key, const char *value, bg_err *err);
/* Applies rd.bootgate.timeout= and rd.bootgate.url= (server) from a kernel
 * command line file (/proc/cmdline). */
int config_load_cmdline(client_config *c, const char *path, bg_err *err);
