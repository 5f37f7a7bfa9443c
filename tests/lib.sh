# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for udprx selftests, in the style of tools/testing/selftests/net/lib.sh and
# kselftest/ktap_helpers.sh: KTAP output, kselftest exit codes, netns setup and a
# `defer` stack that undoes setup on exit.

UDPRX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UDPRX_KO=${UDPRX_KO:-$UDPRX_TOP/udprx.ko}
export PATH="$UDPRX_TOP/target/release:$PATH"

# kselftest exit codes
ksft_pass=0
ksft_fail=1
ksft_skip=4

KTAP_TESTNO=1
KTAP_CNT_PASS=0
KTAP_CNT_FAIL=0
KTAP_CNT_SKIP=0

ktap_print_header() { echo "TAP version 13"; }
ktap_set_plan() { echo "1..$1"; }
ktap_print_msg() { echo "# $*"; }
ktap_test_pass() {
	echo "ok $KTAP_TESTNO $*"
	KTAP_TESTNO=$((KTAP_TESTNO + 1)); KTAP_CNT_PASS=$((KTAP_CNT_PASS + 1))
}
ktap_test_fail() {
	echo "not ok $KTAP_TESTNO $*"
	KTAP_TESTNO=$((KTAP_TESTNO + 1)); KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + 1))
}
ktap_test_skip() {
	echo "ok $KTAP_TESTNO $* # SKIP"
	KTAP_TESTNO=$((KTAP_TESTNO + 1)); KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
}
# ktap_test_result DESC CMD...: pass if CMD succeeds.
ktap_test_result() {
	local desc=$1; shift
	if "$@"; then ktap_test_pass "$desc"; else ktap_test_fail "$desc"; fi
}
ktap_finished() {
	echo "# Totals: pass:$KTAP_CNT_PASS fail:$KTAP_CNT_FAIL xfail:0 xpass:0 skip:$KTAP_CNT_SKIP error:0"
	if [ "$KTAP_CNT_FAIL" -gt 0 ]; then exit $ksft_fail; fi
	if [ "$KTAP_CNT_SKIP" -gt 0 ] && [ "$KTAP_CNT_PASS" -eq 0 ]; then exit $ksft_skip; fi
	exit $ksft_pass
}

# --- defer: cleanup actions run in reverse order at exit ----------------------------
__DEFER=()
defer() { __DEFER+=("$*"); }
defer_run_all() {
	local i
	for ((i = ${#__DEFER[@]} - 1; i >= 0; i--)); do eval "${__DEFER[i]}" || true; done
	__DEFER=()
}
trap defer_run_all EXIT

# --- network namespaces ------------------------------------------------------------
# setup_ns NAME...: create one netns per NAME, with lo up, and set $NAME to its name.
setup_ns() {
	local var ns
	for var in "$@"; do
		ns="$var-$(mktemp -u XXXXXX)"
		ip netns add "$ns" || return 1
		defer ip netns del "$ns"
		ip -n "$ns" link set lo up || return 1
		printf -v "$var" '%s' "$ns"
	done
}

# --- the module ---------------------------------------------------------------------
udprx_load() {
	if [ -d /sys/module/udprx ]; then rmmod udprx || return 1; fi
	insmod "$UDPRX_KO" "$@" || return 1
	defer 'if [ -d /sys/module/udprx ]; then rmmod udprx; fi'
}

# --- counters -----------------------------------------------------------------------
# counter NAME [NETNS]: one value of `udprx stat` (e.g. UdpNoPorts, UdpRxHookSeen).
counter() {
	local name=$1 ns=${2:-} out
	if [ -n "$ns" ]; then
		out=$(ip netns exec "$ns" udprx stat) || return 1
	else
		out=$(udprx stat) || return 1
	fi
	awk -v n="$name" '$1 == n { print $2; found = 1 } END { exit !found }' <<<"$out"
}

# check_delta DESC EXPECTED BEFORE AFTER: one KTAP result, with the numbers on failure.
check_delta() {
	local desc=$1 want=$2 before=$3 after=$4
	if [ "$((after - before))" -eq "$want" ]; then
		ktap_test_pass "$desc"
	else
		ktap_print_msg "$desc: expected +$want, got $before -> $after (+$((after - before)))"
		ktap_test_fail "$desc"
	fi
}
