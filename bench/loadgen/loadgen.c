/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/loadgen: N synthetic nodes against a running bootgated (issue 12, 6-7).
 * Usage: see usage() below and bench/loadgen/README.md. */
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "https.h"
#include "proto.h"

#define MAX_PIDS    16u
#define MAX_URLS    8u
#define MAX_THREADS 1024u

typedef enum lg_mode { MODE_CLOSED, MODE_OPEN, MODE_STORM } lg_mode;

typedef struct lg_opts {
    const char *urls[MAX_URLS];
    unsigned n_urls;
    const char *srv_dir, *eventlog, *group, *volume, *tang;
    unsigned nodes, concurrency, threads, retries, floor_rounds, boots;
    double rate, duration, warmup;
    lg_mode mode;
    bool half_load; /* closed loop, then open loop at half its rate */
    pid_t pids[MAX_PIDS];
    unsigned n_pids;
    pid_t tang_pid; /* socat: its children's CPU time is tangd's */
} lg_opts;

/* what one worker thread saw */
typedef struct lg_stats {
    uint32_t *lat_us; /* latencies of boots scheduled/started in the window */
    size_t n_lat, cap_lat;
    uint64_t ok_in_window; /* completed in [w0, w1] */
    uint64_t errors[_LG_ERR_MAX];
} lg_stats;

typedef struct lg_run {
    const lg_opts *o;
    const lg_server *srv; /* one per --url (replicas), boot i goes to i mod n */
    unsigned n_srv;
    lg_node *nodes;
    const lg_boot_log *log;
    const lg_tang *tang;       /* set: the Tang side */
    atomic_uint_fast64_t next; /* next boot index */
    atomic_uint *released;     /* storm: releases per node */
    atomic_uint_fast64_t drained_ns;
    uint64_t start, w0, w1, end; /* CLOCK_MONOTONIC ns */
    pthread_mutex_t msg_lock;
    char first_msg[_LG_ERR_MAX][256];
} lg_run;

typedef struct lg_worker {
    lg_run *run;
    lg_stats st;
    pthread_t tid;
} lg_worker;

static void usage(FILE *f)
{
    fputs("Usage: loadgen --url URL --srv DIR --eventlog LOG [OPTION...]\n"
          "  --url URL            bootgated, https://127.0.0.1:PORT; repeated: replicas\n"
          "                       sharing one store, boot i goes to URL i mod n\n"
          "  --srv DIR            bootgatectl init-server directory: ca.crt, enroller.*,\n"
          "                       admin.* (enrollment, approval), server.* (crypto floor)\n"
          "  --eventlog LOG       the nodes' firmware log (the active policy of --group\n"
          "                       is captured from it); its replay gives the quoted PCRs\n"
          "  --group NAME         node group (default web)\n"
          "  --nodes N            synthetic nodes to enroll (default 16)\n"
          "  --concurrency C      closed loop: C boots in flight (default 8)\n"
          "  --rate R             open loop: R boots/s scheduled (latency from the\n"
          "                       scheduled start), on --threads T (default 64)\n"
          "  --storm              every node boots exactly once, C in flight; the time\n"
          "                       to drain; a failed boot is retried (--retries, default 5)\n"
          "  --duration S         measured seconds (default 10), after --warmup S (1)\n"
          "  --boots N            closed loop: stop after N boots (or at the end of\n"
          "                       --duration, whichever comes first)\n"
          "  --half-load          closed loop, then open loop at half the rate it\n"
          "                       reached (same duration): the latency at half load\n"
          "  --server-pid PID     bootgated process for CPU time (repeatable)\n"
          "  --floor-rounds N     crypto floor iterations (default 300, 0: skip)\n"
          "  --tang HOST:PORT     then Tang recoveries, same concurrency and duration\n"
          "  --tang-pid PID       socat parent of the tangd processes (CPU time of its\n"
          "                       reaped children: tangd and socat's per-connection forks)\n",
          f);
}

/* utime + stime of a process in ns (/proc/PID/stat fields 14, 15), with
 * children: + cutime + cstime of its reaped children (16, 17) */
