#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The receive queue: sk_rcvbuf / sk_rmem_alloc / backlog / drops under both policies.
#  - fill without reading: a stock UDP socket and udprx sockets (modern, classic) with the
#    same SO_RCVBUF get the same datagrams; modern must equal stock on every number
#    (delivered, RcvbufErrors, InErrors, the drops column of /proc/net/udp, rmem), and each
#    policy must equal what the accounting model (`udprx model`) predicts;
#  - hold → traffic → release: classic takes the backlog path and its limit, modern does
#    not (7.3 UDP never backlogs);
#  - receive-buffer options: SO_RCVBUF doubling, clamping to rmem_max, SOCK_MIN_RCVBUF,
#    SO_RCVBUFFORCE (and EPERM without CAP_NET_ADMIN), the default, all equal to a stock
#    socket's;
#  - close with datagrams queued frees them (SOCKET_CLOSE), reads uncharge everything;
#  - a reader racing a sender on two CPUs loses nothing: sent = read + dropped.

source "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 24

udprx_load || ktap_exit_fail_msg "insmod failed"
tmp=$(mktemp -d)
defer rm -rf "$tmp"
declare -A B

RCVBUF=4096     # SO_RCVBUF value: sk_rcvbuf 8192
SIZE=1000
N=20

# keep NAME NETNS RECV-ARGS...: a reader that binds and keeps its socket (--no-read).
keep() { recv_bg "$@" --no-read --timeout 600; }
# finish NAME: SIGTERM the reader, wait, and put its JSON in $NAME_json. A reader that
# fails or prints nothing ends the test: every check after it reads that JSON.
finish() {
	local name=$1 pid out err rc
	pid=${name}_pid out=${name}_out err=${name}_err
	kill -TERM "${!pid}"
	wait "${!pid}"
	rc=$?
	[ $rc -eq 0 ] && [ -s "${!out}" ] ||
		ktap_exit_fail_msg "reader $name: exit $rc, printed '$(<"${!out}")': $(<"${!err}")"
	printf -v "${name}_json" '%s' "$(<"${!out}")"
}
# wait_seen NETNS N: until the hook has seen N more UDP datagrams than in $B (10 s).
__seen_at_least() {
	local -A S
	snap S "$1" && [ "${S[UdpRxHookSeen]}" -ge "$2" ]
}
wait_seen() {
	slowwait 10 __seen_at_least "$1" $(( ${B[UdpRxHookSeen]} + $2 ))
}
# check_eq DESC A B: A = B, where A and B are values separated by single spaces. A value
# that could not be read (empty) fails, even on both sides.
check_eq() {
	local v
	for v in "$2" "$3"; do
		if [ -z "$v" ] || [[ $v == " "* || $v == *" " || $v == *"  "* ]]; then
			ktap_print_msg "$1: a value is missing: '$2', '$3'"
			ktap_test_fail "$1"
			return
		fi
	done
	if [ "$2" = "$3" ]; then ktap_test_pass "$1"; else
		ktap_print_msg "$1: $2 != $3"; ktap_test_fail "$1"; fi
}

# --- fill without reading: stock, modern, classic -------------------------------------------
defer_scope_push
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"
keep ST "$NS" --port 7001 --stock --rcvbuf $RCVBUF || ktap_exit_fail_msg "stock reader"
keep MO "$NS" --port 7002 --policy modern --rcvbuf $RCVBUF || ktap_exit_fail_msg "modern reader"
keep CL "$NS" --port 7003 --policy classic --rcvbuf $RCVBUF || ktap_exit_fail_msg "classic reader"

declare -A D_stock D_modern D_classic
for side in stock modern classic; do
	case $side in stock) port=7001 ;; modern) port=7002 ;; classic) port=7003 ;; esac
	snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	udprx_send "$NS" --to 127.0.0.1:$port --count $N --size $SIZE > /dev/null
	wait_seen "$NS" $N || ktap_print_msg "$side: the hook did not see $N datagrams"
	declare -n D=D_$side
	snap AFTER "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
	for c in RcvbufErrors InErrors; do
		D[Udp$c]=$(( ${AFTER[Udp$c]} - ${B[Udp$c]} ))
		D[UdpRx$c]=$(( ${AFTER[UdpRx$c]} - ${B[UdpRx$c]} ))
	done
	unset -n D
done
finish ST; finish MO; finish CL
for v in ST MO CL; do j=${v}_json; ktap_print_msg "$v: ${!j}"; done

