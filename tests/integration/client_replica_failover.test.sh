#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The client's failover along its server list (https_request_failover, the
# path every request of bootgate-unlock takes), driven by `bootgate-unlock-test
# http URL,URL`: a dead first server costs one try and no backoff; a server
# that dies in the middle of the request costs one retry at the next; the
# first server that answers is the one used; with all of them dead the client
# goes round the list with backoff until the deadline and exits 4.
# server_replica.test.sh does the same with bootgated replicas and real boots.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

make_pki
start_https() { # NAME BIG (0: JSON echo, -1: dies mid-request) -> port in $WORK/NAME.port
    python3 "$HERE/client_https_server.py" "$WORK/srv.pem" "$WORK/srv.key" "$WORK/$1.port" "$2" \
        >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    eval "${1}_PID=$!"
    for _ in $(seq 100); do [ -s "$WORK/$1.port" ] && break; sleep 0.05; done
    [ -s "$WORK/$1.port" ] || die "https server $1 did not start"
}
# backoff 2 s: a failover that waited for it would show in elapsed_ms
http() { unlock_test --set ca="$WORK/ca.pem" --set backoff_initial_ms=2000 --set backoff_max_ms=2000 "$@"; }
field() { sed -n "s/^$1 //p" <<<"$2"; }

start_https live 0
start_https live2 0
LIVE=https://127.0.0.1:$(cat "$WORK/live.port")/v1/x
LIVE2=https://127.0.0.1:$(cat "$WORK/live2.port")/v1/x
DEAD=https://127.0.0.1:$(free_port)/v1/x
DEAD2=https://127.0.0.1:$(free_port)/v1/x

out=$(http http "$LIVE,$LIVE2")
check "both up: the first answers" "0 1 200" "$(field server "$out") $(field attempts "$out") $(field status "$out")"

out=$(http http "$DEAD,$LIVE" --body '{"a":1}')
check "first dead: the second answers after one failed try" "1 2 200" \
    "$(field server "$out") $(field attempts "$out") $(field status "$out")"
check "  without waiting for the backoff (2 s)" yes "$([ "$(field elapsed_ms "$out")" -lt 1500 ] && echo yes || echo no)"

start_https dying -1
DYING=https://127.0.0.1:$(cat "$WORK/dying.port")/v1/x
before=$(grep -c '^POST' "$WORK/live.log")
out=$(http http "$DYING,$LIVE" --body '{"a":2}')
check "first dies mid-request: the second answers, one retry" "1 2 200" \
    "$(field server "$out") $(field attempts "$out") $(field status "$out")"
check "  the first had the request when it died" 1 "$(grep -c 'POST /v1/x (dying)' "$WORK/dying.log")"
check "  and is gone" gone "$(kill -0 "$dying_PID" 2>/dev/null && echo alive || echo gone)"
check "  the second got the request" $((before + 1)) "$(grep -c '^POST' "$WORK/live.log")"

set +e
out=$(http --timeout 5 http "$DEAD,$DEAD2" 2>"$WORK/err")
rc=$?
set -e
check "all dead: exit 4 at the deadline" 4 "$rc"
attempts=$(field attempts "$out")
# backoff 1..2 s (jitter) between rounds of 2 tries: 3 to 5 rounds in 5 s
check "  going round the list, with backoff between rounds (6..10 tries in 5 s)" yes \
    "$([ "${attempts:-0}" -ge 6 ] && [ "${attempts:-0}" -le 10 ] && echo yes || echo no)"
check "  ending at the deadline" yes "$(e=$(field elapsed_ms "$out"); [ "${e:-0}" -ge 4500 ] && [ "${e:-0}" -lt 8000 ] && echo yes || echo no)"

set +e
http http "$LIVE,$LIVE2,$DEAD,$DEAD2,$LIVE/2,$LIVE/3,$LIVE/4,$LIVE/5,$LIVE/6" >/dev/null 2>"$WORK/err"
rc=$?
set -e
check "more than 8 servers is a usage error" 2 "$rc"
finish
