#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What a stock UDP socket obeys, a udprx socket obeys too (docs/guarantees.md), each
# shown against a stock socket given the same traffic:
#  - firewall: an nftables input rule dropping the port holds whether it was created
#    before or after insmod (the hook runs last, at NF_IP_PRI_LAST);
#  - port ownership both ways: EADDRINUSE, as between two stock sockets;
#  - socket filter: the same classic BPF program drops the same datagrams, with the same
#    counters (InErrors, drop reason SOCKET_FILTER);
#  - GSO/GRO: one skb of N segments is split again into N datagrams;
#  - broadcast: delivered to the port's socket;
#  - protocol memory: under a tiny net.ipv4.udp_mem the same datagrams are refused
#    (MemErrors, PROTO_MEM; 3.13's classic counts InErrors only);
#  - memory cgroup: an unprivileged user in a user+net namespace of its own is charged
#    for what its udprx socket queues, as for a stock socket.
# Exclusive (tests/settings): it loads udprx itself (after a firewall rule exists) and
# changes the global net.ipv4.udp_mem.

source "$(dirname "$0")/lib.sh"

P=7100          # udprx socket
Q=7101          # stock socket
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_print_header
ktap_set_plan 23

declare -A B

# fw_rule NETNS: an inet input chain at the filter priority that counts and drops UDP to
# $P and $Q.
fw_rule() {
	ip netns exec "$1" nft -f - <<-EOF
	table inet fw {
		counter dropped { }
		chain input {
			type filter hook input priority filter; policy accept;
			udp dport { $P, $Q } counter name dropped drop
		}
	}
	EOF
}
# fw_dropped NETNS: packets the rule dropped.
fw_dropped() {
	ip netns exec "$1" nft list counter inet fw dropped | awk '/packets/ { print $2 }'
}
__fw_dropped_is() { [ "$(fw_dropped "$1")" = "$2" ]; }

# firewall WHEN NETNS: 5 datagrams to a udprx socket and 5 to a stock one behind the rule.
firewall() {
	local when=$1 ns=$2
	recv_bg R "$ns" --port $P --timeout 600 || ktap_exit_fail_msg "firewall: udprx reader"
	recv_bg S "$ns" --stock --port $Q --timeout 600 || ktap_exit_fail_msg "firewall: stock reader"
	snap B "$ns" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$ns" --to 127.0.0.1:$P --count 5 >/dev/null
	udprx_send "$ns" --to 127.0.0.1:$Q --count 5 >/dev/null
	if slowwait 15 __fw_dropped_is "$ns" 10; then
		ktap_test_pass "firewall, rule created $when insmod: the rule dropped all 10"
	else
		ktap_print_msg "rule counter: $(fw_dropped "$ns")"
		ktap_test_fail "firewall, rule created $when insmod: the rule dropped all 10"
	fi
	expect_deltas "firewall, rule created $when insmod: neither socket got one, the hook saw none" \
		"$ns" B UdpRxHookSeen=0
}

# 1. Firewall order.
setup_ns FW1 || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$FW1"
fw_rule "$FW1" || ktap_exit_fail_msg "nft failed"
udprx_load || ktap_exit_fail_msg "insmod failed"
in_defer_scope firewall before "$FW1"
setup_ns FW2 || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$FW2"
fw_rule "$FW2" || ktap_exit_fail_msg "nft failed"
in_defer_scope firewall after "$FW2"

# 2. Port ownership, both ways.
# bind_fails NETNS RECV-ARGS...: `udprx recv` must fail to bind with EADDRINUSE.
bind_fails() {
	local ns=$1
	shift
	! udprx -n "$ns" recv "$@" --timeout 1 >/dev/null 2>"$tmp/bind" &&
		grep -qi "in use\|EADDRINUSE" "$tmp/bind"
}
ownership() {
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	recv_bg S "$NS" --stock --port $P --timeout 600 || ktap_exit_fail_msg "stock reader"
	ktap_test_result "a udprx bind of a port a stock socket holds: EADDRINUSE" \
		bind_fails "$NS" --port $P
	recv_bg R "$NS" --port $Q --timeout 600 || ktap_exit_fail_msg "udprx reader"
	ktap_test_result "a stock bind of a port a udprx socket holds: EADDRINUSE" \
		bind_fails "$NS" --stock --port $Q
	reader_stop "$R_pid"
	recv_bg R2 "$NS" --stock --port $Q --count 1 --timeout 600 ||
		ktap_exit_fail_msg "stock reader after close"
	ktap_test_pass "the port is free for a stock socket once the udprx socket is closed"
}
in_defer_scope ownership

