#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The client's TPM layer (src/client/tpm.c) against swtpm, checked by
# tpm2-tools as the independent party. Driven by `bootgate-unlock-test`,
# which calls the same functions as the unlock/enroll paths.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

start_swtpm a
flush() { tpm2_flushcontext -t >/dev/null; tpm2_flushcontext -s >/dev/null; }

# --- AK: deterministic, same name as tpm2-tools derives from the same template
unlock_test keys --ek-public "$WORK/ek.pub" --ak-public "$WORK/ak.pub" >"$WORK/keys1"
unlock_test keys >"$WORK/keys2"
AKN=$(awk '/^ak_name/{print $2}' "$WORK/keys1")
[ -n "$AKN" ] || fail "no AK name"
[ "$AKN" = "$(awk '/^ak_name/{print $2}' "$WORK/keys2")" ] || fail "AK name not deterministic"
tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 \
    -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' \
    -c "$WORK/ak.ctx" >/dev/null
tpm2_readpublic -c "$WORK/ak.ctx" -n "$WORK/akname.bin" -o "$WORK/ak2.pub" >/dev/null
flush
[ "$AKN" = "$(xxd -p -c 256 "$WORK/akname.bin")" ] || fail "AK name differs from tpm2_createprimary"
cmp -s "$WORK/ak.pub" "$WORK/ak2.pub" || fail "AK public differs from tpm2-tools"
pass "AK name $AKN equals tpm2_createprimary + tpm2_readpublic"

# --- EK: TCG default templates, same as tpm2_createek (RSA and ECC)
grep -q '^ek_type rsa' "$WORK/keys1" || fail "default EK is not RSA"
tpm2_createek -c "$WORK/ek.ctx" -G rsa -u "$WORK/ek2.pub" >/dev/null
flush
cmp -s "$WORK/ek.pub" "$WORK/ek2.pub" || fail "RSA EK differs from tpm2_createek"
unlock_test --set ek_type=ecc keys --ek-public "$WORK/ekecc.pub" | grep -q '^ek_type ecc' ||
    fail "ECC EK not created"
tpm2_createek -c "$WORK/ekecc.ctx" -G ecc -u "$WORK/ekecc2.pub" >/dev/null
flush
cmp -s "$WORK/ekecc.pub" "$WORK/ekecc2.pub" || fail "ECC EK differs from tpm2_createek"
pass "RSA and ECC EK equal tpm2_createek"

# --- EK certificate from NV 0x01c00002 (absent, then present)
unlock_test keys --ek-cert "$WORK/cert.out" | grep -q '^ek_cert none' || fail "phantom EK cert"
head -c 1200 /dev/urandom >"$WORK/cert.der"
tpm2_nvdefine 0x01c00002 -C o -s 1200 -a 'ownerwrite|ownerread|authread|ppread|no_da' >/dev/null
tpm2_nvwrite 0x01c00002 -C o -i "$WORK/cert.der"
unlock_test keys --ek-cert "$WORK/cert.out" | grep -q '^ek_cert 1200 bytes' || fail "EK cert not read"
cmp -s "$WORK/cert.der" "$WORK/cert.out" || fail "EK cert bytes differ"
pass "EK certificate read from NV in chunks"

# --- Quote: tpm2_checkquote verifies it; PCR values equal tpm2_pcrread
tpm2_pcrextend 9:sha256=$(printf 'bootgate-test' | sha256sum | cut -d' ' -f1)
N=$(openssl rand -hex 32)
unlock_test quote --nonce "$N" --attest "$WORK/att" --signature "$WORK/sig" >"$WORK/quote"
tpm2_checkquote -u "$WORK/ak.pub" -m "$WORK/att" -s "$WORK/sig" -q "$N" -g sha256 >/dev/null ||
    fail "tpm2_checkquote rejects our quote"
if tpm2_checkquote -u "$WORK/ak.pub" -m "$WORK/att" -s "$WORK/sig" -q "$(openssl rand -hex 32)" \
    -g sha256 >/dev/null 2>&1; then fail "quote accepted with another nonce"; fi
for i in 0 7 9 11; do
    want=$(tpm2_pcrread sha256:$i | grep -o '0x[0-9A-Fa-f]*' | cut -c3- | tr A-F a-f)
    got=$(awk -v k="pcr$i" '$1==k{print $2}' "$WORK/quote")
    [ "$want" = "$got" ] || fail "PCR $i: quote tool read $got, tpm2_pcrread $want"
done
[ "$(awk '$1=="pcr9"{print $2}' "$WORK/quote")" != "$(printf '0%.0s' {1..64})" ] || fail "PCR 9 not extended"
# pcrDigest inside TPMS_ATTEST == sha256(PCR 0..11): the tail of the attest is
# TPML_PCR_SELECTION + TPM2B_DIGEST(32).
H=$(for i in $(seq 0 11); do awk -v k="pcr$i" '$1==k{print $2}' "$WORK/quote"; done | tr -d '\n' |
    xxd -r -p | sha256sum | cut -d' ' -f1)
[ "$(tail -c 32 "$WORK/att" | xxd -p -c 64)" = "$H" ] || fail "attest pcrDigest != H(pcrs)"
pass "quote verified by tpm2_checkquote, PCRs match tpm2_pcrread and pcrDigest"