st_del=$(json_get "$ST_json" delivered)
mo_del=$(json_get "$MO_json" delivered)
cl_del=$(json_get "$CL_json" delivered)
rcv=$(json_get "$MO_json" before_read rcvbuf)
mo_rmem=$(json_get "$MO_json" before_read rmem_alloc)
mo_q=$(json_get "$MO_json" before_read queued)
truesize=$(( mo_q > 0 ? mo_rmem / mo_q : 0 ))
ktap_print_msg "sk_rcvbuf $rcv, truesize $truesize, delivered: stock $st_del modern $mo_del classic $cl_del"
check_eq "fill: truesize measured (rmem_alloc is a multiple of it)" "$(( mo_q > 0 && mo_rmem % mo_q == 0 ))" 1
check_eq "fill: modern delivers what stock delivers" "$mo_del" "$st_del"
check_eq "fill: modern RcvbufErrors = stock RcvbufErrors" "${D_modern[UdpRxRcvbufErrors]}" "${D_stock[UdpRcvbufErrors]}"
check_eq "fill: modern InErrors = stock InErrors" "${D_modern[UdpRxInErrors]}" "${D_stock[UdpInErrors]}"
check_eq "fill: modern socket drops = stock /proc/net/udp drops" \
	"$(json_get "$MO_json" before_read drops)" "$(json_get "$ST_json" before_read proc_net_udp_drops)"
check_eq "fill: modern rmem_alloc = stock rmem_alloc (SO_MEMINFO)" \
	"$mo_rmem" "$(json_get "$ST_json" before_read rmem_alloc)"
check_eq "fill: same sk_rcvbuf as stock" "$rcv" "$(json_get "$ST_json" before_read rcvbuf)"

model() { udprx -n "$NS" model --sk-rcvbuf "$rcv" --truesize "$truesize" --count $N "$@"; }
pm=$(model --policy modern) || ktap_exit_fail_msg "udprx model --policy modern failed"
pc=$(model --policy classic) || ktap_exit_fail_msg "udprx model --policy classic failed"
ktap_print_msg "model modern: $pm"
ktap_print_msg "model classic: $pc"
check_eq "fill: modern = model (delivered, RcvbufErrors, InErrors)" \
	"$mo_del ${D_modern[UdpRxRcvbufErrors]} ${D_modern[UdpRxInErrors]}" \
	"$(json_get "$pm" delivered) $(json_get "$pm" RcvbufErrors) $(json_get "$pm" InErrors)"
check_eq "fill: classic = model (delivered, RcvbufErrors, InErrors)" \
	"$cl_del ${D_classic[UdpRxRcvbufErrors]} ${D_classic[UdpRxInErrors]}" \
	"$(json_get "$pc" delivered) $(json_get "$pc" RcvbufErrors) $(json_get "$pc" InErrors)"
check_eq "fill: reading everything uncharges everything (modern, classic, stock)" \
	"$(json_get "$MO_json" after_read rmem_alloc) $(json_get "$CL_json" after_read rmem_alloc) $(json_get "$ST_json" after_read rmem_alloc)" \
	"0 0 0"
defer_scope_pop

# --- hold, traffic, release -----------------------------------------------------------------
defer_scope_push
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"
recv_bg HC "$NS" --port 7003 --policy classic --rcvbuf $RCVBUF --hold --timeout 600 || ktap_exit_fail_msg "classic reader"
recv_bg HM "$NS" --port 7002 --policy modern --rcvbuf $RCVBUF --hold --timeout 600 || ktap_exit_fail_msg "modern reader"
snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
udprx_send "$NS" --to 127.0.0.1:7003 --count $N --size $SIZE > /dev/null
udprx_send "$NS" --to 127.0.0.1:7002 --count $N --size $SIZE > /dev/null
wait_seen "$NS" $((2 * N)) || ktap_print_msg "hold: the hook did not see $((2 * N)) datagrams"
finish HC; finish HM
ktap_print_msg "classic held: $HC_json"
ktap_print_msg "modern held: $HM_json"
ph=$(model --policy classic --hold) || ktap_exit_fail_msg "udprx model --policy classic --hold failed"
ktap_print_msg "model classic held: $ph"
check_eq "hold: classic arrivals go to the backlog, up to backlog.len + rmem > rcvbuf" \
	"$(json_get "$HC_json" held backlog_count) $(json_get "$HC_json" held queued)" \
	"$(json_get "$ph" held_backlog_count) 0"
check_eq "hold: classic backlog bytes = count x truesize" \
	"$(json_get "$HC_json" held backlog_len)" "$(( $(json_get "$ph" held_backlog_count) * truesize ))"
