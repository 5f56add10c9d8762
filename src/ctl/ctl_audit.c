/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl audit list|export|verify|head.
 *
 * Through the admin API (role auditor or admin), or offline with --db PATH
 * straight on the SQLite file (read-only), so that a copy of the database
 * can be checked on another machine. verify recomputes the hash chain
 * (auditchain.h) and names the first bad record, then checks that the chain
 * still reaches the latest signed head kept outside the table (the server's
 * audit_head_file, served by the API; beside the database offline; or
 * --head FILE): a cut-off tail is a valid chain on its own. */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminapi.h"
#include "store.h"
#include <openssl/evp.h>

#include "auditchain.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: bootgatectl audit list   [--since SEQ] [--limit N] [--json]\n"
           "       bootgatectl audit export [--since SEQ]        (JSON lines)\n"
           "       bootgatectl audit verify [--signer PUB] [--head FILE] [--json]\n"
           "       bootgatectl audit head                        (the latest signed head, JSON)\n\n"
           "  --db PATH|URL         read the store directly (read-only): an SQLite file, or\n"
           "                        a store URL (sqlite:///..., postgresql://...)\n"
           "  --since SEQ           records after SEQ (default 0)\n"
           "  --limit N             at most N records (list; default 1000)\n"
           "  --json                JSON output\n"
           "  --signer PUB          verify: also check the signed heads with this Ed25519\n"
           "                        public key (init-server: audit-signer.pub); without it a\n"
           "                        chain rewritten from the edited record on still "
           "passes\n"
           "  --head FILE           verify: the chain must reach this signed head (a copy of\n"
           "                        `audit head` or of the server's audit_head_file); default:\n"
           "                        the server's, or PATH.audit-head beside --db PATH. Without\n"
           "                        one, records cut off the end of the log go "
           "unnoticed\n" ADMINAPI_USAGE
           "Exit: verify returns 1 when the chain is broken, truncated or does not reach the\n"
           "signed head, and names the first bad (or first missing) record.\n");
}

/* ---- offline: the server's store, read through the same code ---- */

static int db_records(const char *db_path, int64_t since, int64_t limit, json_object **ret,
                      bg_err *err)
{
    _cleanup_(store_closep) store *st = NULL;
    store_audit_record *rec = NULL;
    size_t n = 0;
    json_object *a;
    int r = store_open_readonly(db_path, &st, err);
    if (r < 0)
        return r;
    r = store_audit_list(st, since, limit, &rec, &n);
    if (r < 0)
        return bg_err_set(err, r, "%s: cannot read the audit log", db_path);
    a = json_object_new_array();
    for (size_t i = 0; a && i < n; i++) {
        auditchain_entry e = store_audit_entry(&rec[i]);
        json_object_array_add(a, auditchain_entry_to_json(&e));
    }
    store_audit_records_free(rec, n);
    if (!a)
        return -ENOMEM;
    *ret = a;
    return 0;
}

/* The records of an audit API answer (or of db_records) as chain entries,
 * pointing into a. */
static int entries(json_object *a, auditchain_entry **ret, size_t *ret_n, bg_err *err)
{
    size_t n = json_object_array_length(a);
    auditchain_entry *e = calloc(n ? n : 1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = auditchain_entry_from_json(json_object_array_get_idx(a, i), &e[i], err);
        if (r < 0) {
            free(e);
            return r;
        }
    }
    *ret = e;
    *ret_n = n;
    return 0;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null))
        return json_object_is_type(v, json_type_string)
                   ? json_object_get_string(v)
                   : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE);
    return "";
}

static const adminapi_field want_records[] = {{"records", json_type_array}, {}};

