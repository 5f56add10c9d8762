/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "auditchain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util.h"

int auditchain_hash(const uint8_t prev[AUDITCHAIN_HASH_SIZE], const auditchain_record *rec,
                    uint8_t ret[AUDITCHAIN_HASH_SIZE], bg_err *err)
{
    json_object *a = json_object_new_array();
    const char *s;
    size_t len;
    int r = -ENOMEM;

    if (!a)
        return -ENOMEM;
    if (json_object_array_add(a, json_object_new_int64(rec->seq)) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->time ? rec->time : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->actor ? rec->actor : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->action ? rec->action : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->node ? rec->node : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->details ? rec->details : "")) < 0)
        goto out;
    s = json_object_to_json_string_length(
        a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        goto out;
    {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned n = 0;
        if (!md)
            goto out;
        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, prev, AUDITCHAIN_HASH_SIZE) != 1 ||
            EVP_DigestUpdate(md, s, len) != 1 || EVP_DigestFinal_ex(md, ret, &n) != 1)
            r = bg_err_set(err, -EIO, "SHA-256 failed");
        else
            r = 0;
        EVP_MD_CTX_free(md);
    }
out:
    json_object_put(a);
    return r;
}

static char *head_message(int64_t seq, const char *hash_hex, size_t *ret_size)
{
    char *m = NULL;
    int n = asprintf(&m, "%s%lld\n%s", AUDITCHAIN_HEAD_CONTEXT, (long long)seq, hash_hex);
    if (n < 0)
        return NULL;
    *ret_size = (size_t)n;
    return m;
}

int auditchain_head_sign(EVP_PKEY *key, int64_t seq, const char *hash_hex,
                         uint8_t ret_sig[AUDITCHAIN_SIG_SIZE], bg_err *err)
{
    size_t n = 0, siglen = AUDITCHAIN_SIG_SIZE;
    char *m = head_message(seq, hash_hex, &n);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = 0;
    if (!m || !md)
        r = -ENOMEM;
    else if (EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
             EVP_DigestSign(md, ret_sig, &siglen, (const uint8_t *)m, n) != 1 ||
             siglen != AUDITCHAIN_SIG_SIZE)
        r = bg_err_set(err, -EIO, "Ed25519 signing of the audit head failed");
    EVP_MD_CTX_free(md);
    free(m);
    return r;
}

int auditchain_head_verify(EVP_PKEY *key, int64_t seq, const char *hash_hex, const uint8_t *sig,
                           size_t sig_size, bg_err *err)
{
    size_t n = 0;
    char *m = head_message(seq, hash_hex, &n);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = 0;
    if (!m || !md)
        r = -ENOMEM;
    else if (sig_size != AUDITCHAIN_SIG_SIZE ||
             EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1 ||
             EVP_DigestVerify(md, sig, sig_size, (const uint8_t *)m, n) != 1)
        r = bg_err_set(err, -EBADMSG, "signature over head %lld does not verify", (long long)seq);
    EVP_MD_CTX_free(md);
    free(m);
    return r;
}

int auditchain_load_key(const char *path, bool private_key, EVP_PKEY **ret, bg_err *err)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *k;
    if (!f)
        return bg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                    : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        return bg_err_set(err, -EINVAL, "%s is not a PEM %s key", path,
                          private_key ? "private" : "public");
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return bg_err_set(err, -EINVAL, "%s is not an Ed25519 key", path);
    }
    *ret = k;
    return 0;
}

