#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The receive path, through both entry points:
#  - hook:  UDP (protocol 17) to a port a udprx socket bound, taken by the LOCAL_IN hook;
#  - proto: the same datagrams on IP protocol $PROTO, through the protocol handler.
# Valid datagrams arrive byte-exact and in order; a closed port gives NoPorts and an ICMP
# port unreachable the sender sees; each malformed datagram moves exactly the counters
# udp_rcv() moves, and for protocol 17 the stock Udp: deltas of a stock socket given the
# same datagram are the same as udprx's. Then: netns independence, privileges, bad ioctls,
# truncating reads, close with data queued. (rmmod while a socket is open: skeleton.sh.)

source "$(dirname "$0")/lib.sh"

PROTO=253       # the module's default proto
P=7000          # udprx socket
Q=7001          # stock socket (protocol 17 comparisons)
CLOSED=7999
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_print_header
ktap_set_plan 41

udprx_load || ktap_exit_fail_msg "insmod failed"
ktap_test_result "insmod creates /dev/udprx" test -c /dev/udprx
declare -A B M

# valid ENTRY SEND-ARGS...: 5 datagrams to a fresh reader, byte-exact and in order.
valid() {
	local entry=$1 extra
	shift
	extra=("$@")
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	recv_bg R "$NS" --port $P --count 5 --timeout 60 || ktap_exit_fail_msg "$entry: reader"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS" --to 127.0.0.1:$P --count 5 --size 100 --print \
		"${extra[@]}" > "$tmp/sent.$entry"
	wait "$R_pid"
	local rc=$?
	if [ "$rc" -eq 0 ] && cmp -s "$tmp/sent.$entry" "$R_out"; then
		ktap_test_pass "$entry: 5 valid datagrams delivered byte-exact and in order"
	else
		ktap_print_msg "reader exit $rc: $(<"$R_err")"
		ktap_test_fail "$entry: 5 valid datagrams delivered byte-exact and in order"
	fi
	if [ "$entry" = hook ]; then
		expect_deltas "hook: valid: UdpRxInDatagrams +5, stolen by the hook, stock Udp: unmoved" \
			"$NS" B UdpRxInDatagrams=5 UdpRxHookStolen=5 UdpRxHookSeen=5 UdpRxHookAccepted=0
	else
		expect_deltas "proto: valid: UdpRxInDatagrams +5 via protocol $PROTO, hook sees nothing" \
			"$NS" B UdpRxInDatagrams=5 UdpRxProtoInPackets=5 UdpRxHookSeen=0
	fi
}

# closed ENTRY: 3 datagrams to a port nobody bound: NoPorts and 3 ICMP port unreachables.
closed() {
	local entry=$1 proto=17 want
	[ "$entry" = proto ] && proto=$PROTO
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	if udprx -n "$NS" send --to 127.0.0.1:$CLOSED --count 3 --proto $proto \
		--expect-unreach > /dev/null 2> "$tmp/icmp"; then
		ktap_test_pass "$entry: closed port: the sender sees 3 ICMP port unreachables"
	else
		ktap_print_msg "$(<"$tmp/icmp")"
		ktap_test_fail "$entry: closed port: the sender sees 3 ICMP port unreachables"
	fi
	if [ "$entry" = hook ]; then
		# Not a udprx port: the hook lets it through and the stock path answers.
		expect_deltas "hook: closed port: accepted by the hook, stock UdpNoPorts +3" \
			"$NS" B UdpNoPorts=3 UdpRxHookAccepted=3 UdpRxHookStolen=0
	else
		expect_deltas "proto: closed port: UdpRxNoPorts +3, drop reason NO_SOCKET" \
			"$NS" B UdpRxNoPorts=3 UdpRxDropNO_SOCKET=3 UdpRxProtoInPackets=3
	fi
}

in_defer_scope valid hook
in_defer_scope valid proto --proto $PROTO
in_defer_scope closed hook
in_defer_scope closed proto

# --- malformed datagrams, protocol 17: udprx (hook) next to a stock socket ---------------
# Each case sends the datagram to the udprx port, checks udprx's deltas, then sends it to
# the stock port and checks that the stock Udp: deltas are the same numbers.
defer_scope_push
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"
recv_bg U "$NS" --port $P --timeout 600 || ktap_exit_fail_msg "udprx reader"
recv_bg S "$NS" --port $Q --stock --timeout 600 || ktap_exit_fail_msg "stock reader"
: > "$tmp/want.udprx"; : > "$tmp/want.stock"

