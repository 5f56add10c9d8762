#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The client's LUKS2 layer (src/client/luks.c) on image files: bootgate token
# write/read (checked with cryptsetup token export), volume key read with a
# key file, and volume key verification (what --verify-only does).
source "$(dirname "$0")/client_common.sh"

make_luks "$T/disk.img" "$T/vk" "$T/pass"
UUID=$(cryptsetup luksUUID "$T/disk.img")

out=$(unlock_test luks "$T/disk.img")
grep -q "^uuid $UUID" <<<"$out" || fail "uuid: $out"
grep -q '^token none' <<<"$out" || fail "token on a fresh volume: $out"

CA=$(openssl rand -hex 32)
AK=000b$(openssl rand -hex 32)
unlock_test luks "$T/disk.img" --write-token --server https://127.0.0.1:8443 --node-id n-1 \
    --ca-sha256 "$CA" --ak-name "$AK" >"$T/out"
grep -q '^token_id 0' "$T/out" || fail "token id: $(cat "$T/out")"
cryptsetup token export --token-id 0 "$T/disk.img" >"$T/tok.json"
[ "$(jq -r .type "$T/tok.json")" = bootgate ] || fail "type: $(cat "$T/tok.json")"
[ "$(jq -c .keyslots "$T/tok.json")" = '[]' ] || fail "keyslots"
[ "$(jq -r .server "$T/tok.json")" = https://127.0.0.1:8443 ] || fail "server"
[ "$(jq -r .node_id "$T/tok.json")" = n-1 ] || fail "node_id"
[ "$(jq -r .ca_sha256 "$T/tok.json")" = "$CA" ] || fail "ca_sha256"
[ "$(jq -r .ak_name "$T/tok.json")" = "$AK" ] || fail "ak_name"
ok "token written, cryptsetup token export agrees"

# Rewriting replaces (never two bootgate tokens)
unlock_test luks "$T/disk.img" --write-token --server https://10.0.0.1 --node-id n-2 \
    --ca-sha256 "$CA" >/dev/null
n=$(cryptsetup luksDump --dump-json-metadata "$T/disk.img" |
    jq '[.tokens[] | select(.type=="bootgate")] | length')
[ "$n" = 1 ] || fail "$n bootgate tokens after rewrite"
out=$(unlock_test luks "$T/disk.img")
grep -q '^node_id n-2' <<<"$out" || fail "rewrite not read back: $out"
ok "token rewrite keeps one token"

# A token imported by another tool is read; a malformed one is refused
for id in $(seq 0 3); do cryptsetup token remove --token-id "$id" "$T/disk.img" 2>/dev/null || true; done
echo '{"type":"bootgate","keyslots":[],"server":"https://s.example","node_id":"x"}' |
    cryptsetup token import --json-file - "$T/disk.img"
grep -q '^server https://s.example' <<<"$(unlock_test luks "$T/disk.img")" || fail "imported token"
for id in $(seq 0 3); do cryptsetup token remove --token-id "$id" "$T/disk.img" 2>/dev/null || true; done
echo '{"type":"bootgate","keyslots":[],"server":7,"node_id":"x"}' |
    cryptsetup token import --json-file - "$T/disk.img"
grep -q 'not a string' <<<"$(unlock_test luks "$T/disk.img")" || fail "mistyped token accepted"
ok "foreign token read, mistyped token refused"

# Volume key: right key verifies, wrong key does not
unlock_test luks "$T/disk.img" --volume-key-file "$T/vk" | grep -q '^volume_key verified' ||
    fail "right volume key not verified"
head -c 64 /dev/urandom >"$T/vk.bad"
set +e
unlock_test luks "$T/disk.img" --volume-key-file "$T/vk.bad" >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "wrong volume key: exit $rc"
grep -q 'does not open' "$T/err" || fail "wrong key message: $(cat "$T/err")"
ok "volume key verify: right accepted, wrong refused"

# Volume key read with the passphrase key file equals the key given to luksFormat
unlock_test luks "$T/disk.img" --key-file "$T/pass" --expect-volume-key-file "$T/vk" |
    grep -q '^volume_key matches' || fail "volume key from key file differs"
printf wrong >"$T/pass.bad"
set +e
unlock_test luks "$T/disk.img" --key-file "$T/pass.bad" >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'no key slot' "$T/err" || fail "wrong passphrase: exit $rc $(cat "$T/err")"
ok "crypt_volume_key_get with key file; wrong passphrase refused"

# Not LUKS
truncate -s 4M "$T/plain.img"
set +e
unlock_test luks "$T/plain.img" >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'not a LUKS2' "$T/err" || fail "plain image: exit $rc"
ok "non-LUKS device refused"
echo PASS
