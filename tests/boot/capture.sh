#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real measured boots in QEMU (TCG) with swtpm, captured as test data.
#
#   tests/boot/capture.sh [-o OUTDIR] [-k] [CASE...]
#
# CASEs (default: all):
#   ovmf-uki      OVMF (UEFI) boots a UKI (systemd-stub) from a GPT ESP; the stub
#                 measures its sections into PCR 11; IMA tcb + a runtime policy
#                 (ima-ng, ima-sig for exec, ima-buf for the kernel_version
#                 critical data).
#   ovmf-uki-kernel the same UKI handed to OVMF by QEMU (-kernel, fw_cfg): no GPT
#                 event, no disk; sha256-only PCR banks (swtpm_setup --pcr-banks).
#   ovmf-sb-grub  Secure Boot on (OVMF with Microsoft's keys): Debian's signed shim
#                 -> signed GRUB (grub.cfg in \EFI\debian) -> signed kernel from a GPT
#                 ESP; GRUB measures its commands (PCR 8) and files (PCR 9)
#   ovmf-sb-grub-cmdline, -initrd, -kernel, -cfg   the same with one change: the
#                 command line, the initrd, another Debian kernel version (downloaded,
#                 bg_kernel2), grub.cfg (one more command). Each writes grub.cfg too;
#                 -k also keeps inputs/vmlinuz and inputs/initrd.img
#   ovmf-sb-grub-dbx  a dbx update: a machine with the snakeoil PK/KEK of ovmf (and
#                 Microsoft's db certificates appended by a first boot), captured as
#                 ovmf-sb-grub-dbx-ref, which then appends one SHA-256 to dbx from
#                 inside the guest (efivarfs, update signed with the snakeoil KEK by
#                 efitools); the next boot is ovmf-sb-grub-dbx (dbx-update.auth)
#   ovmf-sdboot-uki systemd-boot (Secure Boot off) starts the UKI from \EFI\Linux
#   seabios-kernel SeaBIOS with -kernel/-initrd; IMA with the ima-sig template.
#   seabios-tpm12  the same with a TPM 1.2: legacy SHA-1 event log (no Spec ID
#                  event), one sha1 bank.
# Each case writes OUTDIR/<case>/ (default tests/data/captures/<case>/):
#   eventlog.bin (binary_bios_measurements), ima.bin (binary_runtime_measurements),
#   pcrs-<bank>.json ({"0":"hex",...,"23":"hex"} as the guest's TPM reported them),
#   cmdline, uname-r, README (how it was made), boot-seconds.
set -euo pipefail
export BG_NAME=capture
. "$(dirname "$0")/lib/boot.sh"
. "$BG_LIB/chains.sh"

OUT=${BOOTGATE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/data/captures
KEEP_INPUTS=0
while getopts ko: opt; do
    case $opt in
    o) OUT=$OPTARG ;;
    k) KEEP_INPUTS=1 ;;
    *) echo "usage: $0 [-o OUTDIR] [-k] [CASE...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=(ovmf-uki ovmf-uki-kernel seabios-kernel seabios-tpm12)

bg_need_cmd swtpm qemu-system-x86_64 objcopy mkfs.fat mcopy sfdisk cpio jq
bg_kernel

# The initramfs is the same for every case: the capture scenario plus the files
# it makes IMA measure.
stage=$WORK/initramfs
bg_initramfs_new "$stage"
bg_initramfs_add_file "$stage" "$BG_LIB/guest/capture-scenario.sh" /scenario.sh
bg_initramfs_add_file "$stage" "$BG_LIB/guest/ima-policy" /etc/bootgate/ima-policy
bg_initramfs_add_file "$stage" "$BG_LIB/guest/hello.sh" /etc/bootgate/hello.sh 0755
printf 'bootgate capture, measured file %s\n' one two >"$stage/etc/bootgate/measure-1"
printf 'a second measured file\n' >"$stage/etc/bootgate/measure-2"
# For ovmf-sb-grub-dbx: efivarfs and chattr to write Secure Boot variables.
bg_initramfs_add_modules "$stage" efivarfs
bg_initramfs_add_binary "$stage" chattr
bg_initramfs_pack "$stage" "$WORK/initrd.img"

