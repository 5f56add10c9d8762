# SPDX-License-Identifier: LGPL-2.1-or-later
# Kept for tests written against it (sourced, not a test itself): everything
# lives in tests/lib/harness.sh now, which a new test sources instead. Offers
# $WORK, start_bootgated ($SRV $URL $PORT $SRV_PID; SRV_EXTRA_CONF, EK_CA_BUNDLE,
# BOOTGATED_ARGS), api, jreply, start_swtpm (EK_CERTS), tpmflush,
# make_node_keys, activate, and check/pass/fail/finish.
# shellcheck source=../lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
: "${BOOTGATECTL:?}" "${BOOTGATED:?}"
