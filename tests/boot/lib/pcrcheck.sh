# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Checks that a capture (eventlog.bin, ima.bin, pcrs-<bank>.json as written by
# tests/boot/capture.sh) is self-consistent: the logs replay to the PCRs the
# guest's TPM reported. Needs tests/lib/harness.sh (pass/fail); used by
# tests/integration and tests/boot.
#
#   bg_check_capture_tpm2 DIR
#       independent replay with tpm2_eventlog (tpm2-tools) of the firmware log:
#       every PCR it computes (sha1 and sha256; 10 is IMA's) equals the reported one
#   bg_check_capture_bootgate DIR
#       `$BOOTGATECTL eventlog replay --json --ima ima.bin eventlog.bin`: sha1 and
#       sha256 (those the capture has; a TPM 1.2 only sha1) must be present, include PCR 10 and every PCR tpm2_eventlog computes,
#       and equal the reported PCRs. Other banks (sha384, sha512) must match except
#       PCR 10: a kernel without that hash built in (Debian: CONFIG_CRYPTO_SHA512=m,
#       "ima: Can not allocate sha384") extends those banks with the SHA-1 template
#       digest zero-padded (ima_calc_field_array_hash), which the log cannot show.
#   bg_check_capture_tamper DIR
#       bad cases: a changed IMA record or a dropped firmware event must not replay
#       to the reported PCRs (bootgatectl either fails or prints other values)
# Each passes or fails one check per line (harness.sh) and returns non-zero on
# the first failure.

# _bg_tpm2_pcrs LOG BANK: "index hex" lines from tpm2_eventlog's computed PCRs.
_bg_tpm2_pcrs() {
    tpm2_eventlog "$1" 2>/dev/null | awk -v b="$2" '
        /^pcrs:/ { p = 1; next }
        p && /^  [a-z0-9_]+:$/ { bank = substr($1, 1, length($1) - 1); next }
        p && bank == b && $2 == ":" { h = tolower($3); sub(/^0x/, "", h); print $1, h }'
}

# _bg_reported DIR BANK PCR: the PCR value the guest reported ("" if none).
_bg_reported() { jq -r --arg p "$3" '.[$p] // empty' "$1/pcrs-$2.json" 2>/dev/null; }

# _bg_banks DIR: sha1 and/or sha256, those the capture has PCRs for (a TPM 1.2 has
# only sha1).
_bg_banks() {
    local b
    for b in sha1 sha256; do
        [[ -s $1/pcrs-$b.json ]] && echo "$b"
    done
}

bg_check_capture_tpm2() {
    local dir=$1 bank idx hex want n
    for bank in $(_bg_banks "$dir"); do
        n=0
        while read -r idx hex; do
            want=$(_bg_reported "$dir" "$bank" "$idx")
            if [[ $hex != "$want" ]]; then
                fail "$dir: tpm2_eventlog $bank PCR $idx = $hex, TPM reported ${want:-nothing}"
                return 1
            fi
            n=$((n + 1))
        done < <(_bg_tpm2_pcrs "$dir/eventlog.bin" "$bank")
        if ((n < 8)); then
            fail "$dir: tpm2_eventlog computed only $n $bank PCRs"
            return 1
        fi
        pass "$(basename "$dir") tpm2_eventlog $bank: $n PCRs match"
    done
}

bg_check_capture_bootgate() {
    local dir=$1 out bank idx want got n tpm2_pcrs
    out=$("$BOOTGATECTL" eventlog replay --json --ima "$dir/ima.bin" "$dir/eventlog.bin") || {
        fail "$dir: bootgatectl eventlog replay failed"
        return 1
    }
    for bank in $(_bg_banks "$dir"); do
        jq -e --arg b "$bank" '.[$b]["10"]' <<<"$out" >/dev/null || {
            fail "$dir: replay has no $bank PCR 10"
            return 1
        }
        tpm2_pcrs=$(_bg_tpm2_pcrs "$dir/eventlog.bin" "$bank" | awk '{ print $1 }')
        for idx in $tpm2_pcrs; do
            jq -e --arg b "$bank" --arg i "$idx" '.[$b][$i]' <<<"$out" >/dev/null || {
                fail "$dir: replay has no $bank PCR $idx (tpm2_eventlog has)"
                return 1
            }
        done
    done
    for bank in $(jq -r 'keys[]' <<<"$out"); do
        [[ -f $dir/pcrs-$bank.json ]] || continue
        n=0
        while read -r idx got; do
            if [[ $idx == 10 && $bank != sha1 && $bank != sha256 ]]; then
                continue
            fi
            want=$(_bg_reported "$dir" "$bank" "$idx")
            if [[ $got != "$want" ]]; then
                fail "$dir: bootgatectl $bank PCR $idx = $got, TPM reported ${want:-nothing}"
                return 1
            fi
            n=$((n + 1))
        done < <(jq -r --arg b "$bank" '.[$b] | to_entries[] | "\(.key) \(.value)"' <<<"$out")
        pass "$(basename "$dir") bootgatectl replay $bank: $n PCRs match"
    done
}

