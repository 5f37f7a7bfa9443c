#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo` (runs inside the VM): load udprx, bind a udprx socket (port 7000) and a stock
# UDP socket (port 7001) in a fresh netns, send both the same traffic — valid datagrams,
# then one of each malformed kind — and print the receive-side Udp: counters of the stock
# socket next to udprx's UdpRx: counters, then the drop reasons and the hook's view.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/target/release:$PATH"
proto=253
ns=udprx-demo

insmod "$top/udprx.ko" proto=$proto
ip netns add $ns
ip -n $ns link set lo up
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del $ns
	rmmod udprx
}
trap cleanup EXIT
in_ns() { ip netns exec $ns "$@"; }

echo "== udprx loaded (proto=$proto); netns $ns: udprx socket on :7000, stock socket on :7001"
for side in udprx stock; do
	port=7000 flag=""
	[ $side = stock ] && port=7001 flag=--stock
	in_ns udprx recv --port $port $flag --quiet --timeout 120 > "/tmp/demo.$side" 2> "/tmp/demo.$side.err" &
	pids+=($!)
	until grep -q "bound to port" "/tmp/demo.$side.err"; do sleep 0.1; done
done
in_ns udprx stat > /tmp/demo.before

traffic=(
	"--count 20 --size 100:20 valid datagrams"
	"--csum zero:zero checksum (none)"
	"--csum bad --size 32:bad checksum (found on arrival)"
	"--csum bad --size 200:bad checksum (found when read)"
	"--ulen 300:UDP length > datagram"
	"--ulen 4:UDP length < 8"
	"--ulen 30 --size 64:UDP length < datagram (trimmed)"
	"--truncate 4:4 bytes: no room for a header"
)
for t in "${traffic[@]}"; do
	args=${t%%:*}
	echo "-- ${t#*:}"
	for port in 7000 7001; do
		# shellcheck disable=SC2086
		in_ns udprx send --to 127.0.0.1:$port $args > /dev/null
	done
done
echo "-- 3 datagrams to a closed port"
in_ns udprx send --to 127.0.0.1:7999 --count 3 --expect-unreach > /dev/null
echo "-- 3 datagrams to a closed port, protocol $proto"
in_ns udprx send --to 127.0.0.1:7999 --proto $proto --count 3 --expect-unreach > /dev/null

# Readers count at read time: wait until both have read what can be delivered (22 each).
want=$(( $(awk '$1 == "UdpInDatagrams" { print $2 }' /tmp/demo.before) + 22 ))
until [ "$(in_ns udprx stat | awk '$1 == "UdpInDatagrams" { print $2 }')" -ge "$want" ]; do
	sleep 0.2
done
in_ns udprx stat > /tmp/demo.after

echo
echo "== receive-side counters, deltas (stock Udp: socket on :7001, udprx UdpRx: on :7000)"
awk 'NR == FNR { b[$1] = $2; next } { d[$1] = $2 - b[$1] }
	END {
		printf "%-16s %8s %8s\n", "counter", "stock", "udprx"
		n = split("InDatagrams NoPorts InErrors RcvbufErrors InCsumErrors MemErrors", c, " ")
		for (i = 1; i <= n; i++)
			printf "%-16s %8d %8d%s\n", c[i], d["Udp" c[i]], d["UdpRx" c[i]],
				(d["Udp" c[i]] == d["UdpRx" c[i]]) ? "" : "   (differs)"
	}' /tmp/demo.before /tmp/demo.after
echo "(the closed-port datagrams on protocol 17 are not udprx's: the hook passes them to"
echo " the stock path; those on protocol $proto are udprx's NoPorts)"
echo
echo "== /proc/net/udprx in $ns"
in_ns cat /proc/net/udprx

# The receive queue: the same 20 datagrams of 1000 bytes to a stock socket and to udprx
# sockets under both policies, each with SO_RCVBUF 4096 and nobody reading.
kill "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
pids=()
echo
echo "== receive queue: 20 x 1000 bytes, SO_RCVBUF 4096, no reads"
printf '%-8s %9s %9s %10s %7s %6s\n' side sk_rcvbuf delivered rmem_alloc drops model
for side in stock modern classic; do
	case $side in
	stock) args=(--stock) ;;
	*) args=(--policy "$side") ;;
	esac
	in_ns udprx recv --port 7100 "${args[@]}" --rcvbuf 4096 --no-read --timeout 120 \
		> /tmp/demo.q 2> /tmp/demo.q.err &
	pid=$!
	until grep -q "bound to port" /tmp/demo.q.err; do sleep 0.1; done
	seen0=$(in_ns udprx stat | awk '$1 == "UdpRxHookSeen" { print $2 }')
	in_ns udprx send --to 127.0.0.1:7100 --count 20 --size 1000 > /dev/null
	until [ "$(in_ns udprx stat | awk '$1 == "UdpRxHookSeen" { print $2 }')" -ge $((seen0 + 20)) ]; do
		sleep 0.1
	done
	kill -TERM $pid; wait $pid
	j=$(cat /tmp/demo.q)
	get() { sed -n "s/.*\"before_read\":{[^}]*\"$1\":\([0-9-]*\).*/\1/p" <<<"$j"; }
	delivered=$(sed -n 's/.*"delivered":\([0-9]*\).*/\1/p' <<<"$j")
	rmem=$(get rmem_alloc) rcv=$(get rcvbuf) drops=$(get drops)
	model=-
	if [ $side != stock ] && [ "$delivered" -gt 0 ]; then
		ts=$((rmem / delivered))
		model=$(in_ns udprx model --policy $side --sk-rcvbuf "$rcv" --truesize $ts --count 20 |
			sed -n 's/.*"delivered":\([0-9]*\).*/\1/p')
	fi
	printf '%-8s %9s %9s %10s %7s %6s\n' $side "$rcv" "$delivered" "$rmem" "$drops" "$model"
done
echo "(modern follows 7.3's __udp_enqueue_schedule_skb: drop when rmem + truesize > rcvbuf;"
echo " classic follows 3.13: queue while rmem < rcvbuf, so one more datagram gets in)"
