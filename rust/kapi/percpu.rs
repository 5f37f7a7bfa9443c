// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters, as the kernel keeps its SNMP MIBs (`DEFINE_SNMP_STAT`,
//! `SNMP_ADD_STATS()`, `snmp_fold_field()`).
//!
//! C header: [`include/linux/percpu.h`](srctree/include/linux/percpu.h)

use super::bindings;
use core::{marker::PhantomData, mem, ptr::NonNull};
use kernel::{cpu, prelude::*};

/// `N` 64-bit counters on every possible CPU.
///
/// A CPU adds to its own copy with one `this_cpu_add()` (on x86 a single instruction on the
/// `%gs` segment): no atomic read-modify-write and no cache line shared between CPUs. A
/// reader sums every possible CPU's copy, as `snmp_fold_field()` does for `/proc/net/snmp`;
/// the sum is not a snapshot of all `N` counters at one instant, as in the kernel.
///
/// # Invariants
///
/// `ptr` is a per-CPU allocation (`__alloc_percpu()`) of `N` naturally aligned `u64`s,
/// owned by `self` and freed only by its drop.
pub(crate) struct PerCpuCounters<const N: usize> {
    ptr: NonNull<u64>,
    _owns: PhantomData<[u64; N]>,
}

// SAFETY: The allocation is owned; `add` touches only the calling CPU's copy (with the
// preemption- and interrupt-safe `this_cpu_add()`) and `sum` only reads.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: See `Send`.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// `N` counters per possible CPU, all zero.
    pub(crate) fn new() -> Result<Self> {
        const { assert!(N > 0) };
        // SAFETY: A plain allocation; `__alloc_percpu()` returns zeroed memory or NULL.
        let raw = unsafe {
            bindings::udprx_alloc_percpu(mem::size_of::<[u64; N]>(), mem::align_of::<u64>())
        };
        let ptr = NonNull::new(raw.cast::<u64>()).ok_or(ENOMEM)?;
        // INVARIANT: Just allocated, for `N` `u64`s.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Adds `v` to counter `i` on the calling CPU (from any context). An `i` out of range
    /// is ignored.
    #[inline]
    pub(crate) fn add(&self, i: usize, v: u64) {
        if i < N {
            // SAFETY: `ptr` is a live per-CPU array of `N` `u64`s (type invariants) and
            // `i < N`.
            unsafe { bindings::udprx_this_cpu_add_u64(self.ptr.as_ptr(), i, v) };
        }
    }

    /// Counter `i` summed over every possible CPU; 0 for an `i` out of range.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        if i >= N {
            return 0;
        }
        let mut total = 0u64;
        for c in 0..cpu::nr_cpu_ids() {
            // SAFETY: `ptr` is a live per-CPU array of `N` `u64`s (type invariants),
            // `i < N`, and every CPU id below `nr_cpu_ids` may be asked (a CPU that is not
            // possible reads 0).
            total =
                total.wrapping_add(unsafe { bindings::udprx_per_cpu_u64(self.ptr.as_ptr(), i, c) });
        }
        total
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: Allocated by `__alloc_percpu()` and owned (type invariants); nothing can
        // add to it any more, as `&mut self` is exclusive.
        unsafe { bindings::free_percpu(self.ptr.as_ptr().cast()) };
    }
}
