# SPDX-License-Identifier: LGPL-2.1-or-later
# Kept for tests written against it: the event-log builder is tests/lib/eventlog.py
# (same arguments and output: OUT PCR:TYPE:DATA ... -> "PCR DIGEST_HEX" lines).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import eventlog  # noqa: E402

eventlog.main(sys.argv)
