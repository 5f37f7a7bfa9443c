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
# shellcheck source=scripts/guest-env.sh
. "$(dirname "$0")/guest-env.sh"
"$@" > "$run/output" 2>&1 < /dev/null
echo $? > "$run/rc"
sync
