/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgate-unlock's configuration parser (src/client/config.c, compiled into
 * this test: the client's sources are not part of libbootgate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/client/config.c"

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/bootgate-test-config.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_defaults(void **state)
{
    client_config c;
    config_defaults(&c);
    assert_string_equal(c.tcti, "device:/dev/tpmrm0");
    assert_string_equal(c.ca, "/etc/bootgate/ca.pem");
    assert_true(c.timeout_s > 0);
    assert_int_equal(c.ek_type, TPM_EK_AUTO);
    assert_false(c.allow_discards);
}

static void test_file(void **state)
{
    client_config c;
    bg_err err = {{0}};
    char *p = write_tmp("# comment\n"
                        "tcti = swtpm:host=127.0.0.1,port=2321\n"
                        "  timeout=42   # trailing comment\n"
                        "\n"
                        "allow_discards = yes\n"
                        "ek_type = ecc\n"
                        "server = https://bootgate.example:8443\n");
    config_defaults(&c);
    assert_int_equal(config_load(&c, p, true, &err), 0);
    assert_string_equal(c.tcti, "swtpm:host=127.0.0.1,port=2321");
    assert_int_equal(c.timeout_s, 42);
    assert_true(c.allow_discards);
    assert_int_equal(c.ek_type, TPM_EK_ECC);
    assert_string_equal(c.server, "https://bootgate.example:8443");
    unlink(p);
    free(p);
}

static void test_bad(void **state)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"nokey\n", ":1: expected key = value"},
        {"\nfoo = bar\n", ":2: unknown key 'foo'"},
        {"timeout = -1\n", "not a number"},
        {"timeout = 12s\n", "not a number"},
        {"timeout = 99999999999999999999\n", "not a number"},
        {"allow_discards = maybe\n", "not yes/no"},
        {"ek_type = dsa\n", "not auto/rsa/ecc"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        client_config c;
        bg_err err = {{0}};
        char *p = write_tmp(cases[i].text);
        config_defaults(&c);
        assert_int_equal(config_load(&c, p, true, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
        unlink(p);
        free(p);
    }
}

static void test_missing(void **state)
{
    client_config c;
    bg_err err = {{0}};
    config_defaults(&c);
    assert_int_equal(config_load(&c, "/nonexistent/unlock.conf", false, &err), 0);
    assert_int_equal(config_load(&c, "/nonexistent/unlock.conf", true, &err), -ENOENT);
}

static void test_cmdline(void **state)
{
    client_config c;
    bg_err err = {{0}};
    char *p = write_tmp("BOOT_IMAGE=/vmlinuz root=/dev/mapper/r rd.bootgate.timeout=90 quiet\n");
    config_defaults(&c);
    assert_int_equal(config_load_cmdline(&c, p, &err), 0);
    assert_int_equal(c.timeout_s, 90);
    unlink(p);
    free(p);
    p = write_tmp("rd.bootgate.timeout=soon\n");
    assert_int_equal(config_load_cmdline(&c, p, &err), -EINVAL);
    assert_int_equal(c.timeout_s, 90);
    unlink(p);
    free(p);
    p = write_tmp("quiet rd.bootgate.url=https://10.0.2.2:8443 rd.bootgate.timeout=30\n");
    assert_int_equal(config_load_cmdline(&c, p, &err), 0);
    assert_string_equal(c.server, "https://10.0.2.2:8443");
    assert_int_equal(c.timeout_s, 30);
    unlink(p);
    free(p);
    /* Absent /proc/cmdline: nothing changes. */
    assert_int_equal(config_load_cmdline(&c, "/nonexistent/cmdline", &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_file),    cmocka_unit_test(test_bad),
        cmocka_unit_test(test_missing),  cmocka_unit_test(test_cmdline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
