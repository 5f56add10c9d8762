# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034,SC2054 # globals are outputs; QEMU options have commas
# One QEMU VM at a time, under TCG (KVM cannot run OVMF on the CI machine).
#
#   bg_qemu_start NAME [options] [-- extra qemu args]
#       --ovmf DISK       UEFI boot (OVMF, fresh vars copy) from DISK (bg_esp_build)
#       --ovmf-kernel EFI UEFI boot of EFI (e.g. a UKI) handed to OVMF by QEMU (-kernel,
#                         fw_cfg): much faster than reading a big UKI from a disk under
#                         TCG; the firmware still measures it (PCR 4), but the event
#                         log has no GPT event and other boot variables than a disk boot
#       --secure-boot     with --ovmf: Secure Boot firmware ($BG_OVMF_SB_CODE, SMM, secure
#                         pflash) and vars with Microsoft's keys enrolled ($BG_OVMF_SB_VARS)
#       --vars FILE       with --ovmf: FILE is the variable store, kept across boots
#                         (default: a fresh copy per boot)
#       --seabios         legacy BIOS (QEMU's default firmware)
#       --kernel K --initrd I --append CMDLINE   direct kernel boot (SeaBIOS)
#       --disk IMG        extra virtio disk (raw, read-write), repeatable
#       --net             virtio-net, user networking (the host is 10.0.2.2)
#       --tpm             attach the swtpm from swtpm_qemu_start
#       --mem MB          default 512 (BG_QEMU_MEM)
#       --timeout SEC     hard limit for the whole VM, default 300 (BG_QEMU_TIMEOUT)
#     Console (ttyS0) -> $WORK/NAME.console.log; data port (ttyS1) ->
#     $WORK/NAME.data.log. Sets BG_QEMU_PID, BG_QEMU_T0.
#   bg_qemu_wait_marker NAME REGEX [TIMEOUT]
#       wait until a console line matches REGEX (grep -E); on timeout or VM exit
#       keeps the logs as artifacts and fails. Sets BG_ELAPSED (seconds since
#       bg_qemu_start, e.g. 14.2).
#   bg_qemu_wait_count NAME N REGEX [TIMEOUT]
#       the same, until N console lines match (the second prompt, ...)
#   bg_qemu_type NAME TEXT       type TEXT + newline on the serial console
#   bg_qemu_wait_exit NAME [TIMEOUT]
#       wait for the VM to power off (sets BG_ELAPSED); fails (keeping artifacts) on
#       timeout or if QEMU exits non-zero
#   bg_qemu_fetch NAME BLOCK OUT decode the guest's bg_emit BLOCK into OUT
#   bg_qemu_fail NAME MSG        keep console/data/swtpm logs as artifacts, then die
#   bg_qemu_stop                 kill the VM now

BG_OVMF_CODE=${BG_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
BG_OVMF_VARS=${BG_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
BG_OVMF_SB_CODE=${BG_OVMF_SB_CODE:-/usr/share/OVMF/OVMF_CODE_4M.secboot.fd}
BG_OVMF_SB_VARS=${BG_OVMF_SB_VARS:-/usr/share/OVMF/OVMF_VARS_4M.ms.fd}

bg_qemu_start() {
    local name=$1 fw=seabios esp='' kernel='' initrd='' append='' net=0 tpm=0
    local mem=${BG_QEMU_MEM:-512} timeout=${BG_QEMU_TIMEOUT:-300}
    local args=() disks=() d i=0 sb=0 vars='' code
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
        --ovmf) fw=ovmf esp=$2; shift ;;
        --ovmf-kernel) fw=ovmf kernel=$2; shift ;;
        --secure-boot) sb=1 ;;
        --vars) vars=$2; shift ;;
        --seabios) fw=seabios ;;
        --kernel) kernel=$2; shift ;;
        --initrd) initrd=$2; shift ;;
        --append) append=$2; shift ;;
        --disk) disks+=("$2"); shift ;;
        --net) net=1 ;;
        --tpm) tpm=1 ;;
        --mem) mem=$2; shift ;;
        --timeout) timeout=$2; shift ;;
        --) shift; break ;;
        *) die "bg_qemu_start: unknown option $1" ;;
        esac
        shift
    done
    local con=$WORK/$name.console data=$WORK/$name.data.log
    rm -f "$con.in" "$con.out" "$con.log" "$data"
    mkfifo "$con.in" "$con.out" || die "mkfifo"
    : >"$con.log"
    : >"$data"
    # Keep the input fifo open read-write so typing never blocks and QEMU never
    # sees EOF; drain the output fifo (the log is QEMU's own logfile).
    exec {BG_QEMU_INFD}<>"$con.in"
    cat "$con.out" >/dev/null &
    BG_QEMU_DRAIN=$!

    args=(-accel tcg -m "$mem" -smp 1 -nodefaults -display none -no-reboot
        -chardev "pipe,id=con,path=$con,logfile=$con.log"
        -serial chardev:con -serial "file:$data")
    if [[ $fw == ovmf ]]; then
        code=$BG_OVMF_CODE
        ((sb)) && code=$BG_OVMF_SB_CODE
        [[ -r $code ]] || skip "no $code (ovmf)"
        if [[ -z $vars ]]; then
            vars=$WORK/$name.vars.fd
            cp "$( ((sb)) && echo "$BG_OVMF_SB_VARS" || echo "$BG_OVMF_VARS")" "$vars" ||
                die "copy OVMF vars"
        fi
        if ((sb)); then
            # The variable store is writable only from SMM: Secure Boot's
            # authenticated variables cannot be changed by the OS behind the firmware.
            args+=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on)
        else
            args+=(-machine q35)
        fi
        args+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
            -drive "if=pflash,format=raw,unit=1,file=$vars")
        [[ -z $esp ]] || args+=(-drive "if=none,id=esp,format=raw,file=$esp,snapshot=on"
            -device virtio-blk-pci,drive=esp,bootindex=0)
    else
        args+=(-machine pc)
    fi
    [[ -z $kernel ]] || args+=(-kernel "$kernel")
    [[ -z $initrd ]] || args+=(-initrd "$initrd")
    [[ -z $append ]] || args+=(-append "$append")
    for d in "${disks[@]}"; do
        args+=(-drive "if=none,id=disk$i,format=raw,file=$d" -device "virtio-blk-pci,drive=disk$i")
        i=$((i + 1))
    done
    # romfile= : no iPXE option ROM, so the firmware never tries a network boot.
    ((net)) && args+=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile=)
    if ((tpm)); then
        [[ -n ${SWTPM_QEMU_SOCK:-} ]] || die "bg_qemu_start --tpm without swtpm_qemu_start"
        mapfile -t -O ${#args[@]} args < <(swtpm_qemu_args)
    fi
    args+=("$@")
    printf '%q ' qemu-system-x86_64 "${args[@]}" >"$WORK/$name.cmd"
    BG_QEMU_T0=$(bg_now)
    timeout -k 5 "$timeout" qemu-system-x86_64 "${args[@]}" 2>"$WORK/$name.qemu.err" &
    BG_QEMU_PID=$!
    on_exit "bg_qemu_stop"
}

