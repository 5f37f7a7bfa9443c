#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo` (runs inside the VM): load udprx and run every `udprx compare` scenario — the
# same traffic to a stock UDP socket and to udprx sockets under the 7.3 (modern) and 3.13
# (classic) rules, next to the accounting model — printing a table per scenario and writing
# a picture of the receive queue per scenario and an overview of them all into out/demo/
# (shared with the host).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/out/demo

insmod "$top/udprx.ko"
trap 'rmmod udprx' EXIT
echo "== udprx loaded; scenarios:"
udprx compare --list
echo
rc=0
udprx compare --plot "$out" || rc=$?
echo "pictures: out/demo/*.png in the repository; out/demo/overview.png shows every scenario at once"
echo "next: 'make article' holds each claim of the article against this kernel (docs/article.md)"
exit $rc
