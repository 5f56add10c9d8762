#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate-unlock --timing (used by bench/client/run.sh): one JSON line of
# durations on stderr after a real unlock against bootgated + swtpm; the phases
# add up to the total, each TPM/HTTP/LUKS phase was actually timed, nothing of
# the volume key reaches stderr, libtss2-esys used the shared OpenSSL context,
# and without --timing there is no such line.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
client_server_up
enroll web

cl --timing --verify-only "$WORK/disk.img" >"$WORK/out" 2>"$WORK/err" || fail "unlock: $(cat "$WORK/err")"
[ "$(grep -c '^{"bootgate_timing":1,' "$WORK/err")" = 1 ] || fail "want one timing line: $(cat "$WORK/err")"
grep '^{"bootgate_timing"' "$WORK/err" >"$WORK/t.json"
jq -e '.exit == 0 and .http_requests == 2' "$WORK/t.json" >/dev/null || fail "$(cat "$WORK/t.json")"
PHASES='["tpm_setup_us","tpm_quote_us","tpm_pcr_read_us","tpm_activate_us","tpm_close_us",
         "http_us","unwrap_us","luks_load_us","luks_verify_us"]'
# luks_load_us is only the wait for the volume thread, which may have finished
# before the TPM setup did (then ~0); the thread's own time must be there.
jq -e --argjson p "$PHASES" '. as $o | all($p[]; ($o[.] | type) == "number" and
    ($o[.] > 0 or . == "luks_load_us")) and .luks_search_us > 0' \
    "$WORK/t.json" >/dev/null || fail "a phase was not timed: $(cat "$WORK/t.json")"
# other_us is what no phase covers: phases + other == total (nothing counted twice)
jq -e --argjson p "$PHASES" '. as $o | ([$p[] | $o[.]] | add) + .other_us == .total_us and
    .http_connect_us <= .http_us and .luks_load_us <= .luks_search_us and
    .luks_search_cpu_us > 0 and .luks_search_cpu_us <= .luks_search_us + 1000 and .cpu_us > 0' \
    "$WORK/t.json" >/dev/null ||
    fail "phases do not add up: $(cat "$WORK/t.json")"
# libtss2-esys's per-operation OpenSSL contexts are replaced by the default one
# (src/client/osslctx.c): the override must actually be bound, or every unlock
# pays ~9 ms of CPU again without any test noticing.
jq -e '.esys_ossl_ctx_shared > 0' "$WORK/t.json" >/dev/null ||
    fail "libtss2-esys did not use the shared OpenSSL context: $(cat "$WORK/t.json")"
pass "--timing: $(jq -c '{total_us, tpm_setup_us, http_us, luks_verify_us, esys_ossl_ctx_shared}' "$WORK/t.json")"

# Durations only: no byte of the volume key, in hex or base64, reaches stderr.
vk_hex=$(xxd -p -c 256 "$WORK/vk")
vk_b64=$(base64 -w0 "$WORK/vk")
if grep -qiF -e "$vk_hex" -e "${vk_hex:0:16}" -e "${vk_b64:0:16}" "$WORK/err" "$WORK/out"; then
    fail "volume key material in the output"
fi
pass "--timing prints no key material"

cl --verify-only "$WORK/disk.img" >"$WORK/out" 2>"$WORK/err" || fail "unlock: $(cat "$WORK/err")"
! grep -q bootgate_timing "$WORK/err" || fail "timing line without --timing"
pass "no timing line without --timing"
finish
