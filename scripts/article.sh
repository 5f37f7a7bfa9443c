#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make article` (runs inside the VM): load udprx and walk the article's claims on this
# kernel (`udprx article`), writing docs/article.md (shared with the host).
#
# usage: scripts/article.sh KDIR     (the kernel tree the running kernel was built from)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

insmod "$top/udprx.ko"
trap 'rmmod udprx' EXIT
udprx article --src "$1" --md "$top/docs/article.md"
