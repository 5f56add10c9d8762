#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Load benchmark (issue 12, points 6-7): synthetic nodes with a software TPM
# (build/bench/loadgen) against bootgated, side by side with Debian's tangd
# behind socat (its socket-activated deployment) under the same concurrency.
# Builds nothing; everything on 127.0.0.1 in a temp dir, stopped at exit.
#
#   bench/loadgen/run.sh --quick          ~1 min: 32 nodes, concurrency 8, 5 s each side
#   bench/loadgen/run.sh [--nodes N] [--concurrency C] [--duration S] [--rate R]
#   bench/loadgen/run.sh --storm [N]      N nodes (default 10000) boot once each
#                                         (concurrency C, default 32); time to drain,
#                                         every node released exactly once, audit verify
# Environment:
#   BUILD=DIR        build directory (default ./build)
#   STORE=URL        bootgated's store (default sqlite:// in the temp dir; e.g. a
#                    postgresql:// URL once that backend exists)
#   EVENTLOG=FILE    the nodes' firmware log (default tests/data/captures/ovmf-uki/eventlog.bin)
#   WORKERS=N        bootgated worker threads (default: the config's, 2)
#   REPLICAS=N       bootgated processes sharing the store (default 1): boot i goes to
#                    replica i mod N, a node enrolls at another replica than it first
#                    boots at, a storm's retry goes to the next replica
#   LOADGEN_ARGS=..  more loadgen options
# The last line of a non-storm run is
#   RESULT releases/s=R tang/s=T speedup=S cpu_us/release=C floor_us=F cpu/floor=Q p99_ms=P
#          [half_rate/s=H p99_half_ms=P2] node_floor_us=N bound/s=B
# (a closed-loop run is followed by an open loop at half its rate, H, whose p99
# is P2; N is the node side's crypto floor, B = CPUs / (F + N): the most
# releases/s this machine could do with the load generator on it)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build}
NODES=64 CONC=8 DURATION=10 RATE='' STORM='' FLOOR=300 WARMUP=1
while [ $# -gt 0 ]; do
    case $1 in
    --quick) NODES=32 DURATION=5 FLOOR=200 ;;
    --nodes) NODES=$2 && shift ;;
    --concurrency) CONC=$2 && shift ;;
    --duration) DURATION=$2 && shift ;;
    --rate) RATE=$2 && shift ;;
    --storm)
        STORM=1 NODES=10000 CONC=32
        if [[ ${2:-} =~ ^[0-9]+$ ]]; then NODES=$2 && shift; fi
        ;;
    -h | --help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
    *) echo "unknown option $1 (--help)" >&2 && exit 2 ;;
    esac
    shift
done
export BOOTGATED=$BUILD/bootgated BOOTGATECTL=$BUILD/bootgatectl
LOADGEN=$BUILD/bench/loadgen
for b in "$BOOTGATED" "$BOOTGATECTL" "$LOADGEN"; do
    [ -x "$b" ] || { echo "$b not built (set BUILD=)" >&2; exit 2; }
done
for c in socat curl jq python3 /usr/libexec/tangd /usr/libexec/tangd-keygen; do
    command -v "$c" >/dev/null || { echo "missing $c (ci/deps.sh)" >&2; exit 2; }
done
EVENTLOG=${EVENTLOG:-$SRC/tests/data/captures/ovmf-uki/eventlog.bin}
# shellcheck source=../../tests/lib/harness.sh
. "$SRC/tests/lib/harness.sh"
say() { echo "loadgen: $*" >&2; }

# --- bootgated: init-server PKI, the store, a policy captured from the log ---
bootgated_init
conf=$SRV/bootgated.conf
if [ -n "${STORE:-}" ]; then
    sed -i '/^db = /d; /^store = /d' "$conf"
    echo "store = $STORE" >>"$conf"
