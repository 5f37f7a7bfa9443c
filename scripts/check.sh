#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: formatting and lints (rustfmt on the crates and, with the kernel's
# .rustfmt.toml, on the module; clippy -D warnings on the crates; tests/lib/ against the
# kernel tree's selftest helpers), host tests (cargo test over the workspace), then every
# selftest in one VM (tests/run.sh, KTAP), then the VM console is scanned for kernel
# splats: a splat fails the run even when every script passed. Ends with "N passed, N
# failed".
#
# usage: scripts/check.sh [--vm-only] [TEST...]   (names of scripts in tests/; default: all)
#   --vm-only: skip the lints and the host tests (`make vmtest`)
# Logs: $UDPRX_OUT (default out/check): host.log, ktap.log, console.log.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/versions"
out=${UDPRX_OUT:-$top/out/check}
rm -rf "$out"; mkdir -p "$out"
passed=0
failed=0
note() { echo "check: $*"; }
host=1
if [ "${1:-}" = --vm-only ]; then host=0; shift; fi

# 0. Formatting and lints: one result each. (The module itself is built through clippy
# with warnings as errors.)
lint() {
	local what=$1
	shift
	if "$@" > "$out/lint.log" 2>&1; then
		passed=$((passed + 1)); note "$what: ok"
	else
		failed=$((failed + 1)); cat "$out/lint.log"; note "$what: FAILED ($*)"
	fi
}
lints() {
	local kdir=${KDIR:-${UDPRX_CACHE:-/var/cache/udprx}/kernel}
	lint "rustfmt: crates" cargo +"$RUST_TOOLCHAIN" fmt --all --check
	lint "rustfmt: module (kernel .rustfmt.toml)" rustfmt +"$RUST_TOOLCHAIN" --edition 2021 \
		--config-path "$kdir/.rustfmt.toml" --check "$top/rust/udprx_main.rs"
	lint "clippy: crates (-D warnings)" cargo +"$RUST_TOOLCHAIN" clippy --workspace --all-targets \
		--locked --release -- -D warnings
	lint "rust-analyzer: the module crate is in rust-project.json" rust_analyzer_check
	lint "tests/lib: the kernel's selftest helpers, copied unchanged" selftest_helpers_check "$kdir"
}
# `make rust-analyzer` (which rewrites ./rust-project.json) must list the module's crate
# with its dependencies.
rust_analyzer_check() {
	make -s -C "$top" rust-analyzer &&
		"$top/scripts/rust-analyzer-module.py" --check "$top/rust-project.json" "$top"
}
# tests/lib/ holds the kernel's selftest helpers at their paths below
# tools/testing/selftests/, each with one line added after its SPDX tag that names the
# version it comes from: they must be the files of the pinned kernel (KDIR), so that a
# kernel update brings what changed in them to review.
selftest_helpers_check() {
	local kdir=$1 f rel rc=0 mark='# Copied unchanged (but for this line) from Linux '
	local version=${KERNEL_DEB_VERSION%%-*}
	while IFS= read -r f; do
		rel=${f#"$top/tests/lib/"}
		grep -qxF "$mark$version, tools/testing/selftests/$rel." "$f" ||
			{ echo "$f: no line saying it is Linux $version's selftests/$rel"; rc=1; }
		grep -vF "$mark" "$f" | diff -u "$kdir/tools/testing/selftests/$rel" - || rc=1
	done < <(find "$top/tests/lib" -name '*.sh' | sort)
	return $rc
}
[ "$host" = 0 ] || lints

# 1. Host tests (with the ignored ones: they need root, for netns and veth).
host_tests() {
	local start rc p f
	start=$(date +%s)
	cargo +"$RUST_TOOLCHAIN" test --workspace --locked --release -- --include-ignored 2>&1 | tee "$out/host.log"
	rc=${PIPESTATUS[0]}
	read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) {
			if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
		END { print p + 0, f + 0 }' "$out/host.log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; note "cargo test failed to build or run (rc=$rc)"; fi
	note "host: $p passed, $f failed ($(( $(date +%s) - start )) s)"
	passed=$((passed + p)); failed=$((failed + f))
}
[ "$host" = 0 ] || host_tests

# 2. Selftests, all in one VM.
start=$(date +%s)
# The stress selftest's size and the per-test timeout go into the guest (`make stress`).
"$top/scripts/vm.sh" --console "$out/console.log" --timeout "${UDPRX_VM_TIMEOUT:-1800}" -- \
	env UDPRX_STRESS="${UDPRX_STRESS:-short}" ${UDPRX_TEST_TIMEOUT:+UDPRX_TEST_TIMEOUT=$UDPRX_TEST_TIMEOUT} \
	tests/run.sh "$@" | tee "$out/ktap.log"
vmrc=${PIPESTATUS[0]}
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out/ktap.log" | head -n 1)
ok=$(grep -cE '^ok [0-9]+ ' "$out/ktap.log" | tr -d ' ')
skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out/ktap.log" | tr -d ' ')
notok=$(grep -cE '^not ok [0-9]+ ' "$out/ktap.log" | tr -d ' ')
if [ -z "$plan" ]; then
	note "the VM produced no KTAP plan (vng exit $vmrc); see $out/console.log"
	notok=$((notok + 1)); plan=0
fi
missing=$(( plan - ok - notok ))
if [ "$missing" -gt 0 ]; then
	note "$missing selftest(s) never reported (VM died?); see $out/console.log"
	notok=$((notok + missing))
fi
if [ "$skip" -gt 0 ]; then note "$skip selftest(s) skipped: a skip counts as a failure"; fi
note "selftests: $((ok - skip)) passed, $((notok + skip)) failed ($(( $(date +%s) - start )) s)"
passed=$((passed + ok - skip)); failed=$((failed + notok + skip))

# 3. Kernel splats on the console (oops, WARN, KASAN, UBSAN, lockdep, kmemleak).
if [ -s "$out/console.log" ] && "$top/target/release/splat-scan" "$out/console.log"; then
	note "console: no splat"
	passed=$((passed + 1))
else
	[ -s "$out/console.log" ] || note "console log is empty"
	note "console: splat found (or no console): see $out/console.log"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed" | tee "$out/summary"
[ "$failed" -eq 0 ]
