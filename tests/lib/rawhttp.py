#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Raw HTTP/1.1-over-TLS client for the adversarial tests: sends exactly the
bytes it is given, as slowly as asked, over as many connections as asked,
and reports what the server did (answers, when it closed). Prints one JSON
object.

  rawhttp.py --port P --ca CA [--cert C --key K] request [--file F] [--wait S]
      sends F (default stdin) at once; prints {"statuses": [...], "closed": bool,
      "headers": [...], "body": "first answer's body"}
  rawhttp.py ... trickle N --interval S --duration D [--file F]
      N connections send F (default: a request's headers that never end) one
      byte every S seconds; prints {"opened", "closed", "max_alive", "bytes_sent"}
  rawhttp.py ... slowbody N --length L --send B --duration D [--path P]
      N connections send headers with Content-Length L, then B bytes of body,
      then nothing; prints {"opened", "closed", "max_alive"}
  rawhttp.py ... hold N --duration D
      N connections send nothing after the handshake; prints {"opened"
      (handshakes that completed), "refused" (closed before or during the
      handshake), "closed" (closed later by the server), "max_alive"}
  rawhttp.py ... flood N --path P --body F [--fresh-nonce NODE]
      N requests of P with body F (JSON) on one kept-alive connection; with
      --fresh-nonce, each after a challenge for NODE whose nonce replaces the
      body's "nonce"; prints {"statuses": {"403": n, ...}, "seconds"}
  rawhttp.py ... tls --max-version V [--ciphers C]
      one handshake; prints {"ok": bool, "version", "cipher", "error"}
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time
import warnings

# the old protocol versions are what some cases offer on purpose
warnings.filterwarnings("ignore", category=DeprecationWarning)


def context(a, max_version=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(a.ca)
    ctx.check_hostname = False
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    if max_version:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = getattr(ssl.TLSVersion, max_version)
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def connect(a, ctx=None, timeout=10):
    s = socket.create_connection((a.host, a.port), timeout=timeout)
    try:
        return (ctx or context(a)).wrap_socket(s, server_hostname=a.host)
    except Exception:
        s.close()
        raise


def read_all(conn, wait):
    data = b""
    conn.settimeout(wait)
    closed = False
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except (socket.timeout, TimeoutError):
        pass
    except (ConnectionError, ssl.SSLError, OSError):
        closed = True
    return data, closed


def parse_answers(data):
    """Status codes of the answers in data, headers and body of the first."""
    statuses, headers, body = [], [], b""
    rest = data
    first = True
    while rest.startswith(b"HTTP/"):
        head, sep, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        statuses.append(int(lines[0].split()[1]))
        length = 0
        for h in lines[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if first:
            headers, body = lines[1:], rest[:length]
            first = False
        rest = rest[length:]
    return statuses, headers, body


def cmd_request(a):
    raw = open(a.file, "rb").read() if a.file else sys.stdin.buffer.read()
    conn = connect(a)
    closed = False
    try:
        conn.sendall(raw)
    except (ConnectionError, ssl.SSLError, OSError):
        closed = True
    data, closed2 = read_all(conn, a.wait)
    conn.close()
    statuses, headers, body = parse_answers(data)
    return {"statuses": statuses, "closed": closed or closed2, "headers": headers,
            "body": body.decode("utf-8", "replace")}


def run_parallel(n, fn):
    results = [None] * n
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, fn(i))) for i in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.005)  # no SYN burst beyond the listen backlog
    for t in threads:
        t.join()
    return results


def hold_open(a, send, interval, duration):
    """One connection: handshake, send the bytes of send (all at once when
    interval is 0, else one byte per interval), then wait until the server
    closes or duration passes. Returns (opened, closed, alive_seconds, sent)."""
    start = time.monotonic()
    try:
        conn = connect(a)
    except Exception:
        return (False, True, time.monotonic() - start, 0)
    sent = 0
    try:
        if send and interval == 0:
            conn.sendall(send)
            sent = len(send)
        while time.monotonic() - start < duration:
            if send and interval and sent < len(send):
                conn.sendall(send[sent:sent + 1])
                sent += 1
            conn.settimeout(interval or 0.2)
            try:
                if conn.recv(4096) == b"":
                    return (True, True, time.monotonic() - start, sent)
            except (socket.timeout, TimeoutError):
                pass
    except (ConnectionError, ssl.SSLError, OSError):
        return (True, True, time.monotonic() - start, sent)
    finally:
        conn.close()
    return (True, False, time.monotonic() - start, sent)


