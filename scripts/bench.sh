#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: the per-packet price of udprx's hook and receive path, as ratios measured in
# one boot of the bench kernel per clock (crates/udprx/src/bench/mod.rs says what is measured
# and how).
#
#  1. builds the bench kernel on first use (scripts/build-kernel.sh bench: the test kernel's
#     source and fragments without the debug set, with rustc's LLVM and
#     CONFIG_RUST_INLINE_HELPERS), next to the test kernel, which it does not touch;
#  2. builds udprx.ko and the C twin bench/twin/udprx_twin.ko for it, from a copy of the
#     sources in out/bench/build (the objects in the work tree stay those of the test
#     kernel), and lists the calls out of udprx.ko on the per-datagram path;
#  3. boots it once per clock and runs `udprx bench`, which prints the table and writes
#     out/bench/<clock>/bench.json and bench.png;
#  4. under the instruction clock, boots it once more with the tcgprof plugin and writes
#     where each enqueue's and read's instructions go, function by function, stock against
#     udprx (out/bench/profile/; UDPRX_BENCH_PROFILE=0 leaves this boot out);
#  5. boots the test kernel (the debug set on; udprx.ko built for it from another copy, with
#     the test kernel's LLVM) under the instruction clock and runs `udprx bench
#     --debug-read`: a read's cost there, stock against udprx, with each debug option that
#     can be switched off at run time on and off; out/bench/debug/debug-read.json.
#     UDPRX_BENCH_DEBUG=0 leaves this boot out.
#
# BENCH_CLOCK (default: "icount wall", both, in that order):
# - icount starts qemu with `-icount shift=0,sleep=off`: the guest's clock then counts
#   instructions (1 ns = 1 instruction), the same on every run and host; 5 rounds;
# - wall leaves qemu's clock on host time, which TCG makes noisy (per-round ratios spread
#   by +-30 % and more) and which weighs each instruction by what emulating it costs; the
#   runs that need two vCPUs at once (saturation, two CPUs) run only on it; 15 rounds.
#
# Extra arguments go to the bench kernel's `udprx bench` (e.g. --rounds 9 --only pass), not
# to the debug boot (DEBUG_ARGS, default `--fill 10000 --rounds 3`: under icount the rounds
# agree).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/versions"
cache=${UDPRX_CACHE:-/var/cache/udprx}
# The bench kernel and its modules are built with rustc's LLVM (scripts/versions).
export PATH="$BENCH_LLVM_BIN:$HOME/.cargo/bin:$PATH" RUSTUP_TOOLCHAIN="$RUST_TOOLCHAIN"
export LIBCLANG_PATH="$BENCH_LLVM_BIN/../lib"
clocks=${BENCH_CLOCK:-icount wall}
for clock in $clocks; do
	case $clock in
	icount | wall) ;;
	*) echo "bench: BENCH_CLOCK lists icount and/or wall, not '$clock'" >&2; exit 2 ;;
	esac
done

"$top/scripts/build-kernel.sh" bench
kb=$cache/kernel-bench
out=$top/out/bench
build=$out/build
rm -rf "$build"
mkdir -p "$build/udprx" "$build/twin"
tar -C "$top" --exclude='*.o' --exclude='.*.cmd' --exclude='bindings_generated.rs' \
	-c Kbuild rust crates/abi/src crates/rxqueue/src | tar -x -C "$build/udprx"
cp "$top/bench/twin/Kbuild" "$top/bench/twin/udprx_twin.c" "$build/twin/"
echo "bench: building udprx.ko and udprx_twin.ko for $(readlink -f "$kb")"
make -s -C "$kb" M="$build/udprx" LLVM=1 CLIPPY=0 modules
make -s -C "$kb" M="$build/twin" LLVM=1 modules
# The calls out of the module on the per-datagram path, from its object code.
"$top/target/release/udprx" bench --module "$build/udprx/udprx.ko" --objdump "$BENCH_LLVM_BIN/llvm-objdump" \
	--calls-only
