#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Churn, faults and hostile input under the debug kernel. Two sizes: the short run of
# `make check`, and the full run of `make stress` (UDPRX_STRESS=full). Where traffic
# flows, a part ends with its conservation check: every datagram sent is read or counted
# as dropped (UdpRx:, UdpRxDrop:, stock Udp:), nothing else. The runner's console scan
# (KASAN, lockdep, kmemleak, UBSAN, WARN, hung task) fails the run on any report, and
# the kernel's own checks (inet_sock_destruct() warns on a socket freed with memory still
# charged) turn a leaked charge into such a report.
#  - lifecycle: insmod/rmmod cycles while traffic flows to bound and unbound ports on
#    both entry points, with sockets open, filled and closed; rmmod refused while a file
#    is open; readers of /proc/net/udprx racing rmmod;
#  - namespaces: netns created and destroyed with bound, filled and held sockets whose
#    processes are killed without closing;
#  - concurrency: threads racing bind, read, poll, epoll, ioctls on one socket and on many
#    (closed and reopened meanwhile), two senders;
#  - fault injection: every allocation of open, bind, attach-filter, netns creation and
#    insmod failed in turn (fail-nth): a clean error each time, then success; set-rcvbuf
#    shown to allocate nothing;
#  - hostile input: mutated datagrams over both entry points, all accounted for; random
#    ioctls, reads, writes and polls as nobody and as root without CAP_NET_ADMIN.
# Exclusive (tests/settings): it loads and unloads udprx itself.

source "$(dirname "$0")/lib.sh"

if [ "${UDPRX_STRESS:-short}" = full ]; then
	CYCLES=200 NETNS=100 RACE_S=20 MUTATE=100000 IOCTLS=20000 NETNS_FAULTS=0 INSMOD_FAULTS=0
else
	CYCLES=10 NETNS=10 RACE_S=3 MUTATE=3000 IOCTLS=2000 NETNS_FAULTS=40 INSMOD_FAULTS=30
fi
PROTO=253
P=7400          # bound
U=7401          # bound by nobody
H=7402          # bound by a held socket (lifecycle)
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_print_header
ktap_set_plan 23
ktap_print_msg "size ${UDPRX_STRESS:-short}: $CYCLES cycles, $NETNS netns, race ${RACE_S} s, $MUTATE datagrams, $IOCTLS calls"

declare -A B

# --- lifecycle ---------------------------------------------------------------------------
lifecycle() {
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	# Traffic that never stops: UDP to a bound and an unbound port, and protocol 253. It
	# ends at the first send that fails, so it must still run once the cycles are done.
	while udprx -n "$NS" send --to 127.0.0.1:$P --count 20 --size 300 &&
		udprx -n "$NS" send --to 127.0.0.1:$U --count 5 &&
		udprx -n "$NS" send --to 127.0.0.1:$H --count 10 --size 1000 &&
		udprx -n "$NS" send --to 127.0.0.1:$P --proto $PROTO --count 5; do
		:
	done >/dev/null 2>"$tmp/traffic.err" &
	local traffic=$!
	defer reader_stop $traffic
	(while :; do cat /proc/net/udprx /proc/"$$"/net/udprx; done >/dev/null 2>&1) &
	defer reader_stop $!
	local i refused=0 ok=0 a h
	for ((i = 0; i < CYCLES; i++)); do
		insmod "$UDPRX_KO" || break
		# A socket that fills, and one held (its arrivals backlogged under classic).
		udprx -n "$NS" recv --port $P --no-read --timeout 600 >/dev/null 2>&1 &
		a=$!
		udprx -n "$NS" recv --port $H --policy classic --hold --timeout 600 >/dev/null 2>&1 &
		h=$!
		slowwait 10 udp_bound "$NS" $P && slowwait 10 udp_bound "$NS" $H
		! rmmod udprx 2>/dev/null && refused=$((refused + 1))
		# Closed in either order.
		if ((i % 2)); then kill -KILL $a $h; else kill -KILL $h $a; fi
		wait $a $h 2>/dev/null
		slowwait 10 rmmod udprx 2>/dev/null && ok=$((ok + 1))
	done
	kill -0 $traffic 2>/dev/null || ktap_print_msg "lifecycle: traffic stopped: $(<"$tmp/traffic.err")"
	[ "$ok" -eq "$CYCLES" ] && kill -0 $traffic 2>/dev/null
	ktap_test_result "lifecycle: $CYCLES insmod/rmmod cycles under traffic, a filled and a held socket each" \
		[ $? -eq 0 ]
	ktap_test_result "lifecycle: rmmod refused while a socket is open" test "$refused" -eq "$CYCLES"
}
in_defer_scope lifecycle