static int proc_cpu_ns(pid_t pid, bool children, uint64_t *ret)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut,
                     &st, &cut, &cst) != 4)
        return -EBADMSG;
    if (!children)
        cut = cst = 0;
    *ret = (ut + st + cut + cst) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
    return 0;
}

/* CPU time of the server side of the phase: bootgated's processes, or for
 * Tang socat and its reaped children */
static uint64_t servers_cpu_ns(const lg_run *run);

static uint64_t self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void record(lg_worker *w, uint64_t begin, uint64_t done, lg_error e, const bg_err *err)
{
    lg_run *run = w->run;
    if (e != LG_OK) {
        w->st.errors[e]++;
        pthread_mutex_lock(&run->msg_lock);
        if (!run->first_msg[e][0])
            snprintf(run->first_msg[e], sizeof(run->first_msg[e]), "%s", bg_err_msg(err));
        pthread_mutex_unlock(&run->msg_lock);
        return;
    }
    if (done >= run->w0 && done <= run->w1)
        w->st.ok_in_window++;
    if (begin >= run->w0 && begin < run->w1) {
        if (w->st.n_lat == w->st.cap_lat) {
            size_t cap = w->st.cap_lat ? 2 * w->st.cap_lat : 4096;
            uint32_t *p = realloc(w->st.lat_us, cap * sizeof(*p));
            if (!p)
                return;
            w->st.lat_us = p;
            w->st.cap_lat = cap;
        }
        uint64_t us = (done - begin) / 1000u;
        w->st.lat_us[w->st.n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
}

static lg_error one_op(lg_run *run, uint64_t idx, bg_err *err)
{
    long status;
    if (run->tang)
        return lg_tang_recover(run->tang, err);
    return lg_node_boot(&run->srv[idx % run->n_srv], &run->nodes[idx % run->o->nodes], run->log,
                        &status, err);
}

static void *worker_closed(void *arg)
{
    lg_worker *w = arg;
    lg_run *run = w->run;
    sleep_until(run->start);
    for (;;) {
        uint64_t begin = lg_now_ns(), idx;
        if (begin >= run->end)
            break;
        idx = atomic_fetch_add(&run->next, 1);
        if (run->o->boots && idx >= run->o->boots)
            break;
        bg_err err = {0};
        lg_error e = one_op(run, idx, &err);
        record(w, begin, lg_now_ns(), e, &err);
    }
    return NULL;
}

/* Open loop: boot i is due at start + i/rate whether or not earlier ones have
 * finished; its latency counts from that instant, so a server that falls
 * behind shows it (no coordinated omission) instead of slowing the clients. */
static void *worker_open(void *arg)
{
    lg_worker *w = arg;
    lg_run *run = w->run;
    sleep_until(run->start);
    for (;;) {
        uint64_t idx = atomic_fetch_add(&run->next, 1);
        uint64_t due = run->start + (uint64_t)((double)idx * 1e9 / run->o->rate);
        if (due >= run->end)
            break;
        sleep_until(due);
        bg_err err = {0};
        lg_error e = one_op(run, idx, &err);
        record(w, due, lg_now_ns(), e, &err);
    }
    return NULL;
}

/* Storm: each node boots once; a failed boot is retried after 100-400 ms, as
 * the client's backoff would (src/lib/https.h https_backoff). */
static void *worker_storm(void *arg)
{
    lg_worker *w = arg;
    lg_run *run = w->run;
    sleep_until(run->start);
    for (;;) {
        uint64_t idx = atomic_fetch_add(&run->next, 1);
        if (idx >= run->o->nodes)
            break;
        for (unsigned attempt = 0; attempt <= run->o->retries; attempt++) {
            bg_err err = {0};
            long status;
            /* a retry goes to the next replica, as the client's failover does */
            lg_error e = lg_node_boot(&run->srv[(idx + attempt) % run->n_srv], &run->nodes[idx],
                                      run->log, &status, &err);
            record(w, run->w0, lg_now_ns(), e, &err);
            if (e == LG_OK) {
                atomic_fetch_add(&run->released[idx], 1);
                break;
            }
            usleep(100000u << (attempt < 2 ? attempt : 2));
        }
        uint64_t now = lg_now_ns(), prev = atomic_load(&run->drained_ns);
        while (now > prev && !atomic_compare_exchange_weak(&run->drained_ns, &prev, now))
            ;
    }
    return NULL;
}

typedef struct enroll_arg {
    lg_run *run;
    uint64_t errors[_LG_ERR_MAX];
    pthread_t tid;
} enroll_arg;

static void *worker_enroll(void *arg)
{
    enroll_arg *a = arg;
    lg_run *run = a->run;
    lg_server srv[MAX_URLS];
    /* keep-alive per role and replica: enrollment is setup, not what is measured */
    for (unsigned i = 0; i < run->n_srv; i++) {
        srv[i] = run->srv[i];
        srv[i].enroller.session = https_session_new();
        srv[i].admin.session = https_session_new();
    }
    for (;;) {
        uint64_t idx = atomic_fetch_add(&run->next, 1);
        if (idx >= run->o->nodes)
            break;
        bg_err err = {0};
        /* with replicas, a node enrolls at another one than it boots at first */
        lg_error e = lg_node_enroll(&srv[(idx + 1) % run->n_srv], &run->nodes[idx], &err);
        if (e != LG_OK) {
            a->errors[e]++;
            pthread_mutex_lock(&run->msg_lock);
            if (!run->first_msg[e][0])
                snprintf(run->first_msg[e], sizeof(run->first_msg[e]), "%s", bg_err_msg(&err));
            pthread_mutex_unlock(&run->msg_lock);
        }
    }
    for (unsigned i = 0; i < run->n_srv; i++) {
        https_session_free(srv[i].enroller.session);
        https_session_free(srv[i].admin.session);
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1] / 1000.0;
}

typedef struct lg_result {
    double per_s, p50, p99, p999, cpu_us, self_us;
    uint64_t ok, errors;
} lg_result;

/* Runs the workers; prints one summary block under `name`. */
static int run_phase(lg_run *run, const char *name, lg_result *res)
{
    const lg_opts *o = run->o;
    unsigned n = o->mode == MODE_OPEN ? o->threads : o->concurrency;
    lg_worker *w = calloc(n, sizeof(*w));
    uint64_t cpu0 = 0, cpu1 = 0, self0 = 0, self1 = 0, errors[_LG_ERR_MAX] = {0}, ok = 0, nerr = 0;
    uint32_t *all = NULL;
    size_t n_all = 0;
    void *(*fn)(void *) = o->mode == MODE_OPEN    ? worker_open
                          : o->mode == MODE_STORM ? worker_storm
                                                  : worker_closed;

    if (!w)
        return -ENOMEM;
    atomic_store(&run->next, 0);
    memset(run->first_msg, 0, sizeof(run->first_msg));
    run->start = lg_now_ns() + 50000000u; /* threads are up by then */
    /* a storm, or a closed loop of --boots boots: measured until the
     * workers are done */
    bool until_done = o->mode == MODE_STORM || (o->mode != MODE_OPEN && o->boots);
    if (until_done) {
        run->w0 = run->start;
        run->w1 = UINT64_MAX;
        run->end = o->mode == MODE_STORM ? UINT64_MAX : run->start + (uint64_t)(o->duration * 1e9);
        atomic_store(&run->drained_ns, run->start);
    } else {
        run->w0 = run->start + (uint64_t)(o->warmup * 1e9);
        run->w1 = run->w0 + (uint64_t)(o->duration * 1e9);
        run->end = run->w1;
    }
    for (unsigned i = 0; i < n; i++) {
        w[i].run = run;
        if (pthread_create(&w[i].tid, NULL, fn, &w[i]) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            exit(1);
        }
    }
    if (until_done) {
        sleep_until(run->start);
        cpu0 = servers_cpu_ns(run), self0 = self_cpu_ns();
    } else {
        sleep_until(run->w0);
        cpu0 = servers_cpu_ns(run), self0 = self_cpu_ns();
        sleep_until(run->w1);
        cpu1 = servers_cpu_ns(run), self1 = self_cpu_ns();
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(w[i].tid, NULL);
    if (until_done) {
        cpu1 = servers_cpu_ns(run), self1 = self_cpu_ns();
        run->w1 = o->mode == MODE_STORM ? atomic_load(&run->drained_ns) : lg_now_ns();
    }
    for (unsigned i = 0; i < n; i++) {
        ok += w[i].st.ok_in_window;
        for (unsigned k = 0; k < _LG_ERR_MAX; k++)
            errors[k] += w[i].st.errors[k], nerr += w[i].st.errors[k];
        uint32_t *p = w[i].st.n_lat ? realloc(all, (n_all + w[i].st.n_lat) * sizeof(*all)) : NULL;
        if (p) {
            all = p;
            memcpy(all + n_all, w[i].st.lat_us, w[i].st.n_lat * sizeof(*all));
            n_all += w[i].st.n_lat;
        }
        free(w[i].st.lat_us);
    }
    free(w);
    if (n_all)
        qsort(all, n_all, sizeof(*all), cmp_u32);
    double secs = (double)(run->w1 - run->w0) / 1e9;
    *res = (lg_result){.per_s = ok / secs,
                       .p50 = pct_ms(all, n_all, 0.50),
                       .p99 = pct_ms(all, n_all, 0.99),
                       .p999 = pct_ms(all, n_all, 0.999),
                       .cpu_us = ok && cpu0 ? (double)(cpu1 - cpu0) / 1000.0 / ok : NAN,
                       .self_us = ok ? (double)(self1 - self0) / 1000.0 / ok : NAN,
                       .ok = ok,
                       .errors = nerr};
    printf("%s: %" PRIu64 " ok in %.2f s = %.1f/s; latency ms p50 %.2f p99 %.2f p999 %.2f "
           "(%zu samples)\n",
           name, ok, secs, res->per_s, res->p50, res->p99, res->p999, n_all);
    printf("%s: CPU us per %s: server %.0f, load generator %.0f\n", name,
           run->tang ? "recovery" : "release", res->cpu_us, res->self_us);
    printf("%s: errors %" PRIu64, name, nerr);
    for (unsigned k = 1; k < _LG_ERR_MAX; k++)
        if (errors[k])
            printf(" %s=%" PRIu64, lg_error_name(k), errors[k]);
    printf("\n");
    for (unsigned k = 1; k < _LG_ERR_MAX; k++)
        if (run->first_msg[k][0])
            printf("%s:   first %s: %s\n", name, lg_error_name(k), run->first_msg[k]);
    free(all);
    return 0;
}

static int parse_opts(int argc, char **argv, lg_opts *o)
{
    enum {
        OPT_URL = 256,
        OPT_SRV,
        OPT_LOG,
        OPT_GROUP,
        OPT_NODES,
        OPT_CONC,
        OPT_RATE,
        OPT_THREADS,
        OPT_STORM,
        OPT_DUR,
        OPT_WARM,
        OPT_PID,
        OPT_FLOOR,
        OPT_TANG,
        OPT_RETRIES,
        OPT_VOL,
        OPT_TANG_PID,
        OPT_HALF,
        OPT_BOOTS
    };
    static const struct option long_opts[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"srv", required_argument, NULL, OPT_SRV},
        {"eventlog", required_argument, NULL, OPT_LOG},
        {"group", required_argument, NULL, OPT_GROUP},
        {"volume", required_argument, NULL, OPT_VOL},
        {"nodes", required_argument, NULL, OPT_NODES},
        {"concurrency", required_argument, NULL, OPT_CONC},
        {"rate", required_argument, NULL, OPT_RATE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"storm", no_argument, NULL, OPT_STORM},
        {"duration", required_argument, NULL, OPT_DUR},
        {"warmup", required_argument, NULL, OPT_WARM},
        {"server-pid", required_argument, NULL, OPT_PID},
        {"floor-rounds", required_argument, NULL, OPT_FLOOR},
        {"tang", required_argument, NULL, OPT_TANG},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"tang-pid", required_argument, NULL, OPT_TANG_PID},
        {"boots", required_argument, NULL, OPT_BOOTS},
        {"half-load", no_argument, NULL, OPT_HALF},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    char *end;

    *o = (lg_opts){.group = "web",
                   .volume = "6f1b2c3d-0000-4000-8000-00000000abcd",
                   .nodes = 16,
                   .concurrency = 8,
                   .threads = 64,
                   .retries = 5,
                   .floor_rounds = 300,
                   .duration = 10,
                   .warmup = 1};
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        unsigned long v = 0;
        double d = 0;
        errno = 0;
        switch (c) {
        case OPT_NODES:
        case OPT_CONC:
        case OPT_THREADS:
        case OPT_PID:
        case OPT_TANG_PID:
        case OPT_FLOOR:
        case OPT_RETRIES:
        case OPT_BOOTS:
            v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v > 10000000ul) {
                fprintf(stderr, "loadgen: bad number '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        case OPT_RATE:
        case OPT_DUR:
        case OPT_WARM:
            d = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(d >= 0) || d > 1e7) {
                fprintf(stderr, "loadgen: bad number '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        default:
            break;
        }
        switch (c) {
        case OPT_URL:
            if (o->n_urls == MAX_URLS) {
                fprintf(stderr, "loadgen: at most %u --url\n", MAX_URLS);
                return -EINVAL;
            }
            o->urls[o->n_urls++] = optarg;
            break;
        case OPT_SRV:
            o->srv_dir = optarg;
            break;
        case OPT_LOG:
            o->eventlog = optarg;
            break;
        case OPT_GROUP:
            o->group = optarg;
            break;
        case OPT_VOL:
            o->volume = optarg;
            break;
        case OPT_NODES:
            o->nodes = (unsigned)v;
            break;
        case OPT_CONC:
            o->concurrency = (unsigned)v;
            break;
        case OPT_THREADS:
            o->threads = (unsigned)v;
            break;
        case OPT_RATE:
            o->rate = d, o->mode = MODE_OPEN;
            break;
        case OPT_STORM:
            o->mode = MODE_STORM;
            break;
        case OPT_DUR:
            o->duration = d;
            break;
        case OPT_WARM:
            o->warmup = d;
            break;
        case OPT_FLOOR:
            o->floor_rounds = (unsigned)v;
            break;
        case OPT_TANG:
            o->tang = optarg;
            break;
        case OPT_RETRIES:
            o->retries = (unsigned)v;
            break;
        case OPT_TANG_PID:
            o->tang_pid = (pid_t)v;
            break;
        case OPT_BOOTS:
            o->boots = (unsigned)v;
            break;
        case OPT_HALF:
            o->half_load = true;
            break;
        case OPT_PID:
            if (o->n_pids == MAX_PIDS) {
                fprintf(stderr, "loadgen: at most %u --server-pid\n", MAX_PIDS);
                return -EINVAL;
            }
            o->pids[o->n_pids++] = (pid_t)v;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc || !o->n_urls || !o->srv_dir || !o->eventlog) {
        usage(stderr);
        return -EINVAL;
    }
    if (!o->nodes || !o->concurrency || o->concurrency > MAX_THREADS || !o->threads ||
        o->threads > MAX_THREADS || (o->mode == MODE_OPEN && !(o->rate > 0)) ||
        !(o->duration > 0)) {
        fprintf(stderr,
                "loadgen: --nodes, --concurrency, --threads (<= %u), --rate and "
                "--duration must be > 0\n",
                MAX_THREADS);
        return -EINVAL;
    }
    return 0;
}

static uint64_t servers_cpu_ns(const lg_run *run)
{
    const lg_opts *o = run->o;
    uint64_t sum = 0, ns;
    if (run->tang)
        return o->tang_pid && proc_cpu_ns(o->tang_pid, true, &ns) == 0 ? ns : 0;
    for (unsigned i = 0; i < o->n_pids; i++)
        if (proc_cpu_ns(o->pids[i], false, &ns) == 0)
            sum += ns;
    return sum;
}

static char *path_in(const char *dir, const char *file)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, file) < 0) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(1);
    }
    return p;
}

