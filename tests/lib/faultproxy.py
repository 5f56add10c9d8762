#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A TCP proxy that injects faults, for the fault_* tests.

    faultproxy.py --listen PORT --to PORT --control FILE [--tpm] [--ready FILE]

Forwards 127.0.0.1:PORT to 127.0.0.1:TO (with --tpm also PORT+1 to TO+1, the
swtpm control channel, untouched). FILE holds the fault, read for every new
connection and every chunk, so a test switches faults while clients run:

    pass                  forward everything
    refuse                accept, then reset at once
    delay-response S      hold each answer S seconds before forwarding it
    reset-response N      forward N bytes of the answer, then reset both sides
    reset-after-upload M  once the client has sent M bytes on a connection (an
                          unlock with its event log, not a challenge), reset
                          the connection when the server's answer comes: the
                          server did the work, the client never hears of it
    drop-at CC            (--tpm) when the client sends the TPM command with
                          code CC (e.g. 0x158 TPM2_Quote, 0x147
                          TPM2_ActivateCredential), drop both connections
                          instead of forwarding it: the TPM died mid-operation

Every fault it injects is appended to FILE.log ("reset-response 200",
"drop-at 0x158"), which the tests read to prove that the fault happened.
"""
import argparse
import socket
import struct
import threading
import time


def mode(args):
    try:
        with open(args.control) as f:
            words = f.read().split()
    except OSError:
        words = []
    return words or ["pass"]


def note(args, text):
    with open(args.control + ".log", "a") as f:
        f.write(text + "\n")


def reset(*socks):
    """Resets the connections (RST). SHUT_RD first wakes the thread blocked
    in recv() on the same socket: without it the socket outlives close()."""
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b


class Conn:
    def __init__(self, c, u):
        self.c, self.u, self.up = c, u, 0

    def end(self):
        """Either side closed: close both (swtpm serves one client at a time,
        and a half-open connection would keep it waiting)."""
        for s in (self.c, self.u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def client_to_server(args, conn, tpm):
    """Forwards the client's bytes; with --tpm, command by command (swtpm's
    data channel carries plain TPM 2.0 commands: u16 tag, u32 size, u32 code)."""
    c, u = conn.c, conn.u
    try:
        while True:
            if not tpm:
                b = c.recv(65536)
                if not b:
                    break
                conn.up += len(b)
                u.sendall(b)
                continue
            hdr = recv_exact(c, 6)
            size = struct.unpack(">I", hdr[2:6])[0]
            if size < 10 or size > 1 << 20:
                raise ConnectionError("not a TPM command")
            cmd = hdr + recv_exact(c, size - 6)
            conn.up += size
            m = mode(args)
            if m[0] == "drop-at" and struct.unpack(">I", cmd[6:10])[0] == int(m[1], 0):
                note(args, "drop-at " + m[1])
                reset(c, u)
                return
            u.sendall(cmd)
    except (OSError, ConnectionError):
        pass
    conn.end()


def server_to_client(args, conn):
    c, u = conn.c, conn.u
    sent = 0
    try:
        while True:
            b = u.recv(65536)
            if not b:
                break
            m = mode(args)
            if m[0] == "delay-response":
                time.sleep(float(m[1]))
                note(args, "delay-response " + m[1])
            if m[0] == "reset-after-upload" and conn.up >= int(m[1]):
                note(args, "reset-after-upload " + m[1])
                reset(c, u)
                return
            if m[0] == "reset-response" and sent + len(b) > int(m[1]):
                c.sendall(b[: max(0, int(m[1]) - sent)])
                note(args, "reset-response " + m[1])
                reset(c, u)
                return
            c.sendall(b)
            sent += len(b)
    except OSError:
        pass
    conn.end()


def serve(args, listen, to, tpm):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        if mode(args)[0] == "refuse":
            note(args, "refuse")
            reset(c)
            continue
        try:
            u = socket.create_connection(("127.0.0.1", to))
        except OSError:
            reset(c)
            continue
        conn = Conn(c, u)
        threading.Thread(target=client_to_server, args=(args, conn, tpm), daemon=True).start()
        threading.Thread(target=server_to_client, args=(args, conn), daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--to", type=int, required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--tpm", action="store_true")
    p.add_argument("--ready")
    args = p.parse_args()
    threads = [threading.Thread(target=serve, args=(args, args.listen, args.to, args.tpm), daemon=True)]
    if args.tpm:
        threads.append(threading.Thread(target=serve, args=(args, args.listen + 1, args.to + 1, False),
                                        daemon=True))
    for t in threads:
        t.start()
    if args.ready:
        open(args.ready, "w").close()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
