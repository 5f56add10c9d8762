/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `key = value` configuration files, one table of fields per format
 * (bootgated.conf, unlock.conf, admin.conf), in the manner of proto.c's field
 * tables: the table drives the defaults, the file loader and the setter of a
 * single key (command-line options, the kernel command line).
 *
 * File syntax: one `key = value` a line; white space around key and value is
 * dropped; the first '=' splits (the value may hold more); blank lines and
 * lines whose first non-blank character is '#' are comments, and with
 * inline_comments any '#' ends the line. A key given twice: the later line
 * wins (generated files get overrides appended). Unknown keys, values that do
 * not parse or do not fit, and lines without '=' are errors naming
 * file:line and the key; on any error the struct is left as it was. */

#include <stdbool.h>
#include <stddef.h>

#include "bgerr.h"

typedef enum conf_type {
    CONF_STRING, /* char[size] */
    CONF_PATH,   /* char[size]; from a file, relative values are taken relative
                    to the file's directory */
    CONF_UINT,   /* 4- or 8-byte unsigned (unsigned, size_t), decimal, min..max */
    CONF_BOOL,   /* bool: yes/true/1 or no/false/0 */
    CONF_ENUM,   /* an int-sized enum: one of names[] */
} conf_type;

typedef struct conf_enum_name {
    const char *name;
    int value;
} conf_enum_name;

typedef struct conf_field {
    const char *key;
    conf_type type;
    size_t offset;
    size_t size;
    unsigned long long min, max; /* CONF_UINT */
    const conf_enum_name *names; /* CONF_ENUM, ends with {NULL} */
    const char *def_str;         /* CONF_STRING, CONF_PATH; NULL = empty */
    unsigned long long def_num;  /* CONF_UINT, CONF_BOOL, CONF_ENUM */
    /* CONF_STRING: refuses a value beyond what the type checks (-EINVAL and
     * a message that starts with the key) */
    int (*check)(const char *value, bg_err *err);
    const char *doc; /* one line */
} conf_field;

typedef struct conf_format {
    const char *name; /* "bootgated.conf" */
    const conf_field *fields;
    size_t n_fields;
    size_t struct_size;
    size_t max_file;      /* bytes */
    bool inline_comments; /* '#' anywhere ends the line (unlock.conf) */
    /* Run after a file or a single key was applied, on the copy that becomes
     * the result: cross-field rules and derived values. seen[i] tells whether
     * fields[i] was set by that file or key. */
    int (*finish)(const struct conf_format *fmt, void *obj, const bool *seen, const char *path,
                  bg_err *err);
} conf_format;

/* Table entries. T is the struct type, M the member. CONF_SIZE_IS refuses at
 * compile time a member of another size than the type writes (a negative
 * array size): 4 or 8 bytes for CONF_UINT, a bool, an int-sized enum. */
#define CONF_MEMBER_SIZE(T, M) sizeof(((T *)0)->M)
#define CONF_SIZE_IS(T, M, ok) (sizeof(char[(ok) ? 1 : -1]) * CONF_MEMBER_SIZE(T, M))
#define CONF_STR(T, key, M, def, doc_)                                                             \
    {                                                                                              \
        key, CONF_STRING, offsetof(T, M), CONF_MEMBER_SIZE(T, M), .def_str = def, .doc = doc_      \
    }
#define CONF_STR_CHECKED(T, key, M, def, check_, doc_)                                             \
    {                                                                                              \
        key, CONF_STRING, offsetof(T, M), CONF_MEMBER_SIZE(T, M), .def_str = def, .check = check_, \
                                                                  .doc = doc_                      \
    }
#define CONF_PATH(T, key, M, def, doc_)                                                            \
    {                                                                                              \
        key, CONF_PATH, offsetof(T, M), CONF_MEMBER_SIZE(T, M), .def_str = def, .doc = doc_        \
    }
#define CONF_UINT(T, key, M, min_, max_, def, doc_)                                                \
    {                                                                                              \
        key, CONF_UINT, offsetof(T, M),                                                            \
            CONF_SIZE_IS(T, M, CONF_MEMBER_SIZE(T, M) == 4 || CONF_MEMBER_SIZE(T, M) == 8), min_,  \
            max_, .def_num = def, .doc = doc_                                                      \
    }
#define CONF_BOOL(T, key, M, def, doc_)                                                            \
    {                                                                                              \
        key, CONF_BOOL, offsetof(T, M),                                                            \
            CONF_SIZE_IS(T, M, CONF_MEMBER_SIZE(T, M) == sizeof(bool)), .def_num = def,            \
                                                                        .doc = doc_                \
    }
#define CONF_ENUM(T, key, M, names_, def, doc_)                                                    \
    {                                                                                              \
        key, CONF_ENUM, offsetof(T, M), CONF_SIZE_IS(T, M, CONF_MEMBER_SIZE(T, M) == sizeof(int)), \
            .names = names_, .def_num = def, .doc = doc_                                           \
    }

/* Zeroes obj and applies every field's default. */
void conf_defaults(const conf_format *fmt, void *obj);

/* Sets one key (no directory: a relative path stays as given), then runs
 * fmt->finish. Errors (-EINVAL): "unknown key 'K'", "K: '...' is not ...";
 * obj is unchanged then. */
int conf_set(const conf_format *fmt, void *obj, const char *key, const char *value, bg_err *err);

/* Reads path over obj. A missing file is 0 when !required. Errors: the
 * open/read error of read_file(), "PATH: contains a NUL byte",
 * "PATH:LINE: expected key = value", "PATH:LINE: unknown key 'K'",
 * "PATH:LINE: K: ..." (all -EINVAL but the I/O ones); obj is unchanged then. */
int conf_load(const conf_format *fmt, void *obj, const char *path, bool required, bg_err *err);

/* conf_load's work on text already read: path names the file in messages,
 * and its directory is where relative CONF_PATH values are taken from. */
int conf_parse(const conf_format *fmt, void *obj, const char *text, size_t size, const char *path,
               bg_err *err);

/* The field named key, or NULL. */
const conf_field *conf_find(const conf_format *fmt, const char *key);
/* For finish: whether key was set (key must be in the table). */
bool conf_seen(const conf_format *fmt, const bool *seen, const char *key);
