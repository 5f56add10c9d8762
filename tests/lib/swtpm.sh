# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Free loopback ports and the one swtpm starter of the tests (sourced by
# harness.sh; stands alone too: the functions below start_swtpm need nothing
# else, and the caller stops what it starts).
#
#   free_port / free_port_pair   a free port (two consecutive ones) on 127.0.0.1
#   swtpm_launch STATE LOG       TPM2 swtpm on TCP (started up: DESIGN §8's flags),
#                                SWTPM_PID, exported TPM2TOOLS_TCTI; 1 after 5 tries
#   swtpm_start DIR              swtpm_launch with DIR/tpmstate and DIR/swtpm.log
#   swtpm_stop                   stops the swtpm of SWTPM_PID
#   start_swtpm [NAME]           (harness) a fresh TPM with state in $WORK/NAME
#                                (default tpm), killed at exit; also sets TCTI.
#                                EK_CERTS=1: EK certificates from swtpm-localca
#   swtpm_qemu_start DIR [BANKS] (boot tests) a swtpm for QEMU on a unix control
#                                socket, see below
#   swtpm_qemu_args / swtpm_qemu_stop

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Two consecutive free ports on 127.0.0.1 (swtpm needs server + control).
free_port_pair() {
    python3 - <<'PY'
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p >= 65535: a.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); b.close(); continue
    a.close(); b.close(); print(p); break
PY
}

swtpm_launch() {
    local state=$1 log=$2 port pid
    mkdir -p "$state"
    for _ in 1 2 3 4 5; do
        port=$(free_port_pair)
        swtpm socket --tpm2 --tpmstate dir="$state" \
            --server type=tcp,port="$port",bindaddr=127.0.0.1 \
            --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
            --flags not-need-init,startup-clear >"$log" 2>&1 &
        pid=$!
        export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
        for _ in $(seq 50); do
            # alive check first: if the port was taken meanwhile, our swtpm
            # exits and another test's swtpm would answer
            kill -0 "$pid" 2>/dev/null || break
            if tpm2_getrandom 4 >/dev/null 2>&1; then
                sleep 0.2
                if kill -0 "$pid" 2>/dev/null; then
                    SWTPM_PID=$pid
                    return 0
                fi
                break
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    return 1
}

swtpm_start() {
    local dir=$1
    swtpm_launch "$dir/tpmstate" "$dir/swtpm.log" && return 0
    echo "swtpm did not start" >&2
    return 1
}

swtpm_stop() {
    if [ -n "${SWTPM_PID:-}" ]; then
        kill "$SWTPM_PID" 2>/dev/null || true
        wait "$SWTPM_PID" 2>/dev/null || true
        SWTPM_PID=
    fi
}

start_swtpm() {
    local name=${1:-tpm}
    local state=$WORK/$name
    mkdir -p "$state"
    if [ -n "${EK_CERTS:-}" ]; then
        swtpm_setup --tpm2 --tpmstate "$state" --create-ek-cert --create-platform-cert \
            --overwrite >"$WORK/$name.setup.log" 2>&1 || die "swtpm_setup: $(tail -3 "$WORK/$name.setup.log")"
    fi
    swtpm_launch "$state" "$WORK/$name.log" || die "swtpm did not start: $(tail -5 "$WORK/$name.log")"
    PIDS+=("$SWTPM_PID")
    TCTI=$TPM2TOOLS_TCTI
}

# swtpm_qemu_start DIR [BANKS]: a TPM 2.0 swtpm for one VM with its state in DIR
# (reuse DIR for a second boot of the same "machine"). BANKS (e.g. sha256 or
# sha1,sha256): a new state is manufactured by swtpm_setup with only these PCR
# banks (fewer banks: much less hashing by the firmware under TCG); default:
# libtpms' sha1,sha256,sha384,sha512. BANKS=tpm12: a TPM 1.2 (swtpm_setup: EK,
# enabled, activated), whose firmware log is the legacy SHA-1 format. Sets
# SWTPM_QEMU_SOCK (the QEMU chardev socket), SWTPM_QEMU_PID, SWTPM_QEMU_DIR; the
# process is stopped at exit. No startup flags: QEMU initialises the TPM over
# the control channel and the firmware sends TPM2_Startup itself, as on
# hardware. --terminate makes swtpm exit when QEMU closes the connection.
swtpm_qemu_start() {
    local dir=$1 banks=${2:-} i ver=--tpm2
    mkdir -p "$dir" || die "mkdir $dir"
    if [ "$banks" = tpm12 ]; then
        ver=
        if [ ! -e "$dir/tpm-00.permall" ]; then
            swtpm_setup --tpmstate "$dir" --createek >"$dir/swtpm_setup.log" 2>&1 ||
                die "swtpm_setup (TPM 1.2) failed: $(tail -3 "$dir/swtpm_setup.log")"
        fi
    elif [ -n "$banks" ] && [ ! -e "$dir/tpm2-00.permall" ]; then
        swtpm_setup --tpm2 --tpmstate "$dir" --pcr-banks "$banks" >"$dir/swtpm_setup.log" 2>&1 ||
            die "swtpm_setup --pcr-banks $banks failed: $(tail -3 "$dir/swtpm_setup.log")"
    fi
    rm -f "$dir/sock"
    # shellcheck disable=SC2086 # $ver: empty for a TPM 1.2
    swtpm socket $ver --tpmstate dir="$dir" --ctrl type=unixio,path="$dir/sock" \
        --terminate --log file="$dir/swtpm.log",level=2 &
    SWTPM_QEMU_PID=$!
    SWTPM_QEMU_SOCK=$dir/sock
    SWTPM_QEMU_DIR=$dir
    on_exit swtpm_qemu_stop
    for ((i = 0; i < 100; i++)); do
        [ -S "$SWTPM_QEMU_SOCK" ] && return 0
        kill -0 "$SWTPM_QEMU_PID" 2>/dev/null || break
        sleep 0.05
    done
    die "swtpm did not start (state $dir): $(tail -5 "$dir/swtpm.log" 2>/dev/null)"
}

swtpm_qemu_args() {
    printf '%s\n' -chardev "socket,id=chrtpm,path=$SWTPM_QEMU_SOCK" \
        -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0
}

swtpm_qemu_stop() {
    [ -n "${SWTPM_QEMU_PID:-}" ] || return 0
    stop_pid "$SWTPM_QEMU_PID"
    SWTPM_QEMU_PID=
    return 0
}
