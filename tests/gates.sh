#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own gates on the receive path, which a udprx socket passes as a stock one
# does, each shown against a stock socket given the same traffic (project issue 22):
#  - conntrack: a UDP flow to a udprx port gets the same conntrack entry, in the same
#    state, as one to a stock port, and the nft `ct state` counters move the same, with
#    the ct rule created before insmod and after it. The traffic comes over veth from
#    another netns: on lo the entry is made and confirmed on output, and the receive side
#    would show nothing; over veth it is confirmed at LOCAL_IN, the hook priority udprx
#    steals at;
#  - NFQUEUE: datagrams queued to userspace (`udprx nfq`) and given back with NF_ACCEPT or
#    NF_STOP are all delivered, none dropped, and UDP memory is given back once the
#    sockets are closed. NF_STOP skips the remaining hooks, udprx's too: the stock
#    udp_rcv() queues on the udprx socket's backing socket, which hands it over;
#  - cgroup bind4: a BPF_CGROUP_INET4_BIND program refuses a udprx bind as a stock one
#    (EPERM), and its port rewrite holds for the udprx socket: it receives on the new
#    port, and the port it asked for stays free;
#  - Landlock: in a domain that may bind UDP port LL only (LANDLOCK_ACCESS_NET_BIND_UDP),
#    a udprx bind to another port fails with EACCES as a stock one does, and a udprx bind
#    to LL receives. A udprx socket is bound with bind(2) on its backing socket
#    (UDPRX_SOCKET), so security_socket_bind() decides.
# Exclusive (tests/settings): it loads udprx itself (after a ct rule exists) and creates
# cgroups.

source "$(dirname "$0")/lib.sh"

P=7400          # udprx socket
Q=7401          # stock socket
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_print_header
ktap_set_plan 20

declare -A B

# --- conntrack ------------------------------------------------------------------------
# ct_rule NETNS: conntrack on in NETNS (a rule using it), with counters of the input
# packets in state new and established.
ct_rule() {
	ip netns exec "$1" nft -f - <<-EOF
	table inet gates_ct {
		counter est { }
		counter new { }
		chain input {
			type filter hook input priority filter;
			ct state new counter name new
			ct state established counter name est
		}
	}
	EOF
}
# ct_counter NETNS NAME: packets the named counter counted (fails if nft shows none).
ct_counter() {
	ip netns exec "$1" nft list counter inet gates_ct "$2" |
		awk '/packets/ { print $2; found = 1 } END { exit !found }'
}
# ct_entries NETNS PORT: the conntrack entries of UDP to PORT, one a line, with what
# differs between two flows blanked: the timeout left (3rd field), ports and ids.
ct_entries() {
	ip netns exec "$1" conntrack -L -p udp --dport "$2" 2>/dev/null |
		awk '{ $3 = "_"; print }' | sed -E 's/\<(sport|dport|id)=[0-9]+/\1=_/g'
}
# veth_pair TX RX: a veth pair between two new netns, named in $TX and $RX, 192.0.2.1
# in TX, 192.0.2.2 in RX, both ends up.
veth_pair() {
	setup_ns "$1" "$2" || return 1
	defer cleanup_ns "${!1}" "${!2}"
	local -n tx=$1 rx=$2
	ip link add gx netns "$tx" type veth peer name gr netns "$rx" || return 1
	ip -n "$tx" addr add 192.0.2.1/24 dev gx && ip -n "$rx" addr add 192.0.2.2/24 dev gr &&
		ip -n "$tx" link set gx up && ip -n "$rx" link set gr up || return 1
	slowwait 15 __link_up "$tx" gx && slowwait 15 __link_up "$rx" gr
}
__link_up() { ip -n "$1" -br link show "$2" | grep -qw UP; }
__lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }

