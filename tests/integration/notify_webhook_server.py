# SPDX-License-Identifier: LGPL-2.1-or-later
# The webhook of notify_webhook.test.sh: an HTTPS server on loopback that
# appends each POST as one JSON line {"path", "content_type", "body"} to OUT
# and answers 204. With mode "hang" it reads the request and then says
# nothing for 60 s (a webhook that accepts and stalls).
import http.server, json, sys, time

from tls_serve import serve_tls

cert, key, port_file, out, mode = sys.argv[1:6]
port = int(sys.argv[6]) if len(sys.argv) > 6 else 0


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw.decode(errors="replace")}
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                "body": body}) + "\n")
        if mode == "hang":
            time.sleep(60)
            return
        self.send_response(204)
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *a):
        pass


serve_tls(H, cert, key, port, port_file)
