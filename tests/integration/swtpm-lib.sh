# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by integration tests: starts one swtpm on random free ports and
# exports TPM2TOOLS_TCTI for it. The caller's trap must call swtpm_stop.

swtpm_free_port() {
    # Two consecutive free ports (server, ctrl) picked at random.
    python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 60000)
    ok = True
    for q in (p, p + 1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(p)
        break
PY
}

swtpm_start() {
    local dir=$1 port
    mkdir -p "$dir/tpmstate"
    for _ in 1 2 3 4 5; do
        port=$(swtpm_free_port)
        swtpm socket --tpm2 --tpmstate dir="$dir/tpmstate" \
            --server type=tcp,port="$port",bindaddr=127.0.0.1 \
            --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
            --flags not-need-init,startup-clear --pid file="$dir/swtpm.pid" \
            --log file="$dir/swtpm.log" &
        SWTPM_PID=$!
        export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
        for _ in $(seq 1 50); do
            if tpm2_getrandom 4 >/dev/null 2>&1; then
                return 0
            fi
            kill -0 "$SWTPM_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$SWTPM_PID" 2>/dev/null || true
        wait "$SWTPM_PID" 2>/dev/null || true
    done
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
