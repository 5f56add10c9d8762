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
           "  --limit N             at most N records (list; default 1000; 0: all)\n"
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
           "Records are read in pages of $BOOTGATE_AUDIT_PAGE (default 5000) per request.\n"
           "Exit: verify returns 1 when the chain is broken, truncated or does not reach the\n"
           "signed head, and names the first bad (or first missing) record.\n");
}

/* ---- the records, page by page ----
 *
 * The admin API answers at most limit records per request and bootgatectl
 * takes at most 16 MiB per answer, so a long chain is read in pages of
 * BOOTGATE_AUDIT_PAGE records (default AUDIT_PAGE_DEFAULT; halved while an
 * answer is too large), each starting after the last seq of the one before.
 * Offline (--db) reads the store the same way. Only one page is held. */
#define AUDIT_PAGE_DEFAULT 5000
#define AUDIT_PAGE_MAX     100000 /* the server's limit per request */

typedef struct audit_source {
    adminapi_opts *api; /* online */
    store *st;          /* offline (--db) */
    const char *verb;
    int64_t page;
    bool asked;               /* a page was requested */
    json_object *signed_head; /* the first answer's (online), NULL if none */
} audit_source;

static const adminapi_field want_records[] = {{"records", json_type_array}, {}};

/* Records after since, at most *limit (> 0; halved while an answer is too
 * large), as a JSON array. The API's signed head is kept from the first
 * answer: the server reads the head before the records, and the head file
 * only moves forward, so the records of this and every later page reach
 * it. CTL_EXIT_OK, or the exit code of the error it printed. */

static int fetch_page(audit_source *s, int64_t since, int64_t *limit, json_object **ret)
{
    bg_err err = {0};
    int r;

    if (s->st) {
        store_audit_record *rec = NULL;
        size_t n = 0;
        json_object *a;
        if (store_audit_list(s->st, since, *limit, &rec, &n) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "cannot read the audit log");
        a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
            auditchain_entry e = store_audit_entry(&rec[i]);
            json_object_array_add(a, auditchain_entry_to_json(&e));
        }
        store_audit_records_free(rec, n);
        if (!a)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        *ret = a;
        return CTL_EXIT_OK;
    }
    for (;;) {
        json_object *reply = NULL, *records = NULL, *h = NULL;
        long status = 0;
        char path[128];
        snprintf(path, sizeof(path), "/v1/admin/audit?since=%lld&limit=%lld", (long long)since,
                 (long long)*limit);
        r = adminapi_request(s->api, "GET", path, NULL, want_records, &status, &reply, &err);
        if (r == -EFBIG && *limit > 1) {
            /* records with large details: fewer per answer, from now on */
            *limit /= 2;
            if (s->page > *limit)
                s->page = *limit;
            continue;
        }
        /* no JSON echo of an error reply: --json here formats the records */
        r = ctl_admin_failed("audit", s->verb, r, &err, status, reply, false);
        if (r >= 0)
            return r;
        json_object_object_get_ex(reply, "records", &records);
        *ret = json_object_get(records);
        if (!s->asked && json_object_object_get_ex(reply, "signed_head", &h))
            s->signed_head = json_object_get(h);
        s->asked = true;
        json_object_put(reply);
        return CTL_EXIT_OK;
    }
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

/* The records of a page as chain entries, pointing into a. */
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

/* The seq of record i of a page; the pages' seqs must rise (export and
 * list do not check the chain, but must not repeat or loop). */
static int page_seq(json_object *a, size_t i, int64_t after, int64_t *ret)
{
    json_object *v;
    if (!json_object_object_get_ex(json_object_array_get_idx(a, i), "seq", &v) ||
        !json_object_is_type(v, json_type_int))
        return ctl_error(CTL_EXIT_RUNTIME, "server reply: a record without a seq");
    *ret = json_object_get_int64(v);
    if (*ret <= after)
        return ctl_error(CTL_EXIT_RUNTIME, "server reply: record %lld out of order (after %lld)",
                         (long long)*ret, (long long)after);
    return CTL_EXIT_OK;
}

