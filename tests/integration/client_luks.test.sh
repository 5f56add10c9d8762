#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The client's LUKS2 layer (src/client/luks.c) on image files: bootgate token
# write/read (checked with cryptsetup token export), volume key read with a
# key file, and volume key verification (what --verify-only does).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

make_luks "$WORK/disk.img" "$WORK/vk" "$WORK/pass"
UUID=$(cryptsetup luksUUID "$WORK/disk.img")

out=$(unlock_test luks "$WORK/disk.img")
grep -q "^uuid $UUID" <<<"$out" || fail "uuid: $out"
grep -q '^token none' <<<"$out" || fail "token on a fresh volume: $out"

CA=$(openssl rand -hex 32)
AK=000b$(openssl rand -hex 32)
unlock_test luks "$WORK/disk.img" --write-token --server https://127.0.0.1:8443 --node-id n-1 \
    --ca-sha256 "$CA" --ak-name "$AK" >"$WORK/out"
grep -q '^token_id 0' "$WORK/out" || fail "token id: $(cat "$WORK/out")"
cryptsetup token export --token-id 0 "$WORK/disk.img" >"$WORK/tok.json"
[ "$(jq -r .type "$WORK/tok.json")" = bootgate ] || fail "type: $(cat "$WORK/tok.json")"
[ "$(jq -c .keyslots "$WORK/tok.json")" = '[]' ] || fail "keyslots"
[ "$(jq -r .server "$WORK/tok.json")" = https://127.0.0.1:8443 ] || fail "server"
[ "$(jq -r .node_id "$WORK/tok.json")" = n-1 ] || fail "node_id"
[ "$(jq -r .ca_sha256 "$WORK/tok.json")" = "$CA" ] || fail "ca_sha256"
[ "$(jq -r .ak_name "$WORK/tok.json")" = "$AK" ] || fail "ak_name"
pass "token written, cryptsetup token export agrees"

# Rewriting replaces (never two bootgate tokens)
unlock_test luks "$WORK/disk.img" --write-token --server https://10.0.0.1 --node-id n-2 \
    --ca-sha256 "$CA" >/dev/null
n=$(cryptsetup luksDump --dump-json-metadata "$WORK/disk.img" |
    jq '[.tokens[] | select(.type=="bootgate")] | length')
[ "$n" = 1 ] || fail "$n bootgate tokens after rewrite"
out=$(unlock_test luks "$WORK/disk.img")
grep -q '^node_id n-2' <<<"$out" || fail "rewrite not read back: $out"
pass "token rewrite keeps one token"

# A token imported by another tool is read; a malformed one is refused
for id in $(seq 0 3); do cryptsetup token remove --token-id "$id" "$WORK/disk.img" 2>/dev/null || true; done
echo '{"type":"bootgate","keyslots":[],"server":"https://s.example","node_id":"x"}' |
    cryptsetup token import --json-file - "$WORK/disk.img"
grep -q '^server https://s.example' <<<"$(unlock_test luks "$WORK/disk.img")" || fail "imported token"
for id in $(seq 0 3); do cryptsetup token remove --token-id "$id" "$WORK/disk.img" 2>/dev/null || true; done
echo '{"type":"bootgate","keyslots":[],"server":7,"node_id":"x"}' |
    cryptsetup token import --json-file - "$WORK/disk.img"
grep -q 'not a string' <<<"$(unlock_test luks "$WORK/disk.img")" || fail "mistyped token accepted"
pass "foreign token read, mistyped token refused"

# Volume key: right key verifies, wrong key does not
unlock_test luks "$WORK/disk.img" --volume-key-file "$WORK/vk" | grep -q '^volume_key verified' ||
    fail "right volume key not verified"
head -c 64 /dev/urandom >"$WORK/vk.bad"
set +e
unlock_test luks "$WORK/disk.img" --volume-key-file "$WORK/vk.bad" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "wrong volume key: exit $rc"
grep -q 'does not open' "$WORK/err" || fail "wrong key message: $(cat "$WORK/err")"
pass "volume key verify: right accepted, wrong refused"

# Volume key read with the passphrase key file equals the key given to luksFormat
unlock_test luks "$WORK/disk.img" --key-file "$WORK/pass" --expect-volume-key-file "$WORK/vk" |
    grep -q '^volume_key matches' || fail "volume key from key file differs"
printf wrong >"$WORK/pass.bad"
set +e
unlock_test luks "$WORK/disk.img" --key-file "$WORK/pass.bad" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'no key slot' "$WORK/err" || fail "wrong passphrase: exit $rc $(cat "$WORK/err")"
pass "crypt_volume_key_get with key file; wrong passphrase refused"

# Not LUKS
truncate -s 4M "$WORK/plain.img"
set +e
unlock_test luks "$WORK/plain.img" >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'not a LUKS2' "$WORK/err" || fail "plain image: exit $rc"
pass "non-LUKS device refused"
finish