int main(int argc, char **argv)
{
    lg_opts o;
    lg_server srv[MAX_URLS] = {0};
    lg_boot_log log = {0};
    lg_run run = {.msg_lock = PTHREAD_MUTEX_INITIALIZER};
    lg_result bg = {0}, tg = {0}, half = {0};
    lg_floor fl = {0};
    double bound = 0; /* releases/s the two crypto floors allow on this machine's CPUs */
    lg_tang *tang = NULL;
    bg_err err = {0};
    uint64_t t0, enroll_errors = 0;
    int r, rc = 1;
    char *ca = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines reach a pipe as they are printed */
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    if (https_global_init() < 0) {
        fprintf(stderr, "loadgen: curl_global_init failed\n");
        return 1;
    }
    ca = path_in(o.srv_dir, "ca.crt");
    srv[0] = (lg_server){.group = o.group, .volume_uuid = o.volume};
    srv[0].node = (https_opts){.ca_file = ca, .request_timeout_ms = 60000};
    srv[0].enroller = srv[0].node;
    srv[0].enroller.client_cert = path_in(o.srv_dir, "enroller.crt");
    srv[0].enroller.client_key = path_in(o.srv_dir, "enroller.key");
    srv[0].admin = srv[0].node;
    srv[0].admin.client_cert = path_in(o.srv_dir, "admin.crt");
    srv[0].admin.client_key = path_in(o.srv_dir, "admin.key");
    for (unsigned i = 0; i < o.n_urls; i++) {
        srv[i] = srv[0];
        srv[i].url = o.urls[i];
    }
    r = lg_boot_log_load(o.eventlog, &log, &err);
    if (r < 0) {
        fprintf(stderr, "loadgen: %s\n", bg_err_msg(&err));
        goto out;
    }
    if (o.tang) {
        char host[64];
        unsigned port;
        if (sscanf(o.tang, "%63[^:]:%u", host, &port) != 2 ||
            lg_tang_bind(host, port, &tang, &err) < 0) {
            fprintf(stderr, "loadgen: Tang %s: %s\n", o.tang, bg_err_msg(&err));
            goto out;
        }
    }

    /* enrollment: setup, not measured */
    rc = 1;
    run.o = &o;
    run.srv = srv;
    run.n_srv = o.n_urls;
    run.log = &log;
    run.nodes = calloc(o.nodes, sizeof(*run.nodes));
    run.released = calloc(o.nodes, sizeof(*run.released));
    if (!run.nodes || !run.released) {
        fprintf(stderr, "loadgen: out of memory\n");
        goto out;
    }
    t0 = lg_now_ns();
    {
        unsigned n = o.concurrency < o.nodes ? o.concurrency : o.nodes;
        enroll_arg *ea = calloc(n, sizeof(*ea));
        if (!ea)
            goto out;
        for (unsigned i = 0; i < n; i++) {
            ea[i].run = &run;
            pthread_create(&ea[i].tid, NULL, worker_enroll, &ea[i]);
        }
        for (unsigned i = 0; i < n; i++) {
            pthread_join(ea[i].tid, NULL);
            for (unsigned k = 0; k < _LG_ERR_MAX; k++)
                enroll_errors += ea[i].errors[k];
        }
        free(ea);
    }
    printf("enroll: %u nodes (software ECC P-256 EK and AK, admin-approved) in %.2f s, %" PRIu64
           " errors\n",
           o.nodes, (double)(lg_now_ns() - t0) / 1e9, enroll_errors);
    if (enroll_errors) {
        for (unsigned k = 1; k < _LG_ERR_MAX; k++)
            if (run.first_msg[k][0])
                printf("enroll:   first %s: %s\n", lg_error_name(k), run.first_msg[k]);
        goto out;
    }

    if (o.mode == MODE_OPEN)
        printf("mode: open loop, %.1f boots/s scheduled on %u threads, %.1f s (+%.1f s warm-up)\n",
               o.rate, o.threads, o.duration, o.warmup);
    else if (o.mode == MODE_CLOSED)
        printf("mode: closed loop, concurrency %u, %.1f s (+%.1f s warm-up)\n", o.concurrency,
               o.duration, o.warmup);
    else
        printf("mode: storm, %u nodes boot once each, concurrency %u\n", o.nodes, o.concurrency);
    run_phase(&run, "bootgate", &bg);
    if (o.mode == MODE_STORM) {
        unsigned once = 0, never = 0, more = 0;
        for (unsigned i = 0; i < o.nodes; i++) {
            unsigned c = atomic_load(&run.released[i]);
            once += c == 1, never += c == 0, more += c > 1;
        }
        printf("STORM nodes=%u released_once=%u never=%u more_than_once=%u drain_s=%.2f "
               "cpu_us/release=%.0f\n",
               o.nodes, once, never, more, (double)(run.w1 - run.w0) / 1e9, bg.cpu_us);
    }
    if (o.half_load && o.mode == MODE_CLOSED && !o.boots && bg.per_s > 0 && !bg.errors) {
        lg_opts h = o;
        h.mode = MODE_OPEN;
        h.rate = bg.per_s / 2;
        /* at most the closed loop's boots in flight: half its rate needs no
         * more, and a slow phase (a sanitizer build, a noisy host) must queue
         * here, its latency counted from the scheduled start, not open 64
         * connections past the server's per-source limit */
        h.threads = o.concurrency;
        printf("mode: open loop at half the closed loop's rate, %.1f boots/s scheduled on %u "
               "threads, %.1f s (+%.1f s warm-up)\n",
               h.rate, h.threads, h.duration, h.warmup);
        run.o = &h;
        run_phase(&run, "bootgate-half", &half);
        run.o = &o;
    }
    if (o.floor_rounds) {
        char *cert = path_in(o.srv_dir, "server.crt"), *key = path_in(o.srv_dir, "server.key");
        r = lg_floor_measure(cert, key, ca, ca, &log, o.floor_rounds, &fl, &err);
        if (r < 0) {
            fprintf(stderr, "loadgen: crypto floor: %s\n", bg_err_msg(&err));
            free(cert);
            free(key);
            goto out;
        }
        printf("floor: %.0f us = TLS 1.3 server handshake %.0f + quote verify %.0f + "
               "MakeCredential %.0f + HKDF/AES-GCM wrap %.0f (CPU us, best mean of 3x%u)\n",
               fl.total_us, fl.tls_us, fl.quote_us, fl.makecred_us, fl.wrap_us, o.floor_rounds);
        printf("cpu: bootgated %.0f us per release (%u process(es), /proc/PID/stat), "
               "%.2f x the floor\n",
               bg.cpu_us, o.n_pids, bg.cpu_us / fl.total_us);
        printf("floor, node side: %.0f us = TLS 1.3 client handshake %.0f + quote sign %.0f + "
               "ActivateCredential %.0f + unwrap %.0f (what any load generator spends per boot)\n",
               fl.client_total_us, fl.client_tls_us, fl.sign_us, fl.activate_us, fl.unwrap_us);
        bound = (double)sysconf(_SC_NPROCESSORS_ONLN) * 1e6 / (fl.total_us + fl.client_total_us);
        printf("bound: %ld CPUs / (server floor + node floor) = %.0f releases/s at most on this "
               "machine with the load generator on it\n",
               sysconf(_SC_NPROCESSORS_ONLN), bound);
        free(cert);
        free(key);
    }
    if (tang && o.mode != MODE_STORM) {
        run.tang = tang;
        run_phase(&run, "tang", &tg);
        if (bound > 0)
            printf("bound: 10 x tang = %.0f/s; the floors allow %.0f/s (%.1f x tang)\n",
                   10 * tg.per_s, bound, bound / tg.per_s);
        printf("RESULT releases/s=%.1f tang/s=%.1f speedup=%.2f cpu_us/release=%.0f floor_us=%.0f "
               "cpu/floor=%.2f p99_ms=%.2f",
               bg.per_s, tg.per_s, bg.per_s / tg.per_s, bg.cpu_us, fl.total_us,
               bg.cpu_us / fl.total_us, bg.p99);
        if (half.ok)
            printf(" half_rate/s=%.1f p99_half_ms=%.2f", half.per_s, half.p99);
        if (bound > 0)
            printf(" node_floor_us=%.0f bound/s=%.0f", fl.client_total_us, bound);
        printf("\n");
    }
    rc = bg.errors || tg.errors || half.errors ? 3 : 0;
out:
    lg_tang_free(tang);
    if (run.nodes)
        for (unsigned i = 0; i < o.nodes; i++)
            softtpm_done(&run.nodes[i].tpm);
    free(run.nodes);
    free(run.released);
    free(log.data);
    free(ca);
    free((char *)srv[0].enroller.client_cert);
    free((char *)srv[0].enroller.client_key);
    free((char *)srv[0].admin.client_cert);
    free((char *)srv[0].admin.client_key);
    https_global_done();
    return rc;
}
