#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The article's walk of the receive path on this kernel (`udprx article`; `make article`
# writes it to docs/article.md): one result per claim whose evidence the tool takes on the
# stock path (and on udprx beside it), failing when the kernel no longer does what the
# claim's status says; then one for the run: the tool exits 0, lists every claim, and takes
# evidence for at least 30.
# Exclusive (tests/settings): tracepoints see the whole machine, and a test running beside
# it with a veth pair of its own makes route lookups on an interface of the same index.

source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_print_header
udprx_load || ktap_exit_fail_msg "cannot load udprx"
udprx article --src "${UDPRX_KDIR:-/var/cache/udprx/kernel}" >"$tmp/out" 2>&1
rc=$?
ran=$(grep -cE '^(PASS|FAIL) ' "$tmp/out")
ktap_set_plan $((ran + 1))
while read -r verdict id rest; do
	case $verdict in
	PASS) ktap_test_pass "$id $rest" ;;
	FAIL) ktap_test_fail "$id $rest" ;;
	esac
done < <(grep -E '^(PASS|FAIL) ' "$tmp/out")
summary=$(grep '^claims ' "$tmp/out")
ktap_print_msg "$summary"
[ $rc -eq 0 ] || tail -n 3 "$tmp/out" | sed 's/^/# /'
total=$(sed -n 's/^claims \([0-9]*\):.*/\1/p' <<<"$summary")
taken=$(sed -n 's/.*evidence taken for \([0-9]*\) .*/\1/p' <<<"$summary")
[ $rc -eq 0 ] && [ "${total:-0}" -ge 45 ] && [ "${taken:-0}" -ge 30 ] && [ "$taken" -eq "$ran" ]
ktap_test_result "article: the tool exits 0, lists ${total:-no} claims, evidence for ${taken:-none}" \
	[ $? -eq 0 ]
ktap_finished
