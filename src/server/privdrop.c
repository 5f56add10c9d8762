/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "secmem.h"

/* capabilities(7): the highest capability number the kernel knows is the
 * last one PR_CAPBSET_READ does not refuse with EINVAL. */
#define PRIVDROP_CAP_MAX 64

int privdrop_lookup(const char *name, privdrop_user *ret, bg_err *err)
{
    struct passwd pw, *found = NULL;
    char buf[16384];
    int r;

    memset(ret, 0, sizeof(*ret));
    errno = 0;
    r = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
    if (r != 0)
        return bg_err_set(err, -r, "user = %s: cannot read the user database: %s", name,
                          strerror(r));
    if (!found)
        return bg_err_set(err, -ENOENT, "user = %s: no such user", name);
    if (pw.pw_uid == 0)
        return bg_err_set(err, -EINVAL, "user = %s: uid 0; name an unprivileged user", name);
    if (strlen(pw.pw_name) >= sizeof(ret->name) || strlen(pw.pw_dir) >= sizeof(ret->home))
        return bg_err_set(err, -ENAMETOOLONG, "user = %s: name or home directory too long", name);
    snprintf(ret->name, sizeof(ret->name), "%s", pw.pw_name);
    snprintf(ret->home, sizeof(ret->home), "%s", pw.pw_dir);
    ret->uid = pw.pw_uid;
    ret->gid = pw.pw_gid;
    return 0;
}

bool privdrop_is_root(void)
{
    return geteuid() == 0;
}

int privdrop_prepare_memlock(bg_err *err)
{
    struct rlimit rl, unlimited = {RLIM_INFINITY, RLIM_INFINITY};
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY)
        return 0;
    if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0)
        return bg_err_set(err, -errno,
                          "lock_memory = yes with user: cannot make RLIMIT_MEMLOCK unlimited for "
                          "after the drop: %s (start with an unlimited limit, e.g. systemd "
                          "LimitMEMLOCK=infinity or prlimit --memlock=unlimited, or set "
                          "lock_memory = no)",
                          strerror(errno));
    return 0;
}

static int caps_get(struct __user_cap_data_struct ret[2])
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    memset(ret, 0, 2 * sizeof(*ret));
    return syscall(SYS_capget, &h, ret) < 0 ? -errno : 0;
}

static bool caps_any(const struct __user_cap_data_struct d[2])
{
    return d[0].effective | d[0].permitted | d[0].inheritable | d[1].effective | d[1].permitted |
           d[1].inheritable;
}

/* Gives up every effective, permitted, inheritable and ambient capability
 * (allowed to anyone: a set only shrinks), then checks that none is left. */
static int caps_clear(bg_err *err)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2] = {0};
    int r;

    /* EINVAL: a kernel before 4.3 has no ambient set */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return bg_err_set(err, -errno, "cannot clear the ambient capabilities: %s",
                          strerror(errno));
    r = caps_get(d);
    if (r < 0)
        return bg_err_set(err, r, "capget: %s", strerror(-r));
    if (caps_any(d)) {
        memset(d, 0, sizeof(d));
        if (syscall(SYS_capset, &h, d) < 0)
            return bg_err_set(err, -errno,
                              "cannot give up the capabilities still held: %s (capset filtered? "
                              "systemd: SystemCallFilter=capset)",
                              strerror(errno));
        r = caps_get(d);
        if (r < 0)
            return bg_err_set(err, r, "capget: %s", strerror(-r));
        if (caps_any(d))
            return bg_err_set(err, -EPERM, "capabilities remain after dropping them");
    }
    for (int cap = 0; cap < PRIVDROP_CAP_MAX; cap++) {
        r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (r < 0)
            break; /* EINVAL: past the last capability, or no ambient set */
        if (r > 0)
            return bg_err_set(err, -EPERM, "ambient capability %d remains", cap);
    }
    return 0;
}

/* Walks the bounding set: drop, each capability in it goes (needs
 * CAP_SETPCAP: before setuid); else one still in it is an error. */
static int bounding_clear(bool drop, bg_err *err)
{
    for (int cap = 0; cap < PRIVDROP_CAP_MAX; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0)
            break; /* EINVAL: past the last capability */
        if (r > 0 && !drop)
            return bg_err_set(err, -EPERM, "capability %d remains in the bounding set", cap);
        if (r > 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return bg_err_set(err, -errno, "cannot drop capability %d from the bounding set: %s",
                              cap, strerror(errno));
    }
    return 0;
}

