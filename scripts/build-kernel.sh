#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Unpack linux-source-$KERNEL_SERIES into the cache and build a udprx kernel.
#
#   build-kernel.sh [debug|bench]
#
# debug (the default) is the test kernel of `make check`, `make demo` and CI: KASAN,
# kmemleak, lockdep, UBSAN, DEBUG_NET, RUST; built with LLVM_BIN. bench is the kernel of
# `make bench`: the same source and fragments without the debug set, built with
# BENCH_LLVM_BIN (rustc's LLVM) and CONFIG_RUST_INLINE_HELPERS.
#
# The config is `make allnoconfig` with the fragments forced in (KCONFIG_ALLCONFIG):
# scripts/config/vm.config (what a virtme-ng guest needs), then scripts/config/debug.config
# (the debug set) or scripts/config/bench.config, then tests/config (what the selftests
# need). Nothing else is built. A flavour's late fragment (scripts/config/<flavour>-late.config)
# is applied after that with olddefconfig: options behind CONFIG_EXPERT go there, since
# allnoconfig with EXPERT forced on would also turn off every option EXPERT hides and
# defaults to y (futexes, multiuser, printk, ...).
#
# The tree lives in $UDPRX_CACHE/linux-<key>, where <key> hashes the kernel
# package version, the config fragments and the toolchain versions; the
# symlink $UDPRX_CACHE/kernel (bench: kernel-bench) points at the current one. A tree whose
# key matches and whose build finished is reused as it is. The two flavours live side by
# side: building one never touches the other.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/versions"
cache=${UDPRX_CACHE:-/var/cache/udprx}
flavour=${1:-debug}
case "$flavour" in
debug) link=kernel ;;
bench) link=kernel-bench ;;
*) echo "build-kernel: unknown flavour '$flavour' (debug or bench)" >&2; exit 2 ;;
esac
fragments=("$top/scripts/config/vm.config" "$top/scripts/config/$flavour.config" "$top/tests/config")
late=()
[ ! -f "$top/scripts/config/$flavour-late.config" ] || late=("$top/scripts/config/$flavour-late.config")
llvm=$LLVM_BIN
[ "$flavour" = debug ] || llvm=$BENCH_LLVM_BIN
[ -x "$llvm/clang" ] || { echo "build-kernel: no clang in $llvm: run scripts/setup-host.sh$([ "$flavour" = debug ] || echo ' --bench')" >&2; exit 1; }
# bindgen loads the libclang of the same LLVM.
export PATH="$llvm:$PATH" LIBCLANG_PATH="$llvm/../lib" RUSTUP_TOOLCHAIN="$RUST_TOOLCHAIN"
jobs=$(( $(nproc) + 1 ))

mkdir -p "$cache/debs"

deb=$(ls "$cache/debs"/linux-source-"$KERNEL_SERIES"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$deb" ]; then
	(cd "$cache/debs" && chown _apt: . 2>/dev/null || true
	 apt-get download -qq "linux-source-$KERNEL_SERIES=$KERNEL_DEB_VERSION" 2>/dev/null \
		|| { apt-get update -qq && apt-get download -qq "linux-source-$KERNEL_SERIES=$KERNEL_DEB_VERSION"; } \
		|| { echo "build-kernel: $KERNEL_DEB_VERSION is gone from the archive, taking the candidate" >&2
		     apt-get download -qq "linux-source-$KERNEL_SERIES"; })
	deb=$(ls "$cache/debs"/linux-source-"$KERNEL_SERIES"_*.deb | sort -V | tail -n 1)
fi
debver=$(dpkg-deb -f "$deb" Version)

key=$( {
	echo "linux-source $debver"
	cat "${fragments[@]}" ${late[@]+"${late[@]}"}
	rustc --version; bindgen --version; clang --version | head -n 1
} | sha256sum | cut -c1-16)
tree="$cache/linux-$key"

if [ -f "$tree/.udprx-built" ] && [ -f "$tree/arch/x86/boot/bzImage" ]; then
	ln -sfn "$tree" "$cache/$link"
	echo "build-kernel: $tree ($flavour) is up to date"
	exit 0
fi

start=$(date +%s)
if [ ! -f "$tree/.udprx-unpacked" ]; then
	echo "build-kernel: unpacking linux-source $debver into $tree"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	dpkg-deb --fsys-tarfile "$deb" \
		| tar -x -O "./usr/src/linux-source-$KERNEL_SERIES.tar.xz" \
		| tar -xJ -C "$tree.tmp" --strip-components=1
	mv "$tree.tmp" "$tree"
	echo "$flavour" > "$tree/.udprx-flavour"
	touch "$tree/.udprx-unpacked"
fi

cd "$tree"
if [ ! -f .udprx-configured ]; then
	echo "build-kernel: configuring (allnoconfig + ${fragments[*]#$top/})"
	# One option may be needed by several fragments: identical lines once.
	cat "${fragments[@]}" | awk '!seen[$0]++' > udprx.config
	make -s LLVM=1 KCONFIG_ALLCONFIG=udprx.config allnoconfig > config.log 2>&1 \
		|| { cat config.log >&2; exit 1; }
	if [ ${#late[@]} -gt 0 ]; then
		cat "${late[@]}" >> .config
		make -s LLVM=1 olddefconfig >> config.log 2>&1 || { cat config.log >&2; exit 1; }
	fi
	# Every line of the fragments must have survived (as selftests check).
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" .config || { echo "build-kernel: not in .config: $line" >&2; bad=1; } ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			! grep -q "^$sym=" .config || { echo "build-kernel: still set: $sym" >&2; bad=1; } ;;
		esac
	done < <(cat "${fragments[@]}" ${late[@]+"${late[@]}"})
	[ "$bad" = 0 ] || { echo "build-kernel: the config fragments do not apply; see $tree/.config" >&2; exit 1; }
	touch .udprx-configured
fi

echo "build-kernel: building the $flavour kernel with LLVM=1 -j$jobs (log: $tree/build.log)"
if ! make LLVM=1 -j"$jobs" > build.log 2>&1; then
	tail -n 40 build.log >&2
	echo "build-kernel: kernel build failed; see $tree/build.log" >&2
	exit 1
fi
end=$(date +%s)
echo "$((end - start))" > .udprx-build-seconds
touch .udprx-built
ln -sfn "$tree" "$cache/$link"
# Older trees of this flavour are dead weight once the new one is built (a tree without a
# flavour file predates the bench flavour: it is a debug tree).
for old in "$cache"/linux-*; do
	[ -d "$old" ] && [ "$old" != "$tree" ] || continue
	if [ "$(cat "$old/.udprx-flavour" 2>/dev/null || echo debug)" = "$flavour" ]; then
		rm -rf "$old"
	fi
done
echo "build-kernel: built the $flavour kernel $tree in $((end - start)) s"
