#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ActivateCredential's response (the credential seed, from which the LUKS key
# unwrap key is derived) must not cross the TPM bus in clear. The tss2 pcap
# TCTI records every command/response byte between bootgate-unlock and swtpm;
# the seed must be absent from that capture, for an RSA and an ECC EK. As the
# control that shows the capture would reveal it, tpm2_activatecredential
# (no parameter encryption) run through the same pcap TCTI must leak it.
source "$(dirname "$0")/client_common.sh"

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
    -c "$T/ak.ctx" >/dev/null
flush

for ek in rsa ecc; do
    unlock_test --set ek_type=$ek keys --ek-public "$T/ek-$ek.pub" >"$T/keys-$ek"
    grep -q "^ek_type $ek" "$T/keys-$ek" || fail "EK type $ek not used"
    AKN=$(awk '/^ak_name/{print $2}' "$T/keys-$ek")
    head -c 32 /dev/urandom >"$T/seed-$ek"
    S=$(xxd -p -c 64 "$T/seed-$ek")
    tpm2_makecredential -T none -e "$T/ek-$ek.pub" -s "$T/seed-$ek" -n "$AKN" \
        -o "$T/cred-$ek" >/dev/null 2>&1

    # bootgate-unlock: the seed is recovered, yet never on the wire
    got=$(TCTI_PCAP_FILE="$T/unlock-$ek.pcap" "$BOOTGATE_UNLOCK_TEST" --config /dev/null \
        --tcti "pcap:$TCTI" --set ek_type=$ek activate --credential-file "$T/cred-$ek" |
        awk '/^secret/{print $2}')
    [ "$got" = "$S" ] || fail "$ek EK: activate returned '$got', want $S"
    [ -s "$T/unlock-$ek.pcap" ] || fail "$ek EK: pcap TCTI wrote no capture"
    has_cc "$T/unlock-$ek.pcap" 00000147 || fail "$ek EK: no ActivateCredential in the capture"
    has_cc "$T/unlock-$ek.pcap" 00000176 || fail "$ek EK: no StartAuthSession in the capture"
    if has_bytes "$T/unlock-$ek.pcap" "$S"; then
        fail "$ek EK: the credential seed crosses the TPM bus in clear"
    fi
    ok "$ek EK: seed recovered, absent from the bus capture ($(stat -c %s "$T/unlock-$ek.pcap") bytes)"

    # control: the same credential activated by tpm2-tools without parameter
    # encryption shows up in clear in a capture made the same way
    tpm2_createek -c "$T/ek-$ek.ctx" -G $ek >/dev/null
    flush
    tpm2_startauthsession --policy-session -S "$T/s.ctx" >/dev/null
    tpm2_policysecret -S "$T/s.ctx" -c e >/dev/null
    TCTI_PCAP_FILE="$T/tools-$ek.pcap" tpm2_activatecredential -T "pcap:$TCTI" -c "$T/ak.ctx" \
        -C "$T/ek-$ek.ctx" -i "$T/cred-$ek" -o "$T/out-$ek" -P "session:$T/s.ctx" >/dev/null
    tpm2_flushcontext "$T/s.ctx"
    flush
    cmp -s "$T/out-$ek" "$T/seed-$ek" || fail "$ek EK: tpm2_activatecredential control failed"
    has_bytes "$T/tools-$ek.pcap" "$S" ||
        fail "$ek EK: control capture does not show the seed (capture/search broken)"
    ok "$ek EK: control: tpm2_activatecredential's capture contains the seed"
done
echo PASS
