#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgatectl's admin calls go through the client's hardened HTTPS layer
# (src/lib/https.c): proxy variables are ignored, only the configured CA is
# trusted whatever CA store the environment points at, and an answer that is
# not a JSON object with the expected fields, or an HTTP 5xx, is a clear
# error with exit 3 (runtime); a 4xx refusal stays exit 1. Against
# ctl_admin_server.py, a fake admin API with mutual TLS.
source "$(dirname "$0")/client_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
: "${BOOTGATECTL:?}"

make_pki
# the admin's client certificate (role admin), from the server's CA
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/OU=admin/CN=ops" \
    -keyout "$T/admin.key" -out "$T/admin.csr" 2>/dev/null
openssl x509 -req -in "$T/admin.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
    -out "$T/admin.pem" 2>/dev/null
mkdir -p "$T/state" "$T/otherstate" "$T/certdir"
# a CA directory as OpenSSL's SSL_CERT_DIR would have it, holding the wrong CA
cp "$T/otherca.pem" "$T/certdir/" && openssl rehash "$T/certdir" 2>/dev/null

start_admin() { # CERT KEY STATE_DIR: sets PORT
    rm -f "$3/port"
    python3 "$HERE/ctl_admin_server.py" "$1" "$2" "$T/ca.pem" "$3" "$3/port" >>"$T/server.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$3/port" ] && break; sleep 0.05; done
    [ -s "$3/port" ] || fail "admin server did not start: $(cat "$T/server.log")"
    PORT=$(cat "$3/port")
}
# No admin config or BOOTGATE_ADMIN_* from the caller's environment.
unset BOOTGATE_ADMIN_SERVER BOOTGATE_ADMIN_CA BOOTGATE_ADMIN_CERT BOOTGATE_ADMIN_KEY \
    BOOTGATE_ADMIN_CONFIG http_proxy https_proxy HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
export HOME=$T
ctl() { # PORT CA ARGS...: runs bootgatectl, sets rc, stdout in $T/out, stderr in $T/err
    local port=$1 ca=$2
    shift 2
    set +e
    "$BOOTGATECTL" "$@" --server "https://127.0.0.1:$port" ${ca:+--ca "$ca"} \
        --cert "$T/admin.pem" --key "$T/admin.key" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}
requests() { [ -f "$1/requests.log" ] && wc -l <"$1/requests.log" || echo 0; }

start_admin "$T/srv.pem" "$T/srv.key" "$T/state"
GOOD=$PORT
ctl $GOOD "$T/ca.pem" node list
[ $rc -eq 0 ] || fail "node list against the fake server: exit $rc $(cat "$T/err")"
ok "node list over mutual TLS with the configured CA"

# --- proxies: every proxy variable points at a dead port; the call still
# reaches the server directly
DEAD=$(free_port)
before=$(requests "$T/state")
set +e
http_proxy=http://127.0.0.1:$DEAD https_proxy=http://127.0.0.1:$DEAD \
    HTTPS_PROXY=http://127.0.0.1:$DEAD ALL_PROXY=socks5://127.0.0.1:$DEAD \
    all_proxy=http://127.0.0.1:$DEAD "$BOOTGATECTL" node list --server "https://127.0.0.1:$GOOD" \
    --ca "$T/ca.pem" --cert "$T/admin.pem" --key "$T/admin.key" >/dev/null 2>"$T/err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "proxy variables were used: exit $rc $(cat "$T/err")"
[ "$(requests "$T/state")" -eq $((before + 1)) ] || fail "the request did not reach the server"
ok "https_proxy/HTTPS_PROXY/ALL_PROXY/http_proxy on a dead port: ignored"

# --- CA pinning: a server whose certificate is from another CA is refused,
# even when SSL_CERT_FILE, SSL_CERT_DIR and CURL_CA_BUNDLE all name that CA
start_admin "$T/othersrv.pem" "$T/othersrv.key" "$T/otherstate"
OTHER=$PORT
before=$(requests "$T/otherstate")
SSL_CERT_FILE="$T/otherca.pem" SSL_CERT_DIR="$T/certdir" CURL_CA_BUNDLE="$T/otherca.pem" \
    ctl $OTHER "$T/ca.pem" node list
[ $rc -eq 3 ] || fail "server from another CA: exit $rc, want 3: $(cat "$T/err")"
grep -qi 'certificate' "$T/err" || fail "no certificate error: $(cat "$T/err")"
[ "$(requests "$T/otherstate")" -eq "$before" ] || fail "a request reached the wrong server"
why=$(head -c 160 "$T/err")
# the same server is fine with its own CA: the refusal above was the CA's
ctl $OTHER "$T/otherca.pem" node list
[ $rc -eq 0 ] || fail "other server with its own CA: exit $rc $(cat "$T/err")"
ok "server from another CA refused (exit 3) despite SSL_CERT_FILE/SSL_CERT_DIR/CURL_CA_BUNDLE: $why"

# without a configured CA nothing is trusted: no fallback to any system store
SSL_CERT_FILE="$T/ca.pem" CURL_CA_BUNDLE="$T/ca.pem" ctl $GOOD "" node list
[ $rc -eq 2 ] && grep -q 'no CA' "$T/err" || fail "no --ca: exit $rc $(cat "$T/err")"
ok "no CA configured: usage error (exit 2), the environment's CA not used"

# --- answers that are not what the admin API sends
check_answer() { # MODE WANT_RC MESSAGE ARGS...
    local mode=$1 want=$2 msg=$3
    shift 3
    echo "$mode" >"$T/state/mode"
    ctl $GOOD "$T/ca.pem" "$@"
    [ $rc -eq "$want" ] && grep -qF -- "$msg" "$T/err" ||
        fail "$mode, bootgatectl $*: exit $rc (want $want), stderr: $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "$mode, bootgatectl $*: printed output for a bad answer: $(cat "$T/out")"
}
for cmd in "node list" "node show abc" "audit list" "breakglass list" "policy list"; do
    # shellcheck disable=SC2086
    {
        check_answer html500 3 'HTTP 500 answer is not JSON' $cmd
        check_answer text200 3 'HTTP 200 answer is not JSON' $cmd
        check_answer ctype 3 "Content-Type 'text/html'" $cmd
        check_answer json500 3 'HTTP 500: disk on fire' $cmd
        check_answer json403 1 'HTTP 403: role admin required' $cmd
    }
done
check_answer nofields 3 'answer has no "nodes"' node list
check_answer nofields 3 'answer has no "node_id"' node show abc
check_answer nofields 3 'answer has no "records"' audit list
check_answer nofields 3 'answer has no "grants"' breakglass list
check_answer nofields 3 'answer has no "policies"' policy list
echo ok >"$T/state/mode"
ctl $GOOD "$T/ca.pem" node list
[ $rc -eq 0 ] || fail "good answer after the garbage: exit $rc"
ok "HTML 500, text, wrong Content-Type, missing fields, JSON 500: exit 3 with the reason; 403: exit 1"
echo PASS
