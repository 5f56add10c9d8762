# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the test HTTPS servers (client_https_server.py, client_refserver.py):
# serves a handler class over TLS on 127.0.0.1 and publishes the bound port by
# an atomic rename of PORT_FILE, so the test never reads a half-written port.
import http.server, os, ssl


def serve_tls(handler, cert, key, port, port_file):
    srv = http.server.HTTPServer(("127.0.0.1", port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
