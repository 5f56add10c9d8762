#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The issue-5 pipeline works on the day: LUKS2 root provisioned in a VM, a dracut
# (systemd, networkd, crypt) UKI booted by OVMF with swtpm and virtio-net, the
# passphrase typed at the systemd-cryptsetup prompt, the root reached and the host
# reached from it. See dracut-luks.sh; the dracut image is cached in the build dir.
set -euo pipefail
exec bash "$(dirname "$0")/dracut-luks.sh"