# 3. Socket filter: the same program on both sockets; 3 of 100 B pass, 3 of 200 B do not.
filter() {
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	recv_bg R "$NS" --port $P --filter-max-len 108 --count 3 --timeout 60 ||
		ktap_exit_fail_msg "filter: udprx reader"
	recv_bg S "$NS" --stock --port $Q --filter-max-len 108 --count 3 --timeout 60 ||
		ktap_exit_fail_msg "filter: stock reader"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	local port
	for port in $P $Q; do
		udprx_send "$NS" --to 127.0.0.1:$port --count 3 --size 200 >/dev/null
		udprx_send "$NS" --to 127.0.0.1:$port --count 3 --size 100 >/dev/null
	done
	expect_deltas "filter: 3 kept, 3 dropped on each side: SOCKET_FILTER, InErrors, as stock" \
		"$NS" B UdpRxInDatagrams=3 UdpRxInErrors=3 UdpRxDropSOCKET_FILTER=3 \
		UdpInDatagrams=3 UdpInErrors=3 \
		UdpRxHookSeen=12 UdpRxHookStolen=6 UdpRxHookAccepted=6
	wait "$R_pid" && wait "$S_pid"
	ktap_test_result "filter: both readers got their 3 datagrams" test $? -eq 0
}
in_defer_scope filter

# 4. GSO: one sendto() of 8 segments over veth arrives as one skb; both sockets get 8.
veth_pair() {
	setup_ns TX RX || return 1
	defer cleanup_ns "$TX" "$RX"
	defer cleanup_ns "$TX" "$RX"
	ip link add gx netns "$TX" type veth peer name gr netns "$RX" || return 1
	ip -n "$TX" addr add 192.0.2.1/24 dev gx && ip -n "$RX" addr add 192.0.2.2/24 dev gr &&
		ip -n "$TX" link set gx up && ip -n "$RX" link set gr up
}
gso() {
	veth_pair || ktap_exit_fail_msg "veth pair"
	recv_bg R "$RX" --port $P --count 8 --timeout 60 || ktap_exit_fail_msg "gso: udprx reader"
	recv_bg S "$RX" --stock --port $Q --count 8 --timeout 60 || ktap_exit_fail_msg "gso: stock reader"
	snap B "$RX" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$TX" --to 192.0.2.2:$P --count 8 --size 300 --segment --print >"$tmp/gso.sent"
	udprx_send "$TX" --to 192.0.2.2:$Q --count 8 --size 300 --segment >/dev/null
	expect_deltas "GSO: one skb of 8 segments each side (the hook sees 2), split into 8 datagrams" \
		"$RX" B UdpRxInDatagrams=8 UdpInDatagrams=8 \
		UdpRxHookSeen=2 UdpRxHookStolen=1 UdpRxHookAccepted=1
	wait "$R_pid" && cmp -s "$tmp/gso.sent" "$R_out"
	ktap_test_result "GSO: the udprx reader got the 8 datagrams byte-exact, in order" [ $? -eq 0 ]
}
in_defer_scope gso

# 5. Broadcast, on the veth's subnet broadcast address.
bcast() {
	veth_pair || ktap_exit_fail_msg "veth pair"
	recv_bg R "$RX" --port $P --count 3 --timeout 60 || ktap_exit_fail_msg "bcast: udprx reader"
	snap B "$RX" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$TX" --to 192.0.2.255:$P --count 3 --broadcast >/dev/null
	expect_deltas "broadcast to a udprx port: delivered to its socket" \
		"$RX" B UdpRxInDatagrams=3 UdpRxHookSeen=3 UdpRxHookStolen=3
	snap B "$RX" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$TX" --to 192.0.2.255:$((P + 50)) --count 2 --broadcast >/dev/null
	expect_deltas "broadcast to a port nobody bound: IgnoredMulti, as stock" \
		"$RX" B UdpIgnoredMulti=2 UdpRxHookSeen=2 UdpRxHookAccepted=2
}
in_defer_scope bcast

