/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Notifications (issue 11, point 7): the committed audit records that a
 * person should hear of at once (unlock_denied, breakglass_requested,
 * breakglass_approved, breakglass_activated, breakglass_used,
 * policy_activated) go as one JSON event each
 *
 *   {"event": ACTION, "time": "2026-12-03T16:00:00Z", "node": ID or "",
 *    "audit_seq": N, "actor": ..., "details": {the audit record's details},
 *    "server": HOSTNAME}
 *
 * to the configured hooks: notify_command (run without a shell, the event on
 * its stdin) and notify_webhook (an HTTPS POST, the server certificate
 * verified). The audit details never hold a secret, so neither does an event.
 *
 * Delivery never delays a request: notify_audited() only copies the event
 * into a bounded queue (NOTIFY_QUEUE_MAX; when full the event is dropped and
 * counted), and one thread delivers, each hook with notify_timeout seconds
 * and one retry. Failures are counted in /metrics and logged at most once a
 * second per hook. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bgerr.h"
#include "config.h"

#define NOTIFY_QUEUE_MAX 1024
/* seconds notify_stop() waits for the queue to empty before it gives up */
#define NOTIFY_DRAIN_SECONDS 2

/* True when the action's records are notified (and a hook is configured). */
bool notify_wanted(const char *action);

/* The hooks of cfg can run: notify_command executable, notify_webhook_ca
 * readable (bootgated --check, and notify_start). */
int notify_check(const srv_config *cfg, bg_err *err);

/* The delivery thread, when a hook is configured (no-op otherwise); cfg
 * stays in use until notify_stop(). */
int notify_start(const srv_config *cfg, bg_err *err);

/* One committed audit record; details_json: its details as stored (NULL:
 * {}). Never blocks on a hook. */
void notify_audited(const char *action, int64_t seq, const char *actor, const char *node,
                    const char *details_json);

/* Delivers what is queued for at most NOTIFY_DRAIN_SECONDS, then drops (and
 * counts) the rest and stops the thread. */
void notify_stop(void);

/* notify_https.c: POST body to an https:// URL within timeout_s seconds,
 * the server's certificate verified against ca_file (NULL or "": the
 * system's CAs) and its name or IP address checked. 0 on a 2xx answer;
 * -errno with a reason in err otherwise (no part of the body in it).
 * Gives up early (-ECANCELED) once *cancel is set. */
/* notify_https.c: the monotonic clock of the deadlines, in seconds; waits
 * until fd is ready for events (poll), before deadline, in slices of 100 ms
 * so that *cancel (may be NULL) is seen: 0, -ETIMEDOUT or -ECANCELED. */
double notify_clock(void);
int notify_wait_fd(int fd, short events, double deadline, const atomic_bool *cancel);

/* notify_https.c: 0 when url is an https:// URL notify_https_post can use. */
int notify_webhook_url_check(const char *url, bg_err *err);
int notify_https_post(const char *url, const char *ca_file, const char *body, unsigned timeout_s,
                      const atomic_bool *cancel, bg_err *err);
