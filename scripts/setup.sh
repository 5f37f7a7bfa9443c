#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make setup`: everything udprx needs on a fresh Debian 12 machine, idempotent.
# A second run checks and returns in seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)
"$here/setup-host.sh"
"$here/build-kernel.sh"
echo "setup: ready in $(( $(date +%s) - start )) s"
