#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# In-VM runner, like kselftest's runner.sh: runs each selftest in tests/ (or those named
# as arguments) with a timeout, prints KTAP with the test's own output as comments, then
# clears the way for the splat scan: a final kmemleak scan with reports on the console.
#
# usage: tests/run.sh [NAME...]     (NAME: a script in tests/, with or without .sh)

set -u
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=300
# shellcheck disable=SC1091
[ -f "$here/settings" ] && . "$here/settings"    # may set timeout=SECONDS
timeout_s=${timeout:-$timeout_s}

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("$here/${t%.sh}.sh"); done
else
	for t in "$here"/*.sh; do
		case "$(basename "$t")" in lib.sh|run.sh) continue ;; esac
		tests+=("$t")
	done
fi

kmemleak=/sys/kernel/debug/kmemleak
[ -d /sys/kernel/debug/tracing ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
# Report leaks on the console (kmemleak.verbose) and forget what boot left behind.
if [ -w "$kmemleak" ]; then
	echo 1 > /sys/module/kmemleak/parameters/verbose 2>/dev/null
	echo clear > "$kmemleak"
fi

echo "TAP version 13"
echo "1..${#tests[@]}"
n=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	if [ ! -x "$t" ]; then
		echo "# $name: no such test"
		echo "not ok $n selftests: udprx: $name # missing"
		continue
	fi
	echo "# selftests: udprx: $name"
	timeout --foreground "$timeout_s" "$t" 2>&1 | sed 's/^/# /'
	rc=${PIPESTATUS[0]}
	case $rc in
	0) echo "ok $n selftests: udprx: $name" ;;
	4) echo "ok $n selftests: udprx: $name # SKIP" ;;
	124) echo "not ok $n selftests: udprx: $name # TIMEOUT $timeout_s seconds" ;;
	*) echo "not ok $n selftests: udprx: $name # exit=$rc" ;;
	esac
done

# kmemleak ignores objects younger than 5 s (MSECS_MIN_AGE): scan once everything the
# tests freed or leaked is older than that. Leaks are printed on the console.
if [ -w "$kmemleak" ]; then
	sleep 6
	echo scan > "$kmemleak"
	# (Worded so that this line never matches the splat scanner itself.)
	leaks=$(grep -c "^unreferenced object" "$kmemleak")
	echo "# kmemleak: $leaks leak report(s) after the final scan"
fi
