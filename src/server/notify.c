/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "log.h"
#include "metrics.h"

/* Seconds between a failed delivery and its one retry. */
#define NOTIFY_RETRY_DELAY 1

static const char *const notified_actions[] = {
    "unlock_denied",        "breakglass_requested", "breakglass_approved",
    "breakglass_activated", "breakglass_used",      "policy_activated",
};

typedef struct notify_event {
    char action[32];
    int64_t seq;
    char json[]; /* what the hooks get */
} notify_event;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, idle;
    notify_event *queue[NOTIFY_QUEUE_MAX]; /* ring: n events from head on */
    size_t head, n;
    bool busy;     /* the thread is delivering one */
    bool stopping; /* notify_stop(): deliver what is left, then end */
    atomic_bool cancel;
    atomic_bool running;
    pthread_t thread;
    const srv_config *cfg;
    char server[256];
} nq = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
};

bool notify_wanted(const char *action)
{
    if (!atomic_load(&nq.running) || !action)
        return false;
    for (size_t i = 0; i < ELEMENTSOF(notified_actions); i++)
        if (!strcmp(action, notified_actions[i]))
            return true;
    return false;
}

/* Sleeps up to seconds, less when cancelled: false then. */
static bool sleep_unless_cancelled(double seconds)
{
    double end = notify_clock() + seconds;
    while (!atomic_load(&nq.cancel) && notify_clock() < end)
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    return !atomic_load(&nq.cancel);
}

/* --- the command hook ---------------------------------------------------- */

/* Writes all of buf to the non-blocking fd before deadline. A command that
 * exits without reading its stdin is judged by its exit status: EPIPE ends
 * the writing, not the delivery. */
