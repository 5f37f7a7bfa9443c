#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the udprx test kernel with virtme-ng and run a command in it (as root, the repo
# root as working directory, udprx.ko in it and target/release on PATH), or a shell.
# The exit status is the command's. UDPRX_VM_APPEND: more kernel parameters (e.g.
# kmemleak=off, to measure what it costs). UDPRX_QEMU_OPTS: more qemu options (make bench
# passes -icount for its instruction clock).
#
# usage: scripts/vm.sh [--console FILE] [--rwdir DIR]... [--timeout SECONDS] -- PROGRAM [ARG...]
#        scripts/vm.sh --shell
#
# --timeout: a guest that has not powered off by then (hung, or stuck in a panic loop) is
# killed; the run fails (255) and its console is kept.
#
# KVM is used only when a probe shows the kernel boots with it (nested KVM fails on some
# hosts: qemu aborts on MSR 0x10a or hangs while decompressing); otherwise TCG. The probe
# result is cached per host in $UDPRX_CACHE/kvm; UDPRX_KVM=0|1 overrides it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UDPRX_CACHE:-/var/cache/udprx}
kdir=${KDIR:-$cache/kernel}
kernel=$kdir/arch/x86/boot/bzImage
[ -f "$kernel" ] || { echo "vm: no kernel at $kernel: run 'make setup'" >&2; exit 1; }

console=""
rwdirs=()
shell=0
vm_timeout=0
while [ $# -gt 0 ]; do
	case $1 in
	--console) console=$2; shift 2 ;;
	--rwdir) rwdirs+=(--rwdir "$2"); shift 2 ;;
	--timeout) vm_timeout=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	--) shift; break ;;
	*) break ;;
	esac
done

# The guest: virtme-ng's own init mounts /proc, /sys, /dev (devtmpfs: misc devices such
# as /dev/udprx appear without udev), /run and debugfs, runs systemd-tmpfiles and udev,
# then the command. udev is there for vng's script I/O ports only: the guest's udev sees
# just the rule that links them (scripts/udev/), so coldplug runs no rule programs.
# The command's output and exit status also come back through a shared directory
# (scripts/guest-run.sh), so results survive vng falling back to the serial console.
# The root filesystem is the host's, over 9p, read-only and cached in the guest
# (cache=loose): every exec would otherwise read the binary and its libraries through
# 9p again. Shared read-write directories (--rwdir) stay uncached.
# no5lvl: with TCG's `-cpu max` the guest gets LA57, and an interrupt taken that early in
# boot once gave a KASAN wild-memory-access report in handle_edge_irq (ff11... address)
# before udprx was even loaded; 4-level paging avoids it.
base=(vng --run "$kernel" --user root --cwd "$top" --cpus 2 --memory 2G --disable-microvm
	--append "panic=-1 kmemleak.verbose=1 no5lvl printk.time=1 rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose ${UDPRX_VM_APPEND:-}"
	--rodir "/usr/lib/udev/rules.d=$top/scripts/udev")

kvm_probe() {
	[ -w /dev/kvm ] || { echo 0; return; }
	if timeout 60 "${base[@]}" -- true >/dev/null 2>&1 </dev/null; then echo 1; else echo 0; fi
}
kvm=${UDPRX_KVM:-}
if [ -z "$kvm" ]; then
	if [ -f "$cache/kvm" ]; then
		kvm=$(cat "$cache/kvm")
	else
		echo "vm: probing KVM (once per host)..." >&2
		kvm=$(kvm_probe)
		echo "$kvm" > "$cache/kvm"
		echo "vm: KVM $([ "$kvm" = 1 ] && echo works || echo "does not work here: using TCG")" >&2
	fi
fi
[ "$kvm" = 1 ] || base+=(--disable-kvm)
[ -z "${UDPRX_QEMU_OPTS:-}" ] || base+=(--qemu-opts "$UDPRX_QEMU_OPTS")

if [ "$shell" = 1 ]; then
	"${base[@]}" --shell "$top/scripts/guest-shell.sh"
	exit
fi
[ $# -gt 0 ] || { echo "usage: vm.sh [--console FILE] [--rwdir DIR] -- CMD..." >&2; exit 2; }

# The command's output and exit status come back through a shared directory (see
# scripts/guest-run.sh); its output is streamed while it runs. The console (kernel log)
# goes to FILE, or to the run directory, which is kept when something went wrong.
run=$(mktemp -d "${TMPDIR:-/tmp}/udprx-vm.XXXXXX")
: > "$run/output"
console=${console:-$run/console.log}
# timeout 0 never fires; otherwise it signals its whole process group (vng and qemu).
timeout -k 10 "$vm_timeout" "${base[@]}" "${rwdirs[@]}" --rwdir "$run" --verbose -- \
	"$top/scripts/guest-run.sh" "$run" "$@" > "$console" 2>&1 < /dev/null &
vng_pid=$!
tail -n +1 -f --pid="$vng_pid" "$run/output"
# vng exits 255 when it fell back to the serial console, whatever the command returned.
vng_rc=0
wait "$vng_pid" || vng_rc=$?
if [ -s "$run/rc" ]; then
	rc=$(cat "$run/rc")
else
	if [ "$vng_rc" = 124 ] || [ "$vng_rc" = 137 ]; then
		echo "vm: the guest did not finish within $vm_timeout s: killed" >&2
	fi
	echo "vm: the command did not finish (vng exited $vng_rc); console: $console" >&2
	rc=255
fi
# Keep the run directory only when it holds the console of a failed run.
if [ "$rc" = 0 ] || [ "$console" != "$run/console.log" ]; then rm -rf "$run"; fi
exit "$rc"
