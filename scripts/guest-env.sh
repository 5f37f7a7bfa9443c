# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The test VM's environment, sourced by scripts/guest-run.sh (every command) and
# scripts/guest-shell.sh (`make shell`), so both see the same guest:
#  - the tools (target/release) on PATH;
#  - net.core.rmem_max 1 MiB (7.3's default is 4 MiB). `udprx compare`'s clamp and force
#    scenarios ask for SO_RCVBUF 2 x rmem_max and fill it past the limit with 60000-byte
#    datagrams: 4 MiB took 1 min of the VM's time (over veth each datagram is 41
#    fragments) for the same boundaries.
UDPRX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$UDPRX_TOP/target/release:$PATH"
echo 1048576 > /proc/sys/net/core/rmem_max
