#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgated drops to its unprivileged user by itself (config `user`, issue 13
# point 6). Started as root with user = nobody on a loopback port below 1024:
# it binds that port and reads its root-only key files first, then runs with
# every uid and gid nobody's, no capability (effective, permitted,
# inheritable, ambient, bounding), no new privileges and not dumpable; a
# node still unlocks, and the state files it creates are nobody's. Bad cases:
# an unknown user, user = root, a state directory or database the user cannot
# write, another unprivileged uid: exit 1 with a message naming the cause and
# nothing served or created. --check names the user; root without `user` is
# warned about; started as the user already, the drop is a check.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
[ "$(id -u)" = 0 ] || skip "not root: bootgated cannot be started as root here"
for t in swtpm tpm2_createek tpm2_quote setpriv; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done
RUSER=nobody
RUID=$(id -u "$RUSER") || die "no user $RUSER"
RGID=$(id -g "$RUSER")

# a free loopback port below 1024 (binding it needs root, or CAP_NET_BIND_SERVICE,
# below net.ipv4.ip_unprivileged_port_start)
BOOTGATED_PORT=$(python3 -c '
import socket
for p in range(1023, 600, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()')
[ -n "$BOOTGATED_PORT" ] || die "no free port below 1024"
bootgated_init
CONF=$SRV/bootgated.conf
# the keys stay root's (0600): only the root part of the start can read them;
# the user reaches the key directories read per request, and a state
# directory of its own
chmod o+x "$WORK" "$SRV"
chmod o+rx "$SRV/policy-signers.d" "$SRV/approvers.d"
STATE=$WORK/state
mkdir -m 0700 "$STATE"
chown "$RUID:$RGID" "$STATE"
sed -i "s|^db = .*|db = $STATE/bootgate.db|" "$CONF"
echo "user = $RUSER" >>"$CONF"

# run_bad NAME CONF [RUNNER...]: bootgated (root unless RUNNER) on CONF must
# exit 1 without serving; its output in $WORK/NAME.out
run_bad() {
    local name=$1 conf=$2 rc=0
    shift 2
    "$@" timeout 20 "$BOOTGATED" -c "$conf" --log-stderr >"$WORK/$name.out" 2>&1 || rc=$?
    check "$name: exit 1" 1 "$rc"
    check "$name: nothing listened" 0 "$(grep -c 'listening on' "$WORK/$name.out" || true)"
}

# --- RLIMIT_MEMLOCK: mlockall(MCL_FUTURE) survives the drop only unlimited --
LOCKED=1
if ! prlimit --memlock=unlimited true 2>/dev/null; then
    # no CAP_SYS_RESOURCE (a container): the limit cannot be raised, which
    # bootgated must refuse clearly instead of failing later to map memory
    run_bad memlock "$CONF"
    check "memlock: says RLIMIT_MEMLOCK cannot be raised" 1 \
        "$(grep -c 'lock_memory = yes with user: cannot make RLIMIT_MEMLOCK unlimited' "$WORK/memlock.out")"
    echo "lock_memory = no" >>"$CONF"
    LOCKED=0
    echo "skip - RLIMIT_MEMLOCK cannot be raised here: memory locking after the drop not checked"
fi

# --- --check ------------------------------------------------------------------
rc=0
"$BOOTGATED" -c "$CONF" --check >"$WORK/check.out" 2>&1 || rc=$?
check "--check passes" 0 "$rc"
check "--check names the user it runs as" 1 \
    "$(grep -c "^bootgated: runs as user $RUSER (uid $RUID, gid $RGID)$" "$WORK/check.out")"

# --- the drop -----------------------------------------------------------------
start_bootgated
st=/proc/$SRV_PID/status
check "it listens below 1024 (port $PORT)" 1 "$([ "$PORT" -lt 1024 ] && echo 1)"
check "it serves /healthz there" 200 "$(api GET /healthz)"
check "uid: all $RUID" "$RUID $RUID $RUID $RUID" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$st")"
check "gid: all $RGID, groups: $RUSER's only" "$RGID $RGID $RGID $RGID|$(id -G "$RUSER")" \
    "$(awk '/^Gid:/ {printf "%s %s %s %s|", $2, $3, $4, $5} /^Groups:/ {$1 = ""; sub(/^ /, ""); printf "%s", $0}' "$st" | sed 's/ *$//')"
check "no capability: CapInh CapPrm CapEff CapBnd CapAmb all 0" \
    "0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000" \
    "$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ {printf "%s%s", sep, $2; sep=" "}' "$st")"
check "NoNewPrivs 1" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "$st")"
# the /proc files (not the directory) of a process that is not dumpable are root's
check "not dumpable after the uid change (/proc/PID/environ is root's)" 0 \
    "$(stat -c %u "/proc/$SRV_PID/environ")"
check "it logged the switch" 1 \
    "$(grep -c "switched to user $RUSER (uid $RUID, gid $RGID), no capabilities, no new privileges" "$WORK/bootgated.log")"
ASAN=$(grep -qa __asan_init "$BOOTGATED" && echo 1 || echo 0)
if [ "$LOCKED" = 1 ] && [ "$ASAN" = 0 ]; then
    check "its memory stays locked after the drop" 1 \
        "$([ "$(awk '/^VmLck:/ {print $2}' "$st")" -gt 1024 ] && echo 1)"
fi

# a node unlocks through the dropped server (store, audit, policy keys)
start_swtpm
node_setup
check "a node unlocks after the drop" 200 "$(try_unlock)"
check "... and gets a wrapped key" 1 "$(jq 'has("wrapped_key")' "$WORK/reply" | grep -c true)"
check "the admin API answers (audit log)" 200 "$(api GET /v1/admin/audit "" auditor)"
check "... with the key_released record" 1 \
    "$(jq '[.records[] | select(.action == "key_released")] | length' "$WORK/reply")"
check "the KEK stayed root's, 0600 (read before the drop)" "0:600" "$(stat -c %u:%a "$SRV/kek")"
stop_bootgated
check "the state files are $RUSER's: db, -wal/-shm (if left), signed head" "" \
    "$(find "$STATE" -mindepth 1 ! -user "$RUID" -printf '%p ')"
check "... the signed head was written at stop" 1 "$([ -s "$STATE/bootgate.db.audit-head" ] && echo 1)"

# --- bad cases ----------------------------------------------------------------
sed 's/^user = .*/user = no-such-user-bg/' "$CONF" >"$SRV/unknown.conf"
mkdir -m 0700 "$WORK/empty"
chown "$RUID:$RGID" "$WORK/empty"
sed -i "s|^db = .*|db = $WORK/empty/bootgate.db|" "$SRV/unknown.conf"
run_bad unknown "$SRV/unknown.conf"
check "unknown: 'no such user'" 1 "$(grep -c '^bootgated: user = no-such-user-bg: no such user$' "$WORK/unknown.out")"
check "unknown: nothing created" "" "$(ls -A "$WORK/empty")"
rc=0
"$BOOTGATED" -c "$SRV/unknown.conf" --check >"$WORK/unknown-check.out" 2>&1 || rc=$?
check "unknown: --check exits 1" 1 "$rc"
check "unknown: --check says so" 1 "$(grep -c 'no such user' "$WORK/unknown-check.out")"

sed 's/^user = .*/user = root/' "$CONF" >"$SRV/root.conf"
run_bad root "$SRV/root.conf"
check "root: refused as uid 0" 1 "$(grep -c 'user = root: uid 0; name an unprivileged user' "$WORK/root.out")"

mkdir -m 0755 "$WORK/rootstate"
sed "s|^db = .*|db = $WORK/rootstate/bootgate.db|" "$CONF" >"$SRV/statedir.conf"
run_bad statedir "$SRV/statedir.conf"
check "statedir: names the directory and the user" 1 \
    "$(grep -c "store: directory $WORK/rootstate is not writable for user $RUSER (uid $RUID): Permission denied (owner uid 0, mode 0755)" "$WORK/statedir.out")"
check "statedir: no database created" "" "$(ls -A "$WORK/rootstate")"

# a database left behind by a root run, in the user's directory
mkdir -m 0700 "$WORK/mixed"
cp "$STATE/bootgate.db" "$WORK/mixed/"
chown "$RUID:$RGID" "$WORK/mixed"
chmod 0644 "$WORK/mixed/bootgate.db"
sed "s|^db = .*|db = $WORK/mixed/bootgate.db|" "$CONF" >"$SRV/rootdb.conf"
run_bad rootdb "$SRV/rootdb.conf"
check "rootdb: names the file" 1 \
    "$(grep -c "store: $WORK/mixed/bootgate.db is not readable and writable for user $RUSER" "$WORK/rootdb.out")"

# what is opened after the drop is checked as the user: a hook only root may
# run, a key directory only root may read
printf '#!/bin/sh\ncat >/dev/null\n' >"$WORK/hook"
chmod 0700 "$WORK/hook"
{ cat "$CONF"; echo "notify_command = $WORK/hook"; } >"$SRV/hook.conf"
run_bad hook "$SRV/hook.conf"
check "hook: notify_command not executable for the user" 1 \
    "$(grep -c "notify_command $WORK/hook: Permission denied" "$WORK/hook.out")"
mkdir -m 0700 "$SRV/signers-root"
cp "$SRV"/policy-signers.d/*.pub "$SRV/signers-root/"
sed "s|^policy_signers_dir = .*|policy_signers_dir = $SRV/signers-root|" "$CONF" >"$SRV/keydir.conf"
run_bad keydir "$SRV/keydir.conf"
check "keydir: policy_signers_dir not readable for the user" 1 \
    "$(grep -c "$SRV/signers-root is not readable for user $RUSER: Permission denied" "$WORK/keydir.out")"

run_bad otheruid "$CONF" setpriv --reuid=64998 --regid=64998 --clear-groups
check "otheruid: another unprivileged uid is refused" 1 \
    "$(grep -c "user = $RUSER (uid $RUID), but bootgated runs as uid 64998, not root" "$WORK/otheruid.out")"

# --- already the user: the drop is a check ------------------------------------
U=$WORK/as-user
cp -a "$SRV" "$U"
chown -R "$RUID:$RGID" "$U"
sed -e "s|^db = .*|db = $U/bootgate.db|" -e '/^lock_memory/d' "$CONF" >"$U/bootgated.conf"
echo "lock_memory = no" >>"$U/bootgated.conf"
rc=0
setpriv --reuid="$RUID" --regid="$RGID" --init-groups "$BOOTGATED" -c "$U/bootgated.conf" --check \
    >"$WORK/asuser.out" 2>&1 || rc=$?
check "as $RUSER already: --check passes" 0 "$rc"
check "... and names the user" 1 "$(grep -c "^bootgated: runs as user $RUSER" "$WORK/asuser.out")"
# the unit's way to listen on 443: the user with an ambient CAP_NET_BIND_SERVICE,
# which bootgated gives up once bound
BOOTGATED_REAL=$BOOTGATED SRV_ROOT=$SRV
cat >"$WORK/bootgated-as-user" <<WRAP
#!/bin/sh
exec setpriv --reuid=$RUID --regid=$RGID --init-groups --inh-caps=+net_bind_service \\
    --ambient-caps=+net_bind_service "$BOOTGATED_REAL" "\$@"
WRAP
chmod +x "$WORK/bootgated-as-user"
BOOTGATED=$WORK/bootgated-as-user SRV=$U
start_bootgated
check "as $RUSER with CAP_NET_BIND_SERVICE: serves on port $PORT" 200 "$(api GET /healthz)"
check "... uid all $RUID" "$RUID $RUID $RUID $RUID" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$SRV_PID/status")"
check "... and the capability given up once bound (CapInh CapPrm CapEff CapAmb)" \
    "0000000000000000 0000000000000000 0000000000000000 0000000000000000" \
    "$(awk '/^Cap(Inh|Prm|Eff|Amb):/ {printf "%s%s", sep, $2; sep=" "}' "/proc/$SRV_PID/status")"
check "... NoNewPrivs 1" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$SRV_PID/status")"
check "... it logged that it runs as the user" 1 \
    "$(grep -c "runs as user $RUSER (uid $RUID, gid $RGID), no capabilities" "$WORK/bootgated.log")"
stop_bootgated
BOOTGATED=$BOOTGATED_REAL SRV=$SRV_ROOT

# --- root without user: one warning ------------------------------------------
sed '/^user = /d' "$CONF" >"$SRV/nouser.conf"
rc=0
"$BOOTGATED" -c "$SRV/nouser.conf" --check --log-stderr >"$WORK/nouser.out" 2>&1 || rc=$?
check "root without user: --check passes" 0 "$rc"
check "... with one warning line" 1 "$(grep -c 'running as root; set user = ' "$WORK/nouser.out")"

finish
