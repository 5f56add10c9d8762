/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small pieces several bootgatectl command groups share: printing JSON,
 * reading reply fields, turning a failed admin request into an exit code and
 * dispatching a group with one subcommand. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "bgerr.h"

/* puts() of o, pretty-printed. */
void ctl_print_json(json_object *o);

/* The string value of o[key] (json-c's text for non-strings), "" if absent. */
const char *ctl_jstr(json_object *o, const char *key);

/* read_file of an input named `what` in messages: CTL_EXIT_OK, or the exit
 * code after "cannot read WHAT 'PATH': reason". */
int ctl_read_input(const char *what, const char *path, size_t max, uint8_t **ret, size_t *ret_size);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) -> unix time; -EINVAL otherwise. */
int ctl_parse_utc(const char *s, time_t *ret);
/* A duration: a positive integer with an optional unit s (default), m, h, d
 * or w -> seconds; -EINVAL otherwise (also on overflow). */
int ctl_parse_duration(const char *s, int64_t *ret);
/* A point in time as --since takes it: UTC as ctl_parse_utc, or a duration
 * before now ("24h", "7d"). */
int ctl_parse_since(const char *s, time_t now, time_t *ret);

/* TCG event type name, else "0x%08x" of it written to buf. */
const char *ctl_event_type_label(uint32_t type, char buf[16]);

/* For an admin request that did not succeed (r < 0, or HTTP status other than
 * 200), prints "bootgatectl: <group> <verb>: HTTP ..." (or the transport error),
 * with json also the server's error reply, frees reply and returns the exit
 * code: usage for a missing server setting, runtime for transport failures,
 * answers that are not JSON and HTTP 5xx, fail for an HTTP refusal (4xx). Returns -1 (and keeps
 * reply) on success. */
int ctl_admin_failed(const char *group, const char *verb, int r, const bg_err *err, long status,
                     json_object *reply, bool json);

/* One admin request that must answer 200 with the fields of expect: the
 * reply in *ret and CTL_EXIT_OK, else the message "WHAT: ..." printed and
 * the exit code (usage for a missing setting, runtime for transport
 * failures and 5xx, fail for a 4xx refusal). */
struct adminapi_opts;
struct adminapi_field;
int ctl_admin_request(struct adminapi_opts *o, const char *what, const char *method,
                      const char *path, json_object *body, const struct adminapi_field *expect,
                      json_object **ret);

/* UTC "YYYY-MM-DDTHH:MM:SSZ" of unix seconds t. */
void ctl_format_time(int64_t t, char buf[32]);

/* main of a group with a single subcommand: "--help"/"-h" prints help to
 * stdout, argv[1] == name runs fn(argc - 1, argv + 1), else a usage error. */
int ctl_single_subcommand(const char *group, int argc, char **argv, void (*help)(FILE *f),
                          const char *name, int (*fn)(int argc, char **argv));
