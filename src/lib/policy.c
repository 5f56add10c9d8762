/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Parsing: every check names the JSON path of the value it rejects. */

#define PATH_MAX_LEN 128

static int path_err(bg_err *err, const char *path, const char *fmt, ...) _printf_(3, 4);
static int path_err(bg_err *err, const char *path, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bg_err_set(err, -EINVAL, "%s: %s", path[0] ? path : "(document)", msg);
}

/* snprintf into a PATH_MAX_LEN buffer; a path cut short still names the place. */
static void subpath(char *buf, const char *fmt, ...) _printf_(2, 3);
static void subpath(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PATH_MAX_LEN, fmt, ap);
    va_end(ap);
}

static const char *json_type_label(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a fractional number";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "?";
}

/* Rejects keys not in allowed (NULL-terminated) and checks that required keys exist. */
static int check_keys(json_object *obj, const char *path, const char *const *allowed,
                      const char *const *required, bg_err *err)
{
    if (!json_object_is_type(obj, json_type_object))
        return path_err(err, path, "expected an object, got %s", json_type_label(obj));
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (!strcmp(key, allowed[i]))
                ok = true;
        if (!ok)
            return bg_err_set(err, -EINVAL, "%s%s%.64s: unknown key", path, path[0] ? "." : "",
                              key);
    }
    for (size_t i = 0; required && required[i]; i++)
        if (!json_object_object_get_ex(obj, required[i], NULL))
            return bg_err_set(err, -EINVAL, "%s%s%s: missing", path, path[0] ? "." : "",
                              required[i]);
    return 0;
}

static int get_string(json_object *o, const char *path, size_t max, bool printable,
                      const char **ret, bg_err *err)
{
    if (!json_object_is_type(o, json_type_string))
        return path_err(err, path, "expected a string, got %s", json_type_label(o));
    const char *s = json_object_get_string(o);
    size_t n = (size_t)json_object_get_string_len(o);
    if (n > max)
        return path_err(err, path, "longer than %zu bytes", max);
    if (strlen(s) != n)
        return path_err(err, path, "contains a NUL character");
    if (printable)
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return path_err(err, path, "contains a control character");
    *ret = s;
    return 0;
}

static int get_int(json_object *o, const char *path, int64_t min, int64_t max, int64_t *ret,
                   bg_err *err)
{
    if (!json_object_is_type(o, json_type_int))
        return path_err(err, path, "expected an integer, got %s", json_type_label(o));
    errno = 0;
    int64_t v = json_object_get_int64(o);
    /* json-c saturates out-of-range values at INT64_MAX/INT64_MIN. */
    if (v < min || v > max || v == INT64_MAX)
        return path_err(err, path, "integer out of range %" PRId64 "..%" PRId64, min, max);
    *ret = v;
    return 0;
}

static int get_array(json_object *o, const char *path, size_t min, size_t max, size_t *ret_n,
                     bg_err *err)
{
    if (!json_object_is_type(o, json_type_array))
        return path_err(err, path, "expected an array, got %s", json_type_label(o));
    size_t n = json_object_array_length(o);
    if (n < min)
        return path_err(err, path, "needs at least %zu element%s", min, min == 1 ? "" : "s");
    if (n > max)
        return path_err(err, path, "more than %zu elements", max);
    *ret_n = n;
    return 0;
}

static int get_digest(json_object *o, const char *path, uint8_t out[POLICY_DIGEST_SIZE],
                      bg_err *err)
{
    const char *s;
    int r = get_string(o, path, 2 * POLICY_DIGEST_SIZE, true, &s, err);
    if (r < 0)
        return r;
    if (strlen(s) != 2 * POLICY_DIGEST_SIZE ||
        hex_decode_exact(s, out, POLICY_DIGEST_SIZE, NULL) < 0)
        return path_err(err, path, "not %u hex digits", 2 * POLICY_DIGEST_SIZE);
    return 0;
}

static int get_pcr(json_object *o, const char *path, uint32_t *ret, bg_err *err)
{
    int64_t v;
    int r = get_int(o, path, 0, PCR_COUNT - 1, &v, err);
    if (r < 0)
        return r;
    *ret = (uint32_t)v;
    return 0;
}

