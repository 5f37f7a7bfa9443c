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
KTAP_PLAN=""
ktap_set_plan() { KTAP_PLAN=$1; echo "1..$1"; }
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
# ktap_bail_out REASON: a setup step failed, nothing after it can run (KTAP "Bail out!").
ktap_bail_out() {
	echo "Bail out! $*"
	exit $ksft_fail
}
ktap_finished() {
	local ran=$((KTAP_TESTNO - 1))
	if [ -n "$KTAP_PLAN" ] && [ "$ran" -ne "$KTAP_PLAN" ]; then
		echo "# planned $KTAP_PLAN tests, ran $ran"
		KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + 1))
	fi
	echo "# Totals: pass:$KTAP_CNT_PASS fail:$KTAP_CNT_FAIL xfail:0 xpass:0 skip:$KTAP_CNT_SKIP error:0"
	if [ "$KTAP_CNT_FAIL" -gt 0 ]; then exit $ksft_fail; fi
	if [ "$KTAP_CNT_SKIP" -gt 0 ] && [ "$KTAP_CNT_PASS" -eq 0 ]; then exit $ksft_skip; fi
	exit $ksft_pass
}

# --- defer: cleanup actions in scopes, as lib/sh/defer.sh ------------------------------
# `defer CMD ARG...` schedules CMD with its arguments quoted as given (${@@Q}); the
# actions of a scope run in reverse order when it is popped, those of every scope still
# open at exit. Each test case runs in a scope of its own (`in_scope`), so its namespaces
# and readers do not outlive it.
__DEFER_SCOPE=0
declare -A __DEFER_JOBS=() __DEFER_N=([0]=0)
defer() {
	local n=${__DEFER_N[$__DEFER_SCOPE]}
	__DEFER_JOBS[$__DEFER_SCOPE,$n]="${*@Q}"
	__DEFER_N[$__DEFER_SCOPE]=$((n + 1))
}
defer_scope_push() {
	__DEFER_SCOPE=$((__DEFER_SCOPE + 1))
	__DEFER_N[$__DEFER_SCOPE]=0
}
defer_scope_pop() {
	local i
	for ((i = ${__DEFER_N[$__DEFER_SCOPE]} - 1; i >= 0; i--)); do
		eval "${__DEFER_JOBS[$__DEFER_SCOPE,$i]}" || true
		unset "__DEFER_JOBS[$__DEFER_SCOPE,$i]"
	done
	__DEFER_N[$__DEFER_SCOPE]=0
	[ "$__DEFER_SCOPE" -gt 0 ] && __DEFER_SCOPE=$((__DEFER_SCOPE - 1))
	return 0
}
defer_scopes_cleanup() {
	while [ "$__DEFER_SCOPE" -gt 0 ]; do defer_scope_pop; done
	defer_scope_pop
}
trap defer_scopes_cleanup EXIT
# in_scope CMD ARG...: run CMD in a cleanup scope of its own; its status is CMD's.
in_scope() {
	local rc
	defer_scope_push
	"$@"
	rc=$?
	defer_scope_pop
	return $rc
}

