/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgated's own privilege drop (config `user`). Started as root, it does
 * what needs root first (reads the key files, binds the listening sockets,
 * locks its memory), then becomes `user` for good: supplementary groups,
 * gid and uid (real, effective, saved), an empty capability bounding set, no
 * capability left, no new privileges. Started as that user already (the
 * systemd unit's User=), the drop is a check. Everything opened afterwards
 * (the store and its state directory, the audit head, notify_command, the
 * key directories read per request) is opened as the user. */

#include <stdbool.h>
#include <sys/types.h>

#include "bgerr.h"

typedef struct privdrop_user {
    char name[64];
    uid_t uid;
    gid_t gid;
    char home[4096];
} privdrop_user;

/* The account name from the user database. -ENOENT when there is none,
 * -EINVAL for uid 0 (root cannot be what the server drops to). */
int privdrop_lookup(const char *name, privdrop_user *ret, bg_err *err);

/* True when this process is root (euid 0) and so will switch to a user. */
bool privdrop_is_root(void);

/* 0 when this process can become u: it is root, or u already. */
int privdrop_check_identity(const privdrop_user *u, bg_err *err);

/* Before mlockall, when the drop will follow: MCL_FUTURE counts each later
 * mapping (thread stacks, malloc arenas) against RLIMIT_MEMLOCK once
 * CAP_IPC_LOCK is gone, so the limit becomes unlimited while root can still
 * raise it (as the unit's LimitMEMLOCK=infinity does). */
int privdrop_prepare_memlock(bg_err *err);

/* Becomes u: as root the full drop, verified (setuid(0) fails afterwards,
 * no capability in the effective, permitted, inheritable, ambient or
 * bounding set); not root, this process must already be u (any capability
 * it still holds is given up). Both then set PR_SET_NO_NEW_PRIVS and
 * PR_SET_DUMPABLE 0 (a uid change resets it), and HOME, USER and LOGNAME to
 * u's. Any failure is an error: the caller exits, never running on
 * half-dropped. */
int privdrop_apply(const privdrop_user *u, bg_err *err);

/* After the drop: the user can search and write directory dir (a file is
 * created there later), and read and write each of its files given that
 * exists (NULL-terminated). what names the setting in the message. */
int privdrop_check_dir(const privdrop_user *u, const char *what, const char *dir,
                       const char *const *files, bg_err *err);
