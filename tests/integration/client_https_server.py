# SPDX-License-Identifier: LGPL-2.1-or-later
# A tiny HTTPS server for client_http.test.sh: answers every POST with a JSON
# body (or a body of --big bytes) and logs each request line to stdout. With
# big = -1 it dies in the middle of the first request, after reading it and
# before answering (a replica killed mid-request: client_replica_failover).
import http.server, os, sys, json

from tls_serve import serve_tls

cert, key, port_file, big = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
port = int(sys.argv[5]) if len(sys.argv) > 5 else 0

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        if big < 0:
            print("POST", self.path, "(dying)", flush=True)
            os._exit(0)
        out = (b"x" * big) if big else json.dumps({"echo": body.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        print("POST", self.path, flush=True)
    def log_message(self, *a):
        pass

serve_tls(H, cert, key, port, port_file)
