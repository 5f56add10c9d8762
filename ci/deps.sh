#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs every Debian package that bootgate's build, tests, benchmarks and demo need.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config clang clang-format libclang-rt-14-dev llvm
    libtss2-dev libcryptsetup-dev libssl-dev libcurl4-openssl-dev libjson-c-dev
    libevent-dev libsqlite3-dev libpq-dev zlib1g-dev libcmocka-dev
    # TPM and tools
    swtpm swtpm-tools tpm2-tools openssl sqlite3 cryptsetup-bin
    libtss2-tcti-pcap0 # client_tpm_enc.test.sh: TPM bus capture (pcap TCTI)
    # boot tests
    qemu-system-x86 qemu-utils ovmf linux-image-amd64 dracut dracut-network dracut-core
    busybox-static systemd-boot-efi binutils mtools fdisk dosfstools e2fsprogs cpio kmod zstd
    # boot chains (bootgate_chains, capture.sh ovmf-sb-grub): Debian's signed shim and
    # GRUB under Secure Boot; signature lists and authenticated updates for dbx
    shim-signed grub-efi-amd64-signed efitools sbsigntool
    # servers and peers
    postgresql clevis clevis-luks clevis-dracut clevis-tpm2 tang curl jq hyperfine
    # client tests: reference server (client_refserver.py), hex dumps
    python3 python3-cryptography xxd
    # hardening: client_valgrind (memcheck), server_sandbox (systemd-analyze security)
    valgrind systemd
    # client_plymouth.test.sh: a real plymouthd in a private network namespace
    plymouth iproute2
    # bench/client: tangd on a loopback port for the clevis comparison
    socat
    # fault_clock_skew: a replica whose clock runs ahead (libfaketime)
    faketime
    # packaging (integration.packaging), man pages, completions, journald, promtool
    dpkg-dev debhelper fakeroot lintian scdoc man-db bash-completion
    systemd prometheus
)

need=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
fi
