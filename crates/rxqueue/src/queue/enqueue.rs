// SPDX-License-Identifier: GPL-2.0

//! An arriving datagram: 3.13's `udp_queue_rcv_skb()` and `sock_queue_rcv_skb()`, 7.3's
//! `__udp_enqueue_schedule_skb()`, and whether 7.3 would condense it first.

use super::{
    memory::{mem_pages, Memory, PAGE_SIZE},
    policy::{DropCause, Outcome, Policy},
    state::{Shared, INT_MAX},
};

/// Whether an arriving datagram of `truesize` would be condensed by a queue of `policy`
/// holding `rmem_alloc` of `rcvbuf`: [`Shared::wants_condense`] for a caller that keeps
/// those values where it can read them without the queue's lock, as 7.3 reads
/// `sk_rmem_alloc` and `sk_rcvbuf` (`READ_ONCE`) before it locks the receive queue.
pub const fn wants_condense(policy: Policy, rmem_alloc: u32, rcvbuf: u32, truesize: u32) -> bool {
    matches!(policy, Policy::Modern)
        && !rcvbuf_full_modern(rmem_alloc, rcvbuf, truesize)
        && rmem_alloc > rcvbuf >> 1
}

/// Whether `sk_rmem_alloc` would pass `INT_MAX` with `truesize` more.
const fn rmem_overflows(rmem: u32, truesize: u32) -> bool {
    rmem as u64 + truesize as u64 > INT_MAX as u64
}

/// 7.3 `__udp_enqueue_schedule_skb()`'s first test: `if (rmem + size > rcvbuf) { if
/// (rcvbuf > INT_MAX >> 1) goto drop; if (rmem) goto drop; }` — "Accept the packet if
/// queue is empty."
const fn rcvbuf_full_modern(rmem: u32, rcvbuf: u32, truesize: u32) -> bool {
    rmem as u64 + truesize as u64 > rcvbuf as u64 && (rcvbuf > INT_MAX >> 1 || rmem != 0)
}

impl<M: Memory> Shared<M> {
    /// An arriving datagram of `truesize` bytes. `condense` is called when 7.3 would call
    /// `skb_condense()` (under memory pressure) and returns the truesize after it.
    pub fn enqueue(&mut self, truesize: u32, condense: impl FnOnce() -> u32) -> Outcome {
        match self.policy {
            Policy::Classic => self.enqueue_classic(truesize),
            Policy::Modern => self.enqueue_modern(truesize, condense),
        }
    }

    /// Whether an arriving datagram of `truesize` would be condensed now (7.3 only: it
    /// passes the first test and `rmem > rcvbuf >> 1`). The kernel reads `sk_rmem_alloc`
    /// without the queue's lock for this; a caller that condenses outside its lock asks
    /// here first and then calls [`Shared::enqueue_condensed`].
    pub fn wants_condense(&self, truesize: u32) -> bool {
        wants_condense(self.policy, self.rmem_alloc, self.rcvbuf, truesize)
    }

    const fn rcvbuf_full_modern(&self, truesize: u32) -> bool {
        rcvbuf_full_modern(self.rmem_alloc, self.rcvbuf, truesize)
    }

    /// An arriving datagram of `truesize` that the caller already condensed to
    /// `condensed` (after [`Shared::wants_condense`]): tested with `truesize`, as 7.3 tests
    /// before condensing, and charged `condensed`, what the skb now is. With `condensed ==
    /// truesize` this is [`Shared::enqueue`] without a condense.
    pub fn enqueue_condensed(&mut self, truesize: u32, condensed: u32) -> Outcome {
        match self.policy {
            Policy::Classic => self.enqueue_classic(truesize),
            Policy::Modern => self.enqueue_modern_sized(truesize, Some(condensed), || condensed),
        }
    }

    fn drop(&mut self, d: DropCause) -> Outcome {
        self.drops += 1;
        Outcome::Dropped(d)
    }

