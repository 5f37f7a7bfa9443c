#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo` (runs inside the VM): load udprx, send a little traffic to both entry points
# — UDP to a closed port (seen by the LOCAL_IN hook, counted by the stock path as
# UdpNoPorts) and raw packets on the udprx protocol (taken by the handler) — then show the
# udprx counters next to the stock Udp: counters, and unload.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/target/release:$PATH"
proto=253

insmod "$top/udprx.ko" proto=$proto
trap 'rmmod udprx' EXIT
echo "== udprx loaded (proto=$proto)"
udprx send --to 127.0.0.1:9 --count 5
udprx send --to 127.0.0.1 --proto $proto --count 3
echo
echo "== /proc/net/udprx"
cat /proc/net/udprx
echo
echo "== stock /proc/net/snmp Udp:"
grep '^Udp:' /proc/net/snmp
echo
echo "== udprx stat (nstat-style)"
udprx stat