# conntrack WHEN TX RX: 3 datagrams from one sender socket to a udprx socket, then 3 to a
# stock one; counters read in between.
conntrack_case() {
	local when=$1 tx=$2 rx=$3
	# The entries must outlive a slow run (30 s unreplied by default).
	ip netns exec "$rx" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600 ||
		ktap_exit_fail_msg "conntrack: cannot set nf_conntrack_udp_timeout"
	recv_bg R "$rx" --port $P --timeout 600 || ktap_exit_fail_msg "conntrack: udprx reader"
	recv_bg S "$rx" --stock --port $Q --timeout 600 || ktap_exit_fail_msg "conntrack: stock reader"
	snap B "$rx" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	local n0 e0 n1 e1 n2 e2
	n0=$(ct_counter "$rx" new) && e0=$(ct_counter "$rx" est) ||
		ktap_exit_fail_msg "conntrack: no ct state counters"
	udprx_send "$tx" --to 192.0.2.2:$P --count 3 >/dev/null
	slowwait 15 __lines_at_least "$R_out" 3
	n1=$(ct_counter "$rx" new) && e1=$(ct_counter "$rx" est) ||
		ktap_exit_fail_msg "conntrack: no ct state counters"
	udprx_send "$tx" --to 192.0.2.2:$Q --count 3 >/dev/null
	slowwait 15 __lines_at_least "$S_out" 3
	n2=$(ct_counter "$rx" new) && e2=$(ct_counter "$rx" est) ||
		ktap_exit_fail_msg "conntrack: no ct state counters"
	expect_deltas "conntrack, rule created $when insmod: each reader got its 3 datagrams" \
		"$rx" B UdpRxInDatagrams=3 UdpInDatagrams=3

	local eu es
	eu=$(ct_entries "$rx" $P) es=$(ct_entries "$rx" $Q)
	ktap_print_msg "udprx flow: ${eu:-no entry}"
	ktap_print_msg "stock flow: ${es:-no entry}"
	[ -n "$eu" ] && [ "$(grep -c . <<<"$eu")" -eq 1 ] && [ "$(grep -c . <<<"$es")" -eq 1 ] &&
		[ "$eu" = "$es" ]
	ktap_test_result "conntrack, rule created $when insmod: one entry for the udprx flow, in the stock flow's state" \
		[ $? -eq 0 ]

	local un=$((n1 - n0)) ue=$((e1 - e0)) sn=$((n2 - n1)) se=$((e2 - e1))
	ktap_print_msg "ct state counters: udprx flow new +$un est +$ue; stock flow new +$sn est +$se"
	ktap_test_result "conntrack, rule created $when insmod: ct state counters move as for the stock flow" \
		test "$un" -eq "$sn" -a "$ue" -eq "$se" -a $((un + ue)) -eq 3
}

# Rule first, then insmod: the ct hooks were registered before udprx's.
setup_ns_before() {
	veth_pair CT1TX CT1RX || ktap_exit_fail_msg "veth pair"
	ct_rule "$CT1RX" || ktap_exit_fail_msg "nft failed"
}
setup_ns_before
udprx_load || ktap_exit_fail_msg "insmod failed"
in_defer_scope conntrack_case before "$CT1TX" "$CT1RX"
conntrack_after() {
	veth_pair CT2TX CT2RX || ktap_exit_fail_msg "veth pair"
	ct_rule "$CT2RX" || ktap_exit_fail_msg "nft failed"
	conntrack_case after "$CT2TX" "$CT2RX"
}
in_defer_scope conntrack_after

# --- NFQUEUE --------------------------------------------------------------------------
# nfq_bg NAME NETNS NFQ-ARGS...: `udprx nfq` in the background, once the queue is bound.
nfq_bg() {
	local name=$1 ns=$2
	shift 2
	udprx_bg "$name" "$ns" "nfq: bound to queue" nfq "$@"
}
__all_gone() {
	local p
	for p in "$@"; do ! kill -0 "$p" 2>/dev/null || return 1; done
}
# exit_status VAR PID: VAR = the exit status of a background job (in this shell: no
# command substitution), stopped first if it still runs.
exit_status() {
	kill "$2" 2>/dev/null
	wait "$2"
	printf -v "$1" '%s' $?
}
udp_mem() { awk '$1 == "UDP:" { print $5 }' /proc/net/sockstat; }
# __udp_mem_near PAGES TOLERANCE: UDP memory within TOLERANCE pages of PAGES.
__udp_mem_near() {
	local d=$(($(udp_mem) - $1))
	[ "${d#-}" -le "$2" ]
}

