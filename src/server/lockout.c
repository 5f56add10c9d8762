/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Would activating this version lock out nodes that boot today? (lockout.h) */
#include "lockout.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "evidence.h"
#include "whatif.h"

static int load_stored_log(void *arg, const char *sha256_hex, uint8_t **ret, size_t *ret_size,
                           bg_err *err)
{
    int r = store_evidence_get(arg, sha256_hex, ret, ret_size);
    if (r == -ENOENT)
        return bg_err_set(err, r, "log %.12s… is no longer stored", sha256_hex);
    if (r < 0)
        return bg_err_set(err, -EIO, "cannot read stored log %.12s…", sha256_hex);
    return 0;
}

static void add_node(srv_lockout *l, const char *node_id, const char *reason)
{
    json_object *o;
    l->would_deny++;
    if (json_object_array_length(l->nodes) >= SRV_LOCKOUT_MAX_LISTED)
        return;
    o = json_object_new_object();
    json_object_object_add(o, "node_id", json_object_new_string(node_id));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_array_add(l->nodes, o);
}

int srv_lockout_check(srv *s, const store_policy *candidate, srv_lockout *ret, bg_err *err)
{
    _cleanup_(store_policy_done) store_policy active = {0};
    _cleanup_(policy_freep) policy *p = NULL;
    store_attempt *a = NULL;
    size_t n = 0;
    whatif_cache cache = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    if (!(ret->nodes = json_object_new_array()))
        return bg_err_set(err, -ENOMEM, "out of memory");
    r = store_policy_get_active(s->store, candidate->name, &active);
    if (r == -ENOENT || (r >= 0 && active.version == candidate->version))
        return 0; /* nothing released today that this could take away */
    if (r < 0)
        return bg_err_set(err, -EIO, "cannot read the active policy");
    ret->active_version = active.version;
    r = evidence_policy_load(s->cfg.policy_signers_dir, candidate, &p, err);
    if (r < 0)
        return r;
    if (store_attempt_latest(s->store, candidate->name, 0, &a, &n) < 0)
        return bg_err_set(err, -EIO, "cannot read the stored attempts");

    cache.policy = p;
    cache.now = time(NULL);
    cache.load = load_stored_log;
    cache.load_arg = s->store;
    cache.max_states = s->cfg.activation_check_max_states;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (!whatif_released_by(a[i].released, a[i].mode, a[i].audit_verdict, a[i].policy_name,
                                a[i].policy_version, candidate->name, active.version))
            continue;
        if (ret->checked >= s->cfg.activation_check_max_nodes) {
            ret->unchecked++;
            continue;
        }
        r = whatif_evaluate(&cache, a[i].eventlog_sha256, a[i].ima_sha256, a[i].pcrs, &k, err);
        if (r == -E2BIG) {
            ret->unchecked++;
            continue;
        }
        if (r < 0)
            goto out;
        ret->checked++;
        const whatif_state *st = &cache.states[k];
        if (st->error == -ENOENT)
            continue; /* the log went with retention since: no boot to judge */
        if (st->error < 0)
            /* fail closed: a boot the candidate cannot judge counts as denied */
            add_node(ret, a[i].node_id, st->reason);
        else if (!st->release)
            add_node(ret, a[i].node_id, st->reason);
    }
    ret->states = cache.n_states;
    ret->log_loads = cache.loads;
    r = 0;
out:
    whatif_cache_done(&cache);
    store_attempts_free(a, n);
    return r;
}

void srv_lockout_done(srv_lockout *l)
{
    json_object_put(l->nodes);
    l->nodes = NULL;
}