int ctl_audit_main(int argc, char **argv)
{
    static const struct option opts[] = {
        ADMINAPI_LONGOPTS,
        {"db", required_argument, NULL, 'd'},
        {"since", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"signer", required_argument, NULL, 'S'},
        {"head", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    const char *db = NULL, *verb, *signer_path = NULL, *head_path = NULL;
    _cleanup_(freep) char *default_head = NULL;
    auditchain_head head;
    bool have_head = false;
    char head_src[4200] = "";
    long long since = 0, limit = 1000;
    bool json = false;
    json_object *reply = NULL, *records = NULL;
    bg_err err = {0};
    int c, r, ret = CTL_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        char *end;
        if (adminapi_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 's':
            since = strtoll(optarg, &end, 10);
            if (*end || since < 0)
                return ctl_usage_error("audit", "bad --since");
            break;
        case 'l':
            limit = strtoll(optarg, &end, 10);
            if (*end || limit < 0)
                return ctl_usage_error("audit", "bad --limit");
            break;
        case 'j':
            json = true;
            break;
        case 'S':
            signer_path = optarg;
            break;
        case 'H':
            head_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("audit", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return ctl_usage_error("audit", "expected list, export, verify or head");
    verb = argv[optind];
    if (strcmp(verb, "list") && strcmp(verb, "export") && strcmp(verb, "verify") &&
        strcmp(verb, "head"))
        return ctl_usage_error("audit", "unknown command '%s'", verb);
    if (!strcmp(verb, "verify") || !strcmp(verb, "head"))
        since = 0, limit = 0;
    if (!strcmp(verb, "head"))
        limit = 1; /* only the signed head is wanted */

    /* the signed head kept outside the table: --head, or beside --db */
    if (!head_path && db && !strstr(db, "://")) {
        if (asprintf(&default_head, "%s.audit-head", db) < 0) {
            default_head = NULL;
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        }
    }
    if (head_path || default_head) {
        const char *path = head_path ? head_path : default_head;
        r = auditchain_head_read_file(path, &head, &err);
        if (r >= 0) {
            have_head = true;
            snprintf(head_src, sizeof(head_src), "%s", path);
        } else if (r != -ENOENT || head_path) {
            return ctl_error(head_path ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
        }
    }
    if (!strcmp(verb, "export"))
        limit = 0;

    if (db) {
        r = db_records(db, since, limit, &records, &err);
        if (r < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    } else {
        char path[128];
        long status = 0;
        snprintf(path, sizeof(path), "/v1/admin/audit?since=%lld&limit=%lld", since,
                 limit > 0 ? limit : 0);
        r = adminapi_request(&o, "GET", path, NULL, want_records, &status, &reply, &err);
        /* no JSON echo of an error reply: --json here formats the records */
        ret = ctl_admin_failed("audit", verb, r, &err, status, reply, false);
        if (ret >= 0)
            return ret;
        ret = CTL_EXIT_OK;
        if (!json_object_object_get_ex(reply, "records", &records)) {
            json_object_put(reply);
            return ctl_error(CTL_EXIT_RUNTIME, "server reply has no records");
        }
        json_object_get(records);
        if (!head_path) {
            json_object *h = NULL;
            if (json_object_object_get_ex(reply, "signed_head", &h) &&
                auditchain_head_from_json(h, &head, &err) < 0) {
                json_object_put(reply);
                json_object_put(records);
                return ctl_error(CTL_EXIT_RUNTIME, "server reply: %s", bg_err_msg(&err));
            }
            if (h) {
                have_head = true;
                snprintf(head_src, sizeof(head_src), "the server's audit_head_file");
            }
        }
        json_object_put(reply);
    }

    if (!strcmp(verb, "head")) {
        json_object_put(records);
        if (!have_head)
            return ctl_error(CTL_EXIT_FAIL, "no signed head%s%s", db ? " in " : "",
                             db ? default_head : "");
        json_object *out = auditchain_head_to_json(&head);
        ctl_print_json(out);
        json_object_put(out);
        return CTL_EXIT_OK;
    }

    if (!strcmp(verb, "verify")) {
        int64_t count = 0, bad = 0, heads = 0, last = 0;
        EVP_PKEY *key = NULL;
        if (signer_path && auditchain_load_key(signer_path, false, &key, &err) < 0) {
            json_object_put(records);
            return ctl_error(CTL_EXIT_USAGE, "%s", bg_err_msg(&err));
        }
        /* the chain, the signed heads in it, the signed head kept outside it:
         * the library's checks, as bootgated runs them */
        _cleanup_(freep) auditchain_entry *e = NULL;
        size_t n = 0;
        r = entries(records, &e, &n, &err);
        if (r >= 0)
            r = auditchain_verify(e, n, &bad, &err);
        if (r >= 0)
            count = (int64_t)n;
        if (r >= 0 && key)
            r = auditchain_verify_heads(e, n, key, &heads, &last, &bad, &err);
        if (r >= 0 && have_head && key && auditchain_head_check_signature(key, &head, &err) < 0) {
            bad = head.record_seq;
            r = bg_err_prefix(&err, -EBADMSG, "the signed head (%s)", head_src);
        }
        if (r >= 0 && have_head)
            r = auditchain_check_reaches(
                &head, (int64_t)n, head.seq >= 1 && (size_t)head.seq <= n ? &e[head.seq - 1] : NULL,
                head.record_seq >= 1 && (size_t)head.record_seq <= n ? &e[head.record_seq - 1]
                                                                     : NULL,
                head_src, &bad, &err);
        EVP_PKEY_free(key);
        if (!have_head && !json)
            fprintf(stderr, "bootgatectl: note: no signed head outside the log (--head FILE): "
                            "records cut off its end cannot be detected\n");
        if (json) {
            json_object *out = json_object_new_object();
            json_object_object_add(out, "valid", json_object_new_boolean(r >= 0));
            json_object_object_add(
                out, "records",
                json_object_new_int64(r >= 0 ? count : (int64_t)json_object_array_length(records)));
            if (signer_path && r >= 0) {
                json_object_object_add(out, "signed_heads", json_object_new_int64(heads));
                json_object_object_add(out, "last_signed_seq", json_object_new_int64(last));
            }
            if (have_head)
                json_object_object_add(out, "signed_head_seq", json_object_new_int64(head.seq));
            if (r < 0) {
                json_object_object_add(out, "first_bad_seq", json_object_new_int64(bad));
                json_object_object_add(out, "reason", json_object_new_string(bg_err_msg(&err)));
            }
            ctl_print_json(out);
            json_object_put(out);
        } else if (r >= 0) {
            printf("audit chain intact: %lld records", (long long)count);
            if (signer_path)
                printf(", %lld signed heads, last signed record %lld", (long long)heads,
                       (long long)last);
            if (have_head)
                printf(", reaches the signed head of record %lld (%s)", (long long)head.seq,
                       head_src);
            printf("\n");
        } else {
            fprintf(stderr, "bootgatectl: audit chain broken at record %lld: %s\n", (long long)bad,
                    bg_err_msg(&err));
        }
        ret = r >= 0 ? CTL_EXIT_OK : r == -EBADMSG ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME;
    } else if (!strcmp(verb, "export")) {
        for (size_t i = 0; i < json_object_array_length(records); i++)
            puts(json_object_to_json_string_ext(json_object_array_get_idx(records, i),
                                                JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
    } else if (json) {
        ctl_print_json(records);
    } else {
        for (size_t i = 0; i < json_object_array_length(records); i++) {
            json_object *rec = json_object_array_get_idx(records, i);
            printf("%6s  %s  %-22s  %-24s  %-32s  %s\n", jstr(rec, "seq"), jstr(rec, "time"),
                   jstr(rec, "action"), jstr(rec, "actor"), jstr(rec, "node"),
                   jstr(rec, "details"));
        }
    }
    json_object_put(records);
    return ret;
}