check_eq "release: the backlog drains through sock_queue_rcv_skb (delivered = model)" \
	"$(json_get "$HC_json" delivered) $(json_get "$HC_json" before_read backlog_len) $(json_get "$HC_json" before_read held)" \
	"$(json_get "$ph" delivered) 0 false"
check_eq "hold: modern (7.3 UDP) never backlogs: queued directly, as without hold" \
	"$(json_get "$HM_json" held backlog_count) $(json_get "$HM_json" delivered)" "0 $mo_del"
defer_scope_pop

# --- receive-buffer options, next to a stock socket; close; a reader racing a sender ---------
defer_scope_push
setup_ns NS || ktap_exit_fail_msg "cannot create a netns"
defer cleanup_ns "$NS"
rmem_max=$(</proc/sys/net/core/rmem_max)
rmem_default=$(</proc/sys/net/core/rmem_default)
# rcvbuf_of SIDE-ARGS...: the sk_rcvbuf a fresh socket ends up with.
rcvbuf_of() {
	local j
	j=$(udprx -n "$NS" recv --port 7010 --no-read --timeout 0 "$@" 2>/dev/null) || return 1
	json_get "$j" before_read rcvbuf
}
check_eq "default sk_rcvbuf: net.core.rmem_default, as a stock socket" \
	"$(rcvbuf_of) $(rcvbuf_of --stock)" "$rmem_default $rmem_default"
for v in 1 3000 $((rmem_max + 1)) -1; do
	stock=$(rcvbuf_of --stock --rcvbuf "$v")
	check_eq "SO_RCVBUF $v: same sk_rcvbuf as a stock socket ($stock)" \
		"$(rcvbuf_of --rcvbuf "$v")" "$stock"
done
check_eq "SO_RCVBUFFORCE $((rmem_max * 2)): ignores rmem_max, as a stock socket" \
	"$(rcvbuf_of --rcvbuf $((rmem_max * 2)) --force)" "$((rmem_max * 4))"
if ip netns exec "$NS" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
	udprx recv --port 7010 --no-read --timeout 0 --rcvbuf 100000 --force > /dev/null 2> "$tmp/eperm"; then
	ktap_test_fail "SO_RCVBUFFORCE without CAP_NET_ADMIN: EPERM"
else
	ktap_test_result "SO_RCVBUFFORCE without CAP_NET_ADMIN: EPERM" grep -q EPERM "$tmp/eperm"
fi

# --- close with data queued -------------------------------------------------------------------
snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
keep CQ "$NS" --port 7011 || ktap_exit_fail_msg "close: reader"
udprx_send "$NS" --to 127.0.0.1:7011 --count 5 --size 300 > /dev/null
wait_seen "$NS" 5 || ktap_print_msg "close: the hook did not see 5 datagrams"
kill -KILL "$CQ_pid"; wait "$CQ_pid" 2>/dev/null
expect_deltas "close with 5 datagrams queued: all freed as SOCKET_CLOSE, none read" "$NS" B \
	UdpRxDropSOCKET_CLOSE=5 UdpRxHookSeen=5 UdpRxHookStolen=5

# --- a reader racing a sender ------------------------------------------------------------------
M=3000
snap B "$NS" || ktap_exit_fail_msg "cannot read the counters (udprx stat)"
recv_bg RR "$NS" --port 7012 --quiet --timeout 600 || ktap_exit_fail_msg "race: reader"
udprx_send "$NS" --to 127.0.0.1:7012 --count $M --size 200 > /dev/null
wait_seen "$NS" $M || ktap_print_msg "race: the hook did not see $M datagrams"
# __all_accounted: every datagram read or dropped (sets read_n, drop_n when run in this
# shell: slowwait runs it in a subshell, so once more after it).
__all_accounted() {
	local -A R
	snap R "$NS" || return 1
	read_n=$(( ${R[UdpRxInDatagrams]} - ${B[UdpRxInDatagrams]} ))
	drop_n=$(( ${R[UdpRxRcvbufErrors]} - ${B[UdpRxRcvbufErrors]} ))
	[ $((read_n + drop_n)) -ge $M ]
}
slowwait 20 __all_accounted
__all_accounted
kill -TERM "$RR_pid"; wait "$RR_pid" || ktap_exit_fail_msg "race: reader exit $?: $(<"$RR_err")"
ktap_print_msg "race: $M sent, $read_n read, $drop_n dropped (RcvbufErrors), reader printed $(<"$RR_out")"
check_eq "race: every datagram read or dropped exactly once" "$((read_n + drop_n))" "$M"
check_eq "race: the reader's count is InDatagrams" "$(<"$RR_out")" "$read_n"
defer_scope_pop

ktap_finished
