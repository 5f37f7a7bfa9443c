#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# In-VM runner, like kselftest's runner.sh: runs each selftest in tests/ (or those named
# as arguments) with a timeout, prints KTAP with the test's own output as comments, then
# clears the way for the splat scan: a final kmemleak scan with reports on the console.
#
# Tests run side by side, like kselftest's RUN_IN_NETNS mode: every test sets up network
# namespaces of its own, so their counters never mix. Up to $UDPRX_JOBS (default: twice
# the guest's CPUs) run at once: the tests wait on execs, readers and counters, so more of
# them than CPUs keep both CPUs busy (measured on 2 vCPUs: the shared tests took 107 s one
# at a time, 97 s two at a time, 74 s three at a time). Each one's output is kept apart
# and printed whole, in plan order, as soon as it and every test before it have finished.
#
# Last, one more result: no test left a network namespace or a udprx process behind
# (each test case cleans up in a scope of its own, see `defer` in lib.sh).
#
# The module is one for the whole guest. Tests named in `exclusive=` (tests/settings)
# load and unload it themselves (insmod/rmmod behaviour) and run alone, first. The
# others share one udprx loaded here with default parameters (UDPRX_MODULE_SHARED=1,
# see udprx_load in lib.sh); once they are done it must unload: an extra result, since a
# socket or a reference left behind by any of them would make rmmod fail.
#
# usage: tests/run.sh [NAME...]     (NAME: a script in tests/, with or without .sh)

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
timeout_s=300
exclusive=""
# shellcheck disable=SC1091
[ -f "$here/settings" ] && . "$here/settings"    # timeout=SECONDS, exclusive="NAME..."
timeout_s=${UDPRX_TEST_TIMEOUT:-${timeout:-$timeout_s}}
jobs=${UDPRX_JOBS:-$((2 * $(nproc)))}

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("$here/${t%.sh}.sh"); done
else
	for t in "$here"/*.sh; do
		case "$(basename "$t")" in lib.sh|run.sh) continue ;; esac
		tests+=("$t")
	done
fi

is_exclusive() {
	local e
	for e in $exclusive; do [ "$e" = "$1" ] && return 0; done
	return 1
}

# Exclusive tests first, alone; then the shared ones.
solo=() shared=()
for t in "${tests[@]}"; do
	if is_exclusive "$(basename "$t" .sh)"; then solo+=("$t"); else shared+=("$t"); fi
done
order=("${solo[@]}" "${shared[@]}")
plan=$((${#order[@]} + 1))
[ ${#shared[@]} -gt 0 ] && plan=$((plan + 1))

kmemleak=/sys/kernel/debug/kmemleak
[ -d /sys/kernel/debug/tracing ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
# Report leaks on the console (kmemleak.verbose) and forget what boot left behind.
if [ -w "$kmemleak" ]; then
	echo 1 > /sys/module/kmemleak/parameters/verbose 2>/dev/null
	echo clear > "$kmemleak"
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

echo "TAP version 13"
echo "1..$plan"

# start I: run test I in the background; its output in $logs/I.out, status in $logs/I.rc.
start() {
	local i=$1 t=${order[$1]}
	(
		if [ ! -x "$t" ]; then
			echo "no such test: $t" > "$logs/$i.out"
			echo missing > "$logs/$i.rc"
			exit
		fi
		begin=$SECONDS
		timeout -k 10 "$timeout_s" "$t" > "$logs/$i.out" 2>&1 < /dev/null
		rc=$?
		echo "$((SECONDS - begin)) s" > "$logs/$i.time"
		echo "$rc" > "$logs/$i.rc"
	) &
}

# report I: the KTAP lines of test I (which has finished). A test is judged by its exit
# status, and by its own results too: the kernel's ktap_finished exits 0 when the results
# that are ok (skipped ones included) make the plan, so a test that skipped every case, or
# printed a "not ok" next to an extra "ok", would otherwise pass.
report() {
	local i=$1 n=$(($1 + 1)) name rc
	name=$(basename "${order[$i]}" .sh)
	rc=$(<"$logs/$i.rc")
	if [ "$rc" = 0 ]; then
		if grep -q '^not ok [0-9]' "$logs/$i.out"; then
			rc=not-ok
		elif grep -qE '^(ok [0-9]+ .*# SKIP|1\.\.0 # SKIP)' "$logs/$i.out"; then
			rc=4
		fi
	fi
	echo "# selftests: udprx: $name"
	sed 's/^/# /' "$logs/$i.out"
	case $rc in
	0) echo "ok $n selftests: udprx: $name" ;;
	not-ok) echo "not ok $n selftests: udprx: $name # a result was not ok, exit 0" ;;
	4) echo "ok $n selftests: udprx: $name # SKIP" ;;
	124|137) echo "not ok $n selftests: udprx: $name # TIMEOUT $timeout_s seconds" ;;
	missing) echo "not ok $n selftests: udprx: $name # missing" ;;
	*) echo "not ok $n selftests: udprx: $name # exit=$rc" ;;
	esac
	echo "# $name: $(cat "$logs/$i.time" 2>/dev/null || echo "-")"
}

next=0      # next test to start
shown=0     # next test to report
running=0   # started, not yet reaped
# run_until LIMIT WIDTH: start tests up to index LIMIT-1, at most WIDTH at a time, reporting in
# order; returns when all of them have been reported.
run_until() {
	local limit=$1 width=$2
	while [ "$shown" -lt "$limit" ]; do
		while [ "$next" -lt "$limit" ] && [ "$running" -lt "$width" ]; do
			start "$next"
			next=$((next + 1)); running=$((running + 1))
		done
		wait -n    # reaps exactly one finished test
		running=$((running - 1))
		while [ "$shown" -lt "$next" ] && [ -f "$logs/$shown.rc" ]; do
			report "$shown"
			shown=$((shown + 1))
		done
	done
}

run_until ${#solo[@]} 1

if [ ${#shared[@]} -gt 0 ]; then
	if [ -d /sys/module/udprx ]; then rmmod udprx; fi
	if insmod "$top/udprx.ko" 2> "$logs/insmod"; then
		export UDPRX_MODULE_SHARED=1
		run_until ${#order[@]} "$jobs"
		unset UDPRX_MODULE_SHARED
		if rmmod udprx 2> "$logs/rmmod"; then
			echo "ok $((plan - 1)) selftests: udprx: rmmod after the shared tests"
		else
			sed 's/^/# /' "$logs/rmmod"
			echo "not ok $((plan - 1)) selftests: udprx: rmmod after the shared tests"
		fi
	else
		sed 's/^/# /' "$logs/insmod"
		for ((i = ${#solo[@]}; i < ${#order[@]}; i++)); do
			echo "not ok $((i + 1)) selftests: udprx: $(basename "${order[$i]}" .sh) # insmod failed"
		done
		echo "not ok $((plan - 1)) selftests: udprx: rmmod after the shared tests # insmod failed"
	fi
fi

left=$(ip netns list; pgrep -a udprx)
if [ -z "$left" ]; then
	echo "ok $plan selftests: udprx: no netns or udprx process left behind"
else
	echo "$left" | sed 's/^/# left behind: /'
	echo "not ok $plan selftests: udprx: no netns or udprx process left behind"
fi

# kmemleak ignores objects younger than 5 s (MSECS_MIN_AGE): scan once everything the
# tests freed or leaked is older than that. Leaks are printed on the console.
if [ -w "$kmemleak" ]; then
	sleep 6
	echo scan > "$kmemleak"
	# (Worded so that this line never matches the splat scanner itself.)
	leaks=$(grep -c "^unreferenced object" "$kmemleak")
	echo "# kmemleak: $leaks leak report(s) after the final scan"
fi
