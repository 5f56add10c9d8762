# SPDX-License-Identifier: LGPL-2.1-or-later
# Kept for tests written against it (sourced, not a test itself): everything
# lives in tests/lib/harness.sh now, which a new test sources instead. Offers
# $T (= $WORK), start_swtpm NAME ($TCTI), stop_swtpm, make_luks, make_pki,
# unlock, free_port, and fail/ok (= pass). A failure no longer stops the test at
# once; the test still fails (the harness's EXIT trap).
# shellcheck source=../lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
: "${BOOTGATE_UNLOCK:?BOOTGATE_UNLOCK not set (run through ctest)}"
: "${BOOTGATE_UNLOCK_TEST:?BOOTGATE_UNLOCK_TEST not set (run through ctest)}"
T=$WORK
ok() { pass "$@"; }
stop_swtpm() { swtpm_stop; }
