#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Notifications (issue 11, point 7): bootgated with both hooks, an HTTPS
# webhook on loopback (notify_webhook_server.py, its certificate checked
# against the test CA) and a command that appends its stdin to a file.
# A policy activation, a policy denial, a denial before identity, a
# break-glass request, its two approvals (and the activation they make) and
# its use each reach both hooks exactly once, with the audit record's seq,
# actor, node and details; a release does not. Then the webhook stalls and
# the command fails: an unlock still releases in its normal time, a denial
# still denies, the failure counters rise and the log says so, rate-limited;
# the webhook dies: the same; and a stop is not held up by a stalled hook.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_createek tpm2_quote tpm2_activatecredential python3 jq; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
HOOK_EVENTS=$WORK/webhook.jsonl
CMD_EVENTS=$WORK/command.jsonl
: >"$HOOK_EVENTS"
: >"$CMD_EVENTS"

# webhook MODE [PORT [CERT KEY]]: the recording HTTPS server (ok: 204; hang:
# no answer), with the test CA's server certificate unless CERT and KEY
webhook() {
    rm -f "$WORK/webhook.port"
    python3 "$HERE/notify_webhook_server.py" "${3:-$SRV/server.crt}" "${4:-$SRV/server.key}" "$WORK/webhook.port" \
        "$HOOK_EVENTS" "$1" "${2:-0}" 2>>"$WORK/webhook.err" &
    HOOK_PID=$!
    PIDS+=("$HOOK_PID")
    for _ in $(seq 100); do
        [ -s "$WORK/webhook.port" ] && break
        sleep 0.05
    done
    HOOK_PORT=$(cat "$WORK/webhook.port" 2>/dev/null) || die "webhook did not start: $(cat "$WORK/webhook.err")"
}
metric() { curl -sf --cacert "$SRV/ca.crt" "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# wait_for CMD...: up to 20 s until CMD succeeds
wait_for() {
    for _ in $(seq 200); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }
metric_above() { [ "$(metric "$1")" -gt "$2" ] 2>/dev/null; }
# server-side duration of the last request (Server-Timing total), whole ms
server_ms() { tr -d '\r' <"$WORK/reply.headers" | sed -n 's/^[Ss]erver-[Tt]iming: .*total;dur=\([0-9]*\).*/\1/p'; }

bootgated_init
webhook ok
cat >"$WORK/hook" <<EOF
#!/bin/sh
# the event, then what the environment held, one JSON line each
{ cat; echo; } >>"$CMD_EVENTS"
env | sort | tr '\n' ' ' >>"$WORK/command.env"; echo >>"$WORK/command.env"
EOF
chmod +x "$WORK/hook"
SRV_EXTRA_CONF="notify_webhook = https://127.0.0.1:$HOOK_PORT/hooks/bootgate
notify_webhook_ca = $SRV/ca.crt
notify_command = $WORK/hook
notify_timeout = 2"

# --- configuration the server refuses at start (beside the real one: its
# relative paths are taken from the config file's directory) -----------------
cp "$SRV/bootgated.conf" "$SRV/check.conf"
printf '%s\n' "$SRV_EXTRA_CONF" | sed "s|^notify_command = .*|notify_command = $WORK/nonexistent|" \
    >>"$SRV/check.conf"
check "--check refuses a notify_command that does not exist" 1 \
    "$("$BOOTGATED" -c "$SRV/check.conf" --check 2>&1 | grep -c 'notify_command .*/nonexistent: No such file')"
sed -i "s|^notify_command = .*|notify_command = $WORK/hook|; s|^notify_webhook = https|notify_webhook = http|" \
    "$SRV/check.conf"
check "--check refuses an http:// webhook" 1 \
    "$("$BOOTGATED" -c "$SRV/check.conf" --check 2>&1 | grep -c 'notify_webhook: not an https:// URL')"

start_swtpm
start_bootgated
for m in 'bootgate_notify_sent_total{hook="webhook"}' 'bootgate_notify_failures_total{hook="webhook"}' \
    'bootgate_notify_failures_total{hook="command"}' bootgate_notify_dropped_total; do
    check "/metrics has $m, 0 at start" 0 "$(metric "$m")"
done

# --- every kind of event, once -----------------------------------------------
node_setup web # enrollment, policy web v1 uploaded and activated
N=$WORK/node
check "unlock releases" 200 "$(try_unlock)"
eventlog_append "$N/eventlog.bin" "$N/eventlog-new.bin" "4:0x80000003:new kernel"
check "a new kernel is denied by the policy" policy_denied \
    "$(EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
CODE=$(jreply .breakglass_code)
forged_unlock_body "$WORK/forged.json"
check "a forged nonce is denied before identity" nonce_forged \
    "$(api POST /v1/unlock "$WORK/forged.json" >/dev/null; jreply .verdict)"
check "break-glass request" 200 "$(breakglass_request "$CODE" observed 1 600)"
GRANT=$(jreply .id)
check "first approval" 200 "$(breakglass_approve "$GRANT" "$SRV/approver1.key")"
check "second approval: active" 200 "$(breakglass_approve "$GRANT" "$SRV/approver2.key")"
check "the grant releases the denied boot" 200 "$(EVENTLOG=$N/eventlog-new.bin try_unlock)"
check "... as break-glass" breakglass "$(jreply .policy.mode)"
bootgated_policy web 2 "$N/eventlog-new.bin" # the new kernel approved: the TPM's state now

# the audit records that must have been notified, in order
check "audit log readable" 200 "$(api GET '/v1/admin/audit?limit=1000' '' auditor)"
jq -c '[.records[] | select(.action | test("^(unlock_denied|breakglass_(requested|approved|activated|used)|policy_activated)$"))
    | {event: .action, audit_seq: .seq, actor, node: (.node // ""), details: (.details | fromjson)}]' \
    "$WORK/reply" >"$WORK/expected.json"
want=$(jq length "$WORK/expected.json")
check "the audit log holds the 9 notified records" \
    "policy_activated unlock_denied unlock_denied breakglass_requested breakglass_approved breakglass_approved breakglass_activated breakglass_used policy_activated" \
    "$(jq -r '[.[].event] | join(" ")' "$WORK/expected.json")"
wait_for lines_at_least "$HOOK_EVENTS" "$want" || true
wait_for lines_at_least "$CMD_EVENTS" "$want" || true
sleep 0.5 # nothing more may come
jq -sc '[.[].body]' "$HOOK_EVENTS" >"$WORK/hook-bodies.json"
jq -sc '.' "$CMD_EVENTS" >"$WORK/cmd-bodies.json"
fields='[.[] | {event, audit_seq, actor, node, details}]'
# same_events FILE: FILE's events are expected.json's (a diff on stderr if not)
same_events() {
    if diff <(jq -S . "$WORK/expected.json") <(jq -S "$fields" "$1") >&2; then echo same; else echo different; fi
}
check "the webhook got each notified record exactly once, in order, with its seq, actor, node and details" \
    same "$(same_events "$WORK/hook-bodies.json")"
check "the command got the same events" same "$(same_events "$WORK/cmd-bodies.json")"
check "every event has exactly the fields event, time, node, audit_seq, actor, details, server" \
    '["actor","audit_seq","details","event","node","server","time"]' \
    "$(jq -c '[.[] | keys] | unique | .[]' "$WORK/hook-bodies.json")"
check "time is UTC ISO 8601" "$want" \
    "$(jq '[.[] | select(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))] | length' "$WORK/hook-bodies.json")"
check "server is this host's name" "$(hostname)" "$(jq -r '[.[].server] | unique | join(",")' "$WORK/hook-bodies.json")"
check "the denial names node, verdict and break-glass code" "$NODE_ID policy_denied $CODE" \
    "$(jq -r '[.[] | select(.event == "unlock_denied")][0] | "\(.node) \(.details.verdict) \(.details.breakglass_code)"' "$WORK/hook-bodies.json")"
check "the policy activations name the policy" "web 1,web 2" \
    "$(jq -r '[.[] | select(.event == "policy_activated") | "\(.details.name) \(.details.version)"] | join(",")' "$WORK/hook-bodies.json")"
check "the use names the grant" "$GRANT" \
    "$(jq -r '.[] | select(.event == "breakglass_used") | .details.grant' "$WORK/hook-bodies.json")"
check "a release (key_released) is not notified" 0 \
    "$(jq '[.[] | select(.event == "key_released")] | length' "$WORK/hook-bodies.json")"
check "POSTed to the URL's path as application/json" "/hooks/bootgate application/json" \
    "$(jq -sr '[.[] | "\(.path) \(.content_type)"] | unique | join(",")' "$HOOK_EVENTS")"
check "no event holds the volume key" 0 \
    "$(cat "$HOOK_EVENTS" "$CMD_EVENTS" | grep -cF "$(base64 -w0 "$N/volume.key")" || true)"
check "the command's environment: PATH, LC_ALL, BOOTGATE_EVENT (and what sh adds)" "" \
    "$(tr ' ' '\n' <"$WORK/command.env" | sed 's/=.*//' | sort -u |
        grep -vxE 'PATH|LC_ALL|BOOTGATE_EVENT|PWD|SHLVL|_|' || true)"
check "BOOTGATE_EVENT is the event" "$(jq -r '[.[].event] | join(" ")' "$WORK/expected.json")" \
    "$(sed 's/.*BOOTGATE_EVENT=\([a-z_]*\).*/\1/' "$WORK/command.env" | tr '\n' ' ' | sed 's/ $//')"
check "sent counter: webhook" "$want" "$(metric 'bootgate_notify_sent_total{hook="webhook"}')"
check "sent counter: command" "$want" "$(metric 'bootgate_notify_sent_total{hook="command"}')"
check "no failure" 0 "$(metric 'bootgate_notify_failures_total{hook="webhook"}')"

# --- a stalled webhook and a failing command change nothing else ----------------
new_unlock() { EVENTLOG=$N/eventlog-new.bin try_unlock; }
forged_denial() {
    forged_unlock_body "$WORK/forged.json"
    api POST /v1/unlock "$WORK/forged.json" >/dev/null
    jreply .verdict
}
check "under policy v2 the node's boot releases" 200 "$(new_unlock)"
RELEASE_MS=$(server_ms)
stop_pid "$HOOK_PID"
webhook hang "$HOOK_PORT"
printf '#!/bin/sh\ncat >/dev/null\nexit 1\n' >"$WORK/hook"
fail_hook0=$(metric 'bootgate_notify_failures_total{hook="webhook"}')
fail_cmd0=$(metric 'bootgate_notify_failures_total{hook="command"}')
check "stalled webhook: a denial still denies" nonce_forged "$(forged_denial)"
check "... at once (server side < 1 s)" 1 "$([ "$(server_ms)" -lt 1000 ] && echo 1)"
for i in 1 2 3; do
    check "stalled webhook: unlock $i still releases" 200 "$(new_unlock)"
    ms=$(server_ms)
    log "release $i with a stalled webhook: $ms ms (before: $RELEASE_MS ms)"
    check "... in its normal time ($ms ms < 1000 ms)" 1 "$([ "$ms" -lt 1000 ] && echo 1)"
done
check "the webhook got the denial (and stalled)" unlock_denied \
    "$(wait_for lines_at_least "$HOOK_EVENTS" $((want + 1)); tail -1 "$HOOK_EVENTS" | jq -r .body.event)"
check_ok "the failed command is counted" wait_for metric_above 'bootgate_notify_failures_total{hook="command"}' "$fail_cmd0"
check_ok "the stalled webhook is counted (timeout 2 s, one retry)" \
    wait_for metric_above 'bootgate_notify_failures_total{hook="webhook"}' "$fail_hook0"
check_ok "the log says the webhook failed, and why" \
    grep -qE 'notification unlock_denied \(audit seq [0-9]+\) to notify_webhook failed: TLS handshake: Connection timed out' \
    "$WORK/bootgated.log"
check_ok "the log says the command failed, and why" \
    grep -qE 'to notify_command failed: .*/hook exited with status 1' "$WORK/bootgated.log"

# --- a dead webhook: the same ------------------------------------------------------
stop_pid "$HOOK_PID"
fail_hook1=$(metric 'bootgate_notify_failures_total{hook="webhook"}')
check "dead webhook: a denial still denies" nonce_forged "$(forged_denial)"
check "dead webhook: an unlock still releases" 200 "$(new_unlock)"
check_ok "the dead webhook is counted" \
    wait_for metric_above 'bootgate_notify_failures_total{hook="webhook"}' "$fail_hook1"
check_ok "the log says the connection was refused" \
    grep -qE 'to notify_webhook failed: cannot connect to 127.0.0.1 port [0-9]+: Connection refused' "$WORK/bootgated.log"

# --- a webhook whose certificate the CA did not sign gets nothing -------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/rogue.key" -out "$WORK/rogue.crt" 2>/dev/null
webhook ok "$HOOK_PORT" "$WORK/rogue.crt" "$WORK/rogue.key"
printf '#!/bin/sh\ncat >/dev/null\n' >"$WORK/hook"
fail_hook2=$(metric 'bootgate_notify_failures_total{hook="webhook"}')
lines=$(wc -l <"$HOOK_EVENTS")
check "rogue webhook: a denial still denies" nonce_forged "$(forged_denial)"
check_ok "the rogue webhook is counted as a failure" \
    wait_for metric_above 'bootgate_notify_failures_total{hook="webhook"}' "$fail_hook2"
check "... and received nothing" "$lines" "$(wc -l <"$HOOK_EVENTS")"
check_ok "the log says the certificate was not trusted" \
    grep -qE 'to notify_webhook failed: TLS handshake failed: certificate: (self-signed|unable to get local issuer)' \
    "$WORK/bootgated.log"
stop_pid "$HOOK_PID"
check "nothing was dropped" 0 "$(metric bootgate_notify_dropped_total)"
check "bootgated still serves" 200 "$(api GET /healthz)"

# --- a stop is not held up by a stalled hook -----------------------------------------
webhook hang "$HOOK_PORT"
printf '#!/bin/sh\nsleep 30 &\necho $! >"%s"\nwait\n' "$WORK/sleep.pid" >"$WORK/hook"
rm -f "$WORK/sleep.pid"
forged_denial >/dev/null
wait_for test -s "$WORK/sleep.pid" || true
# SIGTERM to bootgated alone (stop_bootgated would kill its children itself)
t0=$(date +%s%N)
kill "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
SRV_PID=
stop_ms=$((($(date +%s%N) - t0) / 1000000))
log "stop with a stalled webhook took $stop_ms ms"
check "a stop with a stalled webhook takes < 4 s ($stop_ms ms)" 1 "$([ "$stop_ms" -lt 4000 ] && echo 1)"
check_ok "the hanging command ran" test -s "$WORK/sleep.pid"
check "... and its process group was killed (no sleep 30 left)" gone \
    "$(ps -o stat= -p "$(cat "$WORK/sleep.pid")" | grep -q '^[^Z]' && echo alive || echo gone)"
finish