# nfqueue VERDICT: 10 datagrams to a udprx socket and 10 to a stock one, all through the
# queue and back with VERDICT.
nfqueue() {
	local v=$1
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	ip netns exec "$NS" nft -f - <<-EOF || ktap_exit_fail_msg "nft failed"
	table inet q {
		chain input {
			type filter hook input priority filter;
			udp dport { $P, $Q } queue num 0
		}
	}
	EOF
	local rsv mem0
	rsv=$(cat /proc/sys/net/core/mem_pcpu_rsv 2>/dev/null || echo 256)
	mem0=$(udp_mem)
	nfq_bg N "$NS" --queue 0 --verdict "$v" --count 20 --timeout 300 || ktap_exit_fail_msg "nfq"
	recv_bg R "$NS" --port $P --count 10 --timeout 300 || ktap_exit_fail_msg "nfqueue: udprx reader"
	recv_bg S "$NS" --stock --port $Q --count 10 --timeout 300 || ktap_exit_fail_msg "nfqueue: stock reader"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS" --to 127.0.0.1:$P --count 10 >/dev/null
	udprx_send "$NS" --to 127.0.0.1:$Q --count 10 >/dev/null
	expect_deltas "nfqueue, verdict $v: all 20 delivered (UdpRxInDatagrams +10, UdpInDatagrams +10), none dropped" \
		"$NS" B UdpRxInDatagrams=10 UdpInDatagrams=10
	# Each ends by itself once it has its count; one that does not is stopped.
	slowwait 30 __all_gone "$R_pid" "$S_pid" "$N_pid"
	local rr rs rn handled
	exit_status rr "$R_pid"
	exit_status rs "$S_pid"
	exit_status rn "$N_pid"
	handled=$(json_get "$(<"$N_out")" handled)
	ktap_print_msg "verdict $v: udprx reader $(wc -l <"$R_out") (rc $rr), stock reader $(wc -l <"$S_out") (rc $rs), nfq handled ${handled:-?} (rc $rn)"
	ktap_test_result "nfqueue, verdict $v: each reader got its 10, nfq gave 20 verdicts" \
		test "$rr" -eq 0 -a "$rs" -eq 0 -a "$rn" -eq 0 -a "${handled:-0}" -eq 20
	local tol=$((rsv * $(nproc)))
	if slowwait 15 __udp_mem_near "$mem0" "$tol"; then
		ktap_test_pass "nfqueue, verdict $v: UDP memory given back once the sockets are closed"
	else
		ktap_print_msg "sockstat UDP mem: $mem0 before, $(udp_mem) after (tolerance $tol pages)"
		ktap_test_fail "nfqueue, verdict $v: UDP memory given back once the sockets are closed"
	fi
}
in_defer_scope nfqueue accept
in_defer_scope nfqueue stop

# --- cgroup bind4 ---------------------------------------------------------------------
CG=/sys/fs/cgroup
R=7410          # a bind to R binds R2
R2=7411
D=7412          # a bind to D is refused

# in_cg CGROUP CMD...: become CMD in CGROUP (a shell moved there, then exec): call it in
# a subshell, `(in_cg ...)` or `in_cg ... &`, so that $! is CMD's pid.
in_cg() {
	local g=$1
	shift
	exec sh -c "echo \$\$ > $g/cgroup.procs && exec ${*@Q}"
}
bind_eperm() { grep -qi "EPERM\|Operation not permitted" "$1"; }

