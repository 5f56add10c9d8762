#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The client's HTTPS layer (src/lib/https.c, shared with bootgatectl): CA pinning, proxies ignored,
# response cap, retries with backoff until the deadline, exit 4 when the
# server stays unreachable. Driven by `bootgate-unlock_test http`.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

make_pki

start_server() { # $1 = big body size (0 = JSON echo)
    rm -f "$WORK/port"
    python3 "$HERE/client_https_server.py" "$WORK/srv.pem" "$WORK/srv.key" "$WORK/port" "$1" \
        >"$WORK/server.log" 2>&1 &
    HTTPS_PID=$!
    PIDS+=("$HTTPS_PID")
    for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    [ -s "$WORK/port" ] || die "https server did not start"
    PORT=$(cat "$WORK/port")
}
stop_server() { kill "$HTTPS_PID" 2>/dev/null || true; wait "$HTTPS_PID" 2>/dev/null || true; }
http() { unlock_test --set backoff_initial_ms=200 --set backoff_max_ms=1000 "$@"; }

start_server 0
out=$(http --set ca="$WORK/ca.pem" http "https://127.0.0.1:$PORT/v1/x" --body '{"a":1}')
grep -q '^status 200' <<<"$out" || fail "pinned CA: $out"
pass "pinned CA accepted"

# Proxy variables never apply (a proxy on a dead port would make this fail).
out=$(https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 \
    http --set ca="$WORK/ca.pem" http "https://127.0.0.1:$PORT/v1/x")
grep -q '^status 200' <<<"$out" || fail "proxy env used: $out"
pass "proxy environment ignored"

# Wrong CA: refused at once (not retried), exit 4, and the system store is not
# consulted either.
set +e
out=$(http --set ca="$WORK/otherca.pem" --timeout 20 http "https://127.0.0.1:$PORT/" 2>"$WORK/err")
rc=$?
set -e
[ $rc -eq 4 ] || fail "wrong CA: exit $rc"
grep -q '^attempts 1$' <<<"$out" || fail "wrong CA was retried: $out"
grep -qi 'certificate' "$WORK/err" || fail "wrong CA message: $(cat "$WORK/err")"
pass "wrong CA refused: $(head -1 "$WORK/err")"

# http:// is refused (never plaintext)
set +e
http --set ca="$WORK/ca.pem" http "http://127.0.0.1:$PORT/" >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "plain http: exit $rc"
pass "http:// refused"
stop_server

# Response cap: a 2 MiB answer is refused
start_server $((2 * 1024 * 1024))
set +e
http --set ca="$WORK/ca.pem" http "https://127.0.0.1:$PORT/" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 4 ] || fail "oversized answer: exit $rc $(cat "$WORK/err")"
stop_server
pass "oversized answer refused"

# Unreachable: retries with backoff, gives up within the deadline, exit 4
PORT=$(free_port)
start=$(date +%s%N)
set +e
out=$(http --set ca="$WORK/ca.pem" --timeout 3 http "https://127.0.0.1:$PORT/" 2>"$WORK/err")
rc=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 4 ] || fail "unreachable: exit $rc"
att=$(awk '/^attempts/{print $2}' <<<"$out")
[ "$att" -ge 3 ] || fail "only $att attempts in 3 s"
[ $ms -ge 2500 ] && [ $ms -le 4500 ] || fail "gave up after $ms ms, deadline 3000"
pass "unreachable: $att attempts, exit 4 after $ms ms (deadline 3000)"

# rd.bootgate.timeout= on the kernel command line sets the deadline
echo "quiet rd.bootgate.timeout=2 rd.neednet=1" >"$WORK/cmdline"
start=$(date +%s%N)
set +e
BOOTGATE_CMDLINE="$WORK/cmdline" http --set ca="$WORK/ca.pem" http "https://127.0.0.1:$PORT/" \
    >/dev/null 2>&1
rc=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 4 ] && [ $ms -ge 1500 ] && [ $ms -le 3500 ] || fail "cmdline timeout: exit $rc, $ms ms"
pass "rd.bootgate.timeout=2 honoured ($ms ms)"

# Server comes up late: the client keeps trying and succeeds inside the deadline
PORT=$(free_port)
( sleep 2; exec python3 "$HERE/client_https_server.py" "$WORK/srv.pem" "$WORK/srv.key" "$WORK/port2" 0 "$PORT" ) \
    >/dev/null 2>&1 &
PIDS+=($!)
out=$(http --set ca="$WORK/ca.pem" --timeout 15 http "https://127.0.0.1:$PORT/v1/x")
grep -q '^status 200' <<<"$out" || fail "late server: $out"
att=$(awk '/^attempts/{print $2}' <<<"$out")
ms=$(awk '/^elapsed_ms/{print $2}' <<<"$out")
[ "$att" -ge 2 ] && [ "$ms" -ge 1500 ] || fail "late server reached too early? $out"
pass "server 2 s late: reached after $att attempts, $ms ms"
finish