# --- ActivateCredential: tpm2_makecredential output is recovered; a credential
# for another TPM's EK is refused with the TPM error exit code
head -c 32 /dev/urandom >"$WORK/seed"
tpm2_makecredential -T none -e "$WORK/ek.pub" -s "$WORK/seed" -n "$AKN" -o "$WORK/cred" >/dev/null 2>&1
got=$(unlock_test activate --credential-file "$WORK/cred" | awk '/^secret/{print $2}')
[ "$got" = "$(xxd -p -c 64 "$WORK/seed")" ] || fail "ActivateCredential (RSA EK) returned a different seed"
tpm2_makecredential -T none -e "$WORK/ekecc.pub" -s "$WORK/seed" -n "$AKN" -o "$WORK/credecc" >/dev/null 2>&1
got=$(unlock_test --set ek_type=ecc activate --credential-file "$WORK/credecc" | awk '/^secret/{print $2}')
[ "$got" = "$(xxd -p -c 64 "$WORK/seed")" ] || fail "ActivateCredential (ECC EK) returned a different seed"
pass "ActivateCredential recovers tpm2_makecredential seeds (RSA and ECC EK)"

# Wrong AK name in the credential → refused
BADN=000b$(openssl rand -hex 32)
tpm2_makecredential -T none -e "$WORK/ek.pub" -s "$WORK/seed" -n "$BADN" -o "$WORK/credbad" >/dev/null 2>&1
set +e
unlock_test activate --credential-file "$WORK/credbad" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 3 ] || fail "credential for another AK: exit $rc, want 3"
grep -q 'refused the credential' "$WORK/err" || fail "no distinct message: $(cat "$WORK/err")"
pass "credential for another AK refused (exit 3)"

# --- Persistent EK at 0x81010001 is preferred
tpm2_createek -c 0x81010001 -G rsa -u "$WORK/ekp.pub" >/dev/null
flush
unlock_test keys --ek-public "$WORK/ek3.pub" >/dev/null
cmp -s "$WORK/ekp.pub" "$WORK/ek3.pub" || fail "persistent EK not used"
got=$(unlock_test activate --credential-file "$WORK/cred" | awk '/^secret/{print $2}')
[ "$got" = "$(xxd -p -c 64 "$WORK/seed")" ] || fail "ActivateCredential with persistent EK"
pass "persistent EK 0x81010001 used"

# --- New EPS (TPM cleared/replaced): other AK name, old credential refused
tpm2_clear -c p >/dev/null 2>&1 || true
tpm2_changeeps >/dev/null
AKN2=$(unlock_test keys | awk '/^ak_name/{print $2}')
[ "$AKN2" != "$AKN" ] || fail "AK name unchanged after new EPS"
set +e
unlock_test activate --credential-file "$WORK/cred" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 3 ] || fail "old credential after new EPS: exit $rc, want 3"
pass "new EPS: AK name changes, old credential refused"

# --- Dictionary-attack lockout is reported as such
tpm2_dictionarylockout -s -n 1 -t 600 -l 600 -c >/dev/null
tpm2_createprimary -C o -p secret -c "$WORK/prim.ctx" >/dev/null
flush
tpm2_create -C "$WORK/prim.ctx" -P wrong -u "$WORK/x.pub" -r "$WORK/x.priv" >/dev/null 2>&1 || true
flush
tpm2_create -C "$WORK/prim.ctx" -P wrong -u "$WORK/x.pub" -r "$WORK/x.priv" >/dev/null 2>&1 || true
flush
set +e
unlock_test quote --nonce "$N" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 3 ] || fail "lockout: exit $rc, want 3"
grep -q 'lockout' "$WORK/err" || fail "lockout not named: $(cat "$WORK/err")"
pass "lockout reported: $(head -1 "$WORK/err")"

# --- No TPM
swtpm_stop
start=$(date +%s%N)
set +e
unlock_test --set tpm_wait=2 keys >/dev/null 2>"$WORK/err"; rc=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 3 ] || fail "no TPM: exit $rc, want 3"
grep -q 'no TPM' "$WORK/err" || fail "no TPM not named: $(cat "$WORK/err")"
[ $ms -ge 1500 ] && [ $ms -le 4000 ] || fail "tpm_wait=2 gave up after $ms ms"
pass "absent TPM: waited $ms ms (tpm_wait=2), exit 3, 'no TPM'"

# A TPM that appears late (driver still probing) is waited for. The port is
# free when chosen, but a parallel test may take it in the second before
# swtpm binds: then swtpm exits, and the case runs again on another port.
late_tpm() {
    local port pid ok
    port=$(free_port_pair)
    ( sleep 1; exec swtpm socket --tpm2 --tpmstate dir="$WORK/a" \
        --server type=tcp,bindaddr=127.0.0.1,port="$port" \
        --ctrl type=tcp,bindaddr=127.0.0.1,port=$((port + 1)) \
        --flags not-need-init,startup-clear ) >"$WORK/late-swtpm.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    ok=0
    "$BOOTGATE_UNLOCK_TEST" --config /dev/null --tcti "swtpm:host=127.0.0.1,port=$port" \
        --set tpm_wait=10 keys | grep -q '^ak_name' && ok=1
    if [ $ok = 0 ] && ! kill -0 "$pid" 2>/dev/null; then
        log "the late swtpm did not start: $(tail -2 "$WORK/late-swtpm.log")"
        return 2
    fi
    stop_pid "$pid"
    [ $ok = 1 ]
}
set +e
late_tpm
rc=$?
[ $rc = 2 ] && late_tpm && rc=0
set -e
check "TPM appearing 1 s late is waited for" 0 "$rc"
finish