for clock in $clocks; do
	qemu_opts="" rounds=()
	case $clock in
	icount) qemu_opts="-icount shift=0,sleep=off" ;;
	wall) case " $* " in *" --rounds "*) ;; *) rounds=(--rounds 15) ;; esac ;;
	esac
	mkdir -p "$out/$clock"
	echo "bench: clock $clock, bench kernel"
	UDPRX_QEMU_OPTS=$qemu_opts KDIR=$kb "$top/scripts/vm.sh" --timeout "${UDPRX_BENCH_TIMEOUT:-5400}" \
		--rwdir "$out/$clock" -- \
		udprx bench --module "$build/udprx/udprx.ko" --twin "$build/twin/udprx_twin.ko" \
		--objdump "$BENCH_LLVM_BIN/llvm-objdump" --out "$out/$clock" --clock "$clock" \
		${rounds[@]+"${rounds[@]}"} "$@"
done

# Where the instructions go (crates/udprx/src/bench/profile.rs): one more boot under the
# instruction clock, one round of the enqueue/read runs, with the tcgprof plugin
# (crates/tcgprof) counting every translation block the guest runs and snapshotting the
# counts at each sync(2), which the bench makes at the start of each enqueue and read and
# after it; the report on the host attributes them to functions. UDPRX_BENCH_PROFILE=0
# leaves it out.
if [ "${UDPRX_BENCH_PROFILE:-1}" = 1 ] && [[ " $clocks " == *" icount "* ]]; then
	cargo build -q --release --locked -p tcgprof
	mark=$(awk '$3 == "__x64_sys_sync" { print $1 }' "$kb/System.map")
	prof=$out/profile
	rm -rf "$prof"
	mkdir -p "$prof"
	echo "bench: clock icount, bench kernel, profiled (tcgprof)"
	UDPRX_QEMU_OPTS="-icount shift=0,sleep=off -plugin $top/target/release/libtcgprof.so,mark=$mark,out=$prof" \
		KDIR=$kb "$top/scripts/vm.sh" --timeout "${UDPRX_BENCH_TIMEOUT:-5400}" --rwdir "$prof" -- \
		udprx bench --module "$build/udprx/udprx.ko" --out "$prof" --clock icount \
		--only enqueue --rounds 1 --profile-marks > "$prof/run.txt"
	"$top/target/release/udprx" bench --profile-report "$prof"
fi

[ "${UDPRX_BENCH_DEBUG:-1}" = 1 ] || exit 0
# The test kernel, built with the LLVM of scripts/versions' LLVM_BIN, as `make modules`.
kt=$cache/kernel
if [ ! -f "$kt/Module.symvers" ]; then
	echo "bench: no test kernel at $kt ('make setup' builds it): debug read left out" >&2
	exit 0
fi
dbuild=$out/build-debug
rm -rf "$dbuild"
mkdir -p "$dbuild" "$out/debug"
tar -C "$top" --exclude='*.o' --exclude='.*.cmd' --exclude='bindings_generated.rs' \
	-c Kbuild rust crates/abi/src crates/rxqueue/src | tar -x -C "$dbuild"
echo "bench: building udprx.ko for the test kernel $(readlink -f "$kt")"
PATH="$LLVM_BIN:$PATH" LIBCLANG_PATH="$LLVM_BIN/../lib" make -s -C "$kt" M="$dbuild" LLVM=1 CLIPPY=0 modules
echo "bench: clock icount, debug test kernel"
# shellcheck disable=SC2086
UDPRX_QEMU_OPTS="-icount shift=0,sleep=off" KDIR=$kt "$top/scripts/vm.sh" \
	--timeout "${UDPRX_BENCH_TIMEOUT:-5400}" --rwdir "$out/debug" -- \
	udprx bench --debug-read --module "$dbuild/udprx.ko" --out "$out/debug" --clock icount \
	${DEBUG_ARGS:---fill 10000 --rounds 3}