static int become(const privdrop_user *u, bg_err *err)
{
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    int r;

    /* no capability survives the uid change (the default; made sure) */
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return bg_err_set(err, -errno, "prctl(PR_SET_KEEPCAPS, 0): %s", strerror(errno));
    r = bounding_clear(true, err);
    if (r < 0)
        return bg_err_prefix(err, r, "user = %s", u->name);
    if (initgroups(u->name, u->gid) < 0)
        return bg_err_set(err, -errno, "user = %s: initgroups: %s", u->name, strerror(errno));
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return bg_err_set(err, -errno, "user = %s: setresgid(%u): %s", u->name, (unsigned)u->gid,
                          strerror(errno));
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return bg_err_set(err, -errno, "user = %s: setresuid(%u): %s", u->name, (unsigned)u->uid,
                          strerror(errno));
    /* proven, not assumed: every id is the user's and none goes back */
    if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
        ruid != u->uid || euid != u->uid || suid != u->uid || rgid != u->gid || egid != u->gid ||
        sgid != u->gid)
        return bg_err_set(err, -EPERM, "user = %s: the uid/gid did not change to %u/%u", u->name,
                          (unsigned)u->uid, (unsigned)u->gid);
    if (setuid(0) == 0 || seteuid(0) == 0)
        return bg_err_set(err, -EPERM, "user = %s: setuid(0) still succeeds after the drop",
                          u->name);
    if (u->gid != 0 && (setgid(0) == 0 || setegid(0) == 0))
        return bg_err_set(err, -EPERM, "user = %s: setgid(0) still succeeds after the drop",
                          u->name);
    return bounding_clear(false, err);
}

int privdrop_check_identity(const privdrop_user *u, bg_err *err)
{
    if (privdrop_is_root() || (geteuid() == u->uid && getuid() == u->uid))
        return 0;
    return bg_err_set(err, -EPERM,
                      "user = %s (uid %u), but bootgated runs as uid %u, not root: start it as "
                      "root or as %s",
                      u->name, (unsigned)u->uid, (unsigned)geteuid(), u->name);
}

int privdrop_apply(const privdrop_user *u, bg_err *err)
{
    int r;

    r = privdrop_check_identity(u, err);
    if (r < 0)
        return r;
    if (privdrop_is_root()) {
        r = become(u, err);
        if (r < 0)
            return r;
    }
    r = caps_clear(err);
    if (r < 0)
        return bg_err_prefix(err, r, "user = %s", u->name);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return bg_err_set(err, -EPERM, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    /* a uid change sets the dumpable flag to fs.suid_dumpable again */
    r = secmem_harden_process();
    if (r < 0)
        return bg_err_set(err, r, "prctl(PR_SET_DUMPABLE, 0): %s", strerror(-r));
    /* as a login would: libpq looks for ~/.pgpass, hooks inherit them */
    if (setenv("HOME", u->home, 1) < 0 || setenv("USER", u->name, 1) < 0 ||
        setenv("LOGNAME", u->name, 1) < 0)
        return bg_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* The error for path that the user cannot use as needed (access(2) said e):
 * with its owner and mode when it exists. */
static int path_error(const privdrop_user *u, const char *what, const char *kind, const char *path,
                      const char *need, int e, bg_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return bg_err_set(err, -e,
                          "%s: %s%s is not %s for user %s (uid %u): %s (owner uid %u, mode %04o)",
                          what, kind, path, need, u->name, (unsigned)u->uid, strerror(e),
                          (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    return bg_err_set(err, -e, "%s: %s%s is not usable for user %s (uid %u): %s", what, kind, path,
                      u->name, (unsigned)u->uid, strerror(e));
}

int privdrop_check_dir(const privdrop_user *u, const char *what, const char *dir,
                       const char *const *files, bg_err *err)
{
    /* access() answers for the real uid: the user's, after the drop */
    if (access(dir, W_OK | X_OK) < 0)
        return path_error(u, what, "directory ", dir, "writable", errno, err);
    for (; files && *files; files++)
        if (access(*files, R_OK | W_OK) < 0 && errno != ENOENT)
            return path_error(u, what, "", *files, "readable and writable", errno, err);
    return 0;
}