# 6. Protocol memory: net.ipv4.udp_mem one page above what UDP holds. Pages reach the global counter in
# per-CPU batches (net.core.mem_pcpu_rsv), so everything runs on CPU 0, and each side
# starts with that CPU's batch flushed: 2 MiB charged to a scratch socket and given back.
# mem_side KIND RECV-ARGS...: 40 x 60000 B to a socket that does not read; sets MEM_KIND
# to the counter deltas.
mem_side() {
	local kind=$1 port=$P pid
	shift
	[ "$kind" = stock ] && port=$Q
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	taskset -c 0 udprx -n "$NS" recv --stock --port 7199 --rcvbuf 4194304 --force \
		--no-read --timeout 600 >/dev/null 2>&1 &
	pid=$!
	defer reader_stop $pid
	slowwait 15 udp_bound "$NS" 7199 || ktap_exit_fail_msg "udp-mem: scratch reader"
	taskset -c 0 udprx -n "$NS" send --to 127.0.0.1:7199 --count 36 --size 60000 >/dev/null ||
		ktap_exit_fail_msg "udprx send failed"
	slowwait 15 __rmem_at_least "$NS" 7199 2000000 || ktap_exit_fail_msg "udp-mem: scratch queue"
	kill -TERM "$pid"
	wait "$pid" || ktap_exit_fail_msg "udp-mem: scratch reader exited $?"
	# A limit one page above what the protocol holds now: the socket's pages stay in CPU
	# 0's batch until it reaches mem_pcpu_rsv, and the datagram that flushes it is the
	# first one refused.
	local held
	held=$(awk '$1 == "UDP:" { print $5 }' /proc/net/sockstat)
	echo "$((held + 1)) $((held + 1)) $((held + 1))" > /proc/sys/net/ipv4/udp_mem
	taskset -c 0 udprx -n "$NS" recv "$@" --port $port --rcvbuf 4194304 --force \
		--no-read --timeout 600 >/dev/null 2>&1 &
	pid=$!
	defer reader_stop $pid
	slowwait 15 udp_bound "$NS" $port || ktap_exit_fail_msg "udp-mem: $kind reader"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	taskset -c 0 udprx -n "$NS" send --to 127.0.0.1:$port --count 40 --size 60000 >/dev/null ||
		ktap_exit_fail_msg "udprx send failed"
	snap AFTER "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	kill -TERM "$pid"
	wait "$pid" || ktap_exit_fail_msg "udp-mem: $kind reader exited $?"
	echo "$UDP_MEM" > /proc/sys/net/ipv4/udp_mem
	local -n out=MEM_${kind^^}
	local c
	for c in UdpMemErrors UdpInErrors UdpRxMemErrors UdpRxInErrors UdpRxDropPROTO_MEM; do
		out[$c]=$(( ${AFTER[$c]:-0} - ${B[$c]:-0} ))
	done
}
__rmem_at_least() {
	local r
	r=$(ip netns exec "$1" ss -Hunl "sport = :$2" | awk '{ print $2 }')
	[ -n "$r" ] && [ "$r" -ge "$3" ]
}
protomem() {
	UDP_MEM=$(cat /proc/sys/net/ipv4/udp_mem)
	defer eval 'echo "$UDP_MEM" > /proc/sys/net/ipv4/udp_mem'
	declare -gA MEM_STOCK=() MEM_MODERN=() MEM_CLASSIC=()
	mem_side stock --stock
	mem_side modern
	mem_side classic --policy classic
	local sd=${MEM_STOCK[UdpMemErrors]}
	ktap_print_msg "of 40: stock MemErrors ${MEM_STOCK[UdpMemErrors]} InErrors ${MEM_STOCK[UdpInErrors]};" \
		"modern MemErrors ${MEM_MODERN[UdpRxMemErrors]} InErrors ${MEM_MODERN[UdpRxInErrors]} PROTO_MEM ${MEM_MODERN[UdpRxDropPROTO_MEM]};" \
		"classic MemErrors ${MEM_CLASSIC[UdpRxMemErrors]} InErrors ${MEM_CLASSIC[UdpRxInErrors]} PROTO_MEM ${MEM_CLASSIC[UdpRxDropPROTO_MEM]}"
	ktap_test_result "tiny udp_mem: the stock socket refuses some datagrams (0 < MemErrors = InErrors < 40)" \
		test "$sd" -gt 0 -a "$sd" -lt 40 -a "${MEM_STOCK[UdpInErrors]}" -eq "$sd"
	ktap_test_result "tiny udp_mem: modern refuses as many (MemErrors, InErrors, PROTO_MEM)" \
		test "${MEM_MODERN[UdpRxMemErrors]}" -eq "$sd" -a "${MEM_MODERN[UdpRxInErrors]}" -eq "$sd" \
		-a "${MEM_MODERN[UdpRxDropPROTO_MEM]}" -eq "$sd"
	ktap_test_result "tiny udp_mem: classic refuses as many, counted as 3.13 does (InErrors only)" \
		test "${MEM_CLASSIC[UdpRxMemErrors]}" -eq 0 -a "${MEM_CLASSIC[UdpRxInErrors]}" -eq "$sd" \
		-a "${MEM_CLASSIC[UdpRxDropPROTO_MEM]}" -eq "$sd"
}
in_defer_scope protomem

# The same as a `udprx compare` scenario, over both links, with the model's prediction.
compare_udp_mem() {
	local out
	out=$(udprx compare udp-mem 2>&1)
	local rc=$?
	sed 's/^/# /' <<<"$out"
	ktap_test_result "udprx compare udp-mem (lo, veth): modern = stock, each policy = its model" \
		test "$rc" -eq 0 -a "$(grep -c '^  ok: ' <<<"$out")" -eq 2
}
in_defer_scope compare_udp_mem

