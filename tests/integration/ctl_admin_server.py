# SPDX-License-Identifier: LGPL-2.1-or-later
# A fake bootgated admin API for ctl_https.test.sh: mutual TLS (the client
# certificate must chain to CLIENT_CA), and every answer is chosen by the
# file STATE_DIR/mode so that one server plays a good and a broken server:
#   ok        200 {"nodes": [], "policies": [], ...}   (what each command expects)
#   html500   500 text/html error page (a proxy or web server in the way)
#   text200   200 text/plain "OK"
#   ctype     200 JSON body but Content-Type text/html
#   nofields  200 {"unexpected": 1}
#   json500   500 {"error": "internal", "reason": "disk on fire"}
#   json403   403 {"error": "forbidden", "reason": "role admin required"}
# Each request line goes to STATE_DIR/requests.log.
import http.server, json, os, ssl, sys

cert, key, client_ca, state, port_file = sys.argv[1:6]


def mode():
    try:
        return open(os.path.join(state, "mode")).read().strip()
    except FileNotFoundError:
        return "ok"


class H(http.server.BaseHTTPRequestHandler):
    def send(self, code, ctype, out):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def answer(self):
        with open(os.path.join(state, "requests.log"), "a") as f:
            f.write(f"{self.command} {self.path}\n")
        m = mode()
        if m == "html500":
            return self.send(500, "text/html", b"<html><body><h1>500 Internal Server Error</h1></body></html>")
        if m == "text200":
            return self.send(200, "text/plain", b"OK")
        if m == "ctype":
            return self.send(200, "text/html", b'{"nodes": []}')
        if m == "nofields":
            return self.send(200, "application/json", b'{"unexpected": 1}')
        if m == "json500":
            return self.send(500, "application/json",
                             json.dumps({"error": "internal", "reason": "disk on fire"}).encode())
        if m == "json403":
            return self.send(403, "application/json",
                             json.dumps({"error": "forbidden", "reason": "role admin required"}).encode())
        body = {"nodes": [], "policies": [], "grants": [], "records": []}
        self.send(200, "application/json; charset=utf-8", json.dumps(body).encode())

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer()

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(client_ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
