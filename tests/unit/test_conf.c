/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared `key = value` parser (src/lib/conf.c) on a table of every field
 * type, and the sanity of the real tables (bootgated.conf, unlock.conf). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "config.h" /* bootgated's: srv_config_format */

/* unlock.conf's table: the client's sources are not part of libbootgate */
#include "../../src/client/config.c"

typedef struct tconf {
    char name[8];
    char file[256];
    unsigned small;
    size_t big;
    bool flag;
    int colour;
    char checked[16];
    char a[8], b[8]; /* finish: not both */
} tconf;

enum { RED = 10, GREEN = 20, BLUE = 30 };

static const conf_enum_name colours[] = {{"red", RED}, {"green", GREEN}, {"blue", BLUE}, {NULL, 0}};

static int check_no_x(const char *v, bg_err *err)
{
    if (strchr(v, 'x'))
        return bg_err_set(err, -EINVAL, "checked: '%s' has an x", v);
    return 0;
}

static const conf_field tfields[] = {
    CONF_STR(tconf, "name", name, "dflt", "a short string"),
    CONF_PATH(tconf, "file", file, "/etc/t", "a path"),
    CONF_UINT(tconf, "small", small, 5, 10, 7, "uint 5..10"),
    CONF_UINT(tconf, "big", big, 0, 1ull << 40, 1ull << 33, "size_t 0..2^40"),
    CONF_BOOL(tconf, "flag", flag, true, "bool"),
    CONF_ENUM(tconf, "colour", colour, colours, GREEN, "enum"),
    CONF_STR_CHECKED(tconf, "checked", checked, NULL, check_no_x, "string with a check"),
    CONF_STR(tconf, "a", a, NULL, "one of a and b"),
    CONF_STR(tconf, "b", b, NULL, "one of a and b"),
};

static int tfinish(const conf_format *fmt, void *obj, const bool *seen, const char *path,
                   bg_err *err)
{
    if (conf_seen(fmt, seen, "a") && conf_seen(fmt, seen, "b"))
        return bg_err_set(err, -EINVAL, "%s: a and b both set", path);
    return 0;
}

static const conf_format tfmt = {
    .name = "t.conf",
    .fields = tfields,
    .n_fields = ELEMENTSOF(tfields),
    .struct_size = sizeof(tconf),
    .max_file = 4096,
    .finish = tfinish,
};

static const conf_format tfmt_inline = {
    .name = "t.conf",
    .fields = tfields,
    .n_fields = ELEMENTSOF(tfields),
    .struct_size = sizeof(tconf),
    .max_file = 4096,
    .inline_comments = true,
};

static char tmpdir[] = "/tmp/bootgate-test-conf.XXXXXX";