udprx_load || ktap_exit_fail_msg "insmod failed"

# --- namespaces ----------------------------------------------------------------------------
namespaces() {
	local i ns pid
	for ((i = 0; i < NETNS; i++)); do
		ns=stress-$i-$$
		ip netns add $ns && ip -n $ns link set lo up || return 1
		ip netns exec $ns true
		if ((i % 2)); then
			udprx -n $ns recv --port $P --hold --no-read --timeout 600 >/dev/null 2>&1 &
		else
			udprx -n $ns recv --port $P --rcvbuf 4096 --no-read --timeout 600 >/dev/null 2>&1 &
		fi
		pid=$!
		slowwait 10 udp_bound $ns $P || return 1
		udprx -n $ns send --to 127.0.0.1:$P --count 20 --size 1000 >/dev/null || return 1
		udprx -n $ns send --to 127.0.0.1 --proto $PROTO --count 3 >/dev/null || return 1
		kill -KILL $pid
		wait $pid 2>/dev/null
		ip netns del $ns
	done
}
ktap_test_result "namespaces: $NETNS netns destroyed with filled and held sockets killed unclosed" \
	namespaces
# Every netns went (cleanup_net runs later, in a worker): then udprx unloads.
ktap_test_result "namespaces: udprx unloads after them (nothing holds it)" \
	slowwait 60 rmmod udprx
udprx_load || ktap_exit_fail_msg "insmod failed"

# A socket opened in one netns and handed to a process in another lives where it was
# opened (as a socket() does): it binds there and gets that netns's datagrams only.
passed_fd() {
	setup_ns NA NB || ktap_exit_fail_msg "cannot create two netns"
	defer cleanup_ns "$NA" "$NB"
	ip netns exec "$NA" bash -c "exec 5<>/dev/udprx; exec nsenter --net=/run/netns/$NB \
		udprx recv --fd 5 --port $P --count 3 --timeout 60" >"$tmp/fd.out" 2>"$tmp/fd.err" &
	local pid=$!
	defer reader_stop $pid
	slowwait 15 udp_bound "$NA" $P || ktap_exit_fail_msg "passed fd: $(<"$tmp/fd.err")"
	snap B "$NB" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NB" --to 127.0.0.1:$P --count 2 >/dev/null
	udprx_send "$NA" --to 127.0.0.1:$P --count 3 >/dev/null
	wait $pid
	local rc=$?
	ktap_test_result "namespaces: a socket opened in one netns and used from another binds and receives in the first" \
		test "$rc" -eq 0 -a "$(wc -l < "$tmp/fd.out")" -eq 3
	expect_deltas "namespaces: the other netns's datagrams to that port are its own (NoPorts)" \
		"$NB" B UdpNoPorts=2 UdpRxHookSeen=2 UdpRxHookAccepted=2
}
in_defer_scope passed_fd