# _bg_replay_matches DIR EVENTLOG IMA: 0 if bootgatectl's replay of these logs
# (sha256 bank, sha1 for a TPM 1.2) equals every reported PCR it prints, 1 if not
# or if bootgatectl rejects the logs (exit 1), 2 on any other exit (a crash, a
# sanitizer report, a runtime error: never an acceptable answer to bad input).
_bg_replay_matches() {
    local out bank rc=0
    bank=$(_bg_banks "$1" | tail -n 1)
    out=$("$BOOTGATECTL" eventlog replay --json --bank "$bank" --ima "$3" "$2" 2>"$2.err") || rc=$?
    case $rc in
    0) ;;
    1) return 1 ;;
    *)
        fail "bootgatectl eventlog replay exited $rc: $(head -c 2000 "$2.err")"
        return 2
        ;;
    esac
    jq -e --slurpfile r "$1/pcrs-$bank.json" --arg b "$bank" \
        '.[$b] | to_entries | all(.value == $r[0][.key])' <<<"$out" >/dev/null
}

# _bg_tamper_refused DIR TMP WHAT: the changed logs TMP/{eventlog,ima}.bin must
# not replay to DIR's reported PCRs (bootgatectl refuses them or prints others).
_bg_tamper_refused() {
    local rc=0
    _bg_replay_matches "$1" "$2/eventlog.bin" "$2/ima.bin" || rc=$?
    ((rc == 1)) && return 0
    fail "$1: $3: status $rc (0: still matches the reported PCRs, 2: bootgatectl error)"
    return 1
}

bg_check_capture_tamper() {
    local dir=$1 tmp
    tmp=$(mktemp -d "$WORK/tamper.XXXXXX") || return 1
    # The reference: unchanged copies must match (else the checks below prove nothing).
    cp "$dir/eventlog.bin" "$dir/ima.bin" "$tmp/"
    if ! _bg_replay_matches "$dir" "$tmp/eventlog.bin" "$tmp/ima.bin"; then
        fail "$dir: unchanged copies do not replay"
        return 1
    fi
    # IMA: a different file name in a record's template data (same length, so the
    # log still parses; capture-scenario.sh always runs hello.sh).
    LC_ALL=C sed 's|/etc/bootgate/hello\.sh|/etc/bootgate/hellO.sh|' "$dir/ima.bin" >"$tmp/ima.bin"
    if cmp -s "$dir/ima.bin" "$tmp/ima.bin"; then
        fail "$dir: no hello.sh record in the IMA log"
        return 1
    fi
    _bg_tamper_refused "$dir" "$tmp" "a changed IMA log" || return 1
    # Firmware log: change a digest of the last measured event.
    cp "$dir/ima.bin" "$tmp/ima.bin"
    _bg_flip_last_digest "$dir/eventlog.bin" "$tmp/eventlog.bin" || {
        fail "$dir: no event digest found to change"
        return 1
    }
    _bg_tamper_refused "$dir" "$tmp" "a changed event digest" || return 1
    pass "$(basename "$dir") changed IMA record and changed event digest do not match"
}

# _bg_flip_last_digest IN OUT: copy IN to OUT with the first byte of the last
# event's last digest (as tpm2_eventlog prints it: sha256, or sha1 in a legacy
# log) inverted.
_bg_flip_last_digest() {
    local in=$1 out=$2 digest hex pos byte
    digest=$(tpm2_eventlog "$in" 2>/dev/null | awk '
        /AlgorithmId: sha(1|256)$/ { want = 1; next }
        want && /Digest:/ { gsub(/"/, "", $2); d = $2; want = 0 }
        /^pcrs:/ { exit }
        END { print tolower(d) }')
    [[ ${#digest} == 64 || ${#digest} == 40 ]] || return 1
    hex=$(od -An -v -tx1 "$in" | tr -d " \\n")
    # The digest's last occurrence on a byte boundary.
    pos=$(awk -v h="$hex" -v d="$digest" 'BEGIN {
        for (i = length(h) - length(d) + 1; i > 0; i--)
            if ((i % 2) == 1 && substr(h, i, length(d)) == d) { print (i - 1) / 2; exit }
    }')
    [[ -n $pos ]] || return 1
    cp "$in" "$out"
    byte=$(od -An -tx1 -j "$pos" -N 1 "$in" | tr -d " \\n")
    printf "\\x$(printf '%02x' $((0x$byte ^ 0xff)))" |
        dd of="$out" bs=1 seek="$pos" conv=notrunc status=none
}
