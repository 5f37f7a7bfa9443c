// SPDX-License-Identifier: GPL-2.0

//! One socket's accounting under one lock ([`Queue`]): the producers' part and the
//! reader part together, read one datagram at a time. The host's tools and tests use it;
//! the kernel module keeps the two parts under two locks and calls their steps itself.

use super::{
    memory::{Memory, Unlimited},
    policy::{Outcome, Policy},
    reader::Reader,
    state::{Info, Limits, Shared},
};

/// The accounting state of one socket: a [`Shared`] part and its [`Reader`] part, under
/// one lock.
///
/// # Invariants
///
/// Those of [`Shared`] and [`Reader`] for the pair `shared`, `reader`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue<M: Memory = Unlimited> {
    shared: Shared<M>,
    reader: Reader,
}

impl Queue {
    /// A new socket with [`Unlimited`] memory: see [`Queue::with_memory`].
    pub const fn new(policy: Policy, rmem_default: u32) -> Self {
        Self::with_memory(policy, rmem_default, Unlimited)
    }
}

impl<M: Memory> Queue<M> {
    /// A new socket charging `mem`: [`Shared::with_memory`] and [`Reader::new`].
    pub const fn with_memory(policy: Policy, rmem_default: u32, mem: M) -> Self {
        Self {
            shared: Shared::with_memory(policy, rmem_default, mem),
            reader: Reader::new(rmem_default),
        }
    }

    /// The producers' part.
    pub const fn shared(&self) -> &Shared<M> {
        &self.shared
    }

    /// The reader part.
    pub const fn reader(&self) -> &Reader {
        &self.reader
    }

    /// The protocol memory this socket charges.
    pub const fn memory(&self) -> &M {
        self.shared.memory()
    }

    /// The protocol memory this socket charges, to change its limits.
    pub fn memory_mut(&mut self) -> &mut M {
        self.shared.memory_mut()
    }

    /// The policy.
    pub const fn policy(&self) -> Policy {
        self.shared.policy()
    }

    /// [`Shared::set_policy`].
    pub fn set_policy(&mut self, policy: Policy) -> bool {
        self.shared.set_policy(policy)
    }

    /// The state, as the info query reports it.
    pub const fn info(&self) -> Info {
        self.shared.info(&self.reader)
    }

    /// Whether a datagram can be read now.
    pub const fn readable(&self) -> bool {
        self.shared.queued() != 0 || !self.reader.is_empty()
    }

    /// `SO_RCVBUF` or `SO_RCVBUFFORCE` with value `val` ([`Limits::rcvbuf`]).
    pub fn set_rcvbuf(&mut self, val: i32, force: bool, limits: Limits) {
        self.set_rcvbuf_to(limits.rcvbuf(val, force));
    }

    /// `sk_rcvbuf` is now `rcvbuf`, and `forward_threshold` follows it.
    pub fn set_rcvbuf_to(&mut self, rcvbuf: u32) {
        self.shared.set_rcvbuf_to(rcvbuf);
        self.reader.set_rcvbuf_to(rcvbuf);
    }

    /// [`Shared::count_drop`].
    pub fn count_drop(&mut self) {
        self.shared.count_drop();
    }

    /// [`Shared::enqueue`].
    pub fn enqueue(&mut self, truesize: u32, condense: impl FnOnce() -> u32) -> Outcome {
        self.shared.enqueue(truesize, condense)
    }

    /// [`Shared::wants_condense`].
    pub fn wants_condense(&self, truesize: u32) -> bool {
        self.shared.wants_condense(truesize)
    }

    /// [`Shared::enqueue_condensed`].
    pub fn enqueue_condensed(&mut self, truesize: u32, condensed: u32) -> Outcome {
        self.shared.enqueue_condensed(truesize, condensed)
    }

    /// [`Shared::lock`].
    pub fn lock(&mut self) {
        self.shared.lock();
    }

    /// [`Shared::drain_one`].
    pub fn drain_one(&mut self, truesize: u32) -> Option<Outcome> {
        self.shared.drain_one(truesize)
    }

    /// [`Shared::release`].
    pub fn release(&mut self) {
        self.shared.release();
    }

    /// [`Shared::release_backlog`].
    pub fn release_backlog<T>(
        &mut self,
        backlog: impl IntoIterator<Item = T>,
        truesize: impl Fn(&T) -> u32,
        each: impl FnMut(T, Outcome),
    ) {
        self.shared.release_backlog(backlog, truesize, each);
    }

    /// A datagram of `truesize` is read (or dropped at read time for a bad checksum): it
    /// leaves the queue and is uncharged. Classic: [`Shared::dequeue`].
    ///
    /// 7.3, the whole of it as one step (the kernel module takes its parts under two
    /// locks, see `reader.rs`): `__skb_recv_udp()` moves all of `sk_receive_queue` to the
    /// reader queue when the reader queue is empty, unlinks the head, and
    /// `udp_skb_destructor()` → `udp_rmem_release(sk, truesize, 1, ...)`: `forward_deficit
    /// += size`; `if (size < forward_threshold && !skb_queue_empty(&up->reader_queue))
    /// return;` — the bytes stay charged; otherwise the whole deficit is uncharged, `amt =
    /// (size + sk_forward_alloc - partial) & ~(PAGE_SIZE - 1)` goes back to the protocol,
    /// the rest stays in `sk_forward_alloc`, and `sk_receive_queue` is spliced onto the
    /// reader queue. Written out here in one piece, not from [`Reader::take`] and
    /// [`Shared`]'s `splice`/`uncharge`: it is the oracle the property tests hold those
    /// steps against (`tests/props/split.rs`), so it must not share their code.
    ///
    /// Returns `false` (and changes nothing) when nothing is queued.
    pub fn dequeue(&mut self, truesize: u32) -> bool {
        let (s, r) = (&mut self.shared, &mut self.reader);
        match s.policy {
            Policy::Classic => s.dequeue(truesize),
            Policy::Modern => {
                if r.len == 0 {
                    r.len = core::mem::take(&mut s.queued);
                }
                if r.len == 0 {
                    return false;
                }
                r.len -= 1;
                r.forward_deficit += truesize;
                let size = r.forward_deficit;
                if size < r.forward_threshold && r.len != 0 {
                    return true;
                }
                r.forward_deficit = 0;
                s.uncharge_modern(size, 1);
                r.len += core::mem::take(&mut s.queued);
                true
            }
        }
    }

    /// [`Shared::close`].
    pub fn close(&mut self) -> u32 {
        self.shared.close(&mut self.reader)
    }
}