static int get_type(json_object *o, const char *path, uint32_t *ret, bg_err *err)
{
    const char *s;
    int r = get_string(o, path, 64, true, &s, err);
    if (r < 0)
        return r;
    if (eventlog_type_from_name(s, ret) < 0)
        return path_err(err, path, "unknown event type '%s'", s);
    return 0;
}

bool policy_name_ok(const char *s)
{
    if (!*s || strlen(s) > POLICY_MAX_NAME)
        return false;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
              strchr("._-+:@", *s)))
            return false;
    return true;
}

static int get_name(json_object *o, const char *path, char **ret, bg_err *err)
{
    const char *s;
    int r = get_string(o, path, POLICY_MAX_NAME, true, &s, err);
    if (r < 0)
        return r;
    if (!policy_name_ok(s))
        return path_err(err, path, "names use letters, digits and . _ - + : @ only");
    *ret = strdup(s);
    return *ret ? 0 : -ENOMEM;
}

/* RFC 3339 UTC, exactly "YYYY-MM-DDTHH:MM:SSZ". */
static int parse_time(const char *s, time_t *ret)
{
    struct tm tm = {0};
    char tail;
    if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%c", &tm.tm_year, &tm.tm_mon,
                                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tail) != 6)
        return -EINVAL;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -EINVAL;
    if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    int y = tm.tm_year;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int mday = tm.tm_mday;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != mday || tm.tm_year != y - 1900)
        return -EINVAL; /* e.g. Feb 30 normalized to March */
    *ret = t;
    return 0;
}

static int parse_event(json_object *o, const char *path, policy_event *ev, bg_err *err)
{
    static const char *const keys[] = {"pcr", "type", "digest", "desc", NULL};
    static const char *const req[] = {"pcr", "type", "digest", NULL};
    char p[PATH_MAX_LEN];
    json_object *v;
    int r = check_keys(o, path, keys, req, err);
    if (r < 0)
        return r;
    json_object_object_get_ex(o, "pcr", &v);
    subpath(p, "%s.pcr", path);
    if ((r = get_pcr(v, p, &ev->pcr, err)) < 0)
        return r;
    json_object_object_get_ex(o, "type", &v);
    subpath(p, "%s.type", path);
    if ((r = get_type(v, p, &ev->type, err)) < 0)
        return r;
    json_object_object_get_ex(o, "digest", &v);
    subpath(p, "%s.digest", path);
    if ((r = get_digest(v, p, ev->digest, err)) < 0)
        return r;
    if (json_object_object_get_ex(o, "desc", &v)) {
        const char *s;
        subpath(p, "%s.desc", path);
        if ((r = get_string(v, p, POLICY_MAX_DESC, false, &s, err)) < 0)
            return r;
        if (!(ev->desc = strdup(s)))
            return -ENOMEM;
    }
    return 0;
}