/* The signed head of the server's first answer, unless --head named one. */
static int take_server_head(audit_source *s, auditchain_head *head, bool *have_head, char *src,
                            size_t src_size)
{
    bg_err err = {0};
    if (*have_head || !s->signed_head)
        return CTL_EXIT_OK;
    if (auditchain_head_from_json(s->signed_head, head, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "server reply: %s", bg_err_msg(&err));
    *have_head = true;
    snprintf(src, src_size, "the server's audit_head_file");
    return CTL_EXIT_OK;
}

/* For the walk: the stored hash of an earlier record, read again. */
static int hash_of(void *userdata, int64_t seq, char ret[2 * AUDITCHAIN_HASH_SIZE + 1], bg_err *err)
{
    audit_source *s = userdata;
    json_object *a = NULL;
    auditchain_entry e;
    int64_t one = 1;
    int r;
    if (fetch_page(s, seq - 1, &one, &a) != CTL_EXIT_OK)
        return bg_err_set(err, -EIO, "cannot read record %lld again", (long long)seq);
    r = json_object_array_length(a) == 1
            ? auditchain_entry_from_json(json_object_array_get_idx(a, 0), &e, err)
            : -ENOENT;
    if (r >= 0 && e.rec.seq != seq)
        r = -ENOENT;
    if (r >= 0)
        snprintf(ret, 2 * AUDITCHAIN_HASH_SIZE + 1, "%s", e.hash);
    json_object_put(a);
    return r;
}

typedef struct verify_result {
    int64_t read; /* records read */
    int64_t heads, last_signed, bad;
    bool have_head;
    auditchain_head head;
    char head_src[4200];
} verify_result;

/* The whole chain, page by page: the walk (auditchain.h) carries the hash
 * of the last record from one page to the next; of the records that the
 * signed head names, the two JSON objects are kept. 0, -errno with err
 * (-EBADMSG: broken, v->bad), or > 0: the exit code of a read error that
 * was printed. */
static int walk_pages(audit_source *s, EVP_PKEY *key, verify_result *v, json_object **at_seq,
                      json_object **at_record, bg_err *err)
{
    auditchain_walk w;
    int r = 0;

    auditchain_walk_init(&w);
    for (;;) {
        _cleanup_(freep) auditchain_entry *e = NULL;
        json_object *a = NULL;
        int64_t limit = s->page;
        size_t n = 0;

        r = fetch_page(s, w.next - 1, &limit, &a);
        if (r == CTL_EXIT_OK)
            r = take_server_head(s, &v->head, &v->have_head, v->head_src, sizeof(v->head_src));
        if (r != CTL_EXIT_OK) {
            json_object_put(a);
            return r;
        }
        r = entries(a, &e, &n, err);
        if (r >= 0) {
            v->read += (int64_t)n;
            r = auditchain_walk_page(&w, e, n, key, hash_of, s, &v->bad, err);
        }
        for (size_t i = 0; r >= 0 && v->have_head && i < n; i++) {
            if (e[i].rec.seq == v->head.seq)
                *at_seq = json_object_get(json_object_array_get_idx(a, i));
            if (e[i].rec.seq == v->head.record_seq)
                *at_record = json_object_get(json_object_array_get_idx(a, i));
        }
        json_object_put(a);
        if (r < 0)
            return r;
        if ((int64_t)n < limit)
            break;
    }
    v->heads = w.heads;
    v->last_signed = w.last_signed;
    if (key && w.heads == 0)
        return bg_err_set(err, -EBADMSG, "no signed head in the log");
    if (v->have_head && key && auditchain_head_check_signature(key, &v->head, err) < 0) {
        v->bad = v->head.record_seq;
        return bg_err_prefix(err, -EBADMSG, "the signed head (%s)", v->head_src);
    }
    if (v->have_head) {
        auditchain_entry es, er;
        bg_err ignore = {0};
        bool has_seq = *at_seq && auditchain_entry_from_json(*at_seq, &es, &ignore) >= 0;
        bool has_record = *at_record && auditchain_entry_from_json(*at_record, &er, &ignore) >= 0;
        r = auditchain_check_reaches(&v->head, w.next - 1, has_seq ? &es : NULL,
                                     has_record ? &er : NULL, v->head_src, &v->bad, err);
    }
    return r;
}

static int verify_pages(audit_source *s, EVP_PKEY *key, verify_result *v, bg_err *err)
{
    json_object *at_seq = NULL, *at_record = NULL;
    int r = walk_pages(s, key, v, &at_seq, &at_record, err);
    json_object_put(at_seq);
    json_object_put(at_record);
    return r;
}

/* export and list: the records after since, at most limit (0: all), page by
 * page; each printed (export, list) or collected into out (list --json). */
static int print_pages(audit_source *s, int64_t since, int64_t limit, bool lines, json_object *out)
{
    int64_t left = limit;
    for (;;) {
        json_object *a = NULL;
        int64_t want = s->page;
        size_t n;
        int r;

        if (limit > 0 && left < want)
            want = left;
        if (want == 0)
            return CTL_EXIT_OK;
        r = fetch_page(s, since, &want, &a);
        if (r != CTL_EXIT_OK)
            return r;
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            json_object *rec = json_object_array_get_idx(a, i);
            r = page_seq(a, i, since, &since);
            if (r != CTL_EXIT_OK) {
                json_object_put(a);
                return r;
            }
            if (out)
                json_object_array_add(out, json_object_get(rec));
            else if (lines)
                puts(json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
            else
                printf("%6s  %s  %-22s  %-24s  %-32s  %s\n", jstr(rec, "seq"), jstr(rec, "time"),
                       jstr(rec, "action"), jstr(rec, "actor"), jstr(rec, "node"),
                       jstr(rec, "details"));
        }
        json_object_put(a);
        left -= (int64_t)n;
        if ((int64_t)n < want)
            return CTL_EXIT_OK;
    }
}

/* BOOTGATE_AUDIT_PAGE: records per request (tests use small pages). */
static int page_size(int64_t *ret)
{
    const char *v = getenv("BOOTGATE_AUDIT_PAGE");
    char *end;
    long long n;
    *ret = AUDIT_PAGE_DEFAULT;
    if (!v || !*v)
        return CTL_EXIT_OK;
    n = strtoll(v, &end, 10);
    if (*end || n < 1 || n > AUDIT_PAGE_MAX)
        return ctl_usage_error("audit", "BOOTGATE_AUDIT_PAGE must be 1..%d", AUDIT_PAGE_MAX);
    *ret = n;
    return CTL_EXIT_OK;
}

static int audit_verify(audit_source *s, const char *signer_path, verify_result *v, bool json)
{
    EVP_PKEY *key = NULL;
    bg_err err = {0};
    int r;

    if (signer_path && auditchain_load_key(signer_path, false, &key, &err) < 0)
        return ctl_error(CTL_EXIT_USAGE, "%s", bg_err_msg(&err));
    /* the chain, the signed heads in it, the signed head kept outside it:
     * the library's checks, as bootgated runs them */
    r = verify_pages(s, key, v, &err);
    EVP_PKEY_free(key);
    if (r > 0)
        return r; /* a read error, printed */
    if (!v->have_head && !json)
        fprintf(stderr, "bootgatectl: note: no signed head outside the log (--head FILE): "
                        "records cut off its end cannot be detected\n");
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "valid", json_object_new_boolean(r >= 0));
        json_object_object_add(out, "records", json_object_new_int64(v->read));
        if (signer_path && r >= 0) {
            json_object_object_add(out, "signed_heads", json_object_new_int64(v->heads));
            json_object_object_add(out, "last_signed_seq", json_object_new_int64(v->last_signed));
        }
        if (v->have_head)
            json_object_object_add(out, "signed_head_seq", json_object_new_int64(v->head.seq));
        if (r < 0) {
            json_object_object_add(out, "first_bad_seq", json_object_new_int64(v->bad));
            json_object_object_add(out, "reason", json_object_new_string(bg_err_msg(&err)));
        }
        ctl_print_json(out);
        json_object_put(out);
    } else if (r >= 0) {
        printf("audit chain intact: %lld records", (long long)v->read);
        if (signer_path)
            printf(", %lld signed heads, last signed record %lld", (long long)v->heads,
                   (long long)v->last_signed);
        if (v->have_head)
            printf(", reaches the signed head of record %lld (%s)", (long long)v->head.seq,
                   v->head_src);
        printf("\n");
    } else {
        fprintf(stderr, "bootgatectl: audit chain broken at record %lld: %s\n", (long long)v->bad,
                bg_err_msg(&err));
    }
    return r >= 0 ? CTL_EXIT_OK : r == -EBADMSG ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME;
}

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
    _cleanup_(store_closep) store *st = NULL;
    const char *db = NULL, *verb, *signer_path = NULL, *head_path = NULL;
    _cleanup_(freep) char *default_head = NULL;
    verify_result v = {0};
    audit_source src = {.api = &o};
    long long since = 0, limit = 1000;
    bool json = false;
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
    src.verb = verb;
    r = page_size(&src.page);
    if (r != CTL_EXIT_OK)
        return r;

    /* the signed head kept outside the table: --head, or beside --db */
    if (!head_path && db && !strstr(db, "://")) {
        if (asprintf(&default_head, "%s.audit-head", db) < 0) {
            default_head = NULL;
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        }
    }
    if (head_path || default_head) {
        const char *path = head_path ? head_path : default_head;
        r = auditchain_head_read_file(path, &v.head, &err);
        if (r >= 0) {
            v.have_head = true;
            snprintf(v.head_src, sizeof(v.head_src), "%s", path);
        } else if (r != -ENOENT || head_path) {
            return ctl_error(head_path ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
        }
    }
    if (db) {
        r = store_open_readonly(db, &st, &err);
        if (r < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
        src.st = st;
    }

    if (!strcmp(verb, "verify"))
        ret = audit_verify(&src, signer_path, &v, json);
    else if (!strcmp(verb, "head")) {
        json_object *a = NULL, *out;
        int64_t one = 1; /* only the signed head is wanted */
        ret = fetch_page(&src, 0, &one, &a);
        json_object_put(a);
        if (ret == CTL_EXIT_OK)
            ret = take_server_head(&src, &v.head, &v.have_head, v.head_src, sizeof(v.head_src));
        if (ret != CTL_EXIT_OK)
            goto out;
        if (!v.have_head) {
            ret = ctl_error(CTL_EXIT_FAIL, "no signed head%s%s", db ? " in " : "",
                            db ? default_head : "");
            goto out;
        }
        out = auditchain_head_to_json(&v.head);
        ctl_print_json(out);
        json_object_put(out);
    } else if (!strcmp(verb, "export"))
        ret = print_pages(&src, since, 0, true, NULL);
    else if (json) {
        json_object *a = json_object_new_array();
        if (!a)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        ret = print_pages(&src, since, limit, false, a);
        if (ret == CTL_EXIT_OK)
            ctl_print_json(a);
        json_object_put(a);
    } else
        ret = print_pages(&src, since, limit, false, NULL);
out:
    json_object_put(src.signed_head);
    return ret;
}