    /// 3.13 `udp_queue_rcv_skb()`, after the encapsulation, UDP-Lite and checksum steps.
    fn enqueue_classic(&mut self, truesize: u32) -> Outcome {
        // `if (sk_rcvqueues_full(sk, skb, sk->sk_rcvbuf)) goto drop;`
        // `qsize = sk->sk_backlog.len + atomic_read(&sk->sk_rmem_alloc); return qsize >
        // limit;` ("Do not take into account this skb truesize, to allow even a single big
        // packet to come.")
        let qsize = u64::from(self.backlog_len) + u64::from(self.rmem_alloc);
        if qsize > u64::from(self.rcvbuf) {
            return self.drop(DropCause::RcvqueuesFull);
        }
        // `if (!sock_owned_by_user(sk)) rc = __udp_queue_rcv_skb(sk, skb); else if
        // (sk_add_backlog(sk, skb, sk->sk_rcvbuf)) goto drop;` — `sk_add_backlog()` tests
        // `sk_rcvqueues_full()` again with the same state, which just passed.
        if self.owned {
            // Not 3.13: the datagram is charged while it waits (see `BacklogMem`).
            if !self.charge_classic(truesize) {
                return self.drop(DropCause::BacklogMem);
            }
            self.backlog_charged += truesize;
            self.backlog_len += truesize;
            self.backlog_count += 1;
            return Outcome::Backlogged;
        }
        self.queue_rcv_classic(truesize, false)
    }

    /// 3.13 `__udp_queue_rcv_skb()` → `sock_queue_rcv_skb()`; `charged` when the
    /// datagram was charged on its way to the backlog.
    pub(super) fn queue_rcv_classic(&mut self, truesize: u32, charged: bool) -> Outcome {
        // `if (atomic_read(&sk->sk_rmem_alloc) >= sk->sk_rcvbuf) { atomic_inc(&sk->sk_drops);
        // return -ENOMEM; }` — and, not in 3.13, whenever `sk_rmem_alloc` would pass
        // `INT_MAX` (a forced `sk_rcvbuf` near it lets one skb past the limit, and 3.13's
        // `int` wrapped).
        if self.rmem_alloc >= self.rcvbuf || rmem_overflows(self.rmem_alloc, truesize) {
            if charged {
                self.uncharge_classic(truesize);
            }
            return self.drop(DropCause::RcvbufFull);
        }
        // `if (!sk_rmem_schedule(sk, skb, skb->truesize)) { atomic_inc(&sk->sk_drops);
        // return -ENOBUFS; }` (a pfmemalloc skb never gets here: the socket filter step
        // drops it), then `skb_set_owner_r()`: `atomic_add(skb->truesize,
        // &sk->sk_rmem_alloc); sk_mem_charge(sk, skb->truesize);`, `__skb_queue_tail()`.
        if !charged && !self.charge_classic(truesize) {
            return self.drop(DropCause::RmemSchedule);
        }
        self.set_rmem(self.rmem_alloc + truesize);
        self.queued += 1;
        Outcome::Queued
    }

    /// 7.3 `__udp_enqueue_schedule_skb()`.
    fn enqueue_modern(&mut self, truesize: u32, condense: impl FnOnce() -> u32) -> Outcome {
        self.enqueue_modern_sized(truesize, None, condense)
    }

    /// 7.3 `__udp_enqueue_schedule_skb()`; `charged` is the size of an skb condensed
    /// before the call.
    fn enqueue_modern_sized(
        &mut self,
        truesize: u32,
        charged: Option<u32>,
        condense: impl FnOnce() -> u32,
    ) -> Outcome {
        let rmem = self.rmem_alloc;
        let rcvbuf = self.rcvbuf;
        if self.rcvbuf_full_modern(truesize) {
            return self.drop(DropCause::RcvbufFull);
        }
        // `if (rmem > (rcvbuf >> 1)) { skb_condense(skb); size = skb->truesize; }`
        let size = match charged {
            Some(c) => c,
            None if rmem > rcvbuf >> 1 => condense(),
            None => truesize,
        };
        // `udp_rmem_schedule()`: `delta = size - sk->sk_forward_alloc; if (delta > 0 &&
        // !__sk_mem_schedule(sk, delta, SK_MEM_RECV)) return -ENOBUFS;` — scheduling
        // raises `sk_forward_alloc` by `sk_mem_pages(delta)` pages.
        // A refused schedule drops the skb with `SKB_DROP_REASON_PROTO_MEM`.
        let delta = i64::from(size) - self.forward_alloc;
        if delta > 0 {
            if !self.mem.schedule(delta as u32) {
                return self.drop(DropCause::ProtoMem);
            }
            self.forward_alloc += mem_pages(delta as u32) * i64::from(PAGE_SIZE);
        }
        // `sk_forward_alloc_add(sk, -size)`, `__skb_queue_tail(list, skb)`,
        // `atomic_add(q_size, &sk->sk_rmem_alloc)`.
        self.forward_alloc -= i64::from(size);
        self.set_rmem(self.rmem_alloc + size);
        self.queued += 1;
        Outcome::Queued
    }
}