json_object *auditchain_head_to_json(const auditchain_head *h)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    if (json_object_object_add(o, "seq", json_object_new_int64(h->seq)) < 0 ||
        json_object_object_add(o, "hash", json_object_new_string(h->hash)) < 0 ||
        json_object_object_add(o, "signature", json_object_new_string(h->signature)) < 0 ||
        json_object_object_add(o, "record_seq", json_object_new_int64(h->record_seq)) < 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int auditchain_head_from_json(json_object *j, auditchain_head *ret, bg_err *err)
{
    json_object *seq, *hash, *sig, *rec;
    uint8_t raw[AUDITCHAIN_HASH_SIZE];

    if (!j || !json_object_is_type(j, json_type_object) ||
        !json_object_object_get_ex(j, "seq", &seq) || !json_object_is_type(seq, json_type_int) ||
        !json_object_object_get_ex(j, "hash", &hash) ||
        !json_object_is_type(hash, json_type_string) ||
        !json_object_object_get_ex(j, "signature", &sig) ||
        !json_object_is_type(sig, json_type_string) ||
        !json_object_object_get_ex(j, "record_seq", &rec) ||
        !json_object_is_type(rec, json_type_int))
        return bg_err_set(err, -EBADMSG,
                          "signed head: expected {seq, hash, signature, record_seq}");
    memset(ret, 0, sizeof(*ret));
    ret->seq = json_object_get_int64(seq);
    ret->record_seq = json_object_get_int64(rec);
    if (ret->seq < 1 || ret->record_seq <= ret->seq)
        return bg_err_set(err, -EBADMSG, "signed head: bad seq %lld / record_seq %lld",
                          (long long)ret->seq, (long long)ret->record_seq);
    if (hex_decode_exact(json_object_get_string(hash), raw, sizeof(raw), NULL) < 0)
        return bg_err_set(err, -EBADMSG, "signed head: hash is not 64 hex digits");
    snprintf(ret->hash, sizeof(ret->hash), "%s", json_object_get_string(hash));
    if ((size_t)json_object_get_string_len(sig) >= sizeof(ret->signature))
        return bg_err_set(err, -EBADMSG, "signed head: signature too long");
    snprintf(ret->signature, sizeof(ret->signature), "%s", json_object_get_string(sig));
    return 0;
}

int auditchain_head_read_file(const char *path, auditchain_head *ret, bg_err *err)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    json_object *j;
    int r = read_file(path, 4096, &buf, &size, err);
    if (r == -ENOENT)
        return r;
    if (r < 0)
        return bg_err_prefix(err, r, "signed head %s", path);
    j = json_tokener_parse((const char *)buf);
    free(buf);
    r = auditchain_head_from_json(j, ret, err);
    json_object_put(j);
    if (r < 0)
        return bg_err_prefix(err, r, "%s", path);
    return 0;
}

