/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The `key = value` parser (conf_parse) over a table with every field type,
 * with and without inline comments. Input: the file's text. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fconf {
    char name[16];
    char file[64];
    unsigned small;
    size_t big;
    bool flag;
    int colour;
} fconf;

static const conf_enum_name colours[] = {{"red", 1}, {"green", 2}, {NULL, 0}};

static const conf_field ffields[] = {
    CONF_STR(fconf, "name", name, "x", "string"),
    CONF_PATH(fconf, "file", file, "/etc/f", "path"),
    CONF_UINT(fconf, "small", small, 5, 10, 7, "uint"),
    CONF_UINT(fconf, "big", big, 0, 1ull << 40, 0, "size_t"),
    CONF_BOOL(fconf, "flag", flag, false, "bool"),
    CONF_ENUM(fconf, "colour", colour, colours, 1, "enum"),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    conf_format fmt = {
        .name = "fuzz.conf",
        .fields = ffields,
        .n_fields = ELEMENTSOF(ffields),
        .struct_size = sizeof(fconf),
        .max_file = 1u << 20,
    };
    fconf c, before;
    bg_err err = {0};

    for (int inline_comments = 0; inline_comments < 2; inline_comments++) {
        fmt.inline_comments = inline_comments;
        conf_defaults(&fmt, &c);
        before = c;
        /* on error the struct must be what it was */
        if (conf_parse(&fmt, &c, (const char *)data, size, "/etc/bootgate/fuzz.conf", &err) < 0 &&
            memcmp(&c, &before, sizeof(c)) != 0)
            __builtin_trap();
        if (strnlen(c.name, sizeof(c.name)) == sizeof(c.name) ||
            strnlen(c.file, sizeof(c.file)) == sizeof(c.file) || c.small < 5 || c.small > 10)
            __builtin_trap();
    }
    return 0;
}