bg_qemu_stop() {
    if [[ -n ${BG_QEMU_PID:-} ]]; then
        kill "$BG_QEMU_PID" 2>/dev/null || true
        wait "$BG_QEMU_PID" 2>/dev/null || true
        BG_QEMU_PID=
    fi
    if [[ -n ${BG_QEMU_DRAIN:-} ]]; then
        kill "$BG_QEMU_DRAIN" 2>/dev/null || true
        wait "$BG_QEMU_DRAIN" 2>/dev/null || true
        BG_QEMU_DRAIN=
    fi
    if [[ -n ${BG_QEMU_INFD:-} ]]; then
        exec {BG_QEMU_INFD}>&-
        BG_QEMU_INFD=
    fi
    return 0
}

bg_qemu_fail() {
    local name=$1
    shift
    bg_artifact "$WORK/$name.console.log" "$WORK/$name.data.log" \
        "$WORK/$name.qemu.err" "$WORK/$name.cmd" ${SWTPM_QEMU_DIR:+"$SWTPM_QEMU_DIR/swtpm.log"}
    log "--- last console lines ($name) ---"
    tail -n 30 "$WORK/$name.console.log" | tr -d '\r' >&2
    die "$*"
}

_bg_elapsed() { BG_ELAPSED=$(awk -v a="$1" -v b="$(bg_now)" 'BEGIN { printf "%.1f\n", b - a }'); }

bg_qemu_wait_marker() { bg_qemu_wait_count "$1" 1 "$2" "${3:-}"; }

bg_qemu_wait_count() {
    local name=$1 count=$2 re=$3 limit=${4:-} start
    [[ -n $limit ]] || limit=${BG_QEMU_TIMEOUT:-300}
    start=$(bg_now)
    while :; do
        if (($(tr -d "\r" <"$WORK/$name.console.log" | grep -Eo -- "$re" | wc -l) >= count)); then
            _bg_elapsed "$BG_QEMU_T0"
            return 0
        fi
        if ! kill -0 "$BG_QEMU_PID" 2>/dev/null; then
            log "VM $name exited before '$re'"
            bg_qemu_fail "$name" "no '$re' (x$count) on the console of $name"
        fi
        if awk -v a="$start" -v b="$(bg_now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
            bg_qemu_fail "$name" "timeout (${limit}s) waiting for '$re' (x$count) on $name"
        fi
        sleep 0.2
    done
}

bg_qemu_type() {
    printf '%s\r' "$2" >&"$BG_QEMU_INFD" || die "typing on the console of $1"
}

bg_qemu_wait_exit() {
    local name=$1 limit=${2:-${BG_QEMU_TIMEOUT:-300}} i rc
    for ((i = 0; i < limit * 5; i++)); do
        if ! kill -0 "$BG_QEMU_PID" 2>/dev/null; then
            wait "$BG_QEMU_PID"
            rc=$?
            BG_QEMU_PID=
            bg_qemu_stop
            [[ $rc == 0 ]] || bg_qemu_fail "$name" "QEMU exited with $rc"
            _bg_elapsed "$BG_QEMU_T0"
            return 0
        fi
        sleep 0.2
    done
    bg_qemu_fail "$name" "timeout (${limit}s) waiting for $name to power off"
}

bg_qemu_fetch() {
    local name=$1 block=$2 out=$3
    # Boot loaders may write to every serial port (GRUB through the firmware's
    # console): the BEGIN line may follow their escape sequences.
    tr -d '\r' <"$WORK/$name.data.log" |
        awk -v b="$block" '$0 == "BOOTGATE-END " b { f = 0; ok = 1 }
                           f { print }
                           substr($0, length($0) - length(b) - 14) == "BOOTGATE-BEGIN " b { f = 1 }
                           END { exit !ok }' | base64 -d >"$out" ||
        bg_qemu_fail "$name" "no complete data block '$block' from $name"
}
