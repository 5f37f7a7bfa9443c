#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The bench's smoke run: `udprx bench --smoke`, one round of every variant of `make bench`
# with 2000 pktgen packets each, on this (debug) kernel. It asserts conservation only —
# timings are `make bench`'s, never a test's:
#  - traffic udprx lets through (no module, udprx loaded, the C twin, an empty nftables
#    chain): every packet sent is a stock NoPorts (and, with udprx, seen and accepted by its
#    hook);
#  - a stock socket, udprx modern and udprx classic, filled and read back, at saturation
#    with a reader on the other CPU, from pktgen threads on both CPUs (into one socket with
#    room for all, into two sockets, one each, and into one full socket), and from a
#    userspace sender over lo: sent = read + InErrors on the socket's counters,
#    InDatagrams = read (and for udprx, stolen = sent); with two sockets also, per socket,
#    sent = read + the socket's own drops.
# The smoke run takes the runs on both CPUs on any clock; `make bench` only with
# BENCH_CLOCK=wall.
# Exclusive (tests/settings): it loads and unloads udprx and the twin itself.

source "$(dirname "$0")/lib.sh"

TWIN_KO=${TWIN_KO:-$UDPRX_TOP/bench/twin/udprx_twin.ko}
CHECKS=22
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_print_header
ktap_set_plan $((CHECKS + 1))
[ -f "$TWIN_KO" ] || ktap_exit_fail_msg "no $TWIN_KO (make modules builds it)"
udprx_unload
rc=0
udprx bench --smoke --module "$UDPRX_KO" --twin "$TWIN_KO" >"$tmp/out" 2>"$tmp/err" || rc=$?
n=0
# One result per check, the first $CHECKS: more of them fail the last result, not the plan.
while read -r word status what; do
	[ "$word" = conservation ] || continue
	n=$((n + 1))
	[ "$n" -le "$CHECKS" ] || continue
	ktap_test_result "bench smoke: $what" [ "$status" = ok ]
done <"$tmp/out"
while [ "$n" -lt "$CHECKS" ]; do
	n=$((n + 1))
	ktap_test_fail "bench smoke: conservation check $n missing ($(tail -n 1 "$tmp/err"))"
done
grep -v '^conservation' "$tmp/out" | sed 's/^/# /'
[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/err"
ktap_test_result "bench smoke: udprx bench --smoke exits 0, with $CHECKS checks" \
	test "$rc" -eq 0 -a "$n" -eq "$CHECKS"
ktap_finished
