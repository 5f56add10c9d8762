/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctlutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adminapi.h"
#include "ctl.h"
#include "eventlog.h"
#include "util.h"

void ctl_print_json(json_object *o)
{
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
}

const char *ctl_jstr(json_object *o, const char *key)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v))
        return json_object_get_string(v);
    return "";
}

int ctl_read_input(const char *what, const char *path, size_t max, uint8_t **ret, size_t *ret_size)
{
    bg_err err = {0};
    if (read_file(path, max, ret, ret_size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "cannot read %s '%s': %s", what, path, bg_err_msg(&err));
    return CTL_EXIT_OK;
}

int ctl_parse_utc(const char *s, time_t *ret)
{
    struct tm tm = {0};
    char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return -EINVAL;
    *ret = timegm(&tm);
    return 0;
}

int ctl_parse_duration(const char *s, int64_t *ret)
{
    static const struct {
        const char *unit;
        int64_t seconds;
    } units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v <= 0 || *s == '+')
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (!strcmp(end, units[i].unit))
            return __builtin_mul_overflow(v, units[i].seconds, ret) ? -EINVAL : 0;
    return -EINVAL;
}

int ctl_parse_since(const char *s, time_t now, time_t *ret)
{
    int64_t d;
    if (ctl_parse_utc(s, ret) == 0)
        return 0;
    if (ctl_parse_duration(s, &d) < 0 || d > now)
        return -EINVAL;
    *ret = now - d;
    return 0;
}

const char *ctl_event_type_label(uint32_t type, char buf[16])
{
    const char *n = eventlog_type_name(type);
    if (n)
        return n;
    snprintf(buf, 16, "0x%08x", type);
    return buf;
}

int ctl_admin_failed(const char *group, const char *verb, int r, const bg_err *err, long status,
                     json_object *reply, bool json)
{
    int ret;
    if (r < 0) {
        json_object_put(reply);
        return ctl_error(r == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME, "%s", bg_err_msg(err));
    }
    if (status == 200)
        return -1;
    if (json && reply)
        ctl_print_json(reply);
    /* 4xx: the server refused; 5xx: it failed (a runtime error, as in
     * ctl_policy_online) */
    ret = ctl_error(status >= 500 ? CTL_EXIT_RUNTIME : CTL_EXIT_FAIL, "%s %s: HTTP %ld: %s", group,
                    verb, status, adminapi_reply_reason(reply));
    json_object_put(reply);
    return ret;
}

int ctl_single_subcommand(const char *group, int argc, char **argv, void (*help)(FILE *f),
                          const char *name, int (*fn)(int argc, char **argv))
{
    if (argc < 2)
        return ctl_usage_error(group, "missing subcommand (%s)", name);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return help(stdout), CTL_EXIT_OK;
    if (!strcmp(argv[1], name))
        return fn(argc - 1, argv + 1);
    return ctl_usage_error(group, "unknown subcommand '%s'", argv[1]);
}

int ctl_admin_request(adminapi_opts *o, const char *what, const char *method, const char *path,
                      json_object *body, const adminapi_field *expect, json_object **ret)
{
    long status = 0;
    bg_err err = {{0}};
    json_object *reply = NULL;
    int r = adminapi_request(o, method, path, body, expect, &status, &reply, &err);
    if (r < 0)
        return ctl_error(r == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME, "%s: %s", what,
                         bg_err_msg(&err));
    if (status != 200) {
        r = ctl_error(status >= 500 ? CTL_EXIT_RUNTIME : CTL_EXIT_FAIL, "%s: HTTP %ld: %s", what,
                      status, adminapi_reply_reason(reply));
        json_object_put(reply);
        return r;
    }
    *ret = reply;
    return CTL_EXIT_OK;
}

void ctl_format_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, 32, "%lld", (long long)t);
}
