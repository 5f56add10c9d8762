/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl db status|migrate: the store's schema, through the same code
 * bootgated runs (store.h), for either backend. bootgated migrates at start;
 * these let an operator look first, or migrate before the replicas are
 * upgraded. */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: bootgatectl db status  --store URL [--json]\n"
               "       bootgatectl db migrate --store URL\n\n"
               "  --store URL   sqlite:///path/to/bootgate.db or postgresql://... (as `store =`\n"
               "                in bootgated.conf; --db is the same option)\n"
               "  --json        status as JSON\n\n"
               "status prints the backend and the schema version of the database and of this\n"
               "build; it exits 1 when the database needs a migration or is newer than this\n"
               "build. migrate runs the missing migrations (safe while replicas run).\n");
}

static int status(const char *url, bool json)
{
    _cleanup_(store_closep) store *st = NULL;
    int64_t version = 0, latest = store_schema_latest_version();
    const char *state;
    bg_err err = {0};
    int r = store_open_connect(url, &st, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    r = store_schema_version(st, &version);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "cannot read the schema version");
    state = version == latest ? "current" : version < latest ? "needs-migration" : "newer";
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "backend", json_object_new_string(store_backend_name(st)));
        json_object_object_add(o, "schema_version", json_object_new_int64(version));
        json_object_object_add(o, "latest", json_object_new_int64(latest));
        json_object_object_add(o, "state", json_object_new_string(state));
        ctl_print_json(o);
        json_object_put(o);
    } else
        printf("backend %s, schema %lld, this build %lld: %s\n", store_backend_name(st),
               (long long)version, (long long)latest, state);
    return version == latest ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static int migrate(const char *url)
{
    _cleanup_(store_closep) store *st = NULL;
    int64_t before = 0, after = 0;
    bg_err err = {0};
    int r = store_open_connect(url, &st, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (store_schema_version(st, &before) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "cannot read the schema version");
    r = store_migrate(st, &err);
    if (r < 0)
        return ctl_error(r == -EPROTO ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (store_schema_version(st, &after) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "cannot read the schema version");
    if (before == after)
        printf("schema %lld is current; nothing to do\n", (long long)after);
    else
        printf("migrated schema %lld -> %lld\n", (long long)before, (long long)after);
    return CTL_EXIT_OK;
}

int ctl_db_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, 's'},
        {"db", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    const char *url = NULL;
    bool json = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case 's':
            url = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("db", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return ctl_usage_error("db", "expected status or migrate");
    if (!url)
        return ctl_usage_error("db", "--store URL is required");
    if (!strcmp(argv[optind], "status"))
        return status(url, json);
    if (!strcmp(argv[optind], "migrate"))
        return migrate(url);
    return ctl_usage_error("db", "unknown command '%s'", argv[optind]);
}
