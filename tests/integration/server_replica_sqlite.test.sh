#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# server_replica.test.sh's single-replica cases on the SQLite store: nonce
# single use, break-glass, concurrent writers leaving one strict audit chain.
STORE=sqlite TEST_NAME=server_replica_sqlite exec bash "$(dirname "$0")/server_replica.test.sh"
