#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The server's sandbox: systemd-units/bootgated.service scores an exposure of
# at most 2.0 in `systemd-analyze security --offline` (and the same unit with
# its hardening stripped scores worse, so the check can fail); the unit runs
# bootgated as an unprivileged user without capabilities; and bootgated run
# that way (setpriv with the unit's user, no capabilities, no new privileges,
# LimitMEMLOCK=infinity, LimitCORE=0) serves, locks its memory and commits
# audit records, while a root-only file stays out of its reach.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

UNIT=$BOOTGATE_SRCDIR/systemd-units/bootgated.service
command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
key() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }

# --- exposure ----------------------------------------------------------
exposure() {
    systemd-analyze security --offline=true "$1" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
score=$(exposure "$UNIT")
log "exposure of bootgated.service: $score"
check "bootgated.service exposure $score <= 2.0" 1 "$(awk -v s="$score" 'BEGIN { print (s != "" && s <= 2.0) }')"
check_ok "systemd-analyze security --threshold=20 passes" \
    systemd-analyze security --offline=true --threshold=20 "$UNIT"
# control: without its sandbox lines the same unit scores worse and fails
mkdir -p "$WORK/units"
grep -vE '^(Protect|Private|Restrict|SystemCall|CapabilityBoundingSet|NoNewPrivileges|Lock|Memory|UMask)' \
    "$UNIT" >"$WORK/units/bootgated.service"
loose=$(exposure "$WORK/units/bootgated.service")
check "control: the unit without its hardening scores $loose > 2.0" 1 \
    "$(awk -v s="$loose" 'BEGIN { print (s != "" && s > 2.0) }')"
rc=0
systemd-analyze security --offline=true --threshold=20 "$WORK/units/bootgated.service" >/dev/null 2>&1 || rc=$?
check "control: --threshold=20 fails on it" 1 "$([ $rc -ne 0 ] && echo 1)"

# --- the unit's identity and limits --------------------------------------
user=$(key User)
check "the unit runs as a user of its own (User=$user)" 1 \
    "$([ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] && echo 1)"
check "... and group (Group=$(key Group))" 1 "$([ -n "$(key Group)" ] && [ "$(key Group)" != root ] && echo 1)"
check "no capability at all (CapabilityBoundingSet= empty)" "" "$(key CapabilityBoundingSet)"
check "no ambient capability" "" "$(key AmbientCapabilities)"
check "NoNewPrivileges=yes" yes "$(key NoNewPrivileges)"
check "LimitCORE=0" 0 "$(key LimitCORE)"
check "LimitMEMLOCK=infinity (mlockall without CAP_IPC_LOCK)" infinity "$(key LimitMEMLOCK)"

# --- bootgated as the unit runs it -------------------------------------
command -v setpriv >/dev/null || skip "setpriv is not installed"
[ "$(id -u)" = 0 ] || skip "not root: cannot run bootgated as another user"
# the unit's user when this machine has it, else an unused uid: the test needs
# no account, only an identity that is not root
uid=$(id -u "$user" 2>/dev/null || echo 64999)
gid=$(id -g "$user" 2>/dev/null || echo 64999)
bootgated_init
memlock=--memlock=unlimited
if ! prlimit --memlock=unlimited true 2>/dev/null; then
    # no CAP_SYS_RESOURCE here (a container): the unit's LimitMEMLOCK cannot be
    # given, so bootgated runs without mlockall and that one check is skipped
    memlock=
    echo "lock_memory = no" >>"$SRV/bootgated.conf"
    echo "skip - RLIMIT_MEMLOCK cannot be raised here: memory locking not checked"
fi
chown -R "$uid:$gid" "$SRV"
chmod o+x "$WORK" # the path to $SRV, as /etc and /var/lib are
chmod 0700 "$SRV"
BOOTGATED_REAL=$BOOTGATED
cat >"$WORK/bootgated-as-unit" <<WRAP
#!/bin/sh
exec prlimit $memlock --core=0 setpriv --reuid=$uid --regid=$gid --clear-groups \\
    --inh-caps=-all --bounding-set=-all --no-new-privs "$BOOTGATED_REAL" "\$@"
WRAP
chmod +x "$WORK/bootgated-as-unit"
BOOTGATED=$WORK/bootgated-as-unit
start_bootgated
st=/proc/$SRV_PID/status
check "bootgated runs as uid $uid" "$uid $uid $uid $uid" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$st")"
check "... gid $gid, no supplementary group" "$gid $gid $gid $gid|" \
    "$(awk '/^Gid:/ {printf "%s %s %s %s|", $2, $3, $4, $5} /^Groups:/ {printf "%s", $2}' "$st")"
check "... with no effective, permitted or bounding capability" \
    "0000000000000000 0000000000000000 0000000000000000" \
    "$(awk '/^Cap(Eff|Prm|Bnd):/ {printf "%s%s", sep, $2; sep=" "}' "$st")"
check "... and no new privileges" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "$st")"
check "it serves /healthz" 200 "$(api GET /healthz)"
check "it answers an admin request (its store and audit log are its own)" 200 \
    "$(api GET /v1/admin/audit "" auditor)"
check "its server_start audit record was committed" 1 \
    "$(jq '[.records[] | select(.action == "server_start")] | length' "$WORK/reply")"
ASAN=$(grep -qa __asan_init "$BOOTGATED_REAL" && echo 1 || echo 0)
if [ "$ASAN" = 0 ] && [ -n "$memlock" ]; then
    check "its memory is locked without CAP_IPC_LOCK" 1 \
        "$([ "$(awk '/^VmLck:/ {print $2}' "$st")" -gt 1024 ] && echo 1)"
fi
stop_bootgated
# control: the identity is real, a root-only key file is out of its reach
chown root:root "$SRV/kek"
rc=0
"$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1 || rc=$?
check "control: a root-owned 0600 KEK cannot be read" 1 "$rc"
check "... Permission denied" 1 "$(grep -c 'cannot open .*kek: Permission denied' "$WORK/check.out")"

finish
