#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of fuzz_http (tests/fuzz/corpus/fuzz_http/seed-*):
one HTTP/1.1 connection per file, byte 0 the client certificate's role
(0 none, 1 admin, 2 enroller, 3 approver, 4 auditor). One request per route,
the bad cases the server must refuse (no role, wrong role, wrong method,
unknown path, chunked, pipelined, oversized header), and the wire bodies of
tests/fuzz/corpus/fuzz_proto. Run from anywhere: python3 gen_seeds_http.py"""
import base64
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_http")
PROTO = os.path.join(HERE, "corpus", "fuzz_proto")
NONE, ADMIN, ENROLLER, APPROVER, AUDITOR = range(5)
GRANT = "0123456789abcdef0123456789abcdef"


def req(method, path, body=None, headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: bootgate"]
    lines += list(headers)
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def proto(name):
    with open(os.path.join(PROTO, name), "rb") as f:
        return f.read()


def unlock_with_ak(node="node-active", nonce="@" * 44):
    """An unlock by the seeded node's swtpm AK with a real quote of it: the
    harness turns the 44 '@' into a fresh nonce, so the server checks up to
    the quote (whose extraData is another nonce)."""
    corpus = os.path.join(HERE, "corpus")
    with open(os.path.join(corpus, "fuzz_tpmpub", "ak_ecc.tpm2b"), "rb") as f:
        ak = f.read()
    with open(os.path.join(corpus, "fuzz_attest",
                           "quote_ecc_sha256_0_1_2_3_4_5_6_7_8_9_10_11"), "rb") as f:
        q = f.read()
    n = q[0] | q[1] << 8
    b64 = lambda b: base64.b64encode(b).decode()
    return {"node_id": node, "volume_uuid": "11111111-2222-3333-4444-555555555555",
            "nonce": nonce, "ak_public": b64(ak), "attest": b64(q[2:2 + n]),
            "signature": b64(q[2 + n:]), "pcr_bank": "sha256",
            "pcrs": {str(i): "00" * 32 for i in range(12)}, "event_log": "AAEC"}


def enroll_with_keys(ek="ek_rsa.tpm2b"):
    """An enrollment with swtpm's EK and AK publics (no EK certificate: the
    node would be held pending): gets to MakeCredential and the store."""
    d = os.path.join(HERE, "corpus", "fuzz_tpmpub")
    with open(os.path.join(d, ek), "rb") as f:
        ekb = f.read()
    with open(os.path.join(d, "ak_ecc.tpm2b"), "rb") as f:
        akb = f.read()
    b64 = lambda b: base64.b64encode(b).decode()
    return {"hostname": "host2", "group": "web", "ek_public": b64(ekb), "ak_public": b64(akb),
            "volumes": [{"uuid": "11111111-2222-3333-4444-555555555555", "key": b64(bytes(range(64)))}]}


def main():
    with open(os.path.join(HERE, "..", "..", "policies", "example-web.json"), "rb") as f:
        policy = json.load(f)
    sig = base64.b64encode(bytes(64)).decode()
    seeds = {
        "challenge": (NONE, req("POST", "/v1/challenge", proto("challenge_req.json"))),
        "unlock": (NONE, req("POST", "/v1/unlock", proto("unlock_req.json"))),
        "unlock-ak": (NONE, req("POST", "/v1/unlock", unlock_with_ak())),
        "unlock-ak-other-node": (NONE, req("POST", "/v1/unlock", unlock_with_ak("node-pending"))),
        "enroll": (ENROLLER, req("POST", "/v1/enroll", proto("enroll_req.json"))),
        "enroll-keys-rsa": (ENROLLER, req("POST", "/v1/enroll", enroll_with_keys())),
        "enroll-keys-ecc": (ENROLLER, req("POST", "/v1/enroll", enroll_with_keys("ek_ecc.tpm2b"))),
        # the node enroll-keys-rsa creates (its id: from the EK), a wrong secret
        "enroll-activate-known": (ENROLLER, req("POST", "/v1/enroll/activate", {
            "node_id": "c98147b99b97f00623304998d848a254",
            "secret": base64.b64encode(bytes(32)).decode()})),
        "enroll-activate": (ENROLLER, req("POST", "/v1/enroll/activate", proto("activate_req.json"))),
        "healthz": (NONE, req("GET", "/healthz")),
        "readyz": (NONE, req("GET", "/readyz")),
        "metrics": (NONE, req("GET", "/metrics")),
        "nodes": (AUDITOR, req("GET", "/v1/admin/nodes")),
        "node-show": (ADMIN, req("GET", "/v1/admin/nodes/node-active")),
        "node-approve": (ADMIN, req("POST", "/v1/admin/nodes/node-pending/approve",
                                    {"ek_fingerprint": "a" * 64})),
        "node-revoke": (ADMIN, req("POST", "/v1/admin/nodes/node-active/revoke")),
        "node-delete": (ADMIN, req("DELETE", "/v1/admin/nodes/node-pending")),
        "policy-upload": (ADMIN, req("POST", "/v1/admin/policies",
                                     {"policy": policy, "signature": sig})),
        "policies": (ADMIN, req("GET", "/v1/admin/policies")),
        "policy-show": (AUDITOR, req("GET", "/v1/admin/policies/web/1")),
        "policy-activate": (ADMIN, req("POST", "/v1/admin/policies/web/1/activate")),
        "bg-request": (ADMIN, req("POST", "/v1/admin/breakglass",
                                  {"code": "BG-ABCD-EFGH", "reason": "disk swap", "ttl": 600,
                                   "uses": 1, "scope": "observed"})),
        "bg-list": (APPROVER, req("GET", "/v1/admin/breakglass")),
        "bg-show": (AUDITOR, req("GET", f"/v1/admin/breakglass/{GRANT}")),
        "bg-approve": (APPROVER, req("POST", f"/v1/admin/breakglass/{GRANT}/approve",
                                     {"signature": sig})),
        "bg-revoke": (ADMIN, req("POST", f"/v1/admin/breakglass/{GRANT}/revoke")),
        "audit": (AUDITOR, req("GET", "/v1/admin/audit?since=1&limit=5")),
        "audit-verify": (ADMIN, req("GET", "/v1/admin/audit/verify")),
        # refusals
        "admin-no-role": (NONE, req("GET", "/v1/admin/nodes")),
        "admin-wrong-role": (ENROLLER, req("POST", "/v1/admin/policies", {"policy": {}})),
        "method": (NONE, req("PUT", "/v1/unlock", b"{}")),
        "not-found": (NONE, req("GET", "/v1/../etc/passwd")),
        "bad-segment": (ADMIN, req("GET", "/v1/admin/nodes/..")),
        "empty-body": (NONE, req("POST", "/v1/challenge", b"")),
        "chunked": (NONE, b"POST /v1/challenge HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked"
                          b"\r\n\r\n5\r\n{\"nod\r\n0\r\n\r\n"),
        "pipelined": (NONE, req("GET", "/healthz") + req("POST", "/v1/challenge",
                                                          proto("challenge_req.json"))
                      + req("GET", "/readyz", headers=["Connection: close"])),
        "big-header": (NONE, req("GET", "/healthz", headers=["X-Pad: " + "A" * 9000])),
        "length-mismatch": (NONE, b"POST /v1/challenge HTTP/1.1\r\nContent-Length: 99\r\n\r\n{}"),
        "http10": (NONE, b"GET /metrics HTTP/1.0\r\n\r\n"),
        "deep-json": (NONE, req("POST", "/v1/unlock", b"[" * 3000 + b"]" * 3000)),
    }
    os.makedirs(OUT, exist_ok=True)
    for name, (role, data) in seeds.items():
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(bytes([role]) + data)


if __name__ == "__main__":
    main()
