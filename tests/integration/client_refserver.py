# SPDX-License-Identifier: LGPL-2.1-or-later
# An independent reference of the server side of the protocol (DESIGN §1/§2),
# used by client_protocol.test.sh to check bootgate-unlock before and besides
# bootgated: it verifies the quote with tpm2_checkquote, makes the credential
# with tpm2_makecredential and wraps the key with python-cryptography's HKDF +
# AES-GCM. None of bootgate's own code runs on this side.
#
#   refserver.py CERT KEY STATEDIR PORTFILE [PORT]
# STATEDIR/deny: if present, holds the number of denials to give before a grant
# STATEDIR/expect_pcr9: hex PCR 9 value that the "policy" allows
# STATEDIR/tamper: wrapped | other_ak | other_key | other_ek — a broken grant the client must refuse
# STATEDIR/garbage: ENDPOINT:KIND — /v1/ENDPOINT answers with garbage instead:
#   text (200, not JSON), fields (200, JSON without the fields), 500 (an error object)
# Everything the server learns at enrollment is kept in STATEDIR.
import base64, hashlib, http.server, json, os, secrets, subprocess, sys, time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tls_serve import serve_tls

cert, key, state, port_file = sys.argv[1:5]
port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
nonces = {}
b64d, b64e = base64.b64decode, lambda b: base64.b64encode(b).decode()


def path(n):
    return os.path.join(state, n)


def log(*a):
    with open(path("requests.log"), "a") as f:
        print(*a, file=f)


def make_credential(ek_pub, ak_public, secret):
    """tpm2_makecredential -> (TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET) marshalled."""
    akname = "000b" + hashlib.sha256(ak_public[2:]).hexdigest()
    with open(path("ek.pub"), "wb") as f:
        f.write(ek_pub)
    with open(path("secret.bin"), "wb") as f:
        f.write(secret)
    subprocess.run(["tpm2_makecredential", "-T", "none", "-e", path("ek.pub"), "-s",
                    path("secret.bin"), "-n", akname, "-o", path("cred.bin")],
                   check=True, capture_output=True)
    c = open(path("cred.bin"), "rb").read()[8:]
    n = int.from_bytes(c[:2], "big")
    return c[:2 + n], c[2 + n:]


def ek_name(ek_pub):
    """TPM2B_PUBLIC -> name: nameAlg || H(TPMT_PUBLIC); the EK templates use sha256."""
    assert ek_pub[4:6] == b"\x00\x0b", "EK nameAlg is not sha256"
    return ek_pub[4:6] + hashlib.sha256(ek_pub[2:]).digest()


def wrap(seed, nonce, node, uuid, vk):
    k = HKDF(hashes.SHA256(), 32, salt=nonce, info=b"bootgate-volume-key-v1").derive(seed)
    iv = os.urandom(12)
    return iv + AESGCM(k).encrypt(iv, vk, (node + "|" + uuid).encode())


