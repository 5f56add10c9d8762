#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Adversarial suite, transport: what a stranger can do to bootgated with
# TCP, TLS and HTTP alone (issue 13 point 1; the bounds of issue 12 point 5).
# Slow and idle connections, connection limits, oversized and malformed
# requests, framing tricks, hostile JSON, old TLS, the unlock cap and the
# descriptor limit. Each case asserts a clear answer (or a close), and the
# server keeps serving with bounded memory.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/adversarial.sh
. "$TESTLIB/adversarial.sh"
command -v python3 >/dev/null || die "python3 missing"

SRV_EXTRA_CONF="header_timeout = 2
body_timeout = 3
max_connections = 200
max_connections_per_source = 24
max_concurrent_unlocks = 2
unlock_retry_after = 7" start_bootgated
RSS0=$(rss_kb)
log "resident memory at start: $RSS0 KiB"

# --- slow and idle connections ------------------------------------------------
H0=$(hits header_timeout)
out=$(raw trickle 8 --interval 0.25 --duration 8)
acase "slowloris: 8 connections trickling header bytes are all closed" 8 "$(echo "$out" | jq .closed)"
acase "slowloris: closed at header_timeout (2 s) though bytes kept coming, not later than 4 s" yes \
    "$(echo "$out" | jq -r 'if .max_alive >= 1.5 and .max_alive < 4 then "yes" else "no (\(.max_alive) s)" end')"
acase "  counted in /metrics (header_timeout +8)" 8 "$(($(hits header_timeout) - H0))"
B0=$(hits body_timeout)
out=$(raw slowbody 4 --path /v1/challenge --length 100000 --send 1000 --duration 10)
acase "slow body: connections that stop sending their body are closed by body_timeout (2 + 3 s)" yes \
    "$(echo "$out" | jq -r 'if .closed == 4 and .max_alive < 4.5 then "yes" else "no \(.)" end')"
acase "  counted in /metrics (body_timeout +4)" 4 "$(($(hits body_timeout) - B0))"
out=$(raw hold 20 --duration 6)
acase "20 idle connections (handshake, then nothing) are closed at header_timeout" yes \
    "$(echo "$out" | jq -r 'if .opened == 20 and .closed == 20 and .max_alive < 4 then "yes" else "no \(.)" end')"
serving "after slow and idle connections"

# --- connection limits -----------------------------------------------------------
S0=$(hits max_connections_per_source)
out=$(raw hold 30 --duration 4)
acase "per-source limit: 24 of 30 connections from one address get through, 6 are refused" "24 6" \
    "$(echo "$out" | jq -r '"\(.opened) \(.refused)"')"
acase "the refusals are logged (rate-limited)" yes \
    "$(grep -q 'max_connections_per_source (24) reached' "$WORK/bootgated.log" && echo yes || echo no)"
acase "  counted in /metrics (max_connections_per_source +6)" 6 "$(($(hits max_connections_per_source) - S0))"
serving "after the per-source limit"

# --- sizes -------------------------------------------------------------------------
big=$(head -c 20000 /dev/zero | tr '\0' a)
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big" >"$WORK/bighdr.req"
out=$(raw request --file "$WORK/bighdr.req")
acase "a 20 KB header (max_headers 16 KiB) gets no 200" yes \
    "$(echo "$out" | jq -r 'if (.statuses | index(200)) == null then "yes" else "no \(.statuses)" end')"
printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 17825792\r\n\r\n{' >"$WORK/bigcl.req"
out=$(raw request --file "$WORK/bigcl.req")
acase "a Content-Length over max_body (17 MiB) is 413 before the body is sent" 413 "$(echo "$out" | jq -r '.statuses[0]')"
python3 - "$WORK/bigchunk.req" <<'PY'
import sys
chunk = b"a" * (1 << 20)
with open(sys.argv[1], "wb") as f:
    f.write(b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(17):
        f.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    f.write(b"0\r\n\r\n")
PY
out=$(raw request --file "$WORK/bigchunk.req")
acase "a chunked body over max_body gets no 200 and the connection is closed" yes \
    "$(echo "$out" | jq -r 'if (.statuses | index(200)) == null and .closed then "yes" else "no \(.statuses)" end')"
serving "after oversized requests"

# --- framing -----------------------------------------------------------------------
CH='{"node_id":"0123456789abcdef0123456789abcdef"}'
printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n%s' "$CH" >"$WORK/cllong.req"
out=$(raw request --file "$WORK/cllong.req" --wait 6)
acase "Content-Length longer than the body: no answer, closed at body_timeout" "[] true" \
    "$(echo "$out" | jq -c '.statuses' | tr -d '\n') $(echo "$out" | jq .closed)"
printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n%s' "$CH" >"$WORK/clshort.req"
out=$(raw request --file "$WORK/clshort.req")
acase "Content-Length shorter than the body: 400 for the cut JSON, the rest is no request" yes \
    "$(echo "$out" | jq -r 'if .statuses[0] == 400 and (.statuses | index(200)) == null then "yes" else "no \(.statuses)" end')"
printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 47\r\n\r\n%s' "$CH" >"$WORK/cl2.req"
out=$(raw request --file "$WORK/cl2.req")
acase "two Content-Length headers get no 200" yes \
    "$(echo "$out" | jq -r 'if (.statuses | index(200)) == null then "yes" else "no \(.statuses)" end')"
{
    printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
    printf '%x\r\n%s\r\n0\r\n\r\n' "${#CH}" "$CH"
} >"$WORK/chunked.req"
out=$(raw request --file "$WORK/chunked.req")
acase "a well-formed chunked challenge is read like any body: 200 with a nonce" "200 32" \
    "$(echo "$out" | jq -r '.statuses[0]') $(echo "$out" | jq -r .body | jq -r .nonce | base64 -d | wc -c)"
printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff0\r\nxx\r\n' >"$WORK/chunkbomb.req"
out=$(raw request --file "$WORK/chunkbomb.req")
acase "a chunk size of 2^64 is refused, the connection closed" yes \
    "$(echo "$out" | jq -r 'if (.statuses | index(200)) == null and .closed then "yes" else "no \(.)" end')"
printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/smuggle.req"
out=$(raw request --file "$WORK/smuggle.req")
acase "Content-Length with Transfer-Encoding (smuggling): no 200 for the hidden request" yes \
    "$(echo "$out" | jq -r 'if (.statuses | index(200)) == null then "yes" else "no \(.statuses)" end')"
{
    for _ in 1 2 3; do printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s' "${#CH}" "$CH"; done
} >"$WORK/pipe.req"
out=$(raw request --file "$WORK/pipe.req")
acase "pipelining: three requests in one write get three answers, in order" "[200,200,200]" "$(echo "$out" | jq -c .statuses)"
{
    printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{x}'
    printf 'POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s' "${#CH}" "$CH"
} >"$WORK/pipe2.req"
out=$(raw request --file "$WORK/pipe2.req")
acase "pipelining: a bad request then a good one: 400, then 200" "[400,200]" "$(echo "$out" | jq -c .statuses)"

# --- hostile JSON ---------------------------------------------------------------------
json_case() { # NAME BODY-FILE
    local got
    got=$(api POST /v1/challenge "$2")
    acase "$1: 400 with a reason" "400 yes" "$got $(jq -r 'if (.reason // "") != "" then "yes" else "no" end' "$WORK/reply" 2>/dev/null || echo no)"
}
printf '{"node_id":"0123456789abcdef\xff\xfe456789abcdef"}' >"$WORK/utf8.json"
json_case "invalid UTF-8 in a string" "$WORK/utf8.json"
printf '{"node_id":"0123456789abcdef0123456789abcde\xc3"}' >"$WORK/utf8b.json"
json_case "a truncated UTF-8 sequence" "$WORK/utf8b.json"
python3 -c 'print("[" * 200000 + "]" * 200000)' >"$WORK/deep.json"
json_case "200000 levels of nested arrays" "$WORK/deep.json"
python3 -c 'print("{\"a\":" * 100000 + "1" + "}" * 100000)' >"$WORK/deepobj.json"
json_case "100000 levels of nested objects" "$WORK/deepobj.json"
echo '{"node_id":"0123456789abcdef0123456789abcdef","node_id":"fedcba9876543210fedcba9876543210"}' >"$WORK/dup.json"
json_case "duplicate keys" "$WORK/dup.json"
echo '{"node_id":1e999999}' >"$WORK/huge.json"
json_case "a number beyond double range" "$WORK/huge.json"
python3 -c 'print("{\"node_id\":" + "9" * 100000 + "}")' >"$WORK/hugeint.json"
json_case "a 100000-digit integer" "$WORK/hugeint.json"
printf '{"node_id":"0123456789abcdef\\u0000123456789abcdef"}' >"$WORK/nul.json"
json_case "an escaped NUL inside the node id" "$WORK/nul.json"
serving "after hostile JSON"

# --- TLS ------------------------------------------------------------------------------
for v in TLSv1 TLSv1_1 TLSv1_2; do
    out=$(raw tls --max-version "$v" --ciphers 'ALL:@SECLEVEL=0')
    acase "a client offering at most $v cannot connect (TLS 1.3 only by default)" false "$(echo "$out" | jq .ok)"
done
out=$(raw tls)
acase "control: the same client with TLS 1.3 connects, AEAD suite" "true TLSv1.3 yes" \
    "$(echo "$out" | jq -r '"\(.ok) \(.version) \(if (.cipher | test("GCM|CHACHA20")) then "yes" else "no" end)"')"

# --- the unlock cap ---------------------------------------------------------------------
raw slowbody 2 --path /v1/unlock --length 50000 --send 100 --duration 5 >"$WORK/cap.out" &
CAPPID=$!
jq -n '{node_id:"0123456789abcdef0123456789abcdef", nonce:"AAAA"}' >"$WORK/u.json"
# once both slow unlocks have sent their headers (a few tries under load)
for _ in $(seq 20); do
    got=$(api POST /v1/unlock "$WORK/u.json")
    [ "$got" = 503 ] && break
    sleep 0.2
done
acase "unlock beyond max_concurrent_unlocks (2 in progress): 503" 503 "$got"
acase "the 503 carries Retry-After: unlock_retry_after" 7 \
    "$(tr -d '\r' <"$WORK/reply.headers" | sed -n 's/^Retry-After: //Ip')"
acase "  counted in /metrics" yes "$([ "$(hits max_concurrent_unlocks)" -ge 1 ] && echo yes || echo no)"
acase "other routes are not capped" 200 "$(api POST /v1/challenge "$WORK/serving.json")"
wait "$CAPPID" || true
acase "once the slow unlocks are cut, unlocks are read again (400 for this body, not 503)" 400 \
    "$(api POST /v1/unlock "$WORK/u.json")"

# --- unfinished big bodies: memory comes back -----------------------------------------
RSS1=$(rss_kb)
out=$(raw slowbody 16 --path /v1/challenge --length 16000000 --send 15000000 --duration 12)
acase "16 unfinished 15 MB bodies are all cut at body_timeout" 16 "$(echo "$out" | jq .closed)"
sleep 1
RSS2=$(rss_kb)
log "resident memory: before $RSS1 KiB, after 16 x 15 MB unfinished bodies $RSS2 KiB"
acase "their memory is released: resident memory grew by < 64 MiB (${RSS1} -> ${RSS2} KiB)" yes \
    "$([ $((RSS2 - RSS1)) -lt $((65536 + RSS_SLACK_KB)) ] && echo yes || echo no)"
serving "after the unfinished bodies"
rss_bounded "after everything above" $((RSS0 + 65536))

# --- TLS 1.2 allowed: AEAD suites only; the total connection limit ---------------------------
stop_bootgated
sed -i 's/^max_connections = 200$/max_connections = 10/; s/^max_connections_per_source = 24$/max_connections_per_source = 1000/' \
    "$SRV/bootgated.conf"
echo 'tls12 = yes' >>"$SRV/bootgated.conf"
start_bootgated
out=$(raw tls --max-version TLSv1_2 --ciphers 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256:@SECLEVEL=0')
acase "tls12 = yes: TLS 1.2 with only CBC (non-AEAD) suites cannot connect" false "$(echo "$out" | jq .ok)"
out=$(raw tls --max-version TLSv1_1 --ciphers 'ALL:@SECLEVEL=0')
acase "tls12 = yes: TLS 1.1 still cannot connect" false "$(echo "$out" | jq .ok)"
out=$(raw tls --max-version TLSv1_2 --ciphers 'ECDHE-ECDSA-AES128-GCM-SHA256')
acase "control: TLS 1.2 with ECDHE + AES-GCM connects" "true TLSv1.2" "$(echo "$out" | jq -r '"\(.ok) \(.version)"')"
out=$(raw hold 14 --duration 3)
acase "total limit: 10 of 14 connections get through (max_connections 10), 4 are refused" "10 4" \
    "$(echo "$out" | jq -r '"\(.opened) \(.refused)"')"
sleep 1
acase "  counted in /metrics (max_connections +4); open connections back to this one" "4 1" \
    "$(hits max_connections) $(metric bootgate_connections)"
serving "after the total limit"

# --- the descriptor limit ----------------------------------------------------------------
UNIT=$(dirname "$0")/../../systemd-units/bootgated.service
DEFAULT_MAX=$(sed -n 's/^max_connections = //p' "$(dirname "$0")/../../src/server/bootgated.conf.example")
acase "the unit's LimitNOFILE leaves room for the default max_connections ($DEFAULT_MAX) and 64 more" yes \
    "$([ "$(sed -n 's/^LimitNOFILE=//p' "$UNIT")" -ge $((DEFAULT_MAX + 64)) ] && echo yes || echo no)"
# bootgated with 64 descriptors and a connection limit it cannot reach: accept
# fails with EMFILE. It must pause, not spin and not flood its log.
stop_bootgated
cat >"$WORK/lowfd" <<EOS
#!/bin/sh
exec prlimit --nofile=64:64 "$BOOTGATED" "\$@"
EOS
chmod +x "$WORK/lowfd"
sed -i 's/^max_connections = .*/max_connections = 1000/' "$SRV/bootgated.conf"
BOOTGATED_REAL=$BOOTGATED
BOOTGATED=$WORK/lowfd start_bootgated
BOOTGATED=$BOOTGATED_REAL
LOG0=$(wc -c <"$WORK/bootgated.log")
T0=$(cpu_ticks)
out=$(raw hold 100 --duration 3)
T1=$(cpu_ticks)
LOG1=$(wc -c <"$WORK/bootgated.log")
log "at the descriptor limit: $out; CPU $((T1 - T0)) ticks, log +$((LOG1 - LOG0)) bytes"
acase "at the descriptor limit some connections are refused, not queued forever" yes \
    "$(echo "$out" | jq -r 'if .refused > 0 and .opened > 0 then "yes" else "no \(.)" end')"
acase "at the descriptor limit bootgated does not spin (< 1 s CPU in 3 s)" yes \
    "$([ $((T1 - T0)) -lt "$(getconf CLK_TCK)" ] && echo yes || echo no)"
acase "at the descriptor limit the log grows by < 4 KiB" yes "$([ $((LOG1 - LOG0)) -lt 4096 ] && echo yes || echo no)"
acase "  counted in /metrics" yes "$([ "$(hits accept_error)" -ge 1 ] && echo yes || echo no)"
acase "it says so in one line" yes "$(grep -q 'accept: Too many open files' "$WORK/bootgated.log" && echo yes || echo no)"
sleep 3 # the held connections are gone (header_timeout)
serving "after the descriptor limit"

acase_finish
