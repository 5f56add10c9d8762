#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Smoke test of the load benchmark (issue 12, points 6-7): bench/loadgen/run.sh
# with a few synthetic nodes for a few seconds against a real bootgated and a
# real tangd behind socat. Asserted: bootgate releases > 0 and Tang recoveries
# > 0 with zero errors on either side (each release's key checked against the
# enrolled one), the audit chain verifies, and the RESULT line has all eleven
# fields, each a number: the closed loop is followed by an open loop at half
# its rate (the p99 at half load), and the node side's crypto floor gives the
# bound on releases/s. Nodes that quote another boot than the policy's are
# denied, counted as such, and fail the run. Then a storm of a few nodes on two bootgated replicas
# sharing the store (each node enrolls at one, boots at the other): each node
# released exactly once, the chain verifies up to the signed head.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

: "${BOOTGATE_BUILDDIR:?}" "${BOOTGATE_SRCDIR:?}"
[ -x "$BOOTGATE_BUILDDIR/bench/loadgen" ] || skip "bench/loadgen not built"
[ -x "${BOOTGATED:-}" ] || skip "bootgated not built"
for c in socat /usr/libexec/tangd; do command -v "$c" >/dev/null || skip "$c absent (ci/deps.sh)"; done
RUN=$BOOTGATE_SRCDIR/bench/loadgen/run.sh

set +e
BUILD=$BOOTGATE_BUILDDIR "$RUN" --quick --nodes 4 --concurrency 2 --duration 2 >"$WORK/run.out" 2>&1
rc=$?
set -e
cat "$WORK/run.out"
check "run.sh --quick exits 0" 0 "$rc"
check "the last line is the RESULT line" RESULT "$(tail -1 "$WORK/run.out" | cut -d' ' -f1)"
check "exactly one RESULT line" 1 "$(grep -c '^RESULT ' "$WORK/run.out")"
result=$(grep '^RESULT ' "$WORK/run.out" || true)
for field in releases/s tang/s speedup cpu_us/release floor_us cpu/floor p99_ms half_rate/s \
    p99_half_ms node_floor_us bound/s; do
    v=$(echo "$result" | tr ' ' '\n' | sed -n "s|^$field=||p")
    if [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then pass "RESULT $field=$v is a number"; else fail "RESULT $field is a number (got '$v')"; fi
done
rel=$(echo "$result" | sed -n 's|.*releases/s=\([0-9.]*\).*|\1|p')
tang=$(echo "$result" | sed -n 's|.*tang/s=\([0-9.]*\).*|\1|p')
check_ok "releases/s > 0 ($rel)" awk -v v="${rel:-0}" 'BEGIN { exit !(v > 0) }'
check_ok "tang/s > 0 ($tang)" awk -v v="${tang:-0}" 'BEGIN { exit !(v > 0) }'
check "bootgate: zero errors" "bootgate: errors 0" "$(grep '^bootgate: errors' "$WORK/run.out")"
check "tang: zero errors" "tang: errors 0" "$(grep '^tang: errors' "$WORK/run.out")"
check "half load: zero errors" "bootgate-half: errors 0" "$(grep '^bootgate-half: errors' "$WORK/run.out")"
half=$(echo "$result" | sed -n 's|.*half_rate/s=\([0-9.]*\).*|\1|p')
check_ok "half load: $half/s is about half of $rel/s" \
    awk -v h="${half:-0}" -v r="${rel:-0}" 'BEGIN { exit !(h >= 0.3 * r && h <= 0.7 * r) }'
check "enrollment: zero errors" 1 "$(grep -c '^enroll: 4 nodes .* 0 errors$' "$WORK/run.out")"
check "audit verify passes" 1 "$(grep -c '^audit verify: pass' "$WORK/run.out")"

# the bad case: nodes whose quoted PCRs come from another boot than the one the
# policy was captured from are denied; loadgen counts each denial, releases
# nothing and fails the run
set +e
LOADGEN_ARGS="--eventlog $BOOTGATE_SRCDIR/tests/data/captures/seabios-kernel/eventlog.bin" \
    BUILD=$BOOTGATE_BUILDDIR "$RUN" --quick --nodes 2 --concurrency 2 --duration 1 >"$WORK/deny.out" 2>&1
rc=$?
set -e
grep -E '^(bootgate|RESULT|FAIL)' "$WORK/deny.out" || true
check "denied boots: run.sh fails" 1 "$rc"
check "denied boots: nothing released" 1 "$(grep -c '^bootgate: 0 ok ' "$WORK/deny.out")"
check_ok "denied boots: counted as http_4xx, no other kind" \
    grep -qE '^bootgate: errors [1-9][0-9]* http_4xx=[1-9][0-9]*$' "$WORK/deny.out"
check_ok "denied boots: the reason is the policy" grep -q 'first http_4xx: /v1/unlock: HTTP 403' "$WORK/deny.out"

# storm on two replicas: every node boots once; run.sh counts key_released records per node
set +e
REPLICAS=2 BUILD=$BOOTGATE_BUILDDIR "$RUN" --storm 12 --concurrency 4 >"$WORK/storm.out" 2>&1
rc=$?
set -e
cat "$WORK/storm.out"
check "REPLICAS=2 run.sh --storm 12 exits 0" 0 "$rc"
check "storm: every node released once (loadgen)" 1 \
    "$(grep -c '^STORM nodes=12 released_once=12 never=0 more_than_once=0 ' "$WORK/storm.out")"
check "storm: one key_released record per node (audit)" 1 \
    "$(grep -c '^audit: 12 key_released records for 12 distinct nodes' "$WORK/storm.out")"
check "storm: audit verify passes online (in pages)" 1 "$(grep -c '^audit verify: pass' "$WORK/storm.out")"
check "storm: and on the store after the replicas stopped" 1 "$(grep -c '^audit verify --db: pass' "$WORK/storm.out")"
finish