fi
[ -z "${WORKERS:-}" ] || { sed -i '/^workers = /d' "$conf" && echo "workers = $WORKERS" >>"$conf"; }
start_bootgated
bootgated_policy web 1 "$EVENTLOG" --pcrs 0-9,11
SERVER_ARGS=(--url "$URL" --server-pid "$SRV_PID")
REPLICA_PIDS=()
for i in $(seq 2 "${REPLICAS:-1}"); do
    port=$(free_port)
    sed "s/^port = .*/port = $port/" "$conf" >"$SRV/bootgated-$i.conf"
    "$BOOTGATED" -c "$SRV/bootgated-$i.conf" --log-stderr >>"$WORK/bootgated-$i.log" 2>&1 &
    REPLICA_PIDS+=($!)
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -sf --cacert "$SRV/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf --cacert "$SRV/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null ||
        die "replica $i not up: $(tail -3 "$WORK/bootgated-$i.log")"
    SERVER_ARGS+=(--url "https://127.0.0.1:$port" --server-pid "${REPLICA_PIDS[-1]}")
done

# --- tangd behind socat, one tangd process per connection (tangd.socket's Accept=yes) ---
TANG_ARGS=()
if [ -z "$STORM" ]; then
    mkdir -p "$WORK/tang"
    /usr/libexec/tangd-keygen "$WORK/tang"
    TANG_PORT=$(free_port)
    socat TCP-LISTEN:"$TANG_PORT",bind=127.0.0.1,reuseaddr,fork,backlog=512 \
        EXEC:"/usr/libexec/tangd $WORK/tang" 2>>"$WORK/tangd.log" &
    TANG_PID=$!
    PIDS+=("$TANG_PID")
    for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$TANG_PORT/adv" >/dev/null && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$TANG_PORT/adv" >/dev/null || die "tangd not up: $(tail -3 "$WORK/tangd.log")"
    TANG_ARGS=(--tang "127.0.0.1:$TANG_PORT" --tang-pid "$TANG_PID")
fi