static char *write_conf(const char *name, const void *text, size_t len)
{
    char *path;
    FILE *f;
    assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
    f = fopen(path, "we");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

static void test_defaults(void **state)
{
    tconf c;
    memset(&c, 0xa5, sizeof(c));
    conf_defaults(&tfmt, &c);
    assert_string_equal(c.name, "dflt");
    assert_string_equal(c.file, "/etc/t");
    assert_int_equal(c.small, 7);
    assert_int_equal(c.big, 1ull << 33);
    assert_true(c.flag);
    assert_int_equal(c.colour, GREEN);
    assert_string_equal(c.checked, "");
    assert_string_equal(c.a, "");
}

/* A file over the defaults: rc, a substring of the message (errors) or the
 * values that changed (success; "=" means the default). */
typedef struct vector {
    const char *text;
    int rc;
    const char *needle;
    const char *name, *file; /* NULL: default; "@/x" = the directory + "/x" */
    unsigned small;          /* 0: default */
    size_t big;              /* 0: default */
    enum { DEFAULT, YES, NO } flag;
    int colour; /* 0: default */
} vector;

#define OK(t, ...)                                                                                 \
    {                                                                                              \
        .text = t, __VA_ARGS__                                                                     \
    }
#define BAD(t, rc_, msg)                                                                           \
    {                                                                                              \
        .text = t, .rc = rc_, .needle = msg                                                        \
    }

static const vector vectors[] = {
    /* syntax */
    OK(""),
    OK("# only a comment\n\n   \n\t# indented comment\n"),
    OK("  name   =   abc   \n", .name = "abc"),
    OK("name=abc", .name = "abc"), /* no final newline */
    OK("name = a=b\n", .name = "a=b"),
    OK("name = abc\r\n", .name = "abc"),
    OK("name = a#b\n", .name = "a#b"), /* '#' inside a value */
    OK("name =\n", .name = ""),
    OK("name = one\nname = two\n", .name = "two"), /* the later line wins */
    BAD("\n\nnokey\n", -EINVAL, "t.conf:3: expected key = value"),
    BAD("name = a\nnmae = b\n", -EINVAL, "t.conf:2: unknown key 'nmae'"),
    BAD("= x\n", -EINVAL, ":1: unknown key ''"),
    BAD("NAME = x\n", -EINVAL, ":1: unknown key 'NAME'"),
    /* strings */
    OK("name = 1234567\n", .name = "1234567"),
    BAD("name = 12345678\n", -EINVAL, "t.conf:1: name: value longer than 7"),
    OK("checked = abc\n"),
    BAD("checked = axc\n", -EINVAL, "t.conf:1: checked: 'axc' has an x"),
    /* paths */
    OK("file = /abs/f\n", .file = "/abs/f"),
    OK("file = rel/f\n", .file = "@/rel/f"),
    OK("file =\n", .file = ""),
    /* 239 bytes: fits alone, not behind the directory */
    BAD("file = "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        -EINVAL, "t.conf:1: file: path longer than 255"),
    /* uints */
    OK("small = 5\n", .small = 5),
    OK("small = 10\n", .small = 10),
    OK("small = +9\n", .small = 9),
    BAD("small = 4\n", -EINVAL, "t.conf:1: small: '4' is not a number in 5..10"),
    BAD("small = 11\n", -EINVAL, "small: '11' is not a number in 5..10"),
    BAD("small = -1\n", -EINVAL, "small: '-1' is not a number"),
    BAD("small = 6s\n", -EINVAL, "small: '6s' is not a number"),
    BAD("small = 0x6\n", -EINVAL, "small: '0x6' is not a number"),
    BAD("small =\n", -EINVAL, "small: '' is not a number"),
    BAD("small = 99999999999999999999999\n", -EINVAL, "is not a number in 5..10"),
    OK("big = 1099511627776\n", .big = 1ull << 40),
    BAD("big = 1099511627777\n", -EINVAL,
        "big: '1099511627777' is not a number in 0..1099511627776"),
    /* bools */
    OK("flag = no\n", .flag = NO),
    OK("flag = false\n", .flag = NO),
    OK("flag = 0\n", .flag = NO),
    OK("flag = no\nflag = yes\n", .flag = YES),
    OK("flag = no\nflag = true\n", .flag = YES),
    OK("flag = no\nflag = 1\n", .flag = YES),
    BAD("flag = maybe\n", -EINVAL, "t.conf:1: flag: 'maybe' is not yes/no"),
    BAD("flag = YES\n", -EINVAL, "flag: 'YES' is not yes/no"),
    /* enums */
    OK("colour = red\n", .colour = RED),
    OK("colour = blue\n", .colour = BLUE),
    BAD("colour = pink\n", -EINVAL, "t.conf:1: colour: 'pink' is not red/green/blue"),
    /* finish sees what the file set */
    OK("a = 1\n"),
    BAD("a = 1\nb = 2\n", -EINVAL, "t.conf: a and b both set"),
    /* an error after good lines: nothing of the good lines stays */
    BAD("name = zzz\nsmall = 9\nflag = no\nsmall = 99\n", -EINVAL, "t.conf:4: small:"),
};

static void test_vectors(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
        const vector *v = &vectors[i];
        _cleanup_(freep) char *path = write_conf("t.conf", v->text, strlen(v->text));
        tconf c, want;
        bg_err err = {{0}};
        int r;

        conf_defaults(&tfmt, &c);
        want = c;
        r = conf_load(&tfmt, &c, path, true, &err);
        if (r != v->rc)
            fail_msg("vector %zu: rc %d, want %d (%s)", i, r, v->rc, err.msg);
        if (r < 0) {
            if (!strstr(err.msg, v->needle))
                fail_msg("vector %zu: '%s' lacks '%s'", i, err.msg, v->needle);
            /* the message names the file:line first */
            if (strncmp(err.msg, path, strlen(path)) != 0)
                fail_msg("vector %zu: '%s' does not start with the path", i, err.msg);
            assert_memory_equal(&c, &want, sizeof(c));
            continue;
        }
        if (v->name)
            snprintf(want.name, sizeof(want.name), "%s", v->name);
        if (v->file && v->file[0] == '@')
            snprintf(want.file, sizeof(want.file), "%s%s", tmpdir, v->file + 1);
        else if (v->file)
            snprintf(want.file, sizeof(want.file), "%s", v->file);
        if (v->small)
            want.small = v->small;
        if (v->big)
            want.big = v->big;
        if (v->flag != DEFAULT)
            want.flag = v->flag == YES;
        if (v->colour)
            want.colour = v->colour;
        if (strstr(v->text, "checked = abc"))
            snprintf(want.checked, sizeof(want.checked), "abc");
        if (strstr(v->text, "a = 1"))
            snprintf(want.a, sizeof(want.a), "1");
        if (memcmp(&c, &want, sizeof(c)) != 0)
            fail_msg("vector %zu: the struct differs from what the file says", i);
    }
}

