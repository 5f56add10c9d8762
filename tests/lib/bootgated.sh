# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# The one way the tests start bootgated (sourced by harness.sh): init-server
# PKI and config in $WORK/srv, a free loopback port, log in $WORK/bootgated.log.
#
#   bootgated_init [INIT-SERVER OPTION...]
#           keys, certificates and config in $SRV (e.g. --san IP:10.0.2.2 for a
#           VM); sets SRV, PORT, URL, ADMIN (curl options of the admin role) and
#           exports BOOTGATE_ADMIN_SERVER/BOOTGATE_ADMIN_CONFIG for bootgatectl;
#           the port is $BOOTGATED_PORT when set (e.g. one below 1024), else free_port
#   start_bootgated [DELAY]
#           bootgated_init unless done, then bootgated (--log-stderr, then
#           $BOOTGATED_ARGS) in the background, SRV_PID; without DELAY it waits
#           for /healthz (on the first start, another port if the chosen one was
#           taken meanwhile).
#           Config lines added first: "ek_ca_bundle = $EK_CA_BUNDLE" and
#           $SRV_EXTRA_CONF, each once
#   wait_bootgated / stop_bootgated
#   api METHOD PATH [BODY-FILE] [ROLE]
#           prints the HTTP status; body in $WORK/reply, headers in
#           $WORK/reply.headers; ROLE: a client certificate of init-server
#   jreply JQ-FILTER    jq -r on $WORK/reply
#   bootgated_use_store URL
#           (after bootgated_init) the config's store is URL (postgresql://...)
#           instead of the SQLite file, its audit head $SRV/audit-head
#   start_replica NAME
#           another bootgated on the same config (store, KEK, nonce secret, PKI),
#           its own port and audit_head_file ($SRV/replica-NAME.conf), log
#           $WORK/bootgated-NAME.log; waits for /healthz. Sets REPLICA_URL[NAME],
#           REPLICA_PID[NAME] (killed at exit)
#   bootgated_policy NAME VERSION EVENTLOG [CAPTURE OPTION...]
#           capture a policy from EVENTLOG, sign it with the init-server key,
#           upload and activate it (dies on failure)

bootgated_init() {
    : "${BOOTGATECTL:?}"
    SRV=$WORK/srv
    PORT=${BOOTGATED_PORT:-$(free_port)}
    "$BOOTGATECTL" init-server --port "$PORT" "$@" "$SRV" >/dev/null || die "bootgatectl init-server"
    _bootgated_port "$PORT"
    _BOOTGATED_EXTRAS=
    _BOOTGATED_PUBLISHED=
}

_bootgated_port() {
    PORT=$1
    URL=https://127.0.0.1:$PORT
    ADMIN=(--cacert "$SRV/ca.crt" --cert "$SRV/admin.crt" --key "$SRV/admin.key" -sS)
    export BOOTGATE_ADMIN_SERVER=$URL BOOTGATE_ADMIN_CONFIG=$SRV/admin.conf
}

_bootgated_extras() {
    local conf=$SRV/bootgated.conf
    if [ -n "${EK_CA_BUNDLE:-}" ] && ! grep -qxF "ek_ca_bundle = $EK_CA_BUNDLE" "$conf"; then
        echo "ek_ca_bundle = $EK_CA_BUNDLE" >>"$conf"
    fi
    if [ -n "${SRV_EXTRA_CONF:-}" ] && [ "$_BOOTGATED_EXTRAS" != "$SRV_EXTRA_CONF" ]; then
        printf '%s\n' "$SRV_EXTRA_CONF" >>"$conf"
        _BOOTGATED_EXTRAS=$SRV_EXTRA_CONF
    fi
}

