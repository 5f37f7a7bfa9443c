#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# One owner per socket (docs/guarantees.md): udprx's books never mix with the stock
# path's on a backing socket, everything it holds is charged while it holds it, and the
# IP counters move as for stock.
#  - churn: a stock socket parked with a known charge, then 400 udprx sockets opened,
#    bound and closed under a flood of their ports (the bind and close windows, where the
#    stock path can queue on a backing socket): UDP: mem and the cgroup's socket memory
#    come back to the parked values, within the per-CPU reserves. Again with every socket
#    closed while held;
#  - a held classic socket's backlog is charged as a stock queue of the same datagrams,
#    and under a tight net.ipv4.udp_mem it pins no more than a stock socket;
#  - Ip: InDelivers counts the datagrams udprx delivers, as for stock;
#  - /proc/net/udprx read in namespaces that come and go.
# Exclusive (tests/settings): it reads and limits the global UDP: mem.

source "$(dirname "$0")/lib.sh"

P=7310          # udprx sockets (churn: P .. P+3)
Q=7320          # stock socket
CG=/sys/fs/cgroup

ktap_print_header
ktap_set_plan 10
udprx_load || ktap_exit_fail_msg "insmod failed"

if ! mountpoint -q $CG; then
	mount -t cgroup2 none $CG || ktap_exit_fail_msg "cannot mount cgroup2"
	defer umount $CG
fi
echo +memory > $CG/cgroup.subtree_control || ktap_exit_fail_msg "no memory controller"

# udp_mem_pages: UDP: mem of /proc/net/sockstat (pages, global).
udp_mem_pages() { awk '$1 == "UDP:" { print $5 }' /proc/net/sockstat; }
# sock_bytes CGROUP: socket memory charged to CGROUP (memory.stat "sock", bytes).
sock_bytes() { awk '$1 == "sock" { print $2 }' "$1/memory.stat"; }
# new_cg NAME: a fresh cgroup, removed at the end of the scope; sets $NAME to its path.
new_cg() {
	local g=$CG/udprx-$1-$$
	mkdir "$g" || return 1
	defer rmdir "$g"
	printf -v "$1" '%s' "$g"
}
# in_cg CGROUP CMD...: become CMD, as a process of CGROUP (its sockets are charged
# there). Call it in a subshell: in the background or in $(...).
in_cg() {
	local g=$1
	shift
	exec sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$g" "$@"
}
# What the per-CPU reserves may hide: net.core.mem_pcpu_rsv pages of UDP: mem per CPU,
# and a memcg charge batch (64 pages) of pending statistics per CPU.
RSV_PAGES=$(( $(cat /proc/sys/net/core/mem_pcpu_rsv) * $(nproc) ))
MEMCG_SLACK=$(( 64 * 4096 * $(nproc) ))
# within A B SLACK: |A - B| <= SLACK.
within() { local d=$(( $1 - $2 )); [ "${d#-}" -le "$3" ]; }
# __accepted_at_least NETNS N: the hook let N datagrams through to the stock path.
__accepted_at_least() { [ "$(counter UdpRxHookAccepted "$1")" -ge "$2" ]; }
__stolen_at_least() { [ "$(counter UdpRxHookStolen "$1")" -ge "$2" ]; }

# 1. Churn. churn DESC CHURN-ARGS...
churn() {
	local desc=$1
	shift
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	new_cg G || ktap_exit_fail_msg "cannot create a cgroup"
	# The parked stock socket: 3000 x 1000 B queued (about 7 MB charged).
	in_cg "$G" udprx -n "$NS" recv --stock --port $Q --rcvbuf 16000000 --force \
		--no-read --timeout 600 >/dev/null 2>&1 &
	local parked=$!
	defer reader_stop $parked
	slowwait 30 udp_bound "$NS" $Q || ktap_exit_fail_msg "churn: parked reader"
	udprx_send "$NS" --to 127.0.0.1:$Q --count 3000 --size 1000 >/dev/null
	slowwait 30 __accepted_at_least "$NS" 3000 || ktap_exit_fail_msg "churn: parked queue"
	local mem0 sock0 out rc mem1 sock1
	mem0=$(udp_mem_pages) sock0=$(sock_bytes "$G")
	out=$(in_cg "$G" udprx -n "$NS" stress churn --port $P --ports 4 --cycles 400 \
		--rcvbuf 4000000 "$@")
	rc=$?
	mem1=$(udp_mem_pages) sock1=$(sock_bytes "$G")
	ktap_print_msg "$desc (exit $rc): $out; UDP: mem $mem0 -> $mem1 pages (reserve $RSV_PAGES)," \
		"cgroup sock $sock0 -> $sock1 B (slack $MEMCG_SLACK)"
	[ $rc -eq 0 ] && [ "$(json_get "$out" cycles)" = 400 ] && [ "$mem0" -gt "$RSV_PAGES" ] &&
		within "$mem1" "$mem0" "$RSV_PAGES"
	ktap_test_result "$desc: UDP: mem back to the parked socket's charge" [ $? -eq 0 ]
	within "$sock1" "$sock0" "$MEMCG_SLACK"
	ktap_test_result "$desc: the cgroup's socket memory back to the parked socket's" [ $? -eq 0 ]
}
in_defer_scope churn "churn: 400 udprx sockets closed under a flood"
in_defer_scope churn "churn, closed while held" --hold

