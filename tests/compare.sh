#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `udprx compare`, every scenario over both links (loopback in one netns; a veth pair
# between two netns): the same traffic to a stock UDP socket and to udprx sockets under
# both policies (each side in netns of its own), next to the accounting model. A scenario
# passes when `modern` equals stock on every counter (the socket's and the netns's stock
# Ip, Icmp, IcmpMsg, Udp, IpExt and sockstat UDP counters) and each policy equals its model;
# one KTAP result per scenario and link, the tables as diagnostics, and one for the tool's
# exit status. No scenario listed is a failure, not an empty pass.
#
# All but `udp-mem`: it lowers the global net.ipv4.udp_mem, which the sockets of the tests
# running beside this one would feel, so it runs in the exclusive guarantees.sh.

source "$(dirname "$0")/lib.sh"

ktap_print_header
udprx_load || ktap_exit_fail_msg "insmod failed"
list=$(udprx compare --list) || ktap_exit_fail_msg "udprx compare --list exited $?"
mapfile -t scenarios < <(awk 'NF && $1 != "udp-mem" { print $1 }' <<<"$list" | sort -u)
mapfile -t names < <(awk 'NF && $1 != "udp-mem" { print $1 "-" $2 }' <<<"$list")
[ "${#names[@]}" -gt 0 ] || ktap_exit_fail_msg "udprx compare --list printed no scenarios"
ktap_set_plan "$(( ${#names[@]} + 2 ))"
out=$(mktemp)
png=$(mktemp -d)
defer rm -rf "$out" "$png"
udprx compare --plot "$png" "${scenarios[@]}" > "$out" 2>&1
rc=$?
name=""
declare -A verdict
sed 's/^/# /' "$out"
while IFS= read -r line; do
	if [[ $line =~ ^==\ ([a-z-]+)\ \[([a-z]+)\]: ]]; then
		name=${BASH_REMATCH[1]}-${BASH_REMATCH[2]}
	fi
	if [[ $line == "  ok: "* && ${verdict[$name]:-} != fail ]]; then verdict[$name]=ok; fi
	if [[ $line == "  FAIL "* ]]; then verdict[$name]=fail; fi
done < "$out"
for n in "${names[@]}"; do
	if [ "${verdict[$n]:-}" = ok ]; then
		ktap_test_pass "compare ${n%-*} over ${n##*-}: modern = stock, each policy = its model"
	else
		ktap_test_fail "compare ${n%-*} over ${n##*-}: modern = stock, each policy = its model"
	fi
done
# Whatever the lines said: an error after them, or a failure they do not show, is one.
if [ "$rc" -eq 0 ]; then
	ktap_test_pass "udprx compare exited 0"
else
	ktap_test_fail "udprx compare exited $rc (0: every scenario ok)"
fi
small=""
for n in "${names[@]}"; do
	f="$png/$n.png"
	[ -s "$f" ] && [ "$(stat -c %s "$f")" -gt 5000 ] || small+=" $n"
done
if [ -z "$small" ]; then
	ktap_test_pass "a PNG picture per scenario and link"
else
	ktap_print_msg "missing or empty pictures:$small"
	ktap_test_fail "a PNG picture per scenario and link"
fi
ktap_finished