MODE_ARGS=(--concurrency "$CONC" --duration "$DURATION" --warmup "$WARMUP")
# closed loop, then open loop at half the rate reached: p99 at half load
if [ -z "$RATE" ]; then MODE_ARGS+=(--half-load); else MODE_ARGS+=(--rate "$RATE"); fi
[ -z "$STORM" ] || MODE_ARGS=(--storm --concurrency "$CONC" --floor-rounds 0)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STAT_BEFORE=$(head -1 /proc/stat)
# store fsyncs and key releases over all replicas (group commit: concurrent
# commits share one fsync of the SQLite WAL)
metric_sum() {
    local u sum=0 v
    for u in "${SERVER_ARGS[@]}"; do
        [[ $u == https://* ]] || continue
        v=$(curl -sf --cacert "$SRV/ca.crt" "$u/metrics" | awk -v m="$1" '
            index($0, m) == 1 && ($0 ~ "^" m "[ {]") { s += $NF } END { printf "%d", s }')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
FSYNCS_BEFORE=$(metric_sum bootgate_store_fsyncs_total)
RELEASES_BEFORE=$(metric_sum bootgate_releases_total)
say "$NODES nodes, ${MODE_ARGS[*]}, ${REPLICAS:-1} replica(s), store ${STORE:-sqlite (temp dir)}, log $EVENTLOG ($(stat -c %s "$EVENTLOG") bytes)"
set +e
# shellcheck disable=SC2086 # LOADGEN_ARGS: extra options, word-split on purpose
"$LOADGEN" "${SERVER_ARGS[@]}" --srv "$SRV" --eventlog "$EVENTLOG" --nodes "$NODES" \
    --floor-rounds "$FLOOR" "${MODE_ARGS[@]}" "${TANG_ARGS[@]}" \
    ${LOADGEN_ARGS:-} >"$WORK/loadgen.out"
rc=$?
set -e
grep -v '^RESULT ' "$WORK/loadgen.out" || true
fsyncs=$(($(metric_sum bootgate_store_fsyncs_total) - FSYNCS_BEFORE))
releases=$(($(metric_sum bootgate_releases_total) - RELEASES_BEFORE))
[ "$releases" -gt 0 ] &&
    echo "store: $fsyncs fsyncs for $releases releases = $(awk -v f="$fsyncs" -v r="$releases" 'BEGIN { printf "%.2f", f / r }') per release (warm-up, enrollment and the Tang phase included; group commit)"
echo "load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after, $(nproc) CPUs (shared with other jobs)"
# the CPU time the hypervisor gave to other guests (/proc/stat steal): a
# noisy host slows both sides and widens the run-to-run spread
awk -v a="$STAT_BEFORE" -v b="$(head -1 /proc/stat)" 'BEGIN {
    split(a, x); split(b, y); for (i = 2; i <= 9; i++) t += y[i] - x[i]
    if (t > 0) printf "cpu time during the run: %.0f%% busy, %.0f%% idle, %.0f%% stolen by the host\n",
        100 * (y[2] + y[3] + y[4] + y[7] + y[8] - x[2] - x[3] - x[4] - x[7] - x[8]) / t,
        100 * (y[5] + y[6] - x[5] - x[6]) / t, 100 * (y[9] - x[9]) / t }'
[ $rc = 0 ] || fail "loadgen exited $rc"

# --- the audit chain after the run ---
# Online through the admin API, which bootgatectl reads in pages (5000
# records per request, the hash of the last record carried from page to
# page), so any storm's chain is verified while bootgated runs; a storm
# prints what that costs (wall time, bootgatectl's peak RSS). A storm then
# stops bootgated and checks the store itself (read-only: the SQLite file,
# or the PostgreSQL URL), on SQLite also with the signer's public key (each
# replica signs the head as it stops; verify must reach it), and the online
# export must be the start of the offline one.
AUDIT=("$BOOTGATECTL" audit)
TIME=()
[ -z "$STORM" ] || [ ! -x /usr/bin/time ] || TIME=(/usr/bin/time -f '%e %M' -o "$WORK/verify.time")
if "${TIME[@]}" "${AUDIT[@]}" verify >"$WORK/verify.out" 2>&1; then
    echo "audit verify: pass ($(tail -1 "$WORK/verify.out"))"
else
    fail "audit verify: $(tail -3 "$WORK/verify.out")"
fi
if [ -n "$STORM" ]; then
    if [ -s "$WORK/verify.time" ]; then
        read -r secs kib <"$WORK/verify.time"
        echo "audit verify online: $secs s, bootgatectl peak RSS $((kib / 1024)) MiB"
    fi
    "${AUDIT[@]}" export >"$WORK/audit-online.jsonl" || fail "audit export (online)"
    for p in "${REPLICA_PIDS[@]}"; do stop_pid "$p"; done
    stop_bootgated
    AUDIT_DB=(--db "${STORE:-$SRV/bootgate.db}")
    VERIFY_OPTS=()
    [ -n "${STORE:-}" ] || VERIFY_OPTS=(--signer "$SRV/audit-signer.pub")
    if "${AUDIT[@]}" verify "${AUDIT_DB[@]}" "${VERIFY_OPTS[@]}" >"$WORK/verify-db.out" 2>&1; then
        echo "audit verify --db: pass ($(tail -1 "$WORK/verify-db.out"))"
    else
        fail "audit verify --db: $(tail -3 "$WORK/verify-db.out")"
    fi
    # every node released exactly once: one key_released record per node
    "${AUDIT[@]}" export "${AUDIT_DB[@]}" >"$WORK/audit.jsonl" || fail "audit export"
    head -c "$(stat -c %s "$WORK/audit-online.jsonl")" "$WORK/audit.jsonl" | cmp -s - "$WORK/audit-online.jsonl" ||
        fail "audit export: the online export is not the start of the store's"
    read -r recs nodes < <(jq -r 'select(.action == "key_released") | .node' "$WORK/audit.jsonl" |
        awk '{ n[$1]++; r++ } END { print r + 0, length(n) }')
    echo "audit: $recs key_released records for $nodes distinct nodes (expected $NODES and $NODES)"
    if [ "$recs" != "$NODES" ] || [ "$nodes" != "$NODES" ]; then
        fail "storm: not every node released exactly once"
    fi
    grep -q "released_once=$NODES never=0 more_than_once=0" "$WORK/loadgen.out" ||
        fail "storm: loadgen saw a node not released exactly once"
fi
if [ "$(failed_checks)" -ne 0 ]; then
    echo "bootgated log tail:" && tail -5 "$WORK/bootgated.log"
    exit 1
fi
grep '^RESULT ' "$WORK/loadgen.out" || [ -n "$STORM" ] || die "loadgen printed no RESULT line"
