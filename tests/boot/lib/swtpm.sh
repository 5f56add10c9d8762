# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034 # BG_* globals are outputs for the caller
# swtpm for one VM.
#
#   bg_swtpm_start DIR [BANKS]
#                            start a TPM 2.0 swtpm with its state in DIR (created;
#                            reuse DIR for a second boot of the same "machine").
#                            BANKS (e.g. sha256 or sha1,sha256): a new state is
#                            manufactured with swtpm_setup with only these PCR banks
#                            (fewer banks: much less hashing by the firmware under
#                            TCG); default: libtpms' sha1,sha256,sha384,sha512.
#                            BANKS=tpm12: a TPM 1.2 (swtpm_setup: EK, enabled,
#                            activated), whose firmware log is the legacy SHA-1 format.
#                            Sets BG_SWTPM_SOCK (the QEMU chardev socket) and
#                            BG_SWTPM_PID; the process is killed on exit.
#   bg_swtpm_qemu_args       prints the QEMU arguments for that swtpm (tpm-tis)
#   bg_swtpm_stop            kill it now (before a second boot)
#
# No startup flags: QEMU initialises the TPM over the control channel and the
# firmware sends TPM2_Startup itself, as on hardware. --terminate makes swtpm
# exit when QEMU closes the connection.

bg_swtpm_start() {
    local dir=$1 banks=${2:-} i ver=--tpm2
    mkdir -p "$dir" || bg_die "mkdir $dir"
    if [[ $banks == tpm12 ]]; then
        ver=
        if [[ ! -e $dir/tpm-00.permall ]]; then
            swtpm_setup --tpmstate "$dir" --createek >"$dir/swtpm_setup.log" 2>&1 || {
                bg_artifact "$dir/swtpm_setup.log"
                bg_die "swtpm_setup (TPM 1.2) failed"
            }
        fi
    elif [[ -n $banks && ! -e $dir/tpm2-00.permall ]]; then
        swtpm_setup --tpm2 --tpmstate "$dir" --pcr-banks "$banks" >"$dir/swtpm_setup.log" 2>&1 || {
            bg_artifact "$dir/swtpm_setup.log"
            bg_die "swtpm_setup --pcr-banks $banks failed"
        }
    fi
    rm -f "$dir/sock"
    swtpm socket $ver --tpmstate dir="$dir" --ctrl type=unixio,path="$dir/sock" \
        --terminate --log file="$dir/swtpm.log",level=2 &
    BG_SWTPM_PID=$!
    BG_SWTPM_SOCK=$dir/sock
    BG_SWTPM_DIR=$dir
    bg_on_exit "bg_swtpm_stop"
    for ((i = 0; i < 100; i++)); do
        [[ -S $BG_SWTPM_SOCK ]] && return 0
        kill -0 "$BG_SWTPM_PID" 2>/dev/null || break
        sleep 0.05
    done
    bg_artifact "$dir/swtpm.log"
    bg_die "swtpm did not start (state $dir)"
}

bg_swtpm_qemu_args() {
    printf '%s\n' -chardev "socket,id=chrtpm,path=$BG_SWTPM_SOCK" \
        -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0
}

bg_swtpm_stop() {
    [[ -n ${BG_SWTPM_PID:-} ]] || return 0
    kill "$BG_SWTPM_PID" 2>/dev/null || true
    wait "$BG_SWTPM_PID" 2>/dev/null || true
    BG_SWTPM_PID=
    return 0
}
