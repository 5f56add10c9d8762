#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What the operator sees of bootgated (issue 14), with a real bootgated and a
# swtpm node (tests/lib/node.sh): one release, one policy denial (PCR 4
# extended after the policy was captured), the same boot released by a
# two-approver break-glass grant, one denial of an unknown node.
#
# journald: a real systemd-journald (a namespace instance of its own,
# /run/systemd/journal.NS/socket, started by the test) receives bootgated's
# records (BOOTGATE_JOURNAL_SOCKET points bootgated at it; under systemd it is
# /run/systemd/journal/socket). `journalctl --namespace NS FIELD=VALUE` must
# find each outcome as a native entry (_TRANSPORT=journal) with its
# MESSAGE_ID, BOOTGATE_NODE, BOOTGATE_VERDICT, BOOTGATE_AUDIT_SEQ (the seq the
# HTTP answer named) and BOOTGATE_POLICY, and every audit record of the store
# must be there with its seq. Without journald (not root, no systemd) these
# checks are skipped and the metrics checks still run.
#
# metrics: /metrics passes `promtool check metrics` and counts the release by
# group and mode, the denials by group and verdict and the denial's PCR, the
# unlock latency histogram and the audit head; contrib/'s alert rules pass
# `promtool check rules` and their unit tests (`promtool test rules`), and
# every metric the rules and the Grafana dashboard query is one bootgated
# serves.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_createek tpm2_quote tpm2_pcrextend python3 jq promtool; do
    command -v "$t" >/dev/null || { echo "missing $t (ci/deps.sh)"; exit 1; }
done
CONTRIB=$BOOTGATE_SRCDIR/contrib

# --- a journald of the test's own --------------------------------------------
JOURNALD=/lib/systemd/systemd-journald
NS=bootgate-test-$$
JOURNAL=
if [ "$(id -u)" = 0 ] && [ -x "$JOURNALD" ] && command -v journalctl >/dev/null && [ -s /etc/machine-id ]; then
    "$JOURNALD" "$NS" >"$WORK/journald.log" 2>&1 &
    JOURNALD_PID=$!
    # journald first (it writes its files until it exits), then its files
    on_exit "stop_pid $JOURNALD_PID; rm -rf /run/systemd/journal.$NS /var/log/journal/$(cat /etc/machine-id).$NS /run/log/journal/$(cat /etc/machine-id).$NS"
    for _ in $(seq 50); do
        [ -S "/run/systemd/journal.$NS/socket" ] && break
        sleep 0.1
    done
    if [ -S "/run/systemd/journal.$NS/socket" ]; then
        JOURNAL=/run/systemd/journal.$NS/socket
    else
        log "systemd-journald did not start: $(cat "$WORK/journald.log")"
    fi
fi
[ -n "$JOURNAL" ] || log "no journald of our own (needs root and systemd): journal checks skipped"
export BOOTGATE_JOURNAL_SOCKET=${JOURNAL:-$WORK/no-journal.socket}

# a signed audit head every second, for its metrics
# shellcheck disable=SC2034 # read by start_bootgated
SRV_EXTRA_CONF="audit_sign_interval = 1"
start_bootgated
start_swtpm
make_node_keys
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
node_boot
node_enroll web
bootgated_policy web 1 "$WORK/node/eventlog.bin"

check "unlock releases" 200 "$(try_unlock)"
RELEASE_SEQ=$(jreply .audit_seq)
# PCR 4 moves on (a new boot loader, say): the log still replays, the policy denies
eventlog_append "$WORK/node/eventlog.bin" "$WORK/node/eventlog2.bin" \
    4:0x80000003:hex:0202020202020202020202020202020202020202020202020202020202020202
check "the changed boot is denied by the policy" 403 "$(EVENTLOG=$WORK/node/eventlog2.bin try_unlock)"
check "... with verdict policy_denied" policy_denied "$(jreply .verdict)"
DENIAL_SEQ=$(jreply .audit_seq)
# break-glass: a grant for that attempt, two approvals, the same boot released
grant=$("$BOOTGATECTL" breakglass request --code "$(jreply .breakglass_code)" --reason "operator test" \
    --ttl 10m --uses 1 --json --cert "$SRV/approver.crt" --key "$SRV/approver.key" | jq -r .id)
