/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

void config_defaults(client_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->tcti, sizeof(c->tcti), "%s", CONFIG_DEFAULT_TCTI);
    snprintf(c->ca, sizeof(c->ca), "%s", CONFIG_DEFAULT_CA);
    snprintf(c->event_log, sizeof(c->event_log), "%s", CONFIG_DEFAULT_EVLOG);
    snprintf(c->ima_log, sizeof(c->ima_log), "%s", CONFIG_DEFAULT_IMALOG);
    c->timeout_s = 300;
    c->connect_timeout_s = 5;
    c->request_timeout_s = 30;
    c->backoff_initial_ms = 500;
    c->backoff_max_ms = 16000;
    c->poll_interval_s = 15;
    c->tpm_wait_s = 10;
    c->ek_type = TPM_EK_AUTO;
}

static int parse_uint(const char *key, const char *v, unsigned max, unsigned *ret, bg_err *err)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n > max)
        return bg_err_set(err, -EINVAL, "%s: '%s' is not a number in 0..%u", key, v, max);
    *ret = (unsigned)n;
    return 0;
}

static int set_str(const char *key, const char *v, char *dst, size_t size, bg_err *err)
{
    if (strlen(v) >= size)
        return bg_err_set(err, -EINVAL, "%s: value longer than %zu", key, size - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int config_set(client_config *c, const char *key, const char *v, bg_err *err)
{
    if (!strcmp(key, "tcti"))
        return set_str(key, v, c->tcti, sizeof(c->tcti), err);
    if (!strcmp(key, "server"))
        return set_str(key, v, c->server, sizeof(c->server), err);
    if (!strcmp(key, "ca"))
        return set_str(key, v, c->ca, sizeof(c->ca), err);
    if (!strcmp(key, "client_cert"))
        return set_str(key, v, c->client_cert, sizeof(c->client_cert), err);
    if (!strcmp(key, "client_key"))
        return set_str(key, v, c->client_key, sizeof(c->client_key), err);
    if (!strcmp(key, "event_log"))
        return set_str(key, v, c->event_log, sizeof(c->event_log), err);
    if (!strcmp(key, "ima_log"))
        return set_str(key, v, c->ima_log, sizeof(c->ima_log), err);
    if (!strcmp(key, "timeout"))
        return parse_uint(key, v, 86400, &c->timeout_s, err);
    if (!strcmp(key, "connect_timeout"))
        return parse_uint(key, v, 3600, &c->connect_timeout_s, err);
    if (!strcmp(key, "request_timeout"))
        return parse_uint(key, v, 3600, &c->request_timeout_s, err);
    if (!strcmp(key, "backoff_initial_ms"))
        return parse_uint(key, v, 600000, &c->backoff_initial_ms, err);
    if (!strcmp(key, "backoff_max_ms"))
        return parse_uint(key, v, 3600000, &c->backoff_max_ms, err);
    if (!strcmp(key, "poll_interval"))
        return parse_uint(key, v, 3600, &c->poll_interval_s, err);
    if (!strcmp(key, "tpm_wait"))
        return parse_uint(key, v, 600, &c->tpm_wait_s, err);
    if (!strcmp(key, "allow_discards")) {
        if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
            c->allow_discards = true;
        else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
            c->allow_discards = false;
        else
            return bg_err_set(err, -EINVAL, "allow_discards: '%s' is not yes/no", v);
        return 0;
    }
    if (!strcmp(key, "ek_type")) {
        if (!strcmp(v, "auto"))
            c->ek_type = TPM_EK_AUTO;
        else if (!strcmp(v, "rsa"))
            c->ek_type = TPM_EK_RSA;
        else if (!strcmp(v, "ecc"))
            c->ek_type = TPM_EK_ECC;
        else
            return bg_err_set(err, -EINVAL, "ek_type: '%s' is not auto/rsa/ecc", v);
        return 0;
    }
    return bg_err_set(err, -EINVAL, "unknown key '%s'", key);
}

static char *strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

int config_load(client_config *c, const char *path, bool required, bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    unsigned lineno = 0;
    int r;

    r = read_file(path, 64u << 10, &buf, &size, err);
    if (r == -ENOENT && !required)
        return 0;
    if (r < 0)
        return bg_err_prefix(err, r, "%s", path);
    if (strlen((char *)buf) != size)
        return bg_err_set(err, -EINVAL, "%s: contains a NUL byte", path);
    for (char *line = (char *)buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = strip(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return bg_err_set(err, -EINVAL, "%s:%u: expected key = value", path, lineno);
        *eq = 0;
        r = config_set(c, strip(s), strip(eq + 1), err);
        if (r < 0)
            return bg_err_prefix(err, r, "%s:%u", path, lineno);
    }
    return 0;
}

int config_load_cmdline(client_config *c, const char *path, bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    int r;

    r = read_file(path, 64u << 10, &buf, &size, NULL);
    if (r < 0)
        return 0; /* no /proc (tests, containers): nothing to apply */
    for (char *tok = strtok((char *)buf, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
        if (!strncmp(tok, "rd.bootgate.timeout=", 20)) {
            r = parse_uint("rd.bootgate.timeout", tok + 20, 86400, &c->timeout_s, err);
            if (r < 0)
                return r;
        } else if (!strncmp(tok, "rd.bootgate.url=", 16)) {
            /* Overrides the server named in the LUKS2 token (a moved server). */
            r = set_str("rd.bootgate.url", tok + 16, c->server, sizeof(c->server), err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}
