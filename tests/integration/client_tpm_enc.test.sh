#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ActivateCredential's response (the credential seed, from which the LUKS key
# unwrap key is derived) must not cross the TPM bus in clear. The tss2 pcap
# TCTI records every command/response byte between bootgate-unlock and swtpm;
# the seed must be absent from that capture, for an RSA and an ECC EK. As the
# control that shows the capture would reveal it, tpm2_activatecredential
# (no parameter encryption) run through the same pcap TCTI must leak it.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

# has_bytes FILE HEXSTRING: FILE contains those bytes (byte-aligned search)
has_bytes() {
    local pat
    pat=$(printf '%s' "$2" | sed 's/../& /g')
    xxd -p -c 1 "$1" | tr '\n' ' ' | grep -qF " $pat"
}
# has_cc FILE CC: a command header (tag 0x8001/0x8002, u32 size, u32 code CC)
has_cc() {
    xxd -p -c 1 "$1" | tr '\n' ' ' |
        grep -qE "80 0[12] (.. ){4}$(printf '%s' "$2" | sed 's/../& /g')"
}

start_swtpm a
flush() { tpm2_flushcontext -t >/dev/null; tpm2_flushcontext -s >/dev/null; }

tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 \
    -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' \
    -c "$WORK/ak.ctx" >/dev/null
flush

for ek in rsa ecc; do
    unlock_test --set ek_type=$ek keys --ek-public "$WORK/ek-$ek.pub" >"$WORK/keys-$ek"
    grep -q "^ek_type $ek" "$WORK/keys-$ek" || fail "EK type $ek not used"
    AKN=$(awk '/^ak_name/{print $2}' "$WORK/keys-$ek")
    head -c 32 /dev/urandom >"$WORK/seed-$ek"
    S=$(xxd -p -c 64 "$WORK/seed-$ek")
    tpm2_makecredential -T none -e "$WORK/ek-$ek.pub" -s "$WORK/seed-$ek" -n "$AKN" \
        -o "$WORK/cred-$ek" >/dev/null 2>&1

    # bootgate-unlock: the seed is recovered, yet never on the wire
    got=$(TCTI_PCAP_FILE="$WORK/unlock-$ek.pcap" "$BOOTGATE_UNLOCK_TEST" --config /dev/null \
        --tcti "pcap:$TCTI" --set ek_type=$ek activate --credential-file "$WORK/cred-$ek" |
        awk '/^secret/{print $2}')
    [ "$got" = "$S" ] || fail "$ek EK: activate returned '$got', want $S"
    [ -s "$WORK/unlock-$ek.pcap" ] || fail "$ek EK: pcap TCTI wrote no capture"
    has_cc "$WORK/unlock-$ek.pcap" 00000147 || fail "$ek EK: no ActivateCredential in the capture"
    has_cc "$WORK/unlock-$ek.pcap" 00000176 || fail "$ek EK: no StartAuthSession in the capture"
    if has_bytes "$WORK/unlock-$ek.pcap" "$S"; then
        fail "$ek EK: the credential seed crosses the TPM bus in clear"
    fi
    pass "$ek EK: seed recovered, absent from the bus capture ($(stat -c %s "$WORK/unlock-$ek.pcap") bytes)"

    # control: the same credential activated by tpm2-tools without parameter
    # encryption shows up in clear in a capture made the same way
    tpm2_createek -c "$WORK/ek-$ek.ctx" -G $ek >/dev/null
    flush
    tpm2_startauthsession --policy-session -S "$WORK/s.ctx" >/dev/null
    tpm2_policysecret -S "$WORK/s.ctx" -c e >/dev/null
    TCTI_PCAP_FILE="$WORK/tools-$ek.pcap" tpm2_activatecredential -T "pcap:$TCTI" -c "$WORK/ak.ctx" \
        -C "$WORK/ek-$ek.ctx" -i "$WORK/cred-$ek" -o "$WORK/out-$ek" -P "session:$WORK/s.ctx" >/dev/null
    tpm2_flushcontext "$WORK/s.ctx"
    flush
    cmp -s "$WORK/out-$ek" "$WORK/seed-$ek" || fail "$ek EK: tpm2_activatecredential control failed"
    has_bytes "$WORK/tools-$ek.pcap" "$S" ||
        fail "$ek EK: control capture does not show the seed (capture/search broken)"
    pass "$ek EK: control: tpm2_activatecredential's capture contains the seed"
done
finish
