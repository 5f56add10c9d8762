/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verdict table (verdict.h): complete, one spelling per verdict, and the
 * only place in the sources that spells one. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nonce.h"
#include "policy.h"
#include "quote.h"
#include "verdict.h"

static void test_table_complete(void **state)
{
    for (unsigned i = 0; i < _VERDICT_MAX; i++) {
        const verdict_info *vi = verdict_get((bg_verdict)i);
        bg_verdict back;
        /* every value has its own row (verdict_get falls back to INTERNAL) */
        assert_ptr_equal(vi, verdict_get((bg_verdict)i));
        assert_true(i == VERDICT_INTERNAL || vi != verdict_get(VERDICT_INTERNAL));
        assert_non_null(vi->name);
        assert_true(strspn(vi->name, "abcdefghijklmnopqrstuvwxyz_") == strlen(vi->name));
        assert_int_equal(verdict_from_name(vi->name, &back), 0);
        assert_int_equal(back, i);
        /* only OK is a 200; a denial is 403 */
        assert_int_equal(vi->http_status, i == VERDICT_OK ? 200 : 403);
        assert_int_equal(vi->cls == VERDICT_CLASS_OK, i == VERDICT_OK);
        /* break-glass waives policy only, never identity or evidence */
        if (vi->waivable || vi->breakglass_code)
            assert_int_equal(vi->cls, VERDICT_CLASS_POLICY);
        assert_int_equal(vi->breakglass_code, vi->waivable);
        /* two spellings of one verdict: no other row has this name */
        for (unsigned j = 0; j < i; j++)
            assert_string_not_equal(vi->name, verdict_get((bg_verdict)j)->name);
    }
    assert_ptr_equal(verdict_get(_VERDICT_MAX), verdict_get(VERDICT_INTERNAL));
    assert_int_equal(verdict_from_name("ak-refused", &(bg_verdict){0}), -EINVAL);
    assert_int_equal(verdict_from_name(NULL, &(bg_verdict){0}), -EINVAL);
}

/* The verdicts of the library's and the server's own enums are rows of the
 * table, each its own, spelled the same everywhere. */
static void test_enums_map(void **state)
{
    for (unsigned q = 0; q < _QUOTE_VERDICT_MAX; q++) {
        bg_verdict v = verdict_from_quote((quote_verdict)q);
        assert_true(q == QUOTE_VALID ? v == VERDICT_OK : v != VERDICT_OK && v != VERDICT_INTERNAL);
        assert_string_equal(quote_verdict_name((quote_verdict)q), verdict_name(v));
        for (unsigned p = 0; p < q; p++)
            assert_int_not_equal(v, verdict_from_quote((quote_verdict)p));
    }
    for (unsigned n = NONCE_OK; n <= NONCE_EXPIRED; n++) {
        bg_verdict v = nonce_status_verdict((nonce_status)n);
        assert_true(n == NONCE_OK ? v == VERDICT_OK : v != VERDICT_INTERNAL);
        assert_string_equal(nonce_status_name((nonce_status)n), verdict_name(v));
    }
    assert_int_equal(verdict_get(VERDICT_AK_REFUSED)->cls, VERDICT_CLASS_UNPROVEN);
    assert_int_equal(verdict_get(VERDICT_BAD_SIGNATURE)->cls, VERDICT_CLASS_UNPROVEN);
    assert_int_equal(verdict_get(VERDICT_PCR_DIGEST_MISMATCH)->cls, VERDICT_CLASS_EVIDENCE);
    assert_int_equal(verdict_get(VERDICT_PCR_NOT_QUOTED)->cls, VERDICT_CLASS_EVIDENCE);
    assert_int_equal(verdict_get(VERDICT_EVENTLOG_MISMATCH)->cls, VERDICT_CLASS_EVIDENCE);
    assert_false(verdict_get(VERDICT_POLICY_INVALID)->waivable);
    assert_true(verdict_get(VERDICT_POLICY_DENIED)->waivable);
}

/* Reads path into a malloc'd string (NULL if unreadable). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t size = 0;
    if (!f)
        return NULL;
    FILE *m = open_memstream(&buf, &size);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* Where verdicts are decided, encoded or shown, a verdict is never spelled
 * as a string (no strcmp on verdict strings, no second table), and no file
 * spells one with hyphens. "ok" and "internal" are also the generic status
 * and error words of the HTTP API, so only their hyphen form is checked. */
static void scan_dir(const char *dir, bool literals)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned files = 0;
    if (!d)
        fail_msg("cannot open %s", dir);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char path[4096], *text;
        if (len < 3 || (strcmp(de->d_name + len - 2, ".c") && strcmp(de->d_name + len - 2, ".h") &&
                        (len < 4 || strcmp(de->d_name + len - 3, ".sh"))))
            continue;
        if (!strcmp(de->d_name, "verdict.c") || !strcmp(de->d_name, "test_verdict.c"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (!(text = slurp(path)))
            fail_msg("cannot read %s", path);
        files++;
        for (unsigned i = 0; i < _VERDICT_MAX; i++) {
            const char *name = verdict_get((bg_verdict)i)->name;
            char quoted[80], hyphen[80];
            snprintf(quoted, sizeof(quoted), "\"%s\"", name);
            snprintf(hyphen, sizeof(hyphen), "%s", name);
            for (char *p = hyphen; *p; p++)
                if (*p == '_')
                    *p = '-';
            if (strchr(name, '_') && strstr(text, hyphen))
                fail_msg("%s spells verdict %s as %s", path, name, hyphen);
            if (literals && i != VERDICT_OK && i != VERDICT_INTERNAL && strstr(text, quoted))
                fail_msg("%s spells verdict %s as a string: use bg_verdict (verdict.h)", path,
                         name);
        }
        free(text);
    }
    closedir(d);
    assert_true(files > 0);
}

static void test_one_spelling_in_sources(void **state)
{
    const char *src = getenv("BOOTGATE_SRCDIR");
    char dir[4096];
    if (!src)
        skip();
    /* where verdicts are decided, encoded or shown */
    static const char *const literal_dirs[] = {"src/lib", "src/client", "src/ctl"};
    for (size_t i = 0; i < sizeof(literal_dirs) / sizeof(*literal_dirs); i++) {
        snprintf(dir, sizeof(dir), "%s/%s", src, literal_dirs[i]);
        scan_dir(dir, true);
    }
    /* the server's admin API has error codes of the same words (a 404
     * "node_unknown"), so there the check is for the unlock path's files */
    snprintf(dir, sizeof(dir), "%s/src/server", src);
    scan_dir(dir, false);
    static const char *const unlock_path[] = {"unlock.c", "evidence.c", "nonce.c", "metrics.c",
                                              "denial.c"};
    for (size_t i = 0; i < sizeof(unlock_path) / sizeof(*unlock_path); i++) {
        char path[4096], *text;
        snprintf(path, sizeof(path), "%s/src/server/%s", src, unlock_path[i]);
        if (!(text = slurp(path)))
            fail_msg("cannot read %s", path);
        for (unsigned v = 0; v < _VERDICT_MAX; v++) {
            char quoted[80];
            if (v == VERDICT_OK || v == VERDICT_INTERNAL)
                continue;
            snprintf(quoted, sizeof(quoted), "\"%s\"", verdict_get((bg_verdict)v)->name);
            if (strstr(text, quoted))
                fail_msg("%s spells verdict %s as a string", path, quoted);
        }
        free(text);
    }
    snprintf(dir, sizeof(dir), "%s/tests/integration", src);
    scan_dir(dir, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_enums_map),
        cmocka_unit_test(test_one_spelling_in_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