# malformed17 NAME "SEND ARGS" UDPRX-DELTAS STOCK-DELTAS [deliver]
malformed17() {
	local name=$1 args=$2 ours=$3 stock=$4 deliver=${5:-}
	local sink=/dev/null
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	[ -n "$deliver" ] && sink="$tmp/want.udprx"
	# shellcheck disable=SC2086
	udprx_send "$NS" --to 127.0.0.1:$P $args --print >> "$sink"
	# shellcheck disable=SC2086
	expect_deltas "hook: $name: udprx $ours" "$NS" B $ours
	snap M "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	[ -n "$deliver" ] && sink="$tmp/want.stock" || sink=/dev/null
	# shellcheck disable=SC2086
	udprx_send "$NS" --to 127.0.0.1:$Q $args --print >> "$sink"
	# shellcheck disable=SC2086
	expect_deltas "hook: $name: stock socket, same datagram: $stock" "$NS" M $stock
}

# 4 bytes: the destination port is there, so the hook takes it; udp_rcv() finds no room
# for a header (reason NOT_SPECIFIED). 2 bytes: no port to match, so the hook passes it
# on and the stock path counts it, whichever port it was meant for.
malformed17 "short header (4 bytes)" "--truncate 4" \
	"UdpRxInErrors=1 UdpRxDropNOT_SPECIFIED=1 UdpRxHookStolen=1" "UdpInErrors=1"
malformed17 "no destination port (2 bytes)" "--truncate 2" \
	"UdpInErrors=1 UdpRxHookAccepted=1 UdpRxHookStolen=0" "UdpInErrors=1"
malformed17 "UDP length > datagram" "--ulen 200" \
	"UdpRxInErrors=1 UdpRxDropPKT_TOO_SMALL=1" "UdpInErrors=1"
malformed17 "UDP length < 8" "--ulen 4" \
	"UdpRxInErrors=1 UdpRxDropPKT_TOO_SMALL=1" "UdpInErrors=1"
malformed17 "bad checksum, short datagram (checked on arrival)" "--csum bad --size 32" \
	"UdpRxInCsumErrors=1 UdpRxInErrors=1 UdpRxDropUDP_CSUM=1" "UdpInCsumErrors=1 UdpInErrors=1"
malformed17 "bad checksum, long datagram (checked on read)" "--csum bad --size 200" \
	"UdpRxInCsumErrors=1 UdpRxInErrors=1 UdpRxDropUDP_CSUM=1" "UdpInCsumErrors=1 UdpInErrors=1"
malformed17 "zero checksum (none): delivered" "--csum zero --size 48" \
	"UdpRxInDatagrams=1" "UdpInDatagrams=1" deliver
malformed17 "UDP length < datagram: trimmed and delivered" "--ulen 30 --size 64" \
	"UdpRxInDatagrams=1" "UdpInDatagrams=1" deliver
# (Two datagrams were delivered: nothing sent and nothing read would compare equal too.)
[ -s "$tmp/want.udprx" ] && cmp -s "$tmp/want.udprx" "$U_out"
ktap_test_result "hook: delivered malformed datagrams arrive byte-exact (trimmed to the length field)" \
	[ $? -eq 0 ]
[ -s "$tmp/want.stock" ] && cmp -s "$tmp/want.stock" "$S_out"
ktap_test_result "hook: the stock socket got the same bytes" [ $? -eq 0 ]
defer_scope_pop

# --- malformed datagrams on protocol $PROTO -------------------------------------------------
defer_scope_push
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"
recv_bg U "$NS" --port $P --timeout 600 || ktap_exit_fail_msg "udprx reader"
: > "$tmp/want.proto"
# malformedP NAME "SEND ARGS" DELTAS [deliver]
malformedP() {
	local name=$1 args=$2 want=$3 deliver=${4:-} sink=/dev/null
	[ -n "$deliver" ] && sink="$tmp/want.proto"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	# shellcheck disable=SC2086
	udprx_send "$NS" --proto $PROTO --to 127.0.0.1:$P $args --print >> "$sink"
	# shellcheck disable=SC2086
	expect_deltas "proto: $name: $want" "$NS" B UdpRxProtoInPackets=1 $want
}
malformedP "short header (4 bytes)" "--truncate 4" "UdpRxInErrors=1 UdpRxDropNOT_SPECIFIED=1"
malformedP "UDP length > datagram" "--ulen 200" "UdpRxInErrors=1 UdpRxDropPKT_TOO_SMALL=1"
malformedP "UDP length < 8" "--ulen 4" "UdpRxInErrors=1 UdpRxDropPKT_TOO_SMALL=1"
malformedP "bad checksum, short (checked on arrival)" "--csum bad --size 32" \
	"UdpRxInCsumErrors=1 UdpRxInErrors=1 UdpRxDropUDP_CSUM=1"
