// SPDX-License-Identifier: GPL-2.0

//! Charging and uncharging `sk_rmem_alloc` and `sk_forward_alloc`, and what goes back to
//! protocol memory: 3.13's `sk_mem_charge()` family and 7.3's `udp_rmem_release()`.

use super::{
    memory::{mem_pages, Memory, PAGE_SIZE},
    state::Shared,
};

impl<M: Memory> Shared<M> {
    /// `sk_rmem_alloc` changed to `rmem_alloc`: tell `mem`.
    pub(super) fn set_rmem(&mut self, rmem_alloc: u32) {
        self.rmem_alloc = rmem_alloc;
        self.mem.set_rmem_alloc(rmem_alloc);
    }

    /// 3.13 `sk_rmem_schedule()` and `sk_mem_charge()`: `size <= sk->sk_forward_alloc ||
    /// __sk_mem_schedule(sk, size, SK_MEM_RECV)`, then `sk_forward_alloc -= size`. `false`
    /// (nothing changed) when protocol memory is refused. Inline, as 3.13's are: only
    /// `__sk_mem_schedule()` is a call.
    #[inline(always)]
    pub(super) fn charge_classic(&mut self, size: u32) -> bool {
        if i64::from(size) > self.forward_alloc && !self.schedule_classic(size) {
            return false;
        }
        self.forward_alloc -= i64::from(size);
        true
    }

    /// `__sk_mem_schedule(sk, size, SK_MEM_RECV)` and the pages it adds to
    /// `sk_forward_alloc`; `false` (nothing changed) when protocol memory is refused.
    #[inline(never)]
    fn schedule_classic(&mut self, size: u32) -> bool {
        if !self.mem.schedule(size) {
            return false;
        }
        self.forward_alloc += mem_pages(size) * i64::from(PAGE_SIZE);
        true
    }

    /// 3.13 `sk_mem_uncharge()` and `sk_mem_reclaim_partial()`: `sk_forward_alloc +=
    /// size`, and `if (sk->sk_forward_alloc > SK_MEM_QUANTUM) __sk_mem_reclaim(sk)`.
    pub(super) fn uncharge_classic(&mut self, size: u32) {
        self.forward_alloc += i64::from(size);
        if self.forward_alloc > i64::from(PAGE_SIZE) {
            self.reclaim_classic();
        }
    }

    /// 7.3 `udp_rmem_release()`'s uncharge of `size` bytes (the deficit included; the
    /// reader part has already set its deficit to 0):
    /// `sk_forward_alloc_add(sk, size); amt = (sk->sk_forward_alloc - partial) &
    /// ~(PAGE_SIZE - 1); sk_forward_alloc_add(sk, -amt); if (amt)
    /// __sk_mem_reduce_allocated(sk, amt >> PAGE_SHIFT); atomic_sub(size,
    /// &sk->sk_rmem_alloc);`
    pub(super) fn uncharge_modern(&mut self, size: u32, partial: i64) {
        let amt = (i64::from(size) + self.forward_alloc - partial) & !(i64::from(PAGE_SIZE) - 1);
        self.forward_alloc += i64::from(size) - amt;
        if amt > 0 {
            self.mem.reclaim(amt as u32);
        }
        self.set_rmem(self.rmem_alloc - size);
    }

    /// 3.13 `__sk_mem_reclaim()`: `sk_memory_allocated_sub(sk, sk->sk_forward_alloc >>
    /// SK_MEM_QUANTUM_SHIFT); sk->sk_forward_alloc &= SK_MEM_QUANTUM - 1;`
    pub(super) fn reclaim_classic(&mut self) {
        let amt = self.forward_alloc & !(i64::from(PAGE_SIZE) - 1);
        if amt > 0 {
            self.mem.reclaim(amt as u32);
            self.forward_alloc -= amt;
        }
    }
}
