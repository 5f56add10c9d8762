# SPDX-License-Identifier: LGPL-2.1-or-later
# Kept for tests written against it: free ports and swtpm live in
# tests/lib/swtpm.sh (with the rest of the harness in tests/lib/harness.sh).
# swtpm_workdir is the old start of a harness-less test.
# shellcheck source=../lib/swtpm.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/swtpm.sh"

# swtpm_workdir: a temporary directory $work with a swtpm (swtpm_start), both
# gone at exit (EXIT trap); continues inside $work.
swtpm_workdir() {
    work=$(mktemp -d)
    trap 'swtpm_stop; rm -rf "$work"' EXIT
    swtpm_start "$work"
    cd "$work"
}