CONSOLE="console=ttyS0,115200 panic=-1 quiet"

# pcrs_json BANK < "bank index hex" lines -> {"0":"hex",...}
pcrs_json() {
    awk -v b="$1" '$1 == b { printf "%s\"%s\":\"%s\"", n++ ? "," : "{", $2, tolower($3) }
                   END { if (n) print "}" }' | jq . 2>/dev/null ||
        return 1
}

# The Secure Boot GRUB cases: the reference and one change each. Sets cmdline,
# how, and sb_inputs (kernel initrd grub.cfg) for the case directory.
SB_CMDLINE="$CONSOLE ima_policy=tcb|critical_data ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
sb_grub_case() {
    local c=$1 kernel=$BG_KERNEL initrd=$WORK/initrd.img change vars=()
    cmdline=$SB_CMDLINE
    case $c in
    ovmf-sb-grub) change="reference" ;;
    ovmf-sb-grub-cmdline)
        cmdline="$SB_CMDLINE loglevel=4"
        change="kernel command line + loglevel=4"
        ;;
    ovmf-sb-grub-initrd)
        # The kernel unpacks concatenated cpio archives: one more file.
        local st=$WORK/initrd2
        mkdir -p "$st/etc" && echo "changed initrd" >"$st/etc/bootgate-changed"
        bg_initrd_append "$WORK/initrd2.img" "$WORK/initrd.img" "$st"
        initrd=$WORK/initrd2.img
        change="initrd + one cpio member"
        ;;
    ovmf-sb-grub-kernel)
        bg_kernel2 || { log "$c: no second kernel ($BG_KERNEL2_WHY), case skipped"; return 1; }
        kernel=$BG_KERNEL2
        change="kernel $BG_KVER2 (Debian, side by side) instead of $BG_KVER"
        ;;
    ovmf-sb-grub-cfg) change="grub.cfg: one more command (set pager=1)" ;;
    ovmf-sb-grub-dbx-ref)
        # The variable store of sb_dbx_prepare; this boot applies the dbx update
        # after its capture.
        vars=(--vars "$WORK/dbx.vars.fd")
        sb_apply_initrd "$WORK/initrd-dbx.img" "$WORK/dbx.var" dbx
        initrd=$WORK/initrd-dbx.img
        change="snakeoil PK/KEK, db = snakeoil + Microsoft's (appended), before a dbx update"
        ;;
    ovmf-sb-grub-dbx)
        vars=(--vars "$WORK/dbx.vars.fd")
        change="the same machine after the dbx update in dbx-update.auth (signed with the snakeoil KEK, appended from inside the guest through efivarfs)"
        ;;
    *) die "unknown case $c" ;;
    esac
    bg_sb_grub_cfg "$WORK/$c.grub.cfg" "$cmdline"
    [[ $c != ovmf-sb-grub-cfg ]] || sed -i '1a set pager=1' "$WORK/$c.grub.cfg"
    bg_sb_esp "$WORK/$c.disk" "$kernel" "$initrd" "$WORK/$c.grub.cfg"
    sb_inputs=("$kernel" "$initrd" "$WORK/$c.grub.cfg")
    swtpm_qemu_start "$WORK/$c.tpm"
    bg_qemu_start "$c" --ovmf "$WORK/$c.disk" --secure-boot "${vars[@]}" --tpm
    local varsname
    varsname=$(basename "$BG_OVMF_SB_VARS")
    [[ ${#vars[@]} == 0 ]] || varsname="OVMF_VARS_4M.snakeoil.fd + Microsoft's db certificates"
    how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) Secure Boot ($(basename "$BG_OVMF_SB_CODE"), $varsname) + swtpm, shim $(dpkg-query -W -f '${Version}' shim-signed 2>/dev/null) -> GRUB $(dpkg-query -W -f '${Version}' grub-efi-amd64-signed 2>/dev/null) -> kernel, GPT ESP ($change)"
}

# sb_apply_initrd OUT VARFILE NAME: the capture initramfs plus
# /etc/bootgate/apply/NAME-<EFI_IMAGE_SECURITY_DATABASE_GUID>.var
sb_apply_initrd() {
    local st=$WORK/apply.$3
    rm -rf "$st" && mkdir -p "$st/etc/bootgate/apply"
    cp "$2" "$st/etc/bootgate/apply/$3-d719b2cb-3d3a-4596-a3bc-dad00e67656f.var"
    bg_initrd_append "$1" "$WORK/initrd.img" "$st"
}

# A Secure Boot machine whose keys we hold: OVMF_VARS_4M.snakeoil.fd (PK, KEK and
# db: the snakeoil key of ovmf, /usr/share/ovmf/PkKek-1-snakeoil.*), to which a
# first boot (a UKI signed with that key) appends Microsoft's db certificates
# (from the ovmf-sb-grub capture's db) so that shim boots. Makes
# $WORK/dbx.vars.fd and $WORK/dbx.var / dbx.auth: one SHA-256 appended to dbx,
# signed with the snakeoil KEK (efitools sign-efi-sig-list).
SNAKEOIL=/usr/share/ovmf/PkKek-1-snakeoil
sb_dbx_prepare() {
    local src=${BOOTGATE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
    bg_need_cmd sign-efi-sig-list sbsign openssl python3
    [[ -r $SNAKEOIL.key && -r /usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd ]] || skip "no snakeoil keys (ovmf)"
    openssl pkey -in "$SNAKEOIL.key" -passin pass:snakeoil -out "$WORK/snakeoil.key" 2>/dev/null ||
        die "snakeoil key"
    python3 - "$src/tests/lib" "$src/tests/data/captures/ovmf-sb-grub/eventlog.bin" "$WORK" <<'PY' || die "making the ESLs"
import hashlib, struct, sys
sys.path.insert(0, sys.argv[1])
import eventlog as g
def var(data):
    nlen, vlen = struct.unpack_from("<QQ", data, 16)
    return data[32:32 + 2 * nlen].decode("utf-16-le"), data[32 + 2 * nlen:32 + 2 * nlen + vlen]
db = next(var(e[3])[1] for e in g.parse_agile(open(sys.argv[2], "rb").read())
          if e[0] == 7 and e[1] == g.EV_EFI_VARIABLE_DRIVER_CONFIG and var(e[3])[0] == "db")
open(sys.argv[3] + "/db-ms.esl", "wb").write(db)
sig = b"\x11" * 16 + hashlib.sha256(b"bootgate dbx capture").digest()
sha = bytes.fromhex("2616c4c14c509240aca941f936934328")
open(sys.argv[3] + "/dbx.esl", "wb").write(sha + struct.pack("<III", 28 + 48, 0, 48) + sig)
PY
    local k esl
    for k in db dbx; do
        esl=$WORK/dbx.esl
        [[ $k == dbx ]] || esl=$WORK/db-ms.esl
        sign-efi-sig-list -a -k "$WORK/snakeoil.key" -c "$SNAKEOIL.pem" "$k" "$esl" "$WORK/$k.auth" \
            >/dev/null 2>&1 || die "sign-efi-sig-list $k"
        # EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE | RUNTIME | TIME_BASED_AUTHENTICATED | APPEND
        { printf '\x67\x00\x00\x00'; cat "$WORK/$k.auth"; } >"$WORK/$k.var"
    done
    cp /usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd "$WORK/dbx.vars.fd"
    sbsign --key "$WORK/snakeoil.key" --cert "$SNAKEOIL.pem" --output "$WORK/vmlinuz.snakeoil" \
        "$BG_KERNEL" >/dev/null 2>&1 || die "sbsign kernel"
    sb_apply_initrd "$WORK/initrd-db.img" "$WORK/db.var" db
    bg_uki_build "$WORK/enroll.efi" "$WORK/vmlinuz.snakeoil" "$WORK/initrd-db.img" "$CONSOLE"
    sbsign --key "$WORK/snakeoil.key" --cert "$SNAKEOIL.pem" --output "$WORK/enroll.signed.efi" \
        "$WORK/enroll.efi" >/dev/null 2>&1 || die "sbsign UKI"
    bg_esp_build "$WORK/enroll.disk" "$WORK/enroll.signed.efi"
    swtpm_qemu_start "$WORK/enroll.tpm"
    bg_qemu_start enroll --ovmf "$WORK/enroll.disk" --secure-boot --vars "$WORK/dbx.vars.fd" --tpm
    bg_qemu_wait_marker enroll 'BOOTGATE-MARKER: (applied|apply-failed) db' 300
    grep -q 'BOOTGATE-MARKER: applied db' "$WORK/enroll.console.log" ||
        bg_qemu_fail enroll "appending Microsoft's certificates to db failed"
    bg_qemu_wait_exit enroll
    swtpm_qemu_stop
}

run_case() {
    local sb_inputs=()
    local c=$1 dir=$OUT/$1 cmdline how t bank
    case $c in
    ovmf-uki)
        cmdline="$CONSOLE ima_policy=tcb|critical_data ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        bg_uki_build "$WORK/$c.efi" "$BG_KERNEL" "$WORK/initrd.img" "$cmdline"
        bg_esp_build "$WORK/$c.disk" "$WORK/$c.efi"
        swtpm_qemu_start "$WORK/$c.tpm"
        bg_qemu_start "$c" --ovmf "$WORK/$c.disk" --tpm
        how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) + swtpm, UKI (systemd-stub $(dpkg-query -W -f '${Version}' systemd-boot-efi 2>/dev/null)) as \\EFI\\BOOT\\BOOTX64.EFI on a GPT ESP"
        ;;
    ovmf-sb-grub | ovmf-sb-grub-*)
        sb_grub_case "$c" || return 0
        ;;
    ovmf-sdboot-uki)
        cmdline="$CONSOLE ima_policy=tcb|critical_data ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        bg_uki_build "$WORK/$c.efi" "$BG_KERNEL" "$WORK/initrd.img" "$cmdline"
        bg_sdboot_esp "$WORK/$c.disk" "$WORK/$c.efi"
        swtpm_qemu_start "$WORK/$c.tpm"
        bg_qemu_start "$c" --ovmf "$WORK/$c.disk" --tpm
        how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) (Secure Boot off) + swtpm, systemd-boot $(dpkg-query -W -f '${Version}' systemd-boot-efi 2>/dev/null) -> UKI in \\EFI\\Linux, GPT ESP"
        ;;
    ovmf-uki-kernel)
        cmdline="$CONSOLE ima_policy=tcb ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        bg_uki_build "$WORK/$c.efi" "$BG_KERNEL" "$WORK/initrd.img" "$cmdline"
        swtpm_qemu_start "$WORK/$c.tpm" sha256
        bg_qemu_start "$c" --ovmf-kernel "$WORK/$c.efi" --tpm
        how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) + swtpm (sha256 bank only), UKI (systemd-stub $(dpkg-query -W -f '${Version}' systemd-boot-efi 2>/dev/null)) as QEMU -kernel"
        ;;
    seabios-kernel)
        cmdline="$CONSOLE ima_policy=tcb ima_template=ima-sig ima_hash=sha256 bootgate.ima_policy=file"
        swtpm_qemu_start "$WORK/$c.tpm"
        bg_qemu_start "$c" --seabios --kernel "$BG_KERNEL" --initrd "$WORK/initrd.img" \
            --append "$cmdline" --tpm
        how="SeaBIOS (QEMU $(qemu-system-x86_64 --version | awk 'NR==1 { print $4 }')) + swtpm, -kernel/-initrd"
        ;;
    seabios-tpm12)
        cmdline="$CONSOLE ima_policy=tcb ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        swtpm_qemu_start "$WORK/$c.tpm" tpm12
        bg_qemu_start "$c" --seabios --kernel "$BG_KERNEL" --initrd "$WORK/initrd.img" \
            --append "$cmdline" --tpm
        how="SeaBIOS (QEMU $(qemu-system-x86_64 --version | awk 'NR==1 { print $4 }')) + swtpm TPM 1.2, -kernel/-initrd"
        ;;
    *) die "unknown case $c" ;;
    esac
    bg_qemu_wait_marker "$c" 'BOOTGATE-MARKER: capture-done'
    bg_qemu_wait_exit "$c"
    if [[ $c == ovmf-sb-grub-dbx-ref ]]; then
        grep -q 'BOOTGATE-MARKER: applied dbx' "$WORK/$c.console.log" ||
            bg_qemu_fail "$c" "the dbx update was not applied"
    fi
    t=$BG_ELAPSED
    swtpm_qemu_stop
    mkdir -p "$dir"
    bg_qemu_fetch "$c" eventlog "$dir/eventlog.bin"
    bg_qemu_fetch "$c" ima "$dir/ima.bin"
    bg_qemu_fetch "$c" cmdline "$dir/cmdline"
    bg_qemu_fetch "$c" uname-r "$dir/uname-r"
    bg_qemu_fetch "$c" pcrs "$WORK/$c.pcrs"
    bg_qemu_fetch "$c" pcrs-after "$WORK/$c.pcrs-after"
    cmp -s "$WORK/$c.pcrs" "$WORK/$c.pcrs-after" ||
        bg_qemu_fail "$c" "PCRs moved while the logs were read (something was measured)"
    rm -f "$dir"/pcrs-*.json
    for bank in sha1 sha256 sha384 sha512; do
        grep -q "^$bank " "$WORK/$c.pcrs" || continue
        pcrs_json "$bank" <"$WORK/$c.pcrs" >"$dir/pcrs-$bank.json" ||
            bg_qemu_fail "$c" "bad PCR dump"
    done
    [[ -s $dir/pcrs-sha256.json || -s $dir/pcrs-sha1.json ]] ||
        bg_qemu_fail "$c" "no sha1/sha256 PCRs from the guest"
    echo "$t" >"$dir/boot-seconds"
    if [[ ${#sb_inputs[@]} -gt 0 ]]; then
        cp "${sb_inputs[2]}" "$dir/grub.cfg"
        # -k: the kernel and initrd too (for predictions; not committed: big)
        [[ $c != ovmf-sb-grub-dbx ]] || cp "$WORK/dbx.auth" "$dir/dbx-update.auth"
        if ((KEEP_INPUTS)); then
            mkdir -p "$dir/inputs"
            cp "${sb_inputs[0]}" "$dir/inputs/vmlinuz" && cp "${sb_inputs[1]}" "$dir/inputs/initrd.img"
        fi
    fi
    printf '%s: %s; kernel %s (Debian), busybox initramfs (IMA: see cmdline, runtime policy tests/boot/lib/guest/ima-policy), tests/boot/capture.sh %s, %s.\n' \
        "$c" "$how" "$(cat "$dir/uname-r")" "$c" "$(date -u +%Y-%m-%d)" >"$dir/README"
    log "$c: captured into $dir (boot to power-off ${t}s)"
}

for c in "${CASES[@]}"; do
    if [[ $c == ovmf-sb-grub-dbx ]]; then
        sb_dbx_prepare
        run_case ovmf-sb-grub-dbx-ref
    fi
    run_case "$c"
done
