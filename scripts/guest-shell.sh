#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make shell`'s login shell in the VM: the tools (target/release) on PATH, in the
# repository, where udprx.ko is.
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/target/release:$PATH"
cd "$top" || exit 1
exec bash -i
