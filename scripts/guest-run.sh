#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (started by scripts/vm.sh): runs CMD with its output in RUN/output and
# its exit status in RUN/rc, RUN being a host directory shared read-write. The results
# reach the host this way even when vng's script I/O ports do not come up (then vng runs
# the command on the serial console and exits 255 whatever it returned). CMD finds the
# tools (target/release) on PATH and runs in the repository, where udprx.ko is.
#
# usage: guest-run.sh RUN CMD...
run=$1
shift
export PATH="$(cd "$(dirname "$0")/.." && pwd)/target/release:$PATH"
# net.core.rmem_max is 1 MiB in the test VM (7.3's default is 4 MiB). `udprx compare`'s
# clamp and force scenarios ask for SO_RCVBUF 2 x rmem_max and fill it past the limit
# with 60000-byte datagrams: 4 MiB took 1 min of the VM's time (over veth each datagram is
# 41 fragments) for the same boundaries.
echo 1048576 > /proc/sys/net/core/rmem_max
"$@" > "$run/output" 2>&1 < /dev/null
echo $? > "$run/rc"
sync
