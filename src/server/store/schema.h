/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The store's schema, one numbering for every backend: migration N is the
 * same change of the same tables in each backend's SQL dialect, written side
 * by side in schema.c so that a new migration cannot be added to one backend
 * only. A database's schema_version table holds how many have run. */

#include <stddef.h>

typedef struct store_migration {
    const char *sqlite;   /* SQLite dialect (BLOB, INTEGER, triggers with RAISE) */
    const char *postgres; /* PostgreSQL dialect (BYTEA, BIGINT, plpgsql triggers) */
} store_migration;

extern const store_migration store_migrations[];
/* The number of migrations: the schema version this code writes. */
extern const size_t store_schema_latest;
