# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by integration tests (directly, or through client_common.sh and
# server_common.sh): free loopback ports and one swtpm start/stop for all of
# them. The caller's trap must stop what it starts (swtpm_stop, or by pid).

# A port the kernel picked as free on 127.0.0.1.
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

# swtpm_launch STATE_DIR LOG: a swtpm (TPM2, started up) with its state in
# STATE_DIR on free ports; sets SWTPM_PID and exports TPM2TOOLS_TCTI. Returns 1
# if five attempts failed (the last one's output is in LOG).
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

# swtpm_start DIR: swtpm_launch with state in DIR/tpmstate, log DIR/swtpm.log.
swtpm_start() {
    local dir=$1
    swtpm_launch "$dir/tpmstate" "$dir/swtpm.log" && return 0
    echo "swtpm did not start" >&2
    return 1
}

# swtpm_workdir: the usual test start. A temporary directory $work with a
# swtpm (swtpm_start), both gone at exit (EXIT trap); continues inside $work.
swtpm_workdir() {
    work=$(mktemp -d)
    trap 'swtpm_stop; rm -rf "$work"' EXIT
    swtpm_start "$work"
    cd "$work"
}

swtpm_stop() {
    if [ -n "${SWTPM_PID:-}" ]; then
        kill "$SWTPM_PID" 2>/dev/null || true
        wait "$SWTPM_PID" 2>/dev/null || true
        SWTPM_PID=
    fi
}