cgbind() {
	if ! mountpoint -q $CG; then
		mount -t cgroup2 none $CG || ktap_exit_fail_msg "cannot mount cgroup2"
		defer umount $CG
	fi
	local g=$CG/udprx-bind4-$$
	mkdir $g || ktap_exit_fail_msg "mkdir $g"
	defer rmdir $g
	udprx stress bind4 --cgroup $g --rewrite $R:$R2 --deny $D ||
		ktap_exit_fail_msg "cannot attach a cgroup bind4 program"
	setup_ns NS1 NS2 || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS1" "$NS2"

	# A refused bind: both fail, with EPERM.
	local ru rs
	(in_cg $g udprx -n "$NS1" recv --port $D --timeout 1) >/dev/null 2>"$tmp/deny.udprx"
	ru=$?
	(in_cg $g udprx -n "$NS2" recv --stock --port $D --timeout 1) >/dev/null 2>"$tmp/deny.stock"
	rs=$?
	ktap_print_msg "bind to $D in the cgroup: udprx rc $ru: $(<"$tmp/deny.udprx")"
	ktap_print_msg "bind to $D in the cgroup: stock rc $rs: $(<"$tmp/deny.stock")"
	[ $ru -ne 0 ] && [ $rs -ne 0 ] && bind_eperm "$tmp/deny.udprx" && bind_eperm "$tmp/deny.stock"
	ktap_test_result "cgroup bind4: a bind the program refuses fails with EPERM, udprx as stock" \
		[ $? -eq 0 ]

	# A rewritten bind: the stock socket in NS2, the udprx socket in NS1.
	in_cg $g udprx -n "$NS2" recv --stock --port $R --timeout 600 >/dev/null 2>&1 &
	defer reader_stop $!
	if slowwait 15 udp_bound "$NS2" $R2 && ! udp_bound "$NS2" $R; then
		ktap_test_pass "cgroup bind4: a stock bind to $R is bound to $R2, $R stays free"
	else
		ktap_print_msg "NS2 UDP sockets: $(ip netns exec "$NS2" ss -Hunl | tr '\n' ' ')"
		ktap_test_fail "cgroup bind4: a stock bind to $R is bound to $R2, $R stays free"
	fi
	: >"$tmp/rw.err"	# there before the reader's shell opens it: polled below
	in_cg $g udprx -n "$NS1" recv --port $R --timeout 600 >"$tmp/rw.out" 2>"$tmp/rw.err" &
	local pid=$!
	defer reader_stop $pid
	slowwait 30 __settled $pid "$tmp/rw.err" "bound to port" || ktap_exit_fail_msg "cgroup bind4: udprx reader"
	if udp_bound "$NS1" $R2 && ! udp_bound "$NS1" $R; then
		ktap_test_pass "cgroup bind4: a udprx bind to $R holds $R2 in the stock tables, $R stays free"
	else
		ktap_print_msg "udprx reader: $(<"$tmp/rw.err")"
		ktap_print_msg "NS1 UDP sockets: $(ip netns exec "$NS1" ss -Hunl | tr '\n' ' ')"
		ktap_test_fail "cgroup bind4: a udprx bind to $R holds $R2 in the stock tables, $R stays free"
	fi
	snap B "$NS1" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS1" --to 127.0.0.1:$R2 --count 3 >/dev/null
	expect_deltas "cgroup bind4: the udprx socket asked for $R receives what is sent to $R2" \
		"$NS1" B UdpRxInDatagrams=3
	# R is free: a stock socket outside the cgroup binds it and gets what is sent there.
	recv_bg T "$NS1" --stock --port $R --timeout 600 ||
		ktap_print_msg "a stock bind to $R in NS1 failed: $(<"$T_err")"
	snap B "$NS1" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS1" --to 127.0.0.1:$R --count 2 >/dev/null
	expect_deltas "cgroup bind4: $R stays free: a stock socket binds it and gets what is sent to it" \
		"$NS1" B UdpInDatagrams=2
}
in_defer_scope cgbind

# --- Landlock -------------------------------------------------------------------------
LL=7420         # the port the Landlock domain may bind
LD=7421         # a port it may not

landlock() {
	setup_ns NS3 || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS3"
	local ru rs
	udprx -n "$NS3" landlock --bind-udp $LL -- udprx recv --port $LD --timeout 1 \
		>/dev/null 2>"$tmp/ll.udprx"
	ru=$?
	udprx -n "$NS3" landlock --bind-udp $LL -- udprx recv --stock --port $LD --timeout 1 \
		>/dev/null 2>"$tmp/ll.stock"
	rs=$?
	ktap_print_msg "bind to $LD in the domain: udprx rc $ru: $(<"$tmp/ll.udprx")"
	ktap_print_msg "bind to $LD in the domain: stock rc $rs: $(<"$tmp/ll.stock")"
	[ $ru -ne 0 ] && [ $rs -ne 0 ] && grep -q "Permission denied" "$tmp/ll.udprx" &&
		grep -q "Permission denied" "$tmp/ll.stock"
	ktap_test_result "Landlock: a bind to a port the domain refuses fails with EACCES, udprx as stock" \
		[ $? -eq 0 ]

	udprx_bg L "$NS3" "bound to port" landlock --bind-udp $LL -- \
		udprx recv --port $LL --timeout 600 || ktap_print_msg "udprx in the domain: $(<"$L_err")"
	snap B "$NS3" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS3" --to 127.0.0.1:$LL --count 3 >/dev/null
	expect_deltas "Landlock: a udprx socket bound in the domain to a port it allows receives" \
		"$NS3" B UdpRxInDatagrams=3
}
in_defer_scope landlock

udprx_unload
ktap_test_result "rmmod after the gates" test ! -d /sys/module/udprx
ktap_finished
