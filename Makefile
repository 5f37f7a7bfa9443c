# SPDX-License-Identifier: GPL-2.0
#
# udprx — user-facing targets. The module itself is built by Kbuild (see ./Kbuild):
#   make -C $(KDIR) M=$(CURDIR) LLVM=1
# KDIR defaults to the test kernel that `make setup` builds in $(UDPRX_CACHE).

include scripts/versions

UDPRX_CACHE ?= /var/cache/udprx
KDIR ?= $(UDPRX_CACHE)/kernel
export UDPRX_CACHE KDIR
export PATH := $(LLVM_BIN):$(HOME)/.cargo/bin:$(PATH)
export RUSTUP_TOOLCHAIN := $(RUST_TOOLCHAIN)

# Rust is built through clippy by default (same objects, more lints); CLIPPY=0 skips it.
CLIPPY ?= 1
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=1 CLIPPY=$(CLIPPY)
CARGO = cargo +$(RUST_TOOLCHAIN)

.PHONY: all modules setup cli check vmtest stress bench fmt demo article run shell clean rust-analyzer kdir

all: modules

kdir:
	@test -f $(KDIR)/Module.symvers || { \
		echo "udprx: no built kernel tree at KDIR=$(KDIR): run 'make setup' or pass KDIR=" >&2; \
		exit 1; }

# udprx.ko, and the C twin of its hook (bench/twin) that the bench's smoke test loads.
modules: kdir
	$(KMAKE) modules
	$(MAKE) -C $(KDIR) M=$(CURDIR)/bench/twin LLVM=1 modules

setup:
	scripts/setup.sh

cli:
	$(CARGO) build --release --locked --workspace --bins

check: setup
	$(MAKE) --no-print-directory modules cli
	scripts/check.sh $(TESTS)

# The full stress run (tests/stress.sh with UDPRX_STRESS=full): 200 insmod/rmmod cycles,
# 100 namespaces, 100000 mutated datagrams, every fault-injection point. `make check` runs
# the short size.
stress: setup
	$(MAKE) --no-print-directory modules cli
	UDPRX_OUT=$(CURDIR)/out/stress UDPRX_STRESS=full UDPRX_TEST_TIMEOUT=5400 \
		UDPRX_VM_TIMEOUT=6000 scripts/check.sh --vm-only stress

# The bench (scripts/bench.sh): builds the bench kernel (no debug options; clang 22 and
# CONFIG_RUST_INLINE_HELPERS) on first use, next to the test kernel, and udprx.ko + the C
# twin for it; lists the calls out of udprx.ko on the per-datagram path; boots it once per
# clock (BENCH_CLOCK, default 'icount wall') and prints the ratios, out/bench/<clock>/;
# then a read's cost on the debug test kernel, out/bench/debug/. BENCH_ARGS go to
# `udprx bench`.
bench:
	scripts/setup-host.sh --bench
	$(MAKE) --no-print-directory cli
	scripts/bench.sh $(BENCH_ARGS)

# Formats the crates (rustfmt defaults) and the module (the kernel's .rustfmt.toml), as
# `make check` checks them.
fmt: kdir
	$(CARGO) fmt --all
	rustfmt +$(RUST_TOOLCHAIN) --edition 2021 --config-path $(KDIR)/.rustfmt.toml rust/udprx_main.rs

# The selftests only (no host tests): the edit -> result loop.
vmtest: kdir
	$(MAKE) --no-print-directory modules cli
	scripts/check.sh --vm-only $(TESTS)

# The demo scans for no leaks: kmemleak's bookkeeping (1.3-1.6x the VM's time under TCG,
# docs/speed.md) is switched off for it. Everything else of the debug kernel stays on.
demo: setup
	$(MAKE) --no-print-directory modules cli
	rm -rf out/demo && mkdir -p out/demo
	UDPRX_VM_APPEND="kmemleak=off $(UDPRX_VM_APPEND)" \
		scripts/vm.sh --timeout 1200 --rwdir $(CURDIR)/out/demo -- scripts/demo.sh

# The article's claims, each held against the running test kernel, stock and udprx side by
# side (scripts/article.sh): boots once, writes docs/article.md.
article: setup
	$(MAKE) --no-print-directory modules cli
	scripts/vm.sh --timeout 1200 --rwdir $(CURDIR)/docs -- scripts/article.sh $(KDIR)

run: export CMD := $(CMD)
run: setup
	$(MAKE) --no-print-directory modules cli
	scripts/vm.sh -- bash -c "$$CMD"

shell: setup
	$(MAKE) --no-print-directory modules cli
	scripts/vm.sh --shell

# The kernel's generator lists the kernel's crates; scripts/rust-analyzer-module.py adds
# the module's (its generator does not find crate roots below the directory of Kbuild).
rust-analyzer: kdir
	$(KMAKE) rust-analyzer
	scripts/rust-analyzer-module.py rust-project.json $(CURDIR)

clean:
	if [ -f $(KDIR)/Makefile ]; then $(KMAKE) clean; fi
	rm -rf out rust-project.json rust/kapi/bindings_generated.rs rust/kapi/.bindings_generated.rs.cmd
	$(CARGO) clean
	if [ -f $(KDIR)/Makefile ]; then $(MAKE) -C $(KDIR) M=$(CURDIR)/bench/twin LLVM=1 clean; fi