def summary(results):
    return {"opened": sum(1 for r in results if r[0]),
            "refused": sum(1 for r in results if not r[0]),
            "closed": sum(1 for r in results if r[0] and r[1]),
            "max_alive": round(max([r[2] for r in results if r[0]] or [0]), 1),
            "bytes_sent": sum(r[3] for r in results)}


def cmd_trickle(a):
    send = open(a.file, "rb").read() if a.file else \
        b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096
    return summary(run_parallel(a.n, lambda i: hold_open(a, send, a.interval, a.duration)))


def cmd_slowbody(a):
    head = (f"POST {a.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {a.length}\r\n\r\n").encode()
    send = head + b"x" * a.send
    return summary(run_parallel(a.n, lambda i: hold_open(a, send, 0, a.duration)))


def cmd_hold(a):
    return summary(run_parallel(a.n, lambda i: hold_open(a, b"", 0, a.duration)))


def exchange(conn, path, body):
    """One request on a kept-alive connection: (status, body)."""
    conn.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for h in lines[1:]:
        k, _, v = h.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return int(lines[0].split()[1]), rest[:length]


def cmd_flood(a):
    template = json.load(open(a.body))
    statuses = {}
    start = time.monotonic()
    conn = connect(a)
    for _ in range(a.n):
        body = template
        if a.fresh_nonce:
            st, b = exchange(conn, "/v1/challenge", json.dumps({"node_id": a.fresh_nonce}).encode())
            body = dict(template, nonce=json.loads(b)["nonce"])
        try:
            st, _ = exchange(conn, a.path, json.dumps(body).encode())
        except (ConnectionError, ssl.SSLError, OSError):
            conn.close()
            conn = connect(a)
            st = "closed"
        statuses[str(st)] = statuses.get(str(st), 0) + 1
    conn.close()
    return {"statuses": statuses, "seconds": round(time.monotonic() - start, 1)}


def cmd_tls(a):
    try:
        conn = connect(a, context(a, a.max_version, a.ciphers))
        out = {"ok": True, "version": conn.version(), "cipher": conn.cipher()[0]}
        conn.close()
    except (ssl.SSLError, ConnectionError, OSError) as e:
        out = {"ok": False, "error": str(e)}
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request")
    r.add_argument("--file")
    r.add_argument("--wait", type=float, default=3)
    t = sub.add_parser("trickle")
    t.add_argument("n", type=int)
    t.add_argument("--interval", type=float, default=1)
    t.add_argument("--duration", type=float, default=10)
    t.add_argument("--file")
    b = sub.add_parser("slowbody")
    b.add_argument("n", type=int)
    b.add_argument("--length", type=int, required=True)
    b.add_argument("--send", type=int, required=True)
    b.add_argument("--duration", type=float, default=10)
    b.add_argument("--path", default="/v1/unlock")
    h = sub.add_parser("hold")
    h.add_argument("n", type=int)
    h.add_argument("--duration", type=float, default=5)
    f = sub.add_parser("flood")
    f.add_argument("n", type=int)
    f.add_argument("--path", required=True)
    f.add_argument("--body", required=True)
    f.add_argument("--fresh-nonce")
    v = sub.add_parser("tls")
    v.add_argument("--max-version", default=None)
    v.add_argument("--ciphers", default=None)
    a = p.parse_args()
    out = {"request": cmd_request, "trickle": cmd_trickle, "slowbody": cmd_slowbody,
           "hold": cmd_hold, "flood": cmd_flood, "tls": cmd_tls}[a.cmd](a)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
