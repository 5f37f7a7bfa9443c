# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for udprx selftests. The generic ones are the kernel's, copied unchanged into
# tests/lib/ (the first lines there say from where):
#  - kselftest/ktap_helpers.sh: KTAP output (ktap_print_header, ktap_set_plan,
#    ktap_print_msg, ktap_test_pass/fail, ktap_test_result DESC CMD...), "Bail out!" on a
#    failed setup step (ktap_exit_fail_msg REASON), and ktap_finished, which exits
#    KSFT_PASS (0) when the results that are ok make the plan, KSFT_FAIL (1) otherwise;
#  - net/lib/sh/defer.sh: `defer CMD ARG...` schedules CMD for the end of the scope, in
#    reverse order; each test case runs in a scope of its own (in_defer_scope CMD..., or
#    defer_scope_push ... defer_scope_pop), so its namespaces and readers do not outlive it;
#  - net/lib.sh: setup_ns NAME... (one netns per NAME, its name in $NAME; a NAME already
#    set is cleaned up and made again under that name), `defer cleanup_ns "$NAME"` to
#    remove it with the scope, slowwait SECONDS CMD... (CMD every 0.1 s until it succeeds).
# Their quirks the tests live with:
#  - ktap_test_result expands CMD unquoted: its arguments are split on blanks, and an
#    empty one vanishes. Give it words, e.g. [ "$rc" -eq 0 ], or run the command first;
#  - descriptions and messages are echoed unquoted too: blanks are squeezed, so tables go
#    out through sed 's/^/# /', and pathname expansion is off (set -f, below);
#  - slowwait runs CMD in a subshell: CMD cannot set variables for the caller;
#  - ktap_finished passes a test whose cases all skipped, or that printed one result too
#    many next to a "not ok": tests never skip, and tests/run.sh fails a test whose
#    output holds a "not ok" or a SKIP whatever its exit status.
# What follows is udprx's own.

UDPRX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UDPRX_KO=${UDPRX_KO:-$UDPRX_TOP/udprx.ko}
export PATH="$UDPRX_TOP/target/release:$PATH"

# shellcheck source=tests/lib/kselftest/ktap_helpers.sh
source "$UDPRX_TOP/tests/lib/kselftest/ktap_helpers.sh"
# shellcheck source=tests/lib/net/lib.sh
source "$UDPRX_TOP/tests/lib/net/lib.sh"
set -f
trap defer_scopes_cleanup EXIT
# The test's stdout, for a KTAP line printed where the caller sent stdout elsewhere.
exec {KTAP_OUT}>&1

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
# ARRAY (declare -A it first). One exec of udprx; parsing stays in the shell. Fails when
# udprx fails or prints no counter.
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
	[ ${#__snap[@]} -gt 0 ]
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
# bumped when it reads, so this polls (slowwait, 15 s) until the deltas match, then checks
# once more in this shell (slowwait's polls run in subshells), which sets AFTER to the
# last snapshot; it passes if they match, else fails and prints the difference.
declare -A AFTER
__deltas_now() {
	local ns=$1 before=$2
	shift 2
	snap AFTER "$ns" || { DELTA_DIFF=" udprx stat failed"; return 1; }
	deltas_match "$before" AFTER "$@"
}
expect_deltas() {
	local desc=$1 ns=$2 before=$3
	shift 3
	slowwait 15 __deltas_now "$ns" "$before" "$@"
	if __deltas_now "$ns" "$before" "$@"; then
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

# --- traffic ------------------------------------------------------------------------
# udprx_send NETNS SEND-ARGS...: `udprx -n NETNS send SEND-ARGS...`. A send that fails
# ends the test (Bail out!, on the test's stdout even when the caller's goes elsewhere):
# the checks after it would test nothing.
udprx_send() {
	local ns=$1
	shift
	udprx -n "$ns" send "$@" ||
		ktap_exit_fail_msg "udprx -n $ns send $*: exit $?" >&"$KTAP_OUT"
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
# A counter that could not be read (empty) fails.
check_delta() {
	local desc=$1 want=$2 before=$3 after=$4
	if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && [ "$((after - before))" -eq "$want" ]; then
		ktap_test_pass "$desc"
	else
		ktap_print_msg "$desc: expected +$want, got $before -> $after (+$((after - before)))"
		ktap_test_fail "$desc"
	fi
}