static int parse_pcr_key(const char *k, uint32_t *ret)
{
    /* Decimal without leading zeros, so that "4" and "04" cannot both appear. */
    if (!k[0] || strlen(k) > 2 || (k[0] == '0' && k[1]) || !('0' <= k[0] && k[0] <= '9') ||
        (k[1] && !('0' <= k[1] && k[1] <= '9')))
        return -EINVAL;
    unsigned v = (unsigned)atoi(k);
    if (v >= PCR_COUNT)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_baseline(json_object *o, const char *path, policy_baseline *b, bg_err *err)
{
    static const char *const keys[] = {"name", "pcrs", "events", NULL};
    static const char *const req[] = {"name", "pcrs", NULL};
    char p[PATH_MAX_LEN];
    json_object *v;
    size_t n;
    int r = check_keys(o, path, keys, req, err);
    if (r < 0)
        return r;
    json_object_object_get_ex(o, "name", &v);
    subpath(p, "%s.name", path);
    if ((r = get_name(v, p, &b->name, err)) < 0)
        return r;
    json_object_object_get_ex(o, "pcrs", &v);
    subpath(p, "%s.pcrs", path);
    if (!json_object_is_type(v, json_type_object))
        return path_err(err, p, "expected an object, got %s", json_type_label(v));
    json_object_object_foreach(v, key, val)
    {
        uint32_t pcr;
        char pp[PATH_MAX_LEN];
        if (parse_pcr_key(key, &pcr) < 0)
            return bg_err_set(err, -EINVAL, "%s.%.16s: not a PCR index 0..23", p, key);
        subpath(pp, "%s.%s", p, key);
        if ((r = get_digest(val, pp, b->pcrs[pcr], err)) < 0)
            return r;
        b->pcr_mask |= 1u << pcr;
    }
    if (json_object_object_get_ex(o, "events", &v)) {
        subpath(p, "%s.events", path);
        if ((r = get_array(v, p, 0, POLICY_MAX_EVENTS, &n, err)) < 0)
            return r;
        if (n && !(b->events = calloc(n, sizeof *b->events)))
            return -ENOMEM;
        b->n_events = n;
        for (size_t i = 0; i < n; i++) {
            subpath(p, "%s.events[%zu]", path, i);
            if ((r = parse_event(json_object_array_get_idx(v, i), p, &b->events[i], err)) < 0)
                return r;
        }
    }
    return 0;
}

static int parse_rule(json_object *o, const char *path, policy_rule *rule, bg_err *err)
{
    static const char *const keys[] = {"pcr", "type", "desc", "digests", NULL};
    static const char *const req[] = {"pcr", "type", "digests", NULL};
    char p[PATH_MAX_LEN];
    json_object *v;
    size_t n;
    int r = check_keys(o, path, keys, req, err);
    if (r < 0)
        return r;
    json_object_object_get_ex(o, "pcr", &v);
    subpath(p, "%s.pcr", path);
    if ((r = get_pcr(v, p, &rule->pcr, err)) < 0)
        return r;
    json_object_object_get_ex(o, "type", &v);
    subpath(p, "%s.type", path);
    if ((r = get_type(v, p, &rule->type, err)) < 0)
        return r;
    if (json_object_object_get_ex(o, "desc", &v)) {
        const char *s;
        subpath(p, "%s.desc", path);
        if ((r = get_string(v, p, POLICY_MAX_DESC, false, &s, err)) < 0)
            return r;
        if (!(rule->desc = strdup(s)))
            return -ENOMEM;
    }
    json_object_object_get_ex(o, "digests", &v);
    subpath(p, "%s.digests", path);
    if ((r = get_array(v, p, 1, POLICY_MAX_RULE_DIGESTS, &n, err)) < 0)
        return r;
    if (!(rule->digests = calloc(n, sizeof *rule->digests)))
        return -ENOMEM;
    rule->n_digests = n;
    for (size_t i = 0; i < n; i++) {
        subpath(p, "%s.digests[%zu]", path, i);
        if ((r = get_digest(json_object_array_get_idx(v, i), p, rule->digests[i], err)) < 0)
            return r;
    }
    return 0;
}

static int ima_digest_cmp(const void *a, const void *b)
{
    const policy_ima_digest *x = a, *y = b;
    if (x->alg != y->alg)
        return x->alg < y->alg ? -1 : 1;
    return memcmp(x->bytes, y->bytes, TPMALG_MAX_DIGEST);
}

/* "sha256:hex" as IMA's ima-ng template writes file digests. */
static int parse_ima_digest(const char *s, policy_ima_digest *d)
{
    const char *colon = strchr(s, ':');
    char alg[16];
    if (!colon || (size_t)(colon - s) >= sizeof alg)
        return -EINVAL;
    memcpy(alg, s, (size_t)(colon - s));
    alg[colon - s] = 0;
    const tpmalg *a = tpmalg_by_name(alg);
    if (!a || strlen(colon + 1) != 2 * a->size)
        return -EINVAL;
    memset(d, 0, sizeof *d);
    d->alg = a->id;
    d->size = (uint16_t)a->size;
    return hex_decode_exact(colon + 1, d->bytes, a->size, NULL) < 0 ? -EINVAL : 0;
}

static void ima_free(policy_ima *ima)
{
    if (!ima)
        return;
    regex_t *re = ima->ignore_re;
    for (size_t i = 0; i < ima->n_ignore; i++) {
        if (re && ima->ignore_src[i])
            regfree(&re[i]);
        free(ima->ignore_src[i]);
    }
    free(ima->ignore_src);
    free(ima->ignore_re);
    free(ima->allow);
    free(ima);
}

static int parse_ima(json_object *o, policy_ima **ret, bg_err *err)
{
    static const char *const keys[] = {"allow", "ignore_paths", NULL};
    char p[PATH_MAX_LEN];
    json_object *v;
    size_t n;
    int r = check_keys(o, "ima", keys, NULL, err);
    if (r < 0)
        return r;
    policy_ima *ima = calloc(1, sizeof *ima);
    if (!ima)
        return -ENOMEM;
    *ret = ima; /* freed by the caller's policy_free on failure */
    if (json_object_object_get_ex(o, "allow", &v)) {
        if ((r = get_array(v, "ima.allow", 0, POLICY_MAX_IMA_ALLOW, &n, err)) < 0)
            return r;
        if (n && !(ima->allow = calloc(n, sizeof *ima->allow)))
            return -ENOMEM;
        ima->n_allow = n;
        for (size_t i = 0; i < n; i++) {
            const char *s;
            subpath(p, "ima.allow[%zu]", i);
            if ((r = get_string(json_object_array_get_idx(v, i), p, 16 + 2 * TPMALG_MAX_DIGEST,
                                true, &s, err)) < 0)
                return r;
            if (parse_ima_digest(s, &ima->allow[i]) < 0)
                return path_err(err, p, "not ALG:HEX with a known hash (e.g. sha256:<64 hex>)");
        }
        if (n)
            qsort(ima->allow, n, sizeof *ima->allow, ima_digest_cmp);
    }
    if (json_object_object_get_ex(o, "ignore_paths", &v)) {
        if ((r = get_array(v, "ima.ignore_paths", 0, POLICY_MAX_IMA_IGNORE, &n, err)) < 0)
            return r;
        if (n) {
            ima->ignore_src = calloc(n, sizeof(char *));
            ima->ignore_re = calloc(n, sizeof(regex_t));
            if (!ima->ignore_src || !ima->ignore_re)
                return -ENOMEM;
        }
        ima->n_ignore = n;
        for (size_t i = 0; i < n; i++) {
            const char *s;
            subpath(p, "ima.ignore_paths[%zu]", i);
            if ((r = get_string(json_object_array_get_idx(v, i), p, POLICY_MAX_REGEX, true, &s,
                                err)) < 0)
                return r;
            r = regcomp(&((regex_t *)ima->ignore_re)[i], s, REG_EXTENDED | REG_NOSUB);
            if (r != 0) {
                char m[96];
                regerror(r, &((regex_t *)ima->ignore_re)[i], m, sizeof m);
                return path_err(err, p, "bad regular expression: %s", m);
            }
            if (!(ima->ignore_src[i] = strdup(s))) {
                regfree(&((regex_t *)ima->ignore_re)[i]);
                return -ENOMEM;
            }
        }
    }
    return 0;
}

static int parse_document(json_object *o, policy *p, bg_err *err)
{
    static const char *const keys[] = {"name",      "version",     "mode",        "pcr_bank",
                                       "gate_pcrs", "baselines",   "event_rules", "ima",
                                       "not_after", "description", NULL};
    static const char *const req[] = {"name", "version", NULL};
    char path[PATH_MAX_LEN];
    json_object *v;
    size_t n;
    int64_t iv;
    const char *s;
    int r = check_keys(o, "", keys, req, err);
    if (r < 0)
        return r;

    json_object_object_get_ex(o, "name", &v);
    if ((r = get_name(v, "name", &p->name, err)) < 0)
        return r;
    json_object_object_get_ex(o, "version", &v);
    /* 2^53: still exact in every JSON implementation that reads it back. */
    if ((r = get_int(v, "version", 1, (INT64_C(1) << 53), &iv, err)) < 0)
        return r;
    p->version = (uint64_t)iv;

    p->mode = POLICY_MODE_ENFORCE;
    if (json_object_object_get_ex(o, "mode", &v)) {
        if ((r = get_string(v, "mode", 16, true, &s, err)) < 0)
            return r;
        if (!strcmp(s, "audit"))
            p->mode = POLICY_MODE_AUDIT;
        else if (strcmp(s, "enforce"))
            return path_err(err, "mode", "must be \"enforce\" or \"audit\"");
    }
    if (json_object_object_get_ex(o, "pcr_bank", &v)) {
        if ((r = get_string(v, "pcr_bank", 16, true, &s, err)) < 0)
            return r;
        if (strcmp(s, "sha256"))
            return path_err(err, "pcr_bank", "only \"sha256\" is supported");
    }
    if (json_object_object_get_ex(o, "description", &v) &&
        (r = get_string(v, "description", 4096, false, &s, err)) < 0)
        return r;

    p->gate_mask = POLICY_DEFAULT_GATE_MASK;
    if (json_object_object_get_ex(o, "gate_pcrs", &v)) {
        if ((r = get_array(v, "gate_pcrs", 1, PCR_COUNT, &n, err)) < 0)
            return r;
        p->gate_mask = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t pcr;
            subpath(path, "gate_pcrs[%zu]", i);
            if ((r = get_pcr(json_object_array_get_idx(v, i), path, &pcr, err)) < 0)
                return r;
            if (p->gate_mask & (1u << pcr))
                return path_err(err, path, "PCR %u listed twice", pcr);
            p->gate_mask |= 1u << pcr;
        }
    }

    if (json_object_object_get_ex(o, "baselines", &v)) {
        if ((r = get_array(v, "baselines", 0, POLICY_MAX_BASELINES, &n, err)) < 0)
            return r;
        if (n && !(p->baselines = calloc(n, sizeof *p->baselines)))
            return -ENOMEM;
        p->n_baselines = n;
        for (size_t i = 0; i < n; i++) {
            subpath(path, "baselines[%zu]", i);
            if ((r = parse_baseline(json_object_array_get_idx(v, i), path, &p->baselines[i], err)) <
                0)
                return r;
            for (size_t j = 0; j < i; j++)
                if (!strcmp(p->baselines[j].name, p->baselines[i].name))
                    return bg_err_set(err, -EINVAL, "%s.name: '%s' used twice", path,
                                      p->baselines[i].name);
        }
    }
    if (json_object_object_get_ex(o, "event_rules", &v)) {
        if ((r = get_array(v, "event_rules", 0, POLICY_MAX_RULES, &n, err)) < 0)
            return r;
        if (n && !(p->rules = calloc(n, sizeof *p->rules)))
            return -ENOMEM;
        p->n_rules = n;
        for (size_t i = 0; i < n; i++) {
            subpath(path, "event_rules[%zu]", i);
            if ((r = parse_rule(json_object_array_get_idx(v, i), path, &p->rules[i], err)) < 0)
                return r;
        }
    }
    if (p->n_baselines == 0 && p->n_rules == 0)
        return path_err(err, "", "needs at least one baseline or event rule");

    if (json_object_object_get_ex(o, "ima", &v) && (r = parse_ima(v, &p->ima, err)) < 0)
        return r;
    /* PCR 10 is IMA's: its value differs on every boot (measurement order), so
     * it is gated by the ima section, never by a baseline value. */
    if ((p->gate_mask & (1u << IMA_PCR)) && !p->ima)
        return path_err(err, "gate_pcrs", "PCR 10 is gated only with an \"ima\" section");

    if (json_object_object_get_ex(o, "not_after", &v)) {
        if ((r = get_string(v, "not_after", 32, true, &s, err)) < 0)
            return r;
        if (parse_time(s, &p->not_after) < 0)
            return path_err(err, "not_after", "not a UTC time YYYY-MM-DDTHH:MM:SSZ");
        if (!(p->not_after_str = strdup(s)))
            return -ENOMEM;
        p->has_not_after = true;
    }
    return 0;
}