start_bootgated() {
    local delay=${1:-0} try
    : "${BOOTGATED:?bootgated not built}"
    [ -e "${SRV:-/nonexistent}/bootgated.conf" ] || bootgated_init
    _bootgated_extras
    : >>"$WORK/bootgated.log"
    for try in 1 2 3 4 5; do
        if [ "$delay" = 0 ]; then
            # shellcheck disable=SC2086 # BOOTGATED_ARGS: extra flags, word-split on purpose
            "$BOOTGATED" -c "$SRV/bootgated.conf" --log-stderr ${BOOTGATED_ARGS:-} >>"$WORK/bootgated.log" 2>&1 &
        else
            # shellcheck disable=SC2086
            (
                sleep "$delay"
                exec "$BOOTGATED" -c "$SRV/bootgated.conf" --log-stderr ${BOOTGATED_ARGS:-}
            ) >>"$WORK/bootgated.log" 2>&1 &
        fi
        SRV_PID=$!
        PIDS+=("$SRV_PID")
        if [ "$delay" != 0 ]; then
            _BOOTGATED_PUBLISHED=1
            return 0
        fi
        if _bootgated_wait; then
            _BOOTGATED_PUBLISHED=1
            return 0
        fi
        # it exited: the port may have been taken since free_port saw it free.
        # Another one, unless clients already know this one (a restart).
        wait "$SRV_PID" 2>/dev/null || true
        SRV_PID=
        [ "$try" = 5 ] || [ -n "$_BOOTGATED_PUBLISHED" ] && break
        _bootgated_port "$(free_port)"
        sed -i "s/^port = .*/port = $PORT/" "$SRV/bootgated.conf"
    done
    die "bootgated did not start: $(tail -5 "$WORK/bootgated.log")"
}

# 0 once /healthz answers, 1 when bootgated exited (10 s at most)
_bootgated_wait() {
    for _ in $(seq 100); do
        curl -sf --cacert "$SRV/ca.crt" "$URL/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$SRV_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
wait_bootgated() { _bootgated_wait || die "bootgated not up on $URL: $(tail -5 "$WORK/bootgated.log")"; }

stop_bootgated() {
    stop_pid "${SRV_PID:-}"
    SRV_PID=
}

bootgated_use_store() {
    sed -i -e '/^db = /d' -e '/^store = /d' -e '/^audit_head_file = /d' "$SRV/bootgated.conf"
    printf 'store = %s\naudit_head_file = %s\n' "$1" "$SRV/audit-head" >>"$SRV/bootgated.conf"
}

declare -gA REPLICA_URL=() REPLICA_PID=()
start_replica() {
    local name=$1 conf=$SRV/replica-$1.conf port pid
    port=$(free_port)
    sed -e "s/^port = .*/port = $port/" -e '/^audit_head_file = /d' "$SRV/bootgated.conf" >"$conf"
    echo "audit_head_file = $SRV/audit-head-$name" >>"$conf"
    "$BOOTGATED" -c "$conf" --log-stderr >>"$WORK/bootgated-$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    REPLICA_PID[$name]=$pid
    REPLICA_URL[$name]=https://127.0.0.1:$port
    for _ in $(seq 100); do
        curl -sf --cacert "$SRV/ca.crt" "${REPLICA_URL[$name]}/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    die "replica $name did not start: $(tail -5 "$WORK/bootgated-$name.log")"
}

api() {
    local method=$1 path=$2 body=${3:-} role=${4:-} args=()
    [ -n "$role" ] && args+=(--cert "$SRV/$role.crt" --key "$SRV/$role.key")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
    curl -sS -o "$WORK/reply" -D "$WORK/reply.headers" -w '%{http_code}' --cacert "$SRV/ca.crt" -X "$method" \
        "${args[@]}" "$URL$path" || echo "curl-failed"
}
jreply() { jq -r "$1" "$WORK/reply"; }

bootgated_policy() {
    local name=$1 version=$2 log=$3 pol=$WORK/policy-$1-$2.json
    shift 3
    "$BOOTGATECTL" policy capture --eventlog "$log" --name "$name" --version "$version" "$@" \
        --out "$pol" >/dev/null || die "policy capture"
    "$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" "$pol" >/dev/null 2>&1 || die "policy sign"
    jq -n --rawfile p "$pol" --rawfile s "$pol.sig" \
        '{policy: $p, signature: ($s | rtrimstr("\n"))}' >"$WORK/upload.json"
    [ "$(api POST /v1/admin/policies "$WORK/upload.json" admin)" = 200 ] || die "policy upload: $(cat "$WORK/reply")"
    echo '{}' >"$WORK/activate.json"
    [ "$(api POST "/v1/admin/policies/$name/$version/activate" "$WORK/activate.json" admin)" = 200 ] ||
        die "policy activate: $(cat "$WORK/reply")"
}
