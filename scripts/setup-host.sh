#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the host packages and tools udprx needs on Debian 12 (idempotent).
#
#   setup-host.sh [--bench]
#
# --bench also installs the bench kernel's LLVM (BENCH_LLVM_VERSION, scripts/versions).
#
# Extra suites (bookworm-backports, trixie, trixie-backports) are added with a
# low pin priority, so only the packages named here ever come from them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions"

HOST_DEBS=(clang-19 lld-19 llvm-19 libclang-19-dev bc bison flex libelf-dev libssl-dev
	cpio kmod make rsync udev iproute2 busybox-static python3-pip fonts-dejavu-core
	nftables conntrack gcc-multilib)
# From bookworm-backports, the same QEMU release as the image's qemu-utils.
HOST_DEBS_BPO=(qemu-system-x86)
if [ "${1:-}" = --bench ]; then
	HOST_DEBS+=("clang-$BENCH_LLVM_VERSION" "lld-$BENCH_LLVM_VERSION" "llvm-$BENCH_LLVM_VERSION"
		"libclang-$BENCH_LLVM_VERSION-dev")
fi

need_root() {
	[ "$(id -u)" = 0 ] || { echo "setup: must run as root (apt-get)" >&2; exit 1; }
}

# The mirror the machine already uses; we add suites, never hosts.
mirror() {
	local m=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || { echo "setup: cannot find the Debian mirror in the apt sources" >&2; exit 1; }
	echo "$m"
}

apt_sources() {
	local src=/etc/apt/sources.list.d/udprx.sources pin=/etc/apt/preferences.d/udprx
	local want
	want=$(printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports trixie trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$(mirror)")
	if [ ! -f "$src" ] || [ "$(cat "$src")" != "$want" ]; then
		echo "$want" > "$src"
		rm -f /var/lib/udprx-apt-updated
	fi
	cat > "$pin.tmp" <<'PIN'
# udprx: only packages named by scripts/setup-host.sh come from these suites.
Package: *
Pin: release n=trixie
Pin-Priority: 90

Package: *
Pin: release n=trixie-backports
Pin-Priority: 90

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 90
PIN
	if ! cmp -s "$pin.tmp" "$pin"; then mv "$pin.tmp" "$pin"; else rm -f "$pin.tmp"; fi
}

apt_update_once() {
	if [ ! -f /var/lib/udprx-apt-updated ]; then
		apt-get update -qq
		touch /var/lib/udprx-apt-updated
	fi
}

missing_debs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

install_debs() {
	local miss bpo_miss
	miss=$(missing_debs "${HOST_DEBS[@]}")
	bpo_miss=$(missing_debs "${HOST_DEBS_BPO[@]}")
	[ -z "$miss$bpo_miss" ] && return 0
	apt_update_once
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	[ -z "$miss" ] || apt-get install -y -qq --no-install-recommends $miss
	# shellcheck disable=SC2086
	[ -z "$bpo_miss" ] || apt-get install -y -qq --no-install-recommends -t bookworm-backports $bpo_miss
}

rust_tools() {
	rustup toolchain list | grep -q "^$RUST_TOOLCHAIN" || rustup toolchain install --profile minimal "$RUST_TOOLCHAIN"
	local c
	for c in rust-src clippy; do
		rustup component list --toolchain "$RUST_TOOLCHAIN" --installed | grep -q "^$c" \
			|| rustup component add --toolchain "$RUST_TOOLCHAIN" "$c"
	done
	if ! command -v bindgen >/dev/null || ! bindgen --version | grep -q " $BINDGEN_VERSION\$"; then
		cargo +"$RUST_TOOLCHAIN" install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
	fi
}

python_tools() {
	if ! command -v vng >/dev/null || [ "$(pip show virtme-ng 2>/dev/null | awk '/^Version:/{print $2}')" != "$VIRTME_NG_VERSION" ]; then
		pip install --quiet --disable-pip-version-check "virtme-ng==$VIRTME_NG_VERSION"
	fi
}

need_root
apt_sources
install_debs
rust_tools
python_tools