# 7. An unprivileged user with a user+net namespace of its own, in a memory cgroup: what
# its udprx socket queues is charged to the cgroup ("sock" in memory.stat), as for a
# stock socket.
CG=/sys/fs/cgroup
memcg() {
	if ! mountpoint -q $CG; then
		mount -t cgroup2 none $CG || ktap_exit_fail_msg "cannot mount cgroup2"
		defer umount $CG
	fi
	echo +memory > $CG/cgroup.subtree_control || ktap_exit_fail_msg "no memory controller"
	local g=$CG/udprx-memcg-$$
	mkdir $g || ktap_exit_fail_msg "mkdir $g"
	defer rmdir $g
	local kind sock
	for kind in stock udprx; do
		local arg=""
		[ $kind = stock ] && arg=--stock
		# Into the cgroup, then as nobody in a new user+net namespace: a socket holding
		# 20 x 1000 B.
		sh -c "echo \$\$ > $g/cgroup.procs && exec setpriv --reuid=nobody --regid=nogroup \
			--clear-groups unshare -Urn sh -c '
				ip link set lo up &&
				{ udprx recv $arg --port $P --no-read --timeout 600 & } &&
				until ss -Hunl \"sport = :$P\" | grep -q .; do sleep 0.1; done &&
				udprx send --to 127.0.0.1:$P --count 20 --size 1000 >/dev/null &&
				sleep 600'" &
		local pid=$!
		if slowwait 30 __sock_charged $g 20000; then
			ktap_test_pass "memcg: an unprivileged user's $kind socket is charged to its cgroup"
		else
			ktap_print_msg "memory.stat sock: $(awk '$1 == "sock" { print $2 }' $g/memory.stat)"
			ktap_test_fail "memcg: an unprivileged user's $kind socket is charged to its cgroup"
		fi
		pkill -KILL -P "$pid"; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		for sock in $(cat $g/cgroup.procs); do kill -KILL "$sock"; done
		slowwait 15 __cg_empty $g
		ktap_test_result "memcg: uncharged once the $kind socket's owner is gone" \
			slowwait 15 __sock_charged_below $g 1
	done
}
__sock_charged() { [ "$(awk '$1 == "sock" { print $2 }' "$1/memory.stat")" -ge "$2" ]; }
__sock_charged_below() { [ "$(awk '$1 == "sock" { print $2 }' "$1/memory.stat")" -lt "$2" ]; }
__cg_empty() { [ -z "$(cat "$1/cgroup.procs")" ]; }
in_defer_scope memcg

# 8. A cgroup ingress program that drops everything (systemd's IPAddressDeny=any): sockets
# created in that cgroup receive nothing, stock and udprx alike (sk_filter_trim_cap()).
cgbpf() {
	if ! mountpoint -q $CG; then
		mount -t cgroup2 none $CG || ktap_exit_fail_msg "cannot mount cgroup2"
		defer umount $CG
	fi
	local g=$CG/udprx-deny-$$
	mkdir $g || ktap_exit_fail_msg "mkdir $g"
	defer rmdir $g
	udprx stress deny-ingress --cgroup $g || ktap_exit_fail_msg "cannot attach a cgroup ingress program"
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	# Each reader's shell moves into the cgroup, then becomes the reader: its sockets are
	# the cgroup's.
	sh -c "echo \$\$ > $g/cgroup.procs && exec udprx -n $NS recv --port $P --no-read --timeout 600" \
		>/dev/null 2>&1 &
	defer reader_stop $!
	sh -c "echo \$\$ > $g/cgroup.procs && exec udprx -n $NS recv --stock --port $Q --no-read --timeout 600" \
		>/dev/null 2>&1 &
	defer reader_stop $!
	{ slowwait 15 udp_bound "$NS" $P && slowwait 15 udp_bound "$NS" $Q; } || ktap_exit_fail_msg "cgroup readers"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS" --to 127.0.0.1:$P --count 3 >/dev/null
	udprx_send "$NS" --to 127.0.0.1:$Q --count 3 >/dev/null
	expect_deltas "cgroup ingress program dropping all: udprx drops as stock (InErrors, SOCKET_FILTER)" \
		"$NS" B UdpRxInErrors=3 UdpRxDropSOCKET_FILTER=3 UdpInErrors=3 \
		UdpRxHookSeen=6 UdpRxHookStolen=3 UdpRxHookAccepted=3
}
in_defer_scope cgbpf

udprx_unload
ktap_test_result "rmmod after the guarantees" test ! -d /sys/module/udprx
ktap_finished
