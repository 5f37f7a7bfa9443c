#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The skeleton, for real: after insmod, N UDP datagrams to a closed port raise the hook's
# Seen and the stock UdpNoPorts by exactly N; M raw packets on the udprx protocol raise the
# handler's InPackets by exactly M; a second netns sees only its own counts; an open socket
# pins the module; rmmod works. The module's lifecycle is tested here: this test is
# exclusive (tests/settings), it loads and unloads udprx alone.

source "$(dirname "$0")/lib.sh"

N=17
M=11
K=5
PROTO=253
CLOSED_PORT=9

ktap_print_header
ktap_set_plan 13

udprx_load proto=$PROTO || ktap_exit_fail_msg "insmod failed"
ktap_test_result "insmod creates /proc/net/udprx" test -r /proc/net/udprx

setup_ns NS1 NS2 || ktap_exit_fail_msg "cannot create two netns"
defer cleanup_ns "$NS1" "$NS2"
ktap_test_result "a new netns gets its own /proc/net/udprx" \
	ip netns exec "$NS2" test -r /proc/net/udprx

seen0=$(counter UdpRxHookSeen "$NS1")
acc0=$(counter UdpRxHookAccepted "$NS1")
noports0=$(counter UdpNoPorts "$NS1")
udprx_send "$NS1" --to 127.0.0.1:$CLOSED_PORT --count $N >/dev/null
check_delta "UDP to a closed port: UdpRxHookSeen +$N" $N "$seen0" "$(counter UdpRxHookSeen "$NS1")"
check_delta "UDP to a closed port: UdpRxHookAccepted +$N" $N "$acc0" "$(counter UdpRxHookAccepted "$NS1")"
check_delta "UDP to a closed port: stock UdpNoPorts +$N" $N "$noports0" "$(counter UdpNoPorts "$NS1")"

inp0=$(counter UdpRxProtoInPackets "$NS1")
seen1=$(counter UdpRxHookSeen "$NS1")
udprx_send "$NS1" --to 127.0.0.1 --proto $PROTO --count $M >/dev/null
check_delta "raw protocol $PROTO: UdpRxProtoInPackets +$M" $M "$inp0" "$(counter UdpRxProtoInPackets "$NS1")"
check_delta "raw protocol $PROTO: not seen as UDP by the hook" 0 "$seen1" "$(counter UdpRxHookSeen "$NS1")"

# NS2 starts from zero, counts only its own traffic, and NS1 does not move. (No counter
# at all is no zero either.)
ns2_stat=$(udprx -n "$NS2" stat) || ktap_exit_fail_msg "udprx -n $NS2 stat failed"
ns2_counts=$(awk '$1 ~ /^UdpRx/ && $2 != 0' <<<"$ns2_stat")
if grep -q '^UdpRx' <<<"$ns2_stat" && [ -z "$ns2_counts" ]; then
	ktap_test_pass "second netns: all udprx counters start at zero"
else
	ktap_print_msg "NS2 counters: $ns2_counts"
	ktap_test_fail "second netns: all udprx counters start at zero"
fi
seen_ns1=$(counter UdpRxHookSeen "$NS1")
udprx_send "$NS2" --to 127.0.0.1:$CLOSED_PORT --count $K >/dev/null
check_delta "second netns: UdpRxHookSeen +$K there" $K 0 "$(counter UdpRxHookSeen "$NS2")"
check_delta "second netns: first netns unchanged" 0 "$seen_ns1" "$(counter UdpRxHookSeen "$NS1")"

# An open /dev/udprx pins the module: rmmod is refused until the socket is closed.
recv_bg H "$NS1" --port 7000 --timeout 600 || ktap_exit_fail_msg "reader"
if rmmod udprx 2>/dev/null; then
	ktap_test_fail "rmmod is refused while a udprx socket is open"
	exit "$KSFT_FAIL"
fi
ktap_test_result "rmmod is refused while a udprx socket is open" test -d /sys/module/udprx
kill "$H_pid"; wait "$H_pid" 2>/dev/null
if rmmod udprx; then
	ktap_test_pass "rmmod succeeds once the socket is closed"
	test ! -e /proc/net/udprx && ip netns exec "$NS1" test ! -e /proc/net/udprx
	ktap_test_result "rmmod removes /proc/net/udprx in every netns" [ $? -eq 0 ]
else
	ktap_test_fail "rmmod succeeds once the socket is closed"
	ktap_test_fail "rmmod removes /proc/net/udprx in every netns"
fi

ktap_finished