int policy_from_json(json_object *obj, policy **ret, bg_err *err)
{
    _cleanup_(policy_freep) policy *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    int r = parse_document(obj, p, err);
    if (r < 0)
        return r == -ENOMEM ? bg_err_set(err, r, "out of memory") : r;
    r = policy_canonicalize(obj, &p->canonical, &p->canonical_size, err);
    if (r < 0)
        return r;
    p->doc = json_object_get(obj);
    *ret = TAKE_PTR(p);
    return 0;
}

int policy_parse(const char *json, size_t size, policy **ret, bg_err *err)
{
    if (size > POLICY_MAX_SIZE)
        return bg_err_set(err, -EFBIG, "policy larger than %u bytes", POLICY_MAX_SIZE);
    if (size > INT32_MAX || memchr(json, 0, size))
        return bg_err_set(err, -EINVAL, "policy contains a NUL byte");
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, json, (int)size);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t consumed = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        return bg_err_set(
            err, -EINVAL, "offset %zu: not valid JSON: %s", consumed,
            json_tokener_error_desc(jerr == json_tokener_success ? json_tokener_continue : jerr));
    }
    for (size_t i = consumed; i < size; i++)
        if (!strchr(" \t\r\n", json[i])) {
            json_object_put(obj);
            return bg_err_set(err, -EINVAL, "offset %zu: data after the JSON document", i);
        }
    int r = policy_from_json(obj, ret, err);
    json_object_put(obj);
    return r;
}