for k in 1 2; do
    "$BOOTGATECTL" breakglass approve "$grant" --approver-key "$SRV/approver$k.key" \
        --cert "$SRV/approver.crt" --key "$SRV/approver.key" >/dev/null
done
check "the grant releases the changed boot" 200 "$(EVENTLOG=$WORK/node/eventlog2.bin try_unlock)"
check "... in mode breakglass" breakglass "$(jreply .policy.mode)"
UNKNOWN=0123456789abcdef0123456789abcdef
check "an unknown node is denied" 403 "$(NODE_ID=$UNKNOWN try_unlock)"
check "... with verdict node_unknown" node_unknown "$(jreply .verdict)"
UNKNOWN_SEQ=$(jreply .audit_seq)
# the last records get their signed head (and nothing more is appended)
sleep 2.5
check "the stderr copy of the log stays (--log-stderr)" 1 \
    "$(grep -c "BOOTGATE_AUDIT_SEQ=$RELEASE_SEQ BOOTGATE_ACTION=key_released" "$WORK/bootgated.log")"

# --- journal ----------------------------------------------------------------------
if [ -n "$JOURNAL" ]; then
    # one entry as JSON: jq -r FILTER on the entries that match FIELD=VALUE...
    jentry() {
        local filter=$1
        shift
        journalctl --namespace="$NS" -o json --no-pager "$@" 2>/dev/null | jq -rs "$filter"
    }
    for _ in $(seq 50); do
        [ "$(jentry length BOOTGATE_AUDIT_SEQ="$UNKNOWN_SEQ")" = 1 ] && break
        sleep 0.1
    done
    check "journalctl BOOTGATE_VERDICT=policy_denied finds the one denial" 1 \
        "$(jentry length BOOTGATE_VERDICT=policy_denied)"
    check "... a native journal entry of bootgated" "journal bootgated" \
        "$(jentry '.[0] | "\(._TRANSPORT) \(.SYSLOG_IDENTIFIER)"' BOOTGATE_VERDICT=policy_denied)"
    check "... MESSAGE_ID of an unlock denial" 9ad3d51b8e464e939409df5d124f73e4 \
        "$(jentry '.[0].MESSAGE_ID' BOOTGATE_VERDICT=policy_denied)"
    check "... node, audit seq, policy" "$NODE_ID $DENIAL_SEQ web" \
        "$(jentry '.[0] | "\(.BOOTGATE_NODE) \(.BOOTGATE_AUDIT_SEQ) \(.BOOTGATE_POLICY)"' BOOTGATE_VERDICT=policy_denied)"
    check "... priority info, action unlock_denied" "6 unlock_denied" \
        "$(jentry '.[0] | "\(.PRIORITY) \(.BOOTGATE_ACTION)"' BOOTGATE_VERDICT=policy_denied)"
    check "the release: MESSAGE_ID, verdict ok, policy, audit seq" \
        "a34910fe81f8429580ac333545def047 ok web $RELEASE_SEQ" \
        "$(jentry '.[0] | "\(.MESSAGE_ID) \(.BOOTGATE_VERDICT) \(.BOOTGATE_POLICY) \(.BOOTGATE_AUDIT_SEQ)"' \
            BOOTGATE_ACTION=key_released BOOTGATE_NODE="$NODE_ID")"
    check "the release's MESSAGE is the audit line's summary" 1 \
        "$(jentry '.[0].MESSAGE' BOOTGATE_ACTION=key_released | grep -c "volume=$VOL policy=web@1 mode=enforce")"
    check "the unknown node: verdict node_unknown, no policy" "node_unknown $UNKNOWN null" \
        "$(jentry '.[0] | "\(.BOOTGATE_VERDICT) \(.BOOTGATE_NODE) \(.BOOTGATE_POLICY)"' BOOTGATE_AUDIT_SEQ="$UNKNOWN_SEQ")"
    check "journalctl MESSAGE_ID= of denials finds both" 2 \
        "$(jentry length MESSAGE_ID=9ad3d51b8e464e939409df5d124f73e4)"
    check "the break-glass use: its MESSAGE_ID, the node" "$NODE_ID" \
        "$(jentry '.[0].BOOTGATE_NODE' MESSAGE_ID=5dbb59b8367542cd99600f50e4939c66 BOOTGATE_ACTION=breakglass_used)"
    # every audit record of the store reached the journal with its seq
    "$BOOTGATECTL" audit list --json >"$WORK/audit.json"
    check "every audit record is a journal entry with its seq and action" \
        "$(jq -r '.[] | "\(.seq) \(.action)"' "$WORK/audit.json" | sort -n)" \
        "$(jentry '.[] | select(.BOOTGATE_AUDIT_SEQ != "-1") | "\(.BOOTGATE_AUDIT_SEQ) \(.BOOTGATE_ACTION)"' \
            SYSLOG_IDENTIFIER=bootgated | sort -n)"
    check "records of other kinds carry the generic audit MESSAGE_ID" c6a0242c37f94d5cae5e4f1c1a76c36b \
        "$(jentry '.[0].MESSAGE_ID' BOOTGATE_ACTION=server_start)"