# --- waiting ----------------------------------------------------------------------------
# slowwait SECONDS CMD ARG...: run CMD every 0.1 s until it succeeds (0) or SECONDS have
# passed (1), as selftests/net/lib.sh's slowwait. CMD runs in this shell, so it may set
# variables the caller reads.
slowwait() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

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
# udprx_load [PARAM=VALUE...]: load udprx (with these parameters) and unload it at exit.
# Under tests/run.sh a test not marked exclusive shares the module the runner loaded
# with default parameters (UDPRX_MODULE_SHARED=1): it must not ask for others (module
# parameters are not in sysfs, so they cannot be checked), and it leaves the module be.
udprx_load() {
	if [ -n "${UDPRX_MODULE_SHARED:-}" ]; then
		if [ $# -gt 0 ]; then
			ktap_print_msg "udprx_load $*: a test that needs module parameters must be exclusive (tests/settings)"
			return 1
		fi
		[ -d /sys/module/udprx ] || { ktap_print_msg "the shared udprx is not loaded"; return 1; }
		return 0
	fi
	if [ -d /sys/module/udprx ]; then rmmod udprx || return 1; fi
	insmod "$UDPRX_KO" "$@" || return 1
	defer udprx_unload
}
# udprx_unload: rmmod udprx if it is loaded.
udprx_unload() {
	if [ -d /sys/module/udprx ]; then rmmod udprx; fi
}

# --- counters -----------------------------------------------------------------------
# counter NAME [NETNS]: one value of `udprx stat` (e.g. UdpNoPorts, UdpRxHookSeen).
counter() {
	local name=$1 ns=${2:-} out
	if [ -n "$ns" ]; then
		out=$(udprx -n "$ns" stat) || return 1
	else
		out=$(udprx stat) || return 1
	fi
	awk -v n="$name" '$1 == n { print $2; found = 1 } END { exit !found }' <<<"$out"
}

# snap ARRAY [NETNS]: every `udprx stat` counter of the netns into the associative array
# ARRAY (declare -A it first). One exec of udprx; parsing stays in the shell.
snap() {
	local -n __snap=$1
	local ns=${2:-} out name value
	if [ -n "$ns" ]; then
		out=$(udprx -n "$ns" stat) || return 1
	else
		out=$(udprx stat) || return 1
	fi
	__snap=()
	while read -r name value; do
		[ "${name:0:1}" = "#" ] && continue
		__snap[$name]=$value
	done <<<"$out"
}

# The receive-side counters a delta check covers even when not named: they must not move.
STRICT_COUNTERS_RE='^(UdpRx(InDatagrams|NoPorts|InErrors|RcvbufErrors|InCsumErrors|MemErrors|IgnoredMulti)|UdpRxDrop.*|Udp(InDatagrams|NoPorts|InErrors|RcvbufErrors|InCsumErrors|MemErrors|IgnoredMulti))$'

# deltas_match BEFORE AFTER NAME=N...: whether AFTER-BEFORE is N for each NAME and 0 for
# every other strict counter; sets DELTA_DIFF to a description of the mismatches.
deltas_match() {
	local -n __b=$1 __a=$2
	shift 2
	local -A want=()
	local kv name d
	DELTA_DIFF=""
	for kv in "$@"; do want[${kv%%=*}]=${kv#*=}; done
	for name in "${!__a[@]}"; do
		[[ $name =~ $STRICT_COUNTERS_RE ]] || [ -n "${want[$name]+x}" ] || continue
		d=$(( ${__a[$name]} - ${__b[$name]:-0} ))
		if [ "$d" -ne "${want[$name]:-0}" ]; then
			DELTA_DIFF+=" $name:+$d(want +${want[$name]:-0})"
		fi
	done
	for name in "${!want[@]}"; do
		[ -n "${__a[$name]+x}" ] || DELTA_DIFF+=" $name:missing"
	done
	[ -z "$DELTA_DIFF" ]
}

# expect_deltas DESC NETNS BEFORE NAME=N...: one KTAP result. Counters of a reader are
# bumped when it reads, so this polls (slowwait, 15 s) until the deltas match, then passes;
# on timeout it fails and prints the difference. AFTER holds the last snapshot.
declare -A AFTER
__deltas_now() {
	local ns=$1 before=$2
	shift 2
	snap AFTER "$ns" && deltas_match "$before" AFTER "$@"
}
expect_deltas() {
	local desc=$1 ns=$2 before=$3
	shift 3
	if slowwait 15 __deltas_now "$ns" "$before" "$@"; then
		ktap_test_pass "$desc"
		return 0
	fi
	ktap_print_msg "$desc:$DELTA_DIFF"
	ktap_test_fail "$desc"
	return 1
}

# json_get JSON [OBJECT] KEY: a number (or true/false) from the flat JSON udprx prints,
# inside the named nested object if given. Pure bash: no exec per lookup.
json_get() {
	local json=$1 obj key
	if [ $# -eq 3 ]; then
		obj=$2 key=$3
		[[ $json =~ \"$obj\":\{([^}]*)\} ]] || return 1
		json=${BASH_REMATCH[1]}
	else
		key=$2
	fi
	[[ $json =~ \"$key\":(-?[0-9]+|true|false) ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

# udp_bound NETNS PORT: whether a UDP socket is bound to PORT in NETNS (a udprx socket's
# backing socket counts: it holds the port in the stock tables).
udp_bound() { ip netns exec "$1" ss -Hunl "sport = :$2" | grep -q .; }

# ip_mib NETNS NAME: the stock IP counter NAME (InHdrErrors, ReasmOKs, ...) of NETNS, from
# the Ip: lines of /proc/net/snmp.
ip_mib() {
	ip netns exec "$1" awk -v n="$2" '
		/^Ip:/ && !c { for (i = 2; i <= NF; i++) if ($i == n) c = i; next }
		/^Ip:/ && c { print $c; found = 1 }
		END { exit !found }' /proc/net/snmp
}

# --- readers --------------------------------------------------------------------------
# udprx_bg NAME NETNS READY UDPRX-ARGS...: start `udprx UDPRX-ARGS...` in NETNS in the
# background; sets NAME_pid, NAME_out and NAME_err, and returns once it printed READY on
# stderr (or it is gone, then 1).
udprx_bg() {
	local name=$1 ns=$2 ready=$3
	shift 3
	local out err
	out=$(mktemp) err=$(mktemp)
	defer rm -f "$out" "$err"
	udprx -n "$ns" "$@" >"$out" 2>"$err" &
	local pid=$!
	defer reader_stop "$pid"
	printf -v "${name}_pid" '%s' "$pid"
	printf -v "${name}_out" '%s' "$out"
	printf -v "${name}_err" '%s' "$err"
	slowwait 30 __settled "$pid" "$err" "$ready"
	[[ $(<"$err") == *"$ready"* ]] && return 0
	ktap_print_msg "udprx $1 did not get ready: $(<"$err")"
	return 1
}
# __settled PID ERR READY: the process said READY, or it is gone.
__settled() {
	[[ $(<"$2") == *"$3"* ]] || ! kill -0 "$1" 2>/dev/null
}
# recv_bg NAME NETNS RECV-ARGS...: `udprx recv` in the background, once its socket is bound.
recv_bg() {
	local name=$1 ns=$2
	shift 2
	udprx_bg "$name" "$ns" "bound to port" recv "$@"
}
# reader_stop PID: kill a reader if it still runs, and reap it.
reader_stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
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