int policy_load(const char *path, policy **ret, bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    int r = read_file(path, POLICY_MAX_SIZE, &buf, &size, err);
    if (r < 0)
        return r;
    r = policy_parse((const char *)buf, size, ret, err);
    if (r < 0)
        return bg_err_prefix(err, r, "%s", path);
    return 0;
}

void policy_free(policy *p)
{
    if (!p)
        return;
    free(p->name);
    for (size_t i = 0; i < p->n_baselines; i++) {
        free(p->baselines[i].name);
        for (size_t j = 0; j < p->baselines[i].n_events; j++)
            free(p->baselines[i].events[j].desc);
        free(p->baselines[i].events);
    }
    free(p->baselines);
    for (size_t i = 0; i < p->n_rules; i++) {
        free(p->rules[i].desc);
        free(p->rules[i].digests);
    }
    free(p->rules);
    ima_free(p->ima);
    free(p->not_after_str);
    free(p->canonical);
    json_object_put(p->doc);
    free(p);
}

/* PCR lists ---------------------------------------------------------------- */

int policy_parse_pcr_list(const char *s, uint32_t *ret_mask, bg_err *err)
{
    uint32_t mask = 0;
    const char *p = s;
    if (!*p)
        return bg_err_set(err, -EINVAL, "empty PCR list");
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9')
            return bg_err_set(err, -EINVAL, "PCR list '%s': expected a number at '%s'", s, p);
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (*end == '-') {
            p = end + 1;
            if (*p < '0' || *p > '9')
                return bg_err_set(err, -EINVAL, "PCR list '%s': bad range", s);
            b = strtoul(p, &end, 10);
        }
        if (a >= PCR_COUNT || b >= PCR_COUNT || b < a)
            return bg_err_set(err, -EINVAL, "PCR list '%s': PCRs are 0..23", s);
        for (unsigned long i = a; i <= b; i++)
            mask |= 1u << i;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p)
                return bg_err_set(err, -EINVAL, "PCR list '%s': trailing comma", s);
        } else if (*p)
            return bg_err_set(err, -EINVAL, "PCR list '%s': unexpected '%c'", s, *p);
    }
    *ret_mask = mask;
    return 0;
}

void policy_format_pcr_mask(uint32_t mask, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < PCR_COUNT && n < size; i++) {
        if (!(mask & (1u << i)))
            continue;
        unsigned j = i;
        while (j + 1 < PCR_COUNT && (mask & (1u << (j + 1))))
            j++;
        int w = j == i       ? snprintf(buf + n, size - n, "%s%u", n ? "," : "", i)
                : j == i + 1 ? snprintf(buf + n, size - n, "%s%u,%u", n ? "," : "", i, j)
                             : snprintf(buf + n, size - n, "%s%u-%u", n ? "," : "", i, j);
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
        i = j;
    }
}

const char *policy_verdict_name(policy_verdict v)
{
    switch (v) {
    case POLICY_PASS:
        return "pass";
    case POLICY_FAIL:
        return "fail";
    case POLICY_EXPIRED:
        return "expired";
    case POLICY_EVIDENCE:
        return "evidence";
    case POLICY_INVALID:
        return "invalid";
    }
    return "?";
}

const char *policy_mode_name(policy_mode m)
{
    return m == POLICY_MODE_AUDIT ? "audit" : "enforce";
}
