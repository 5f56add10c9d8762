/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgatectl policy: subcommands split by file (offline document tools in
 * ctl_policy.c, log-based tools in ctl_policy_logs.c). Each takes argv with
 * argv[0] = the subcommand name and returns a CTL_EXIT_* code. */

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "adminapi.h"
#include "eventlog.h"
#include "policy.h"
#include "ima.h"

int ctl_policy_capture(int argc, char **argv);
int ctl_policy_explain(int argc, char **argv);
int ctl_policy_predict(int argc, char **argv);
int ctl_policy_image_digest(int argc, char **argv);
int ctl_policy_publish(int argc, char **argv);
int ctl_policy_activate(int argc, char **argv);
int ctl_policy_list(int argc, char **argv);
int ctl_policy_what_if(int argc, char **argv);

/* Shared helpers */
int ctl_policy_load_eventlog(const char *path, eventlog **ret);  /* CTL_EXIT_* */
int ctl_policy_load_ima(const char *path, ima_log **ret);        /* CTL_EXIT_* */
int ctl_policy_write_output(const char *path, const char *text); /* NULL/"-" = stdout */

/* Common state of capture and predict: the options that make the document. */
typedef struct ctl_doc_opts {
    const char *name, *baseline, *mode, *not_after, *out;
    int64_t version;
    uint32_t gate;
    bool gate_set;
} ctl_doc_opts;

enum {
    DOC_OPT_NAME = 0x100,
    DOC_OPT_VERSION,
    DOC_OPT_MODE,
    DOC_OPT_PCRS,
    DOC_OPT_BASELINE,
    DOC_OPT_NOT_AFTER,
    DOC_OPT_OUT,
};

#define DOC_OPTIONS                                                                                \
    {"name", required_argument, NULL, DOC_OPT_NAME},                                               \
        {"version", required_argument, NULL, DOC_OPT_VERSION},                                     \
        {"mode", required_argument, NULL, DOC_OPT_MODE},                                           \
        {"pcrs", required_argument, NULL, DOC_OPT_PCRS},                                           \
        {"baseline", required_argument, NULL, DOC_OPT_BASELINE},                                   \
        {"not-after", required_argument, NULL, DOC_OPT_NOT_AFTER},                                 \
        {"out", required_argument, NULL, DOC_OPT_OUT},                                             \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* Returns -1 when c is not a document option, else a CTL_EXIT_* code. */
int ctl_policy_doc_option(const char *cmd, int c, ctl_doc_opts *o);
/* Checks the document options; fills defaults (gate set, baseline name). */
int ctl_policy_check_doc_opts(const char *cmd, ctl_doc_opts *o, bool have_ima);
/* The baseline object of a (possibly edited) log. */
int ctl_policy_baseline_json(const eventlog *log, const ctl_doc_opts *o, json_object **ret);
/* Builds the document, validates it with policy_from_json, writes it to o->out. */
int ctl_policy_emit_document(const ctl_doc_opts *o, json_object *baseline, json_object *ima);
/* The "ima" section that allows every file digest of ima (boot_aggregate ignored). */
int ctl_policy_ima_json(const ima_log *ima, json_object **ret);
/* --into (predict, propose): the current policy, which must validate and be
 * policy o->name older than o->version; its gate PCRs become o->gate (so the
 * new baseline gates what the policy gates). */
int ctl_policy_load_into(const char *cmd, const char *path, ctl_doc_opts *o, json_object **ret);
/* Adds baseline (taken) to current (unless it has one with the same PCR
 * values), sets o->version, validates and writes it to o->out. */
int ctl_policy_emit_into(const char *cmd, const ctl_doc_opts *o, const char *path,
                         json_object *current, json_object *baseline);
int ctl_policy_propose(int argc, char **argv);

/* policy show --remote NAME [VERSION] (argv = the operands). */
int ctl_policy_show_remote(adminapi_opts *o, bool json, int argc, char **argv);
/* The human form of `policy show`. */
void ctl_policy_show_human(const policy *p);