# --- concurrency -------------------------------------------------------------------------
race() {
	local files=$1 threads=$2 what conservation
	what="race: $threads threads on $files socket(s), 2 senders"
	conservation="race on $files socket(s): sent = backlog drops + seen, seen = read + dropped + freed at close (+ stock NoPorts, InErrors)"
	[ "$files" -gt 1 ] && what+=", sockets closed and reopened"
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	local drop0
	drop0=$(__softnet_dropped)
	udprx -n "$NS" stress race --port $P --files "$files" --threads "$threads" \
		--seconds "$RACE_S" >"$tmp/race" || { ktap_test_fail "$what"; ktap_test_fail "$conservation"; return; }
	ktap_test_pass "$what ($(<"$tmp/race"))"
	local sent read
	sent=$(json_get "$(<"$tmp/race")" sent) read=$(json_get "$(<"$tmp/race")" read)
	snap AFTER "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	local c
	for c in UdpRxHookSeen UdpRxInDatagrams UdpRxInErrors UdpRxDropSOCKET_CLOSE UdpNoPorts \
		UdpInErrors; do
		printf -v "D_$c" '%s' $((AFTER[$c] - ${B[$c]:-0}))
	done
	local d_backlog=$(($(__softnet_dropped) - drop0))
	# A port whose socket is being replaced has none for a moment: stock NoPorts.
	ktap_print_msg "race: sent $sent, dropped before IP (softnet backlog) $d_backlog, seen $D_UdpRxHookSeen, read $D_UdpRxInDatagrams ($read), errors $D_UdpRxInErrors, freed at close $D_UdpRxDropSOCKET_CLOSE, stock NoPorts $D_UdpNoPorts, stock InErrors $D_UdpInErrors"
	ktap_test_result "$conservation" \
		test "$sent" -eq $((d_backlog + D_UdpRxHookSeen)) -a "$D_UdpRxHookSeen" -eq \
		$((D_UdpRxInDatagrams + D_UdpRxInErrors + D_UdpRxDropSOCKET_CLOSE + D_UdpNoPorts + D_UdpInErrors)) \
		-a "$read" -eq "$D_UdpRxInDatagrams"
}
# __softnet_dropped: packets every CPU's backlog dropped (/proc/net/softnet_stat, column 2).
__softnet_dropped() {
	local n=0 a b _
	while read -r a b _; do n=$((n + 16#$b)); done < /proc/net/softnet_stat
	echo $n
}
in_defer_scope race 1 4
in_defer_scope race 8 6

# --- hostile input -----------------------------------------------------------------------
hostile() {
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	recv_bg R "$NS" --port $P --quiet --timeout 600 || ktap_exit_fail_msg "hostile: reader"
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	# One protocol at a time, so that the IP counters below belong to one run. Datagrams
	# whose options ip_options_compile() refuses never reach LOCAL_IN: Ip: InHdrErrors
	# counts them. Fragments are reassembled before it: Ip: ReasmOKs counts the datagrams.
	local proto seen name ih0 ok0 fail0 ih ok fail frag opts
	local -A R0
	for proto in 17 $PROTO; do
		snap R0 "$NS" || ktap_exit_fail_msg "hostile: counters"
		ih0=$(ip_mib "$NS" InHdrErrors) && ok0=$(ip_mib "$NS" ReasmOKs) &&
			fail0=$(ip_mib "$NS" ReasmFails) || ktap_exit_fail_msg "hostile: Ip counters"
		udprx -n "$NS" stress mutate --to 127.0.0.1 --ports $P,$U --proto $proto \
			--count "$MUTATE" --seed $proto >"$tmp/m$proto" || ktap_exit_fail_msg "mutate $proto"
		if [ $proto = 17 ]; then seen=UdpRxHookSeen; else seen=UdpRxProtoInPackets; fi
		# Every datagram has arrived once the entry point has seen it or IP refused it.
		slowwait 60 __arrived "$NS" $seen "$ih0" "$MUTATE"
		ih=$(($(ip_mib "$NS" InHdrErrors) - ih0))
		ok=$(($(ip_mib "$NS" ReasmOKs) - ok0))
		fail=$(($(ip_mib "$NS" ReasmFails) - fail0))
		frag=$(json_get "$(<"$tmp/m$proto")" fragmented)
		opts=$(json_get "$(<"$tmp/m$proto")" with_options)
		snap AFTER "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
		name=$((AFTER[$seen] - ${R0[$seen]:-0}))
		ktap_print_msg "hostile $proto: sent $MUTATE ($opts with IP options, $frag fragmented): $seen $name, Ip InHdrErrors $ih, ReasmOKs $ok, ReasmFails $fail"
		ktap_test_result "hostile: $MUTATE mutated datagrams on $proto: seen by udprx + refused by IP (InHdrErrors), every fragmented one reassembled" \
			test "$name" -eq $((MUTATE - ih)) -a "$ok" -eq "$frag" -a "$fail" -eq 0 \
			-a "$ih" -gt 0 -a "$ih" -le "$opts" -a "$frag" -gt 0
	done
	# The reader blocks SIGTERM while it waits for datagrams: kill it; its close frees
	# what is still queued (SOCKET_CLOSE).
	kill -KILL "$R_pid"
	wait "$R_pid" 2>/dev/null
	snap AFTER "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	local c d=()
	for c in UdpRxHookSeen UdpRxHookStolen UdpRxHookAccepted UdpRxProtoInPackets \
		UdpRxInDatagrams UdpRxInErrors UdpRxNoPorts UdpRxDropSOCKET_CLOSE UdpNoPorts \
		UdpInErrors UdpInDatagrams; do
		d+=("$c=$((AFTER[$c] - ${B[$c]:-0}))")
		printf -v "D_$c" '%s' $((AFTER[$c] - ${B[$c]:-0}))
	done
	ktap_print_msg "hostile: ${d[*]}"
	ktap_test_result "hostile: what udprx took = read + InErrors + NoPorts + freed at close" \
		test $((D_UdpRxHookStolen + D_UdpRxProtoInPackets)) -eq \
		$((D_UdpRxInDatagrams + D_UdpRxInErrors + D_UdpRxNoPorts + D_UdpRxDropSOCKET_CLOSE))
	ktap_test_result "hostile: what the hook let through = stock NoPorts + InErrors" \
		test "$D_UdpRxHookAccepted" -eq $((D_UdpNoPorts + D_UdpInErrors + D_UdpInDatagrams))
}
# __arrived NETNS SEEN IH0 N: whether udprx's counter SEEN (since snapshot R0) and the
# datagrams IP refused (InHdrErrors, from IH0) make N.
__arrived() {
	local ih
	snap AFTER "$1" && ih=$(ip_mib "$1" InHdrErrors) &&
		[ $((AFTER[$2] - ${R0[$2]:-0} + ih - $3)) -ge "$4" ]
}
in_defer_scope hostile

fuzz() {
	local who=$1 out rc
	shift
	setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
	defer cleanup_ns "$NS"
	out=$(ip netns exec "$NS" "$@" udprx stress ioctl-fuzz --count "$IOCTLS" --seed 7 --port $P 2>&1)
	rc=$?
	ktap_print_msg "ioctl-fuzz as $who (exit $rc): $out"
	[ $rc -eq 0 ] && [[ $out == *'"calls":'* && $out == *'"binds_ok":0'* ]]
	ktap_test_result "hostile: $IOCTLS random ioctls/reads/writes/polls as $who: clean errors, no bind" \
		[ $? -eq 0 ]
}
in_defer_scope fuzz nobody setpriv --reuid=65534 --regid=65534 --clear-groups
in_defer_scope fuzz "root without CAP_NET_ADMIN" setpriv --inh-caps=-net_admin --bounding-set=-net_admin

# --- fault injection ---------------------------------------------------------------------
DBG=/sys/kernel/debug
faults_arm() {
	mountpoint -q $DBG || mount -t debugfs none $DBG || return 1
	local f
	for f in failslab fail_page_alloc; do
		echo N > $DBG/$f/ignore-gfp-wait || return 1
		echo 0 > $DBG/$f/verbose || return 1
	done
	echo N > $DBG/fail_page_alloc/ignore-gfp-highmem
	echo 0 > $DBG/fail_page_alloc/min-order
}
# fault_ok JSON: at least one point; every outcome an errno or "absorbed" (the kernel did
# without the allocation); and the run complete (the operation succeeded with no fault
# left) unless it was cut at --max. A crash, a hang or a leak fails the run elsewhere
# (the console scan, the runner's timeout, kmemleak).
fault_ok() {
	[[ $1 =~ \"points\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] &&
		[[ $1 =~ \"outcomes\":\{(\"(E[A-Z]+|absorbed)\":[0-9]+,?)*\} ]] &&
		[[ $1 == *'"complete":true'* || $1 == *'"cut":true'* ]]
}
# fault_none JSON: no allocation to fail (0 points), and the operation succeeded.
fault_none() {
	[[ $1 =~ \"points\":0[,}] ]] && [[ $1 == *'"complete":true'* ]]
}
fault() {
	local op=$1 out rc
	shift
	out=$(udprx stress fault --op "$op" "$@" 2>&1)
	rc=$?
	ktap_print_msg "fault $op (exit $rc): $out"
	[ $rc -eq 0 ] && fault_ok "$out"
	ktap_test_result "fault injection: each allocation of $op failed in turn: an errno or absorbed, then success" \
		[ $? -eq 0 ]
}
faults_arm || ktap_exit_fail_msg "cannot arm failslab/fail_page_alloc in debugfs"
# The console scan lets the stacks of injected allocation failures pass between these.
echo "udprx-fault-injection: begin" > /dev/kmsg
defer eval 'echo "udprx-fault-injection: end" > /dev/kmsg'
setup_ns FNS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$FNS"
fault open
ip netns exec "$FNS" udprx stress fault --op bind --port $P > "$tmp/fbind" 2>&1
rc=$?
ktap_print_msg "fault bind (exit $rc): $(<"$tmp/fbind")"
[ $rc -eq 0 ] && fault_ok "$(<"$tmp/fbind")"
ktap_test_result "fault injection: each allocation of bind failed in turn: an errno or absorbed, then success" \
	[ $? -eq 0 ]
fault filter
# Setting the receive buffer allocates nothing: armed at the first allocation, it succeeds
# and no fault fires.
out=$(ip netns exec "$FNS" udprx stress fault --op rcvbuf --port $P 2>&1)
rc=$?
ktap_print_msg "fault rcvbuf (exit $rc): $out"
[ $rc -eq 0 ] && fault_none "$out"
ktap_test_result "fault injection: set-rcvbuf allocates nothing (0 points, success)" [ $? -eq 0 ]
fault netns --max "$NETNS_FAULTS"
udprx_unload
fault insmod --module "$UDPRX_KO" --max "$INSMOD_FAULTS"
echo "udprx-fault-injection: end" > /dev/kmsg
udprx_load || ktap_exit_fail_msg "insmod after the faults failed"

udprx_unload
ktap_test_result "rmmod after the stress" test ! -d /sys/module/udprx
ktap_finished