int auditchain_head_write_file(const char *path, const auditchain_head *h, bg_err *err)
{
    json_object *o = auditchain_head_to_json(h);
    _cleanup_(freep) char *text = NULL;
    int r;
    if (!o)
        return -ENOMEM;
    r = asprintf(
        &text, "%s\n",
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    if (r < 0) {
        text = NULL;
        return -ENOMEM;
    }
    return write_file_atomic(path, text, (size_t)r, 0644, err);
}

int auditchain_head_check_signature(EVP_PKEY *key, const auditchain_head *h, bg_err *err)
{
    uint8_t *sig = NULL;
    size_t sig_size = 0;
    int r = base64_decode_alloc(h->signature, &sig, &sig_size, NULL);
    if (r < 0)
        return bg_err_set(err, -EBADMSG, "signed head: signature is not base64");
    r = auditchain_head_verify(key, h->seq, h->hash, sig, sig_size, err);
    free(sig);
    return r;
}

void auditchain_walk_init(auditchain_walk *w)
{
    memset(w, 0, sizeof(*w));
    w->next = 1; /* prev: record 1's prev_hash is 32 zero bytes */
}

/* The chain part of a walk: consecutive seqs, each prev_hash the hash of
 * the record before, each hash recomputed from its contents. */
static int walk_chain(auditchain_walk *w, const auditchain_entry *a, size_t n, int64_t *ret_bad,
                      bg_err *err)
{
    uint8_t hash[AUDITCHAIN_HASH_SIZE];
    char hex[2 * AUDITCHAIN_HASH_SIZE + 1];

    for (size_t i = 0; i < n; i++) {
        const auditchain_entry *e = &a[i];
        int64_t expect = w->next;
        int r;
        if (e->rec.seq != expect) {
            *ret_bad = expect;
            return bg_err_set(err, -EBADMSG, "record %lld is missing (next is %lld)",
                              (long long)expect, (long long)e->rec.seq);
        }
        hex_encode(w->prev, sizeof(w->prev), hex);
        if (!e->prev_hash || strcmp(hex, e->prev_hash) != 0) {
            *ret_bad = expect;
            return bg_err_set(err, -EBADMSG,
                              "record %lld: prev_hash is not the hash of record %lld",
                              (long long)expect, (long long)expect - 1);
        }
        r = auditchain_hash(w->prev, &e->rec, hash, err);
        if (r < 0)
            return r;
        hex_encode(hash, sizeof(hash), hex);
        if (!e->hash || strcmp(hex, e->hash) != 0) {
            *ret_bad = expect;
            return bg_err_set(err, -EBADMSG, "record %lld: hash does not match its contents",
                              (long long)expect);
        }
        memcpy(w->prev, hash, sizeof(w->prev));
        w->next++;
    }
    return 0;
}

int auditchain_verify(const auditchain_entry *a, size_t n, int64_t *ret_bad, bg_err *err)
{
    auditchain_walk w;
    auditchain_walk_init(&w);
    *ret_bad = 0;
    return walk_chain(&w, a, n, ret_bad, err);
}

/* The "seq", "hash" and "signature" of a signed-head record's details. */
static int head_details(const char *details, int64_t *ret_seq, char *ret_hash, size_t hash_size,
                        char *ret_sig, size_t sig_size)
{
    json_object *d = json_tokener_parse(details ? details : ""), *v;
    int r = -EBADMSG;
    if (d && json_object_object_get_ex(d, "seq", &v) && json_object_is_type(v, json_type_int)) {
        *ret_seq = json_object_get_int64(v);
        snprintf(ret_hash, hash_size, "%s",
                 json_object_object_get_ex(d, "hash", &v) ? json_object_get_string(v) : "");
        snprintf(ret_sig, sig_size, "%s",
                 json_object_object_get_ex(d, "signature", &v) ? json_object_get_string(v) : "");
        r = 0;
    }
    json_object_put(d);
    return r;
}

/* Signed-head record e (details parsed into seq, hash, sig_b64) verifies
 * with key, and record seq, whose stored hash is named_hash (NULL when
 * missing), still has the hash that was signed. good: the last signed
 * record that matched so far. */
static int check_head(const auditchain_entry *e, int64_t seq, const char *hash, const char *sig_b64,
                      const char *named_hash, EVP_PKEY *key, int64_t good, int64_t *ret_bad,
                      bg_err *err)
{
    uint8_t *sig = NULL;
    size_t sig_size = 0;
    int r = base64_decode_alloc(sig_b64, &sig, &sig_size, NULL);
    if (r >= 0)
        r = auditchain_head_verify(key, seq, hash, sig, sig_size, err);
    free(sig);
    if (r < 0) {
        *ret_bad = e->rec.seq;
        return bg_err_set(err, -EBADMSG, "record %lld: signed head for record %lld does not verify",
                          (long long)*ret_bad, (long long)seq);
    }
    if (!named_hash || strcmp(hash, named_hash) != 0) {
        *ret_bad = good + 1;
        return bg_err_set(err, -EBADMSG,
                          "the chain was rewritten: record %lld no longer has the hash signed "
                          "for it; the change is after record %lld (the last signed head that "
                          "still matches)",
                          (long long)seq, (long long)good);
    }
    return 0;
}

static int malformed_head(const auditchain_entry *e, int64_t *ret_bad, bg_err *err)
{
    *ret_bad = e->rec.seq;
    return bg_err_set(err, -EBADMSG, "record %lld: malformed signed head", (long long)*ret_bad);
}

int auditchain_walk_page(auditchain_walk *w, const auditchain_entry *a, size_t n, EVP_PKEY *key,
                         auditchain_hash_of_fn hash_of, void *userdata, int64_t *ret_bad,
                         bg_err *err)
{
    char before[2 * AUDITCHAIN_HASH_SIZE + 1]; /* record first - 1's hash */
    int64_t first = w->next;
    int r;

    *ret_bad = 0;
    hex_encode(w->prev, sizeof(w->prev), before);
    r = walk_chain(w, a, n, ret_bad, err);
    if (r < 0 || !key)
        return r;
    /* the page's seqs are first .. first + n - 1 now */
    for (size_t i = 0; i < n; i++) {
        char hash[2 * AUDITCHAIN_HASH_SIZE + 1], sig[128], looked_up[2 * AUDITCHAIN_HASH_SIZE + 1];
        const char *named = NULL;
        int64_t seq = 0;

        if (strcmp(a[i].rec.action, AUDITCHAIN_HEAD_ACTION) != 0)
            continue;
        if (head_details(a[i].rec.details, &seq, hash, sizeof(hash), sig, sizeof(sig)) < 0 ||
            seq < 1 || seq >= a[i].rec.seq)
            return malformed_head(&a[i], ret_bad, err);
        if (seq >= first)
            named = a[seq - first].hash;
        else if (seq == first - 1)
            named = before;
        else if (hash_of) {
            r = hash_of(userdata, seq, looked_up, err);
            if (r < 0 && r != -ENOENT)
                return r;
            named = r >= 0 ? looked_up : NULL;
        }
        r = check_head(&a[i], seq, hash, sig, named, key, w->last_signed, ret_bad, err);
        if (r < 0)
            return r;
        w->heads++;
        w->last_signed = seq;
    }
    return 0;
}

int auditchain_verify_heads(const auditchain_entry *a, size_t n, EVP_PKEY *key, int64_t *ret_heads,
                            int64_t *ret_last, int64_t *ret_bad, bg_err *err)
{
    int64_t good = 0;

    *ret_heads = 0;
    *ret_last = 0;
    for (size_t i = 0; i < n; i++) {
        char hash[2 * AUDITCHAIN_HASH_SIZE + 1], sig[128];
        int64_t seq = 0;
        int r;

        if (strcmp(a[i].rec.action, AUDITCHAIN_HEAD_ACTION) != 0)
            continue;
        if (head_details(a[i].rec.details, &seq, hash, sizeof(hash), sig, sizeof(sig)) < 0 ||
            seq < 1 || (size_t)seq > n)
            return malformed_head(&a[i], ret_bad, err);
        r = check_head(&a[i], seq, hash, sig, a[seq - 1].hash, key, good, ret_bad, err);
        if (r < 0)
            return r;
        good = seq;
        (*ret_heads)++;
        *ret_last = seq;
    }
    if (*ret_heads == 0)
        return bg_err_set(err, -EBADMSG, "no signed head in the log");
    return 0;
}

int auditchain_check_reaches(const auditchain_head *h, int64_t last_seq,
                             const auditchain_entry *at_seq, const auditchain_entry *at_record,
                             const char *src, int64_t *ret_bad, bg_err *err)
{
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1], sig[128];
    int64_t seq = 0;

    if (last_seq < h->record_seq) {
        *ret_bad = last_seq + 1;
        return bg_err_set(err, -EBADMSG,
                          "the log is truncated: it ends at record %lld, but the signed head (%s) "
                          "names record %lld, signed in record %lld; record %lld on is missing",
                          (long long)last_seq, src, (long long)h->seq, (long long)h->record_seq,
                          (long long)last_seq + 1);
    }
    if (!at_seq || !at_seq->hash || strcmp(at_seq->hash, h->hash) != 0) {
        *ret_bad = h->seq;
        return bg_err_set(err, -EBADMSG,
                          "record %lld no longer has the hash signed for it (%s): the log up to it "
                          "was rewritten",
                          (long long)h->seq, src);
    }
    if (!at_record || strcmp(at_record->rec.action, AUDITCHAIN_HEAD_ACTION) != 0 ||
        head_details(at_record->rec.details, &seq, hash, sizeof(hash), sig, sizeof(sig)) < 0 ||
        seq != h->seq || strcmp(hash, h->hash) != 0 || strcmp(sig, h->signature) != 0) {
        *ret_bad = h->record_seq;
        return bg_err_set(err, -EBADMSG, "record %lld is not the signed head that %s names",
                          (long long)h->record_seq, src);
    }
    return 0;
}