# 2. A held classic socket's backlog. held_side KIND RECV-ARGS...: 400 x 4000 B to a
# socket that does not read, everything on CPU 0 (one per-CPU reserve); sets
# HELD_MEM[KIND] (pages) and HELD_SOCK[KIND] (bytes) to what the socket added.
declare -A HELD_MEM HELD_SOCK
held_side() {
	local kind=$1 port=$P
	shift
	[ "$kind" = stock ] && port=$Q
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	new_cg G || ktap_exit_fail_msg "cannot create a cgroup"
	local mem0 sock0
	mem0=$(udp_mem_pages) sock0=$(sock_bytes "$G")
	in_cg "$G" taskset -c 0 udprx -n "$NS" recv "$@" --port $port --rcvbuf 16000000 \
		--force --no-read --timeout 600 >/dev/null 2>&1 &
	local pid=$!
	defer reader_stop $pid
	slowwait 30 udp_bound "$NS" $port || ktap_exit_fail_msg "held: $kind reader"
	taskset -c 0 udprx -n "$NS" send --to 127.0.0.1:$port --count 400 --size 4000 >/dev/null ||
		ktap_exit_fail_msg "udprx send failed"
	if [ "$kind" = stock ]; then
		slowwait 30 __accepted_at_least "$NS" 400
	else
		slowwait 30 __stolen_at_least "$NS" 400
	fi || ktap_exit_fail_msg "held: $kind datagrams"
	HELD_MEM[$kind]=$(( $(udp_mem_pages) - mem0 ))
	HELD_SOCK[$kind]=$(( $(sock_bytes "$G") - sock0 ))
}
held() {
	in_defer_scope held_side stock --stock
	in_defer_scope held_side classic --policy classic --hold
	ktap_print_msg "400 x 4000 B: UDP: mem +${HELD_MEM[stock]} pages (stock)," \
		"+${HELD_MEM[classic]} (held classic); cgroup sock +${HELD_SOCK[stock]} B," \
		"+${HELD_SOCK[classic]} B"
	[ "${HELD_MEM[classic]}" -gt 0 ] &&
		within "${HELD_MEM[classic]}" "${HELD_MEM[stock]}" "$RSV_PAGES"
	ktap_test_result "held classic backlog: UDP: mem charged as for a stock queue" [ $? -eq 0 ]
	[ "${HELD_SOCK[classic]}" -gt 800000 ] &&
		within "${HELD_SOCK[classic]}" "${HELD_SOCK[stock]}" "$MEMCG_SLACK"
	ktap_test_result "held classic backlog: the cgroup charged as for a stock queue" [ $? -eq 0 ]
}
held

