#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Secret hygiene, end to end: a node enrolls and unlocks (swtpm + bootgated +
# LUKS2 image, --verify-only, --verbose), then the volume key, the KEK and
# the nonce secret are searched (raw, hex, base64) in every log, the
# client's console output and the database files; bootgated is crashed
# (SIGABRT) after the release and must leave no core, while a control
# process holding the KEK, crashed the same way, does leave one that holds
# it (so the search and the core setup are proven to work); bootgated --check
# refuses private key files that group or others can read. The client's test
# driver crashes the same way right after ActivateCredential and leaves no core.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

# secret_in SECRET-FILE FILE...: prints the files that hold the secret's bytes,
# hex (either case) or base64 (of the whole secret, and of every 3-aligned
# 24-byte run: base64 inside a longer blob)
secret_in() {
    python3 - "$@" <<'EOF'
import base64, sys
secret = open(sys.argv[1], "rb").read()
forms = [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]
forms += [base64.b64encode(secret[i:i + 24]) for i in range(0, len(secret) - 23, 3)]
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        continue
    if any(f in data for f in forms):
        print(path.rsplit("/", 1)[-1])
EOF
}

mkdir -p "$WORK/cores"
ulimit -c unlimited 2>/dev/null || true
# bootgated runs in $WORK/cores: a core ("core" pattern) would land there
cd "$WORK/cores" || die "cd"
client_server_up
enroll web
cl --verbose --verify-only "$WORK/disk.img" >"$WORK/u.out" 2>&1 || die "unlock: $(cat "$WORK/u.out")"
check "unlock --verify-only: the released key opens the header" 1 \
    "$(grep -c 'released key verified' "$WORK/u.out")"
check "bootgated logged the release" 1 \
    "$([ "$(grep -c 'BOOTGATE_ACTION=key_released' "$WORK/bootgated.log")" -ge 1 ] && echo 1)"

places=("$WORK/u.out" "$WORK/enroll.out" "$WORK/enroll.err" "$WORK/bootgated.log")
dbfiles=("$SRV"/*.db "$SRV"/*.db-wal "$SRV"/*.db-shm)
for s in vk:"$WORK/vk" kek:"$SRV/kek" nonce-secret:"$SRV/nonce-secret"; do
    check "${s%%:*}: in no log nor console output" "" "$(secret_in "${s#*:}" "${places[@]}")"
    check "${s%%:*}: not in the database in clear ($(cd "$SRV" && echo *.db*))" "" \
        "$(secret_in "${s#*:}" "${dbfiles[@]}")"
done
# the database does hold the key, encrypted: the search would see it in clear
check "the database holds the wrapped volume key" 1 \
    "$([ "$(sqlite3 "$SRV/bootgate.db" 'SELECT count(*) FROM volumes')" -ge 1 ] && echo 1)"

# --- core dumps ----------------------------------------------------------
check "bootgated: core file size limit 0" 0 \
    "$(awk '/^Max core file size/ {print $5}' "/proc/$SRV_PID/limits")"
kill -ABRT "$SRV_PID"
rc=0
wait "$SRV_PID" 2>/dev/null || rc=$?
check "bootgated died of SIGABRT (exit 134)" 134 "$rc"
SRV_PID=
check "bootgated left no core" "" "$(ls "$WORK/cores")"

# control: the same crash of a process that holds the KEK and may dump
mkdir -p "$WORK/control"
cd "$WORK/control" || die "cd"
python3 -c 'import sys, time
k = open(sys.argv[1], "rb").read()
open(sys.argv[2], "w").close()
time.sleep(60)' "$SRV/kek" "$WORK/control.ready" &
ctl=$!
for _ in $(seq 100); do [ -e "$WORK/control.ready" ] && break; sleep 0.1; done
kill -ABRT $ctl
wait $ctl 2>/dev/null || true
cd "$WORK" || die "cd"
if [ -n "$(ls "$WORK/control")" ]; then
    check "control: its core holds the KEK (the search finds secrets in cores)" 1 \
        "$(secret_in "$SRV/kek" "$WORK"/control/* | grep -c .)"
else
    echo "skip - control: no core in the working directory here ($(cat /proc/sys/kernel/core_pattern)), the no-core checks above prove nothing"
fi

# the client: bootgate-unlock-test (the test drivers, never installed) crashes
# right after ActivateCredential recovered a known seed (its --crash hook);
# bootgate-unlock shares its process hardening (cli.c)
mkdir -p "$WORK/client-cores"
cd "$WORK/client-cores" || die "cd"
unlock_test keys --ek-public "$WORK/ek.pub" >"$WORK/keys.out" 2>&1 || die "keys: $(cat "$WORK/keys.out")"
head -c 32 /dev/urandom >"$WORK/seed"
tpm2_makecredential -T none -e "$WORK/ek.pub" -s "$WORK/seed" \
    -n "$(awk '/^ak_name/{print $2}' "$WORK/keys.out")" -o "$WORK/cred" >/dev/null 2>&1 ||
    die "tpm2_makecredential"
got=$(unlock_test activate --credential-file "$WORK/cred" 2>&1 | awk '/^secret/{print $2}')
check "control: the test driver recovers the seed" "$(xxd -p -c 64 "$WORK/seed")" "$got"
rc=0
unlock_test activate --credential-file "$WORK/cred" --crash abort >"$WORK/crash.out" 2>&1 || rc=$?
check "the client crashed (SIGABRT) with the seed in memory" 134 "$rc"
check "the client left no core" "" "$(ls "$WORK/client-cores")"
check "... and printed no seed" "" "$(secret_in "$WORK/seed" "$WORK/crash.out")"
cd "$WORK" || die "cd"

# --- private key files: group or other access is refused ----------------
for k in kek nonce-secret server.key audit-signer.key; do
    chmod 0640 "$SRV/$k"
    rc=0
    "$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1 || rc=$?
    check "$k mode 0640: bootgated --check exits 1" 1 "$rc"
    check "... naming the file and its mode" 1 \
        "$(grep -c "$k is accessible by group or others (mode 0640), want 0600" "$WORK/check.out")"
    chmod 0600 "$SRV/$k"
done
ln -s "$SRV/kek" "$SRV/kek-link"
sed -i 's|^kek_file = .*|kek_file = kek-link|' "$SRV/bootgated.conf"
rc=0
"$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1 || rc=$?
check "kek_file a symlink: refused" 1 "$rc"
sed -i 's|^kek_file = .*|kek_file = kek|' "$SRV/bootgated.conf"
check "all keys 0600 again: bootgated --check passes" 0 \
    "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check >/dev/null 2>&1; echo $?)"

finish
