#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A 32-bit caller (tests/compat32.c, built with gcc -m32): every ioctl of
# include/uapi/udprx.h as a 32-bit program encodes it goes through compat_ptr_ioctl and
# works, the socket filter included (its struct sock_fprog is 8 bytes, so its ioctl number
# differs from a 64-bit caller's), and the filter drops what it drops for a 64-bit caller.

source "$(dirname "$0")/lib.sh"

P=7330

ktap_print_header
ktap_set_plan 2
udprx_load || ktap_exit_fail_msg "insmod failed"
tmp=$(mktemp -d)
defer rm -rf "$tmp"
gcc -m32 -static -O1 -Wall -Werror -I"$UDPRX_TOP/include/uapi" -o "$tmp/compat32" \
	"$UDPRX_TOP/tests/compat32.c" || ktap_exit_fail_msg "cannot build the 32-bit caller (gcc-multilib)"
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"

ip netns exec "$NS" timeout 60 "$tmp/compat32" $P > "$tmp/out" 2>&1 &
pid=$!
defer reader_stop $pid
__bound() { grep -q '^bound$' "$tmp/out" || ! kill -0 $pid 2>/dev/null; }
slowwait 30 __bound
declare -A B
snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
udprx_send "$NS" --to 127.0.0.1:$P --count 3 --size 200 >/dev/null
udprx_send "$NS" --to 127.0.0.1:$P --count 3 --size 100 >/dev/null
wait $pid
rc=$?
sed 's/^/# /' "$tmp/out"
ktap_test_result "32-bit caller: every ioctl works, and it reads the 3 datagrams its filter keeps" \
	test $rc -eq 0 -a "$(grep -c '^read 100$' "$tmp/out")" -eq 3
expect_deltas "32-bit caller's filter: 3 kept, 3 dropped (SOCKET_FILTER, InErrors)" "$NS" B \
	UdpRxInDatagrams=3 UdpRxInErrors=3 UdpRxDropSOCKET_FILTER=3 \
	UdpRxHookSeen=6 UdpRxHookStolen=6

ktap_finished
