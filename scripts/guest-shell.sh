#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make shell`'s login shell in the VM: the guest environment of every VM command
# (scripts/guest-env.sh), in the repository, where udprx.ko is.
# shellcheck source=scripts/guest-env.sh
. "$(dirname "$0")/guest-env.sh"
cd "$UDPRX_TOP" || exit 1
exec bash -i
