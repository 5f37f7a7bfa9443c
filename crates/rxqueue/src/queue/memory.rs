// SPDX-License-Identifier: GPL-2.0

//! Protocol memory a socket charges: the [`Memory`] the queue asks, memory that never runs
//! out ([`Unlimited`]) and a model of `net.ipv4.udp_mem` ([`Pool`]).

/// `PAGE_SIZE` (x86_64): the quantum of `sk_forward_alloc`.
pub const PAGE_SIZE: u32 = 4096;

/// `DIV_ROUND_UP(bytes, PAGE_SIZE)` (`sk_mem_pages()`).
pub(super) const fn mem_pages(bytes: u32) -> i64 {
    (bytes as i64 + PAGE_SIZE as i64 - 1) / PAGE_SIZE as i64
}

/// Protocol memory, as `__sk_mem_schedule()` and `__sk_mem_reclaim()` see it: the pages
/// of `udp_memory_allocated` (limited by `net.ipv4.udp_mem`) and of the owner's memory
/// cgroup a socket holds beyond its charges (`sk_forward_alloc`, which the queue keeps).
pub trait Memory {
    /// `sk_rmem_alloc` is now `rmem_alloc` (`__sk_mem_raise_allocated()` reads it).
    fn set_rmem_alloc(&mut self, rmem_alloc: u32);
    /// `__sk_mem_schedule(sk, size, SK_MEM_RECV)`: `sk_mem_pages(size)` more pages;
    /// `false` (`-ENOBUFS`) when refused, and then nothing changed.
    fn schedule(&mut self, size: u32) -> bool;
    /// `__sk_mem_reclaim(sk, bytes)`: `bytes` (a multiple of `PAGE_SIZE`) go back.
    fn reclaim(&mut self, bytes: u32);
}

/// Memory that never runs out: what a socket sees far below `net.ipv4.udp_mem`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unlimited;

impl Memory for Unlimited {
    fn set_rmem_alloc(&mut self, _rmem_alloc: u32) {}
    fn schedule(&mut self, _size: u32) -> bool {
        true
    }
    fn reclaim(&mut self, _bytes: u32) {}
}

/// `udp_memory_allocated` against `net.ipv4.udp_mem`, as 7.3's
/// `__sk_mem_raise_allocated()` judges a receive charge (no memory cgroup), with the
/// per-CPU reserve of `sk_memory_allocated_add()` (`net.core.mem_pcpu_rsv`): pages are
/// added to the CPU's reserve and reach the global counter only when the reserve reaches
/// `pcpu_rsv` (or `-pcpu_rsv` when given back). One CPU, as the tests pin it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pool {
    /// `udp_memory_allocated` (pages), as `sk_memory_allocated()` reads it.
    pub allocated: i64,
    /// This CPU's `per_cpu_fw_alloc` (pages not yet in `allocated`).
    pub pcpu: i64,
    /// `net.core.mem_pcpu_rsv` (pages).
    pub pcpu_rsv: i64,
    /// `net.ipv4.udp_mem`: min, pressure, max (pages).
    pub limits: [i64; 3],
    /// `net.ipv4.udp_rmem_min` (`sk_get_rmem0()`).
    pub rmem0: u32,
    /// The socket's `sk_rmem_alloc`.
    pub rmem_alloc: u32,
}

impl Pool {
    /// `sk_memory_allocated_add()` / `_sub()` with the per-CPU reserve.
    fn add(&mut self, pages: i64) {
        self.pcpu += pages;
        if self.pcpu >= self.pcpu_rsv || self.pcpu <= -self.pcpu_rsv {
            self.allocated += self.pcpu;
            self.pcpu = 0;
        }
    }
}

impl Memory for Pool {
    fn set_rmem_alloc(&mut self, rmem_alloc: u32) {
        self.rmem_alloc = rmem_alloc;
    }

    /// `__sk_mem_raise_allocated(sk, size, amt, SK_MEM_RECV)` for UDP (no memory pressure
    /// flag): `if (!allocated) return 1;`, under `udp_mem[0]` yes, over `udp_mem[2]` no,
    /// in between only while `sk_rmem_alloc < sk_get_rmem0()`.
    fn schedule(&mut self, size: u32) -> bool {
        let amt = mem_pages(size);
        self.add(amt);
        let allocated = self.allocated.max(0);
        let ok = allocated == 0
            || allocated <= self.limits[0]
            || (allocated <= self.limits[2] && self.rmem_alloc < self.rmem0);
        if !ok {
            // `suppress_allocation:` `if (allocated) sk_memory_allocated_sub(sk, amt);`
            self.add(-amt);
        }
        ok
    }

    fn reclaim(&mut self, bytes: u32) {
        self.add(-i64::from(bytes / PAGE_SIZE));
    }
}