fi

# --- metrics ------------------------------------------------------------------------
check "GET /metrics" 200 "$(api GET /metrics)"
cp "$WORK/reply" "$WORK/metrics.txt"
check_ok "promtool check metrics: no problem" sh -c "promtool check metrics <'$WORK/metrics.txt' >'$WORK/promtool.out' 2>&1"
cat "$WORK/promtool.out"
check "no series twice (a scrape Prometheus would refuse)" "" \
    "$(grep -v '^#' "$WORK/metrics.txt" | sed 's/ [^ ]*$//' | sort | uniq -d)"
metric() { grep -c "^$1\$" "$WORK/metrics.txt" || true; }
check "releases by group and mode" 1 "$(metric 'bootgate_releases_total{group="web",mode="enforce"} 1')"
check "break-glass releases" 1 "$(metric 'bootgate_releases_total{group="web",mode="breakglass"} 1')"
check "denials by group and verdict" 1 "$(metric 'bootgate_denials_total{group="web",verdict="policy_denied"} 1')"
check "denials of an unknown node: empty group" 1 "$(metric 'bootgate_denials_total{group="",verdict="node_unknown"} 1')"
check "the denial's PCR" 1 "$(metric 'bootgate_denial_pcrs_total{group="web",pcr="4"} 1')"
check "no other PCR" 1 "$(grep -c '^bootgate_denial_pcrs_total' "$WORK/metrics.txt")"
check "unlock latency histogram: 4 unlocks" 1 \
    "$(metric 'bootgate_route_request_seconds_count{method="POST",route="/v1/unlock"} 4')"
check "... with a +Inf bucket" 1 \
    "$(metric 'bootgate_route_request_seconds_bucket{method="POST",route="/v1/unlock",le="+Inf"} 4')"
check "the audit head is the last record" \
    "$("$BOOTGATECTL" audit list --json | jq -r '[.[].seq] | max')" \
    "$(sed -n 's/^bootgate_audit_head_seq //p' "$WORK/metrics.txt")"
check "the signed head is the last one in the audit log" \
    "$("$BOOTGATECTL" audit list --json | jq -r '[.[] | select(.action == "audit_head_signed") | .details | fromjson | .seq] | max')" \
    "$(sed -n 's/^bootgate_audit_signed_head_seq //p' "$WORK/metrics.txt")"
check "... written out in the last minute" 1 \
    "$(($(date +%s) - $(sed -n 's/^bootgate_audit_signed_head_timestamp_seconds //p' "$WORK/metrics.txt") < 60))"

# --- contrib: alert rules and dashboard ----------------------------------------------
check_ok "promtool check rules contrib/prometheus/bootgate-alerts.yml" \
    promtool check rules "$CONTRIB/prometheus/bootgate-alerts.yml"
check_ok "promtool test rules: each alert fires when it should, and only then" \
    sh -c "cd '$CONTRIB/prometheus' && promtool test rules bootgate-alerts.test.yml"
check_ok "the Grafana dashboard is JSON with panels" jq -e '.panels | length > 0' "$CONTRIB/grafana/bootgate-dashboard.json"
served=$(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$WORK/metrics.txt" | sort -u)
queried=$({
    grep -o 'bootgate_[a-z_]*' "$CONTRIB/prometheus/bootgate-alerts.yml"
    jq -r '.panels[].targets[].expr, .templating.list[].definition // empty' "$CONTRIB/grafana/bootgate-dashboard.json" |
        grep -o 'bootgate_[a-z_]*'
} | sed 's/_\(bucket\|sum\|count\)$//' | sort -u)
check "every metric the rules and the dashboard query is served" "" "$(comm -23 <(echo "$queried") <(echo "$served"))"

finish