# 3. Under a tight net.ipv4.udp_mem (100 pages above what UDP holds), 300 x 60000 B to a
# socket that does not read, on CPU 0: a held classic socket keeps no more than a stock
# socket. (A memory cgroup's limit does not refuse socket memory charged in softirq:
# GFP_ATOMIC charges are forced past memory.max, for a stock socket as for udprx.)
# limit_side KIND GROUP RECV-ARGS...: sets KEPT[KIND] to the datagrams not refused.
declare -A KEPT
limit_side() {
	local kind=$1 group=$2 port=$P
	shift 2
	[ "$kind" = stock ] && port=$Q
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	taskset -c 0 udprx -n "$NS" recv "$@" --port $port --rcvbuf 64000000 --force \
		--no-read --timeout 600 >/dev/null 2>&1 &
	local pid=$!
	defer reader_stop $pid
	slowwait 30 udp_bound "$NS" $port || ktap_exit_fail_msg "limit: $kind reader"
	local -A B
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	local held
	held=$(udp_mem_pages)
	echo "$((held + 100)) $((held + 100)) $((held + 100))" > /proc/sys/net/ipv4/udp_mem
	taskset -c 0 udprx -n "$NS" send --to 127.0.0.1:$port --count 300 --size 60000 >/dev/null ||
		ktap_exit_fail_msg "udprx send failed"
	local seen=UdpRxHookStolen
	[ "$kind" = stock ] && seen=UdpRxHookAccepted
	slowwait 30 __counter_at_least "$NS" $seen $(( ${B[$seen]} + 300 )) ||
		ktap_exit_fail_msg "limit: $kind datagrams"
	echo "$UDP_MEM" > /proc/sys/net/ipv4/udp_mem
	KEPT[$kind]=$(( 300 - ($(counter "${group}InErrors" "$NS") - ${B[${group}InErrors]}) ))
	KEPT[$kind-proto]=$(( $(counter UdpRxDropPROTO_MEM "$NS") - ${B[UdpRxDropPROTO_MEM]} ))
}
__counter_at_least() { [ "$(counter "$2" "$1")" -ge "$3" ]; }
limit() {
	UDP_MEM=$(cat /proc/sys/net/ipv4/udp_mem)
	defer eval 'echo "$UDP_MEM" > /proc/sys/net/ipv4/udp_mem'
	in_defer_scope limit_side stock Udp --stock
	in_defer_scope limit_side classic UdpRx --policy classic --hold
	ktap_print_msg "udp_mem 100 pages above, 300 x 60000 B: stock kept ${KEPT[stock]}," \
		"held classic kept ${KEPT[classic]} (PROTO_MEM drops ${KEPT[classic-proto]})"
	ktap_test_result "tight udp_mem: the held classic socket refuses what it cannot charge (PROTO_MEM)" \
		test "${KEPT[classic-proto]}" -gt 0 -a "${KEPT[classic]}" -lt 300
	ktap_test_result "tight udp_mem: holding pins no more than a stock socket keeps" \
		test "${KEPT[classic]}" -le "$(( KEPT[stock] + 20 ))" -a "${KEPT[stock]}" -lt 300
}
in_defer_scope limit

# 4. Ip: InDelivers, 200 datagrams to a udprx socket and 200 to a stock one.
indelivers() {
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	recv_bg R "$NS" --port $P --count 200 --timeout 120 || ktap_exit_fail_msg "udprx reader"
	recv_bg S "$NS" --stock --port $Q --count 200 --timeout 120 || ktap_exit_fail_msg "stock reader"
	local d0 d1 d2 rs rr
	d0=$(ip_mib "$NS" InDelivers) || ktap_exit_fail_msg "no Ip: InDelivers"
	udprx_send "$NS" --to 127.0.0.1:$Q --count 200 >/dev/null
	wait "$S_pid"
	rs=$?
	d1=$(ip_mib "$NS" InDelivers) || ktap_exit_fail_msg "no Ip: InDelivers"
	udprx_send "$NS" --to 127.0.0.1:$P --count 200 >/dev/null
	wait "$R_pid"
	rr=$?
	d2=$(ip_mib "$NS" InDelivers) || ktap_exit_fail_msg "no Ip: InDelivers"
	ktap_print_msg "Ip: InDelivers +$((d1 - d0)) for 200 to stock, +$((d2 - d1)) for 200 to udprx;" \
		"the readers of 200 exited $rs (stock), $rr (udprx)"
	ktap_test_result "Ip: InDelivers counts the datagrams udprx delivers as for stock" \
		test $((d1 - d0)) -eq 200 -a $((d2 - d1)) -eq 200 -a $rs -eq 0 -a $rr -eq 0
}
in_defer_scope indelivers

# 5. /proc/net/udprx in namespaces that come and go, read as each is created, while
# others are created and destroyed beside it.
proc_churn() {
	local i bad=0 rc
	# The churner stops at the first ip netns that fails, with its status.
	(for i in $(seq 40); do
		ip netns add "udprx-pc-$$-$i" && ip netns del "udprx-pc-$$-$i" || exit
	done) &
	local churner=$!
	for i in $(seq 40); do
		unshare -n cat /proc/net/udprx | grep -q '^UdpRx: InDatagrams' || bad=$((bad + 1))
	done
	wait $churner
	rc=$?
	[ $rc -eq 0 ] || ktap_print_msg "ip netns add/del beside the reads failed: exit $rc"
	ktap_test_result "/proc/net/udprx: whole in each of 40 new namespaces ($bad not)" \
		test $bad -eq 0 -a $rc -eq 0
}
in_defer_scope proc_churn

ktap_finished