static int write_all(int fd, const char *buf, size_t size, double deadline)
{
    while (size > 0) {
        ssize_t w = write(fd, buf, size);
        if (w > 0) {
            buf += w;
            size -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EPIPE)
            return 0;
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (w < 0 && errno == EAGAIN) {
            int r = notify_wait_fd(fd, POLLOUT, deadline, &nq.cancel);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* The child's exit status, or -ETIMEDOUT / -ECANCELED after it was killed. */
static int reap(pid_t pid, double deadline)
{
    int status = 0, r = 0;
    long nap_ns = 1000 * 1000; /* 1 ms, doubling to 50 ms: a quick hook costs little */
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (atomic_load(&nq.cancel))
            r = -ECANCELED;
        else if (notify_clock() >= deadline)
            r = -ETIMEDOUT;
        if (r < 0)
            break;
        nanosleep(&(struct timespec){.tv_nsec = nap_ns}, NULL);
        nap_ns = nap_ns * 2 > 50 * 1000 * 1000 ? 50 * 1000 * 1000 : nap_ns * 2;
    }
    /* the command's whole process group: a shell script's children too */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return r;
}

/* The command with the event on stdin: no shell, no descriptor but 0-2
 * (stdout and stderr go to /dev/null), a minimal environment, default
 * signal dispositions (bootgated ignores SIGPIPE), a process group of its
 * own (killed whole at the timeout). posix_spawn shares no
 * copy of bootgated's memory with the child: it execs at once. */
static int run_command(const char *command, const char *action, const char *event, bg_err *err)
{
    _cleanup_(closep) int in_r = -1, in_w = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    char env_event[64];
    char *argv[] = {(char *)command, NULL};
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", env_event, NULL};
    double deadline = notify_clock() + nq.cfg->notify_timeout;
    int fds[2], r, w;
    pid_t pid;

    snprintf(env_event, sizeof(env_event), "BOOTGATE_EVENT=%s", action);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return bg_err_set(err, -errno, "pipe: %m");
    in_r = fds[0];
    in_w = fds[1];
    if (fcntl(in_w, F_SETFL, O_NONBLOCK) < 0)
        return bg_err_set(err, -errno, "pipe: %m");
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in_r, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    r = posix_spawn(&pid, command, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return bg_err_set(err, -r, "cannot run %s: %s", command, strerror(r));
    closep(&in_r);
    in_r = -1;
    w = write_all(in_w, event, strlen(event), deadline);
    closep(&in_w);
    in_w = -1;
    r = reap(pid, w < 0 ? notify_clock() : deadline);
    if (r == -ECANCELED || w == -ECANCELED)
        return bg_err_set(err, -ECANCELED, "cancelled at shutdown");
    if (w < 0) /* then killed */
        return bg_err_set(err, w, "writing the event to %s: %s", command, strerror(-w));
    if (r == -ETIMEDOUT)
        return bg_err_set(err, -ETIMEDOUT, "%s did not finish in %u s: killed", command,
                          nq.cfg->notify_timeout);
    if (r < 0)
        return bg_err_set(err, r, "waiting for %s: %s", command, strerror(-r));
    if (WIFSIGNALED(r))
        return bg_err_set(err, -ECHILD, "%s killed by signal %d", command, WTERMSIG(r));
    if (WEXITSTATUS(r) != 0)
        return bg_err_set(err, -ECHILD, "%s exited with status %d", command, WEXITSTATUS(r));
    return 0;
}

/* --- delivery -------------------------------------------------------------- */

typedef struct hook {
    metrics_notify_hook id;
    const char *name;
    double last_log;   /* monotonic seconds of the last failure line */
    unsigned left_out; /* failure lines left out since */
} hook;

static hook hooks[] = {
    {METRICS_NOTIFY_COMMAND, "command", -1e9, 0},
    {METRICS_NOTIFY_WEBHOOK, "webhook", -1e9, 0},
};

static int deliver_once(hook *h, const char *action, const char *event, bg_err *err)
{
    if (h->id == METRICS_NOTIFY_COMMAND)
        return run_command(nq.cfg->notify_command, action, event, err);
    return notify_https_post(nq.cfg->notify_webhook, nq.cfg->notify_webhook_ca, event,
                             nq.cfg->notify_timeout, &nq.cancel, err);
}

/* At most one line a second per hook: a dead hook and a busy fleet must not
 * fill the disk through the log. The next line says how many were left out. */
static void log_failure(hook *h, const char *action, int64_t seq, const bg_err *err)
{
    double now = notify_clock();
    if (now - h->last_log < 1.0) {
        h->left_out++;
        return;
    }
    srv_log(LOG_WARNING, &(srv_log_fields){.action = "notify_failed", .seq = -1},
            "notification %s (audit seq %lld) to notify_%s failed: %s (%u similar left out of "
            "the log before)",
            action, (long long)seq, h->name, bg_err_msg(err), h->left_out);
    h->last_log = now;
    h->left_out = 0;
}

static void deliver(const notify_event *ev)
{
    for (size_t i = 0; i < ELEMENTSOF(hooks); i++) {
        hook *h = &hooks[i];
        bg_err err = {0};
        int r;
        if (h->id == METRICS_NOTIFY_COMMAND ? !nq.cfg->notify_command[0]
                                            : !nq.cfg->notify_webhook[0])
            continue;
        r = deliver_once(h, ev->action, ev->json, &err);
        if (r < 0 && r != -ECANCELED && sleep_unless_cancelled(NOTIFY_RETRY_DELAY)) {
            err = (bg_err){0};
            r = deliver_once(h, ev->action, ev->json, &err);
        }
        if (r >= 0)
            metrics_notify_sent(h->id);
        else if (atomic_load(&nq.cancel))
            metrics_notify_dropped(); /* given up at shutdown */
        else {
            metrics_notify_failure(h->id);
            log_failure(h, ev->action, ev->seq, &err);
        }
    }
}

static void *notify_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&nq.lock);
    for (;;) {
        notify_event *event;
        while (nq.n == 0 && !nq.stopping)
            pthread_cond_wait(&nq.work, &nq.lock);
        if (nq.n == 0)
            break;
        event = nq.queue[nq.head];
        nq.head = (nq.head + 1) % NOTIFY_QUEUE_MAX;
        nq.n--;
        nq.busy = true;
        pthread_mutex_unlock(&nq.lock);
        deliver(event);
        free(event);
        pthread_mutex_lock(&nq.lock);
        nq.busy = false;
        pthread_cond_broadcast(&nq.idle);
    }
    pthread_mutex_unlock(&nq.lock);
    return NULL;
}

int notify_check(const srv_config *cfg, bg_err *err)
{
    if (cfg->notify_command[0] && access(cfg->notify_command, X_OK) < 0)
        return bg_err_set(err, -errno, "notify_command %s: %m", cfg->notify_command);
    if (cfg->notify_webhook_ca[0] && access(cfg->notify_webhook_ca, R_OK) < 0)
        return bg_err_set(err, -errno, "notify_webhook_ca %s: %m", cfg->notify_webhook_ca);
    return 0;
}

int notify_start(const srv_config *cfg, bg_err *err)
{
    int r;
    if (!cfg->notify_command[0] && !cfg->notify_webhook[0])
        return 0;
    r = notify_check(cfg, err);
    if (r < 0)
        return r;
    nq.cfg = cfg;
    /* a command that exits before reading its stdin must not kill bootgated
     * (http.c ignores SIGPIPE too; this does not depend on the order) */
    signal(SIGPIPE, SIG_IGN);
    if (gethostname(nq.server, sizeof(nq.server) - 1) < 0)
        snprintf(nq.server, sizeof(nq.server), "bootgated");
    atomic_store(&nq.cancel, false);
    nq.stopping = false;
    r = pthread_create(&nq.thread, NULL, notify_main, NULL);
    if (r != 0)
        return bg_err_set(err, -r, "cannot start the notification thread");
    atomic_store(&nq.running, true);
    return 0;
}

void notify_audited(const char *action, int64_t seq, const char *actor, const char *node,
                    const char *details_json)
{
    json_object *o, *det;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    const char *text;
    notify_event *event;

    if (!notify_wanted(action))
        return;
    det = details_json && details_json[0] ? json_tokener_parse(details_json) : NULL;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    o = json_object_new_object();
    json_object_object_add(o, "event", json_object_new_string(action));
    json_object_object_add(o, "time", json_object_new_string(when));
    json_object_object_add(o, "node", json_object_new_string(node ? node : ""));
    json_object_object_add(o, "audit_seq", json_object_new_int64(seq));
    json_object_object_add(o, "actor", json_object_new_string(actor ? actor : ""));
    json_object_object_add(o, "details", det ? det : json_object_new_object());
    json_object_object_add(o, "server", json_object_new_string(nq.server));
    text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    event = text ? malloc(sizeof(*event) + strlen(text) + 1) : NULL;
    if (event) {
        snprintf(event->action, sizeof(event->action), "%s", action);
        event->seq = seq;
        memcpy(event->json, text, strlen(text) + 1);
    }
    json_object_put(o);
    if (!event) {
        metrics_notify_dropped();
        return;
    }
    pthread_mutex_lock(&nq.lock);
    if (nq.n == NOTIFY_QUEUE_MAX || nq.stopping) {
        pthread_mutex_unlock(&nq.lock);
        free(event);
        metrics_notify_dropped();
        return;
    }
    nq.queue[(nq.head + nq.n) % NOTIFY_QUEUE_MAX] = event;
    nq.n++;
    pthread_cond_signal(&nq.work);
    pthread_mutex_unlock(&nq.lock);
}

void notify_stop(void)
{
    struct timespec until;
    size_t dropped = 0;

    if (!atomic_load(&nq.running))
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += NOTIFY_DRAIN_SECONDS;
    pthread_mutex_lock(&nq.lock);
    nq.stopping = true;
    pthread_cond_signal(&nq.work);
    while ((nq.n > 0 || nq.busy) && pthread_cond_timedwait(&nq.idle, &nq.lock, &until) == 0)
        ;
    /* what is still queued is given up; a delivery under way is cancelled */
    for (; nq.n > 0; nq.n--, dropped++) {
        free(nq.queue[nq.head]);
        nq.head = (nq.head + 1) % NOTIFY_QUEUE_MAX;
    }
    atomic_store(&nq.cancel, true);
    pthread_cond_signal(&nq.work);
    pthread_mutex_unlock(&nq.lock);
    for (; dropped > 0; dropped--)
        metrics_notify_dropped();
    pthread_join(nq.thread, NULL);
    atomic_store(&nq.running, false);
}
