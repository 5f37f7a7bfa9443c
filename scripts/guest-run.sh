#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (started by scripts/vm.sh): runs CMD with its output in RUN/output and
# its exit status in RUN/rc, RUN being a host directory shared read-write. The results
# reach the host this way even when vng's script I/O ports do not come up (when udev does
# not settle in time under TCG, vng falls back to the serial console).
#
# usage: guest-run.sh RUN CMD...
run=$1
shift
"$@" > "$run/output" 2>&1 < /dev/null
echo $? > "$run/rc"
sync
