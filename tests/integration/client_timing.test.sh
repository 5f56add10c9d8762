#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate-unlock --timing (used by bench/client/run.sh): one JSON line of
# durations on stderr after a real unlock against bootgated + swtpm; the phases
# add up to the total, each TPM/HTTP/LUKS phase was actually timed, nothing of
# the volume key reaches stderr, libtss2-esys used the shared OpenSSL context,
# and without --timing there is no such line.
source "$(dirname "$0")/client_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/client_server.sh"
client_server_up
enroll web

cl --timing --verify-only "$T/disk.img" >"$T/out" 2>"$T/err" || fail "unlock: $(cat "$T/err")"
[ "$(grep -c '^{"bootgate_timing":1,' "$T/err")" = 1 ] || fail "want one timing line: $(cat "$T/err")"
grep '^{"bootgate_timing"' "$T/err" >"$T/t.json"
jq -e '.exit == 0 and .http_requests == 2' "$T/t.json" >/dev/null || fail "$(cat "$T/t.json")"
PHASES='["tpm_setup_us","tpm_quote_us","tpm_pcr_read_us","tpm_activate_us","tpm_close_us",
         "http_us","unwrap_us","luks_load_us","luks_verify_us"]'
# luks_load_us is only the wait for the volume thread, which may have finished
# before the TPM setup did (then ~0); the thread's own time must be there.
jq -e --argjson p "$PHASES" '. as $o | all($p[]; ($o[.] | type) == "number" and
    ($o[.] > 0 or . == "luks_load_us")) and .luks_search_us > 0' \
    "$T/t.json" >/dev/null || fail "a phase was not timed: $(cat "$T/t.json")"
# other_us is what no phase covers: phases + other == total (nothing counted twice)
jq -e --argjson p "$PHASES" '. as $o | ([$p[] | $o[.]] | add) + .other_us == .total_us and
    .http_connect_us <= .http_us and .luks_load_us <= .luks_search_us and
    .luks_search_cpu_us > 0 and .luks_search_cpu_us <= .luks_search_us + 1000 and .cpu_us > 0' \
    "$T/t.json" >/dev/null ||
    fail "phases do not add up: $(cat "$T/t.json")"
# libtss2-esys's per-operation OpenSSL contexts are replaced by the default one
# (src/client/osslctx.c): the override must actually be bound, or every unlock
# pays ~9 ms of CPU again without any test noticing.
jq -e '.esys_ossl_ctx_shared > 0' "$T/t.json" >/dev/null ||
    fail "libtss2-esys did not use the shared OpenSSL context: $(cat "$T/t.json")"
ok "--timing: $(jq -c '{total_us, tpm_setup_us, http_us, luks_verify_us, esys_ossl_ctx_shared}' "$T/t.json")"

# Durations only: no byte of the volume key, in hex or base64, reaches stderr.
vk_hex=$(xxd -p -c 256 "$T/vk")
vk_b64=$(base64 -w0 "$T/vk")
if grep -qiF -e "$vk_hex" -e "${vk_hex:0:16}" -e "${vk_b64:0:16}" "$T/err" "$T/out"; then
    fail "volume key material in the output"
fi
ok "--timing prints no key material"

cl --verify-only "$T/disk.img" >"$T/out" 2>"$T/err" || fail "unlock: $(cat "$T/err")"
! grep -q bootgate_timing "$T/err" || fail "timing line without --timing"
ok "no timing line without --timing"