json_object *auditchain_entry_to_json(const auditchain_entry *e)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "seq", json_object_new_int64(e->rec.seq));
    json_object_object_add(o, "time", json_object_new_string(e->rec.time));
    json_object_object_add(o, "actor", json_object_new_string(e->rec.actor));
    json_object_object_add(o, "action", json_object_new_string(e->rec.action));
    json_object_object_add(o, "node", json_object_new_string(e->rec.node));
    /* the stored text, byte for byte: it is what the chain hashes */
    json_object_object_add(o, "details", json_object_new_string(e->rec.details));
    json_object_object_add(o, "prev_hash", json_object_new_string(e->prev_hash));
    json_object_object_add(o, "hash", json_object_new_string(e->hash));
    return o;
}

static int entry_string(json_object *j, const char *key, const char **ret, bg_err *err)
{
    json_object *v;
    if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string))
        return bg_err_set(err, -EBADMSG, "audit record: %s is not a string", key);
    *ret = json_object_get_string(v);
    return 0;
}

int auditchain_entry_from_json(json_object *j, auditchain_entry *ret, bg_err *err)
{
    json_object *v;
    int r;
    memset(ret, 0, sizeof(*ret));
    if (!json_object_object_get_ex(j, "seq", &v) || !json_object_is_type(v, json_type_int))
        return bg_err_set(err, -EBADMSG, "audit record: seq is not a number");
    ret->rec.seq = json_object_get_int64(v);
    if ((r = entry_string(j, "time", &ret->rec.time, err)) < 0 ||
        (r = entry_string(j, "actor", &ret->rec.actor, err)) < 0 ||
        (r = entry_string(j, "action", &ret->rec.action, err)) < 0 ||
        (r = entry_string(j, "node", &ret->rec.node, err)) < 0 ||
        (r = entry_string(j, "details", &ret->rec.details, err)) < 0 ||
        (r = entry_string(j, "prev_hash", &ret->prev_hash, err)) < 0 ||
        (r = entry_string(j, "hash", &ret->hash, err)) < 0)
        return r;
    return 0;
}