static void test_inline_comments(void **state)
{
    static const char text[] = "name = ab # a comment\n  small=8# another\n#flag = no\n";
    _cleanup_(freep) char *path = write_conf("inline.conf", text, strlen(text));
    tconf c;
    bg_err err = {{0}};

    conf_defaults(&tfmt_inline, &c);
    assert_int_equal(conf_load(&tfmt_inline, &c, path, true, &err), 0);
    assert_string_equal(c.name, "ab");
    assert_int_equal(c.small, 8);
    assert_true(c.flag);
    /* without inline comments the same line is a value too long for name */
    conf_defaults(&tfmt, &c);
    assert_int_equal(conf_load(&tfmt, &c, path, true, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ":1: name: value longer than 7"));
}

static void test_file_errors(void **state)
{
    static const char nul[] = "name = a\0b\n";
    _cleanup_(freep) char *nulpath = write_conf("nul.conf", nul, sizeof(nul) - 1);
    _cleanup_(freep) char *bigtext = malloc(5000);
    _cleanup_(freep) char *bigpath = NULL, *missing = NULL;
    tconf c, want;
    bg_err err = {{0}};

    conf_defaults(&tfmt, &c);
    want = c;
    assert_int_equal(conf_load(&tfmt, &c, nulpath, true, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "contains a NUL byte"));

    assert_non_null(bigtext);
    memset(bigtext, '#', 5000);
    bigpath = write_conf("big.conf", bigtext, 5000);
    assert_int_equal(conf_load(&tfmt, &c, bigpath, true, &err), -EFBIG);
    assert_non_null(strstr(err.msg, "larger than the limit of 4096 bytes"));

    assert_true(asprintf(&missing, "%s/missing.conf", tmpdir) > 0);
    assert_int_equal(conf_load(&tfmt, &c, missing, false, &err), 0);
    assert_int_equal(conf_load(&tfmt, &c, missing, true, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_memory_equal(&c, &want, sizeof(c));
}

static void test_set(void **state)
{
    static const struct {
        const char *key, *value;
        int rc;
        const char *needle;
    } cases[] = {
        {"name", "xyz", 0, NULL},
        {"file", "rel/f", 0, NULL}, /* no file: stays as given */
        {"small", "6", 0, NULL},
        {"flag", "no", 0, NULL},
        {"colour", "blue", 0, NULL},
        {"a", "1", 0, NULL},
        {"nosuch", "1", -EINVAL, "unknown key 'nosuch'"},
        {"small", "60", -EINVAL, "small: '60' is not a number in 5..10"},
        {"name", "123456789", -EINVAL, "name: value longer than 7"},
        {"colour", "red ", -EINVAL, "colour: 'red ' is not red/green/blue"},
        {"checked", "x", -EINVAL, "checked: 'x' has an x"},
    };
    tconf c, before;
    bg_err err = {{0}};

    conf_defaults(&tfmt, &c);
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        int r;
        before = c;
        r = conf_set(&tfmt, &c, cases[i].key, cases[i].value, &err);
        if (r != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, r, err.msg);
        if (r < 0) {
            if (strcmp(err.msg, cases[i].needle) != 0)
                fail_msg("case %zu: '%s', want '%s'", i, err.msg, cases[i].needle);
            assert_memory_equal(&c, &before, sizeof(c));
        }
    }
    assert_string_equal(c.name, "xyz");
    assert_string_equal(c.file, "rel/f");
    assert_int_equal(c.small, 6);
    assert_false(c.flag);
    assert_int_equal(c.colour, BLUE);
    assert_string_equal(c.a, "1");
    /* each call is one key: a and b set by two calls are not "both set" */
    assert_int_equal(conf_set(&tfmt, &c, "b", "2", &err), 0);
}

/* Every real table: keys unique, defaults in range and fitting, uint limits
 * within the member, enum defaults among the names. */
static void check_table(const conf_format *fmt)
{
    for (size_t i = 0; i < fmt->n_fields; i++) {
        const conf_field *f = &fmt->fields[i];
        assert_non_null(f->doc);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f->key, fmt->fields[j].key))
                fail_msg("%s: key '%s' twice", fmt->name, f->key);
        assert_true(f->offset + f->size <= fmt->struct_size);
        switch (f->type) {
        case CONF_STRING:
        case CONF_PATH:
            if (f->def_str && strlen(f->def_str) >= f->size)
                fail_msg("%s: default of '%s' does not fit", fmt->name, f->key);
            break;
        case CONF_UINT:
            assert_true(f->min <= f->def_num && f->def_num <= f->max);
            if (f->size == 4)
                assert_true(f->max <= UINT32_MAX);
            break;
        case CONF_BOOL:
            assert_true(f->def_num <= 1);
            break;
        case CONF_ENUM: {
            bool found = false;
            for (const conf_enum_name *e = f->names; e->name; e++)
                found |= (unsigned long long)e->value == f->def_num;
            assert_true(found);
            break;
        }
        }
    }
}

static void test_tables(void **state)
{
    check_table(&tfmt);
    check_table(&srv_config_format);
    check_table(&client_config_format);
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_inline_comments),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