malformedP "bad checksum, long (checked on read)" "--csum bad --size 200" \
	"UdpRxInCsumErrors=1 UdpRxInErrors=1 UdpRxDropUDP_CSUM=1"
malformedP "zero checksum: delivered" "--csum zero --size 48" "UdpRxInDatagrams=1" deliver
malformedP "UDP length < datagram: trimmed and delivered" "--ulen 30 --size 64" \
	"UdpRxInDatagrams=1" deliver
[ -s "$tmp/want.proto" ] && cmp -s "$tmp/want.proto" "$U_out"
ktap_test_result "proto: delivered datagrams arrive byte-exact" [ $? -eq 0 ]
defer_scope_pop

# --- two netns, one port ------------------------------------------------------------------
defer_scope_push
setup_ns NA NB || ktap_exit_fail_msg "cannot create two netns"
defer cleanup_ns "$NA" "$NB"
recv_bg A "$NA" --port $P --count 2 --timeout 60 || ktap_exit_fail_msg "reader in $NA"
recv_bg Bb "$NB" --port $P --count 3 --timeout 60 || ktap_exit_fail_msg "reader in $NB"
udprx_send "$NA" --to 127.0.0.1:$P --count 2 --size 10 --print > "$tmp/na"
udprx_send "$NB" --to 127.0.0.1:$P --count 3 --size 20 --print > "$tmp/nb"
wait "$A_pid"; ra=$?
wait "$Bb_pid"; rb=$?
[ "$ra$rb" = 00 ] && cmp -s "$tmp/na" "$A_out" && cmp -s "$tmp/nb" "$Bb_out"
ktap_test_result "two netns bind the same port; each reader gets its own netns's datagrams" \
	[ $? -eq 0 ]
defer_scope_pop

# --- privileges, bad ioctls, short reads, close with data queued ------------------------
defer_scope_push
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"
if ip netns exec "$NS" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
	udprx recv --port $P --timeout 1 > /dev/null 2> "$tmp/eperm"; then
	ktap_test_fail "bind without CAP_NET_ADMIN fails with EPERM"
else
	ktap_test_result "bind without CAP_NET_ADMIN fails with EPERM" grep -q EPERM "$tmp/eperm"
fi
if ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$UDPRX_TOP/target/release/udprx" recv --port $P --timeout 1 > /dev/null 2> "$tmp/eperm2"; then
	ktap_test_fail "an unprivileged user can open /dev/udprx but binding fails with EPERM"
else
	ktap_test_result "an unprivileged user can open /dev/udprx but binding fails with EPERM" \
		grep -q EPERM "$tmp/eperm2"
fi
if udprx -n "$NS" ioctl-check --port $P > "$tmp/ioctl"; then
	ktap_test_pass "bad ioctls and reads: ENOTTY, EINVAL, EFAULT, EAGAIN, EADDRINUSE as specified"
else
	ktap_test_fail "bad ioctls and reads: ENOTTY, EINVAL, EFAULT, EAGAIN, EADDRINUSE as specified"
fi
sed 's/^/# /' "$tmp/ioctl"

# --- a short read buffer truncates; the rest of that datagram is gone ------------------------
recv_bg T "$NS" --port $P --count 2 --bufsize 10 --timeout 60 || ktap_exit_fail_msg "short-read reader"
udprx_send "$NS" --to 127.0.0.1:$P --count 2 --size 40 --print > "$tmp/long"
wait "$T_pid"
rc=$?
want=""
while read -r len hex; do want+="10 ${hex:0:20}"$'\n'; done < "$tmp/long"
[ $rc -eq 0 ] && [ -n "$want" ] && [ "$want" = "$(<"$T_out")"$'\n' ]
ktap_test_result "a 10-byte read gets the first 10 bytes of each datagram, then the next one" \
	[ $? -eq 0 ]

# --- close with data queued ---------------------------------------------------------------
snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
recv_bg H "$NS" --port $P --timeout 600 || ktap_exit_fail_msg "close: reader"
kill -STOP "$H_pid"          # bound, not reading
udprx_send "$NS" --to 127.0.0.1:$P --count 3 --size 100 > /dev/null
kill -KILL "$H_pid"; wait "$H_pid" 2>/dev/null
expect_deltas "close with 3 datagrams queued: freed as SOCKET_CLOSE, none read" "$NS" B \
	UdpRxDropSOCKET_CLOSE=3 UdpRxHookStolen=3 UdpRxHookSeen=3
defer_scope_pop

ktap_finished