class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, obj):
        out = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        log(self.path, code, obj.get("verdict", obj.get("error", "")))

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        g = open(path("garbage")).read().strip() if os.path.exists(path("garbage")) else ""
        if g and self.path == "/v1/" + g.split(":")[0]:
            return self.garbage(g.split(":")[1])
        getattr(self, "h_" + self.path.strip("/").replace("/", "_"))(req)

    def garbage(self, kind):
        if kind == "text":
            out = b"<html>502 Bad Gateway</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            log(self.path, 200, "garbage text")
        elif kind == "fields":
            self.reply(200, {"nonce": "!!", "credential_blob": 7})
        else:
            self.reply(500, {"error": "internal", "reason": "disk on fire"})

    def h_v1_challenge(self, req):
        n = os.urandom(32)
        nonces[n] = req["node_id"]
        self.reply(200, {"nonce": b64e(n), "expires": int(time.time()) + 60})

    def h_v1_enroll(self, req):
        node = "node-" + secrets.token_hex(4)
        seed = os.urandom(32)
        ek_pub, ak_pub = b64d(req["ek_public"]), b64d(req["ak_public"])
        blob, enc = make_credential(ek_pub, ak_pub, seed)
        vol = req["volumes"][0]
        json.dump({"node": node, "ek_public": req["ek_public"], "ak_public": req["ak_public"],
                   "uuid": vol["uuid"], "key": vol["key"], "seed": seed.hex(),
                   "ek_cert": "ek_cert" in req, "group": req["group"]},
                  open(path("node.json"), "w"))
        self.reply(200, {"node_id": node, "ek_fingerprint": hashlib.sha256(ek_pub).hexdigest(),
                         "state": "activating", "credential_blob": b64e(blob),
                         "encrypted_secret": b64e(enc)})

    def h_v1_enroll_activate(self, req):
        n = json.load(open(path("node.json")))
        if req["node_id"] != n["node"] or b64d(req["secret"]).hex() != n["seed"]:
            return self.reply(403, {"error": "activation_failed", "reason": "wrong secret"})
        n["active"] = True
        json.dump(n, open(path("node.json"), "w"))
        self.reply(200, {"node_id": n["node"], "state": "active" if n["ek_cert"] else "pending",
                         "ek_fingerprint": hashlib.sha256(b64d(n["ek_public"])).hexdigest()})

    def h_v1_unlock(self, req):
        n = json.load(open(path("node.json")))
        nonce = b64d(req["nonce"])
        if nonces.pop(nonce, None) != req["node_id"] or req["node_id"] != n["node"]:
            return self.reply(403, {"verdict": "bad_nonce", "explanation": ["nonce unknown"]})
        if req["ak_public"] != n["ak_public"]:
            return self.reply(403, {"verdict": "identity",
                                    "explanation": ["AK differs from enrollment"]})
        for f in ("ak_public", "attest", "signature"):
            open(path(f), "wb").write(b64d(req[f]))
        q = subprocess.run(["tpm2_checkquote", "-u", path("ak_public"), "-m", path("attest"),
                            "-s", path("signature"), "-q", nonce.hex(), "-g", "sha256"],
                           capture_output=True)
        if q.returncode != 0:
            return self.reply(403, {"verdict": "quote_invalid", "explanation": ["bad quote"]})
        # pcrDigest in the attest (its last 32 bytes) must be H(pcrs 0..11)
        pcrs = req["pcrs"]
        h = hashlib.sha256(b"".join(bytes.fromhex(pcrs[str(i)]) for i in range(12))).digest()
        if b64d(req["attest"])[-32:] != h or req["pcr_bank"] != "sha256":
            return self.reply(403, {"verdict": "pcr_digest", "explanation": ["pcrs != quote"]})
        want = open(path("expect_pcr9")).read().strip() if os.path.exists(path("expect_pcr9")) \
            else "00" * 32
        deny = int(open(path("deny")).read()) if os.path.exists(path("deny")) else 0
        if pcrs["9"] != want or deny > 0:
            if deny > 0:
                open(path("deny"), "w").write(str(deny - 1))
            return self.reply(403, {
                "verdict": "policy_mismatch",
                "explanation": ["PCR 9 is %s, the policy allows %s" % (pcrs["9"][:16], want[:16])],
                "breakglass_code": "BG-TEST-0001", "audit_seq": 41})
        seed = os.urandom(32)
        blob, enc = make_credential(b64d(n["ek_public"]), b64d(req["ak_public"]), seed)
        wrapped = wrap(seed, nonce, req["node_id"], req["volume_uuid"], b64d(n["key"]))
        tamper = open(path("tamper")).read().strip() if os.path.exists(path("tamper")) else ""
        if tamper == "wrapped":  # one bit of the ciphertext flipped
            wrapped = wrapped[:20] + bytes([wrapped[20] ^ 1]) + wrapped[21:]
        elif tamper == "other_ak":  # credential bound to a name that is not our AK
            blob, enc = make_credential(b64d(n["ek_public"]), b"\0\0" + os.urandom(100), seed)
        elif tamper == "other_key":  # a key that does not open this volume
            wrapped = wrap(seed, nonce, req["node_id"], req["volume_uuid"], os.urandom(64))
        name = ek_name(b64d(n["ek_public"]))
        if tamper == "other_ek":  # the credential is for another EK than the client's
            name = name[:2] + os.urandom(32)
        self.reply(200, {"credential_blob": b64e(blob), "encrypted_secret": b64e(enc),
                         "wrapped_key": b64e(wrapped), "ek_name": b64e(name),
                         "policy": {"name": "ref", "version": 1, "mode": "enforce"},
                         "audit_seq": 42})

    def log_message(self, *a):
        pass


serve_tls(H, cert, key, port, port_file)
