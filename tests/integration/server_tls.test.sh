#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgated's TLS configuration probed with openssl s_client: TLS 1.3 only by
# default; with tls12 = yes also TLS 1.2, with forward-secret AEAD suites
# only; never TLS 1.0/1.1, never renegotiation, never compression. Each
# refusal must come from the server (its alert), not from the local client.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

# probe NAME S_CLIENT-OPTION...: the handshake's output in $WORK/probe-NAME
probe() {
    local name=$1
    shift
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$SRV/ca.crt" "$@" \
        >"$WORK/probe-$name" 2>&1 || true
}
# the negotiated "PROTOCOL CIPHER", or "refused: ALERT" (the server's alert)
outcome() {
    local f=$WORK/probe-$1
    if grep -q '^New, (NONE)' "$f"; then
        echo "refused: $(grep -oE 'alert [a-z ]+' "$f" | head -1)"
    else
        grep -oE '^New, TLSv1\.[0-3], Cipher is [A-Z0-9_-]+' "$f" | sed 's/^New, //; s/, Cipher is / /'
    fi
}

start_bootgated
probe t13 -tls1_3
check "default: TLS 1.3 with an AEAD suite" 1 \
    "$(outcome t13 | grep -cE '^TLSv1\.3 TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$')"
check "default: no compression" 1 "$(grep -c '^Compression: NONE' "$WORK/probe-t13")"
# no resumption (a node connects once per boot): no session ticket comes after
# the handshake; the client waits a second for one (OpenSSL's default is two)
sleep 1 | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$SRV/ca.crt" -tls1_3 \
    -msg >"$WORK/probe-tickets" 2>&1 || true
check "default: the handshake completed (ticket probe)" 1 \
    "$(grep -c '^New, TLSv1\.3' "$WORK/probe-tickets")"
check "default: no session ticket" 0 "$(grep -c 'NewSessionTicket' "$WORK/probe-tickets")"
probe t12 -tls1_2
check "default: TLS 1.2 refused by the server" "refused: alert protocol version" "$(outcome t12)"
for v in tls1 tls1_1; do
    probe "$v" "-$v" -cipher 'DEFAULT:@SECLEVEL=0'
    check "default: $v refused by the server" "refused: alert protocol version" "$(outcome "$v")"
done
stop_bootgated

SRV_EXTRA_CONF="tls12 = yes" start_bootgated
probe t12 -tls1_2
check "tls12 = yes: TLS 1.2 with a forward-secret AEAD suite" 1 \
    "$(outcome t12 | grep -cE '^TLSv1\.2 ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$')"
check "tls12 = yes: no compression" 1 "$(grep -c '^Compression: NONE' "$WORK/probe-t12")"
probe t13 -tls1_3
check "tls12 = yes: TLS 1.3 still" 1 "$(outcome t13 | grep -c '^TLSv1\.3 ')"
# non-AEAD (CBC) and non-forward-secret suites of TLS 1.2: the server has none
for c in ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA384 ECDHE-ECDSA-AES128-SHA \
    AES128-GCM-SHA256 AES256-SHA256 DHE-RSA-AES128-GCM-SHA256; do
    probe "$c" -tls1_2 -cipher "$c:@SECLEVEL=0"
    check "tls12 = yes: $c refused by the server" "refused: alert handshake failure" "$(outcome "$c")"
done
for v in tls1 tls1_1; do
    probe "$v" "-$v" -cipher 'DEFAULT:@SECLEVEL=0'
    check "tls12 = yes: $v refused by the server" "refused: alert protocol version" "$(outcome "$v")"
done
# renegotiation: the client asks (R), the server answers no_renegotiation
(
    echo R
    sleep 2
) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$SRV/ca.crt" -tls1_2 \
    >"$WORK/probe-reneg" 2>&1 || true
check "tls12 = yes: the client asked to renegotiate" 1 "$(grep -c '^RENEGOTIATING' "$WORK/probe-reneg")"
check "... and the server refused" 1 "$(grep -c 'no renegotiation' "$WORK/probe-reneg")"
# the server still serves after the probes
check "bootgated still answers /healthz" 200 "$(api GET /healthz)"

finish
