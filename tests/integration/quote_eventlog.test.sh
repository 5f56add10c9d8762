#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `bootgatectl quote verify --eventlog`: a swtpm whose PCRs were extended with
# the events of a captured OVMF log quotes values the log replays to; one
# extra, unlogged measurement makes the log disagree with the quote.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
: "${BOOTGATECTL:?}" "${BOOTGATE_SRCDIR:?}"
log="$BOOTGATE_SRCDIR/tests/data/captures/ovmf-uki/eventlog.bin"
[ -f "$log" ] || skip "no captured event log"

start_swtpm
cd "$WORK"
flush() { tpm2_flushcontext -t >/dev/null; }
sel=sha256:0,1,2,3,4,5,6,7,8,9,10,11

# check_log NAME WANT_EXIT out|err PATTERN QUOTE LOG: `quote verify` of
# QUOTE.{msg,sig,pcrs} (nonce $nonce) with --eventlog LOG must exit WANT_EXIT
# with PATTERN in its stdout (out) or stderr (err).
check_log() {
    local name=$1 want=$2 stream=$3 pattern=$4 q=$5 el=$6 rc=0
    "$BOOTGATECTL" quote verify --ak ak.pub --attest "$q.msg" --sig "$q.sig" --nonce "$nonce" \
        --pcrs "$q.pcrs" --eventlog "$el" >out 2>err || rc=$?
    if [ $rc = "$want" ] && grep -q "$pattern" "$stream"; then
        pass "$name: $(grep -m1 "$pattern" "$stream")"
    else
        fail "$name: exit $rc"; cat out err
    fi
}

# Extend every measured event's sha256 digest, in log order (as firmware did).
"$BOOTGATECTL" eventlog show --json "$log" |
    jq -r '.[] | select(.type != "EV_NO_ACTION") | select(.digests.sha256 != null)
           | "\(.pcr):sha256=\(.digests.sha256)"' >extends
[ -s extends ] || die "no events to extend"
xargs -n 8 tpm2_pcrextend <extends

tpm2_createek -c ek.ctx -G rsa >/dev/null; flush
tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub >/dev/null; flush
nonce=$(openssl rand -hex 32)
tpm2_quote -c ak.ctx -l $sel -q "$nonce" -m q.msg -s q.sig -o q.pcrs -g sha256 >/dev/null; flush

check_log "log replays to the quote" 0 out "eventlog: event log replays to the quoted value of" q "$log"

# An unlogged measurement into PCR 4.
tpm2_pcrextend 4:sha256=$(printf 'not in the log' | sha256sum | cut -d' ' -f1)
nonce=$(openssl rand -hex 32)
tpm2_quote -c ak.ctx -l $sel -q "$nonce" -m q2.msg -s q2.sig -o q2.pcrs -g sha256 >/dev/null; flush
check_log "unlogged measurement" 1 err "(eventlog_mismatch): event log replays PCR sha256:4" q2 "$log"
# The quote itself is still valid without the log.
"$BOOTGATECTL" quote verify --ak ak.pub --attest q2.msg --sig q2.sig --nonce "$nonce" \
    --pcrs q2.pcrs >/dev/null || fail "quote without log"
# A log that does not parse is a failure of evidence (exit 1), not a crash.
head -c 100 "$log" >short.bin
check_log "truncated log" 1 err "eventlog_mismatch" q2 short.bin
finish
