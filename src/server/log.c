/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
/* a record's text: an audit line's fields and its detail (SRV_LOG_DETAIL_MAX) */
#define LOG_TEXT_MAX (SRV_LOG_DETAIL_MAX + 1024)
/* the datagram: the text and a few short fields; far below the socket's limit */
#define LOG_DGRAM_MAX (LOG_TEXT_MAX + 2048)

static int journal_fd = -1;
static struct sockaddr_un journal_addr;
static socklen_t journal_addr_len;
static bool copy_stderr;

void srv_log_open(bool copy)
{
    const char *path = getenv("BOOTGATE_JOURNAL_SOCKET");
    struct stat st;
    size_t n;

    copy_stderr = copy;
    openlog("bootgated", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    /* a socket, whatever access(W_OK) says: ProtectSystem=strict mounts /run
     * read-only, and sending to a socket there still works */
    if (!path || !*path)
        path = stat(JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode) ? JOURNAL_SOCKET : NULL;
    if (!path)
        return;
    n = strlen(path);
    if (n >= sizeof(journal_addr.sun_path))
        return;
    journal_addr.sun_family = AF_UNIX;
    memcpy(journal_addr.sun_path, path, n + 1);
    journal_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void srv_log_close(void)
{
    if (journal_fd >= 0)
        close(journal_fd);
    journal_fd = -1;
    closelog();
}

bool srv_log_to_journal(void)
{
    return journal_fd >= 0;
}

const char *srv_log_message_id(const srv_log_fields *f)
{
    if (f->unaudited)
        return SRV_LOG_MSGID_DENIAL_UNAUDITED;
    if (f->action && strcmp(f->action, "key_released") == 0)
        return SRV_LOG_MSGID_KEY_RELEASED;
    if (f->action && strcmp(f->action, "unlock_denied") == 0)
        return SRV_LOG_MSGID_UNLOCK_DENIED;
    if (f->action && strcmp(f->action, "breakglass_used") == 0)
        return SRV_LOG_MSGID_BREAKGLASS_USED;
    return SRV_LOG_MSGID_AUDIT;
}

void srv_log_field(char *out, size_t size, const char *in)
{
    size_t n = 0;
    if (!in || !*in)
        in = "-";
    for (; *in && n + 1 < size; in++, n++) {
        unsigned char c = (unsigned char)*in;
        out[n] = isalnum(c) || strchr("-_.:@/", c) ? (char)c : '_';
    }
    out[n] = '\0';
}

typedef struct dgram {
    char data[LOG_DGRAM_MAX];
    size_t size;
    bool overflow;
} dgram;

static void dgram_add(dgram *d, const void *p, size_t n)
{
    if (n > sizeof(d->data) - d->size) {
        d->overflow = true;
        return;
    }
    memcpy(d->data + d->size, p, n);
    d->size += n;
}

/* KEY=value\n; the value cannot hold a newline (srv_log_field) */
static void dgram_field(dgram *d, const char *key, const char *value)
{
    char v[256];
    srv_log_field(v, sizeof(v), value);
    dgram_add(d, key, strlen(key));
    dgram_add(d, "=", 1);
    dgram_add(d, v, strlen(v));
    dgram_add(d, "\n", 1);
}

/* KEY\n, its size as 64-bit little endian, the bytes, \n: any bytes, so that
 * no text can end the field and forge another */
static void dgram_binary(dgram *d, const char *key, const char *value, size_t n)
{
    uint8_t le[8];
    for (size_t i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)n >> (8 * i));
    dgram_add(d, key, strlen(key));
    dgram_add(d, "\n", 1);
    dgram_add(d, le, sizeof(le));
    dgram_add(d, value, n);
    dgram_add(d, "\n", 1);
}

static int journal_send(int priority, const srv_log_fields *f, const char *text)
{
    _cleanup_(freep) dgram *d = calloc(1, sizeof(*d));
    char num[32];

    if (!d)
        return -ENOMEM;
    dgram_binary(d, "MESSAGE", text, strlen(text));
    snprintf(num, sizeof(num), "%d", priority & LOG_PRIMASK);
    dgram_field(d, "PRIORITY", num);
    dgram_field(d, "SYSLOG_IDENTIFIER", "bootgated");
    snprintf(num, sizeof(num), "%d", LOG_DAEMON >> 3);
    dgram_field(d, "SYSLOG_FACILITY", num);
    dgram_field(d, "MESSAGE_ID", srv_log_message_id(f));
    if (f->action)
        dgram_field(d, "BOOTGATE_ACTION", f->action);
    snprintf(num, sizeof(num), "%lld", (long long)f->seq);
    dgram_field(d, "BOOTGATE_AUDIT_SEQ", num);
    if (f->node && *f->node)
        dgram_field(d, "BOOTGATE_NODE", f->node);
    if (f->actor)
        dgram_field(d, "BOOTGATE_ACTOR", f->actor);
    if (f->verdict)
        dgram_field(d, "BOOTGATE_VERDICT", f->verdict);
    if (f->policy && *f->policy)
        dgram_field(d, "BOOTGATE_POLICY", f->policy);
    if (f->unaudited)
        dgram_field(d, "BOOTGATE_UNAUDITED", "1");
    if (d->overflow)
        return -EMSGSIZE;
    if (sendto(journal_fd, d->data, d->size, MSG_NOSIGNAL, (struct sockaddr *)&journal_addr,
               journal_addr_len) < 0)
        return -errno;
    return 0;
}

/* Whether /dev/log is a socket, looked at once a second: with nobody
 * listening, glibc's syslog() makes, connects and closes a socket for every
 * line (LOG_NDELAY only covers the first), all to drop the line. */
static bool syslog_listening(void)
{
    static _Atomic int64_t checked;
    static atomic_bool listening;
    int64_t now = (int64_t)time(NULL);
    if (atomic_load_explicit(&checked, memory_order_relaxed) != now) {
        struct stat st;
        atomic_store_explicit(&listening, stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode),
                              memory_order_relaxed);
        atomic_store_explicit(&checked, now, memory_order_relaxed);
    }
    return atomic_load_explicit(&listening, memory_order_relaxed);
}

void srv_log(int priority, const srv_log_fields *f, const char *fmt, ...)
{
    char text[LOG_TEXT_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* the journal, else (none, or it refused: not running, queue full) syslog */
    if ((journal_fd < 0 || journal_send(priority, f, text) < 0) && syslog_listening())
        syslog(priority, "%s", text);
    if (copy_stderr)
        fprintf(stderr, "bootgated[%d]: %s\n", (int)getpid(), text);
}

void srv_log_audit(int priority, const srv_log_fields *f, const char *detail)
{
    char n[PROTO_MAX_ID + 1], a[192];
    /* the node id comes from an unauthenticated request and the actor from a
     * certificate CN: neither may forge a field of the syslog line */
    srv_log_field(n, sizeof(n), f->node);
    srv_log_field(a, sizeof(a), f->actor);
    /* one bounded line per record, whatever its details: the whole record
     * is in the audit log */
    srv_log(priority, f,
            "BOOTGATE_AUDIT_SEQ=%lld BOOTGATE_ACTION=%s BOOTGATE_NODE=%s BOOTGATE_ACTOR=%s %.*s%s",
            (long long)f->seq, f->action, n, a, SRV_LOG_DETAIL_MAX, detail ? detail : "",
            detail && strlen(detail) > SRV_LOG_DETAIL_MAX ? " [...]" : "");
}
