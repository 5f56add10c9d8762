#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Latency of one bootgate-unlock run (--verify-only) against a local bootgated
# with swtpm: N sequential unlocks, min/median/p95/max wall time, and the
# phase split of one --verbose run. Run by hand from a build directory:
#   BUILD=build N=30 bench/client/run.sh
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build}
export BOOTGATE_UNLOCK=$BUILD/bootgate-unlock BOOTGATED=$BUILD/bootgated BOOTGATECTL=$BUILD/bootgatectl
HERE=$SRC/tests/integration
source "$HERE/client_common.sh"
source "$HERE/client_server.sh"
N=${N:-20}

server_init
mkdir -p "$T/etc"
start_swtpm tpm
make_luks "$T/disk.img" "$T/vk" "$T/pass"
boot "${EVENTS[@]}"
start_server
wait_server
policy web 1
enroll web

cl --verbose --verify-only "$T/disk.img" 2>&1 | sed -n 's/^bootgate-unlock: debug: /  /p' |
    grep -E 'TPM|POST|quote|Activate|done'
for i in $(seq "$N"); do
    s=$(date +%s%N)
    cl --verify-only "$T/disk.img" >/dev/null 2>&1 || fail "run $i failed"
    echo $(( ($(date +%s%N) - s) / 1000 ))
done | sort -n >"$T/us"
awk -v n="$N" '{ a[NR] = $1 } END {
    printf "bootgate-unlock --verify-only, %d runs (swtpm, bootgated on loopback):\n", n
    printf "  min %.1f ms  median %.1f ms  p95 %.1f ms  max %.1f ms\n",
        a[1] / 1000, a[int((n + 1) / 2)] / 1000, a[int(n * 0.95 + 0.999)] / 1000, a[n] / 1000 }' "$T/us"
