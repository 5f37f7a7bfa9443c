// SPDX-License-Identifier: GPL-2.0

//! 7.3's reader side: the reader part of a socket's accounting ([`Reader`]), what 7.3
//! changes under `up->reader_queue.lock`, and the two steps of the shared part a reader
//! takes `sk_receive_queue.lock` for: the splice and the uncharge.
//!
//! `__skb_recv_udp()` takes the reader queue's lock and, with a datagram there, unlinks it
//! and calls `udp_skb_destructor()` → `udp_rmem_release(sk, truesize, 1, false)`, which
//! takes `sk_receive_queue.lock` only when the deficit is uncharged. With the reader
//! queue empty, it takes `sk_receive_queue.lock` inside the reader queue's,
//! splices the receive queue onto the reader queue and reads on with both held
//! (`udp_skb_dtor_locked()`). A caller mirrors it with [`Reader::take`],
//! [`Shared::uncharge`] and [`Shared::splice`] + [`Reader::splice`]; done under one lock
//! they are [`super::Queue::dequeue`].

use super::{memory::Memory, policy::Policy, state::Shared};

/// The reader part of a socket's accounting. Classic sockets leave it empty: their
/// reader takes datagrams off the shared queue ([`Shared::dequeue`]).
///
/// # Invariants
///
/// `len` is the number of datagrams on the reader queue (see [`Shared`] for what they
/// and `forward_deficit` are charged); `forward_deficit` is 0 while `len` is 0;
/// `forward_threshold` is the socket's `sk_rcvbuf >> 2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    pub(super) len: u32,
    pub(super) forward_deficit: u32,
    pub(super) forward_threshold: u32,
}

/// What [`Reader::take`] leaves to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Nothing: the bytes stay charged, as part of the deficit.
    Kept,
    /// Uncharge these bytes, the whole deficit, now ([`Shared::uncharge`]).
    Uncharge(u32),
}

impl Reader {
    /// A new socket's reader part: 7.3 `udp_lib_init_sock()` sets `forward_threshold =
    /// sk_rcvbuf >> 2`, with `sk_rcvbuf = net.core.rmem_default`.
    pub const fn new(rmem_default: u32) -> Self {
        Self {
            len: 0,
            forward_deficit: 0,
            forward_threshold: rmem_default >> 2,
        }
    }

    /// Datagrams on the reader queue.
    pub const fn len(&self) -> u32 {
        self.len
    }

    /// Whether the reader queue is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// 7.3 `udp_sk(sk)->forward_deficit`.
    pub const fn forward_deficit(&self) -> u32 {
        self.forward_deficit
    }

    /// `sk_rcvbuf` is now `rcvbuf`: `udp_lib_setsockopt()` sets `forward_threshold =
    /// sk_rcvbuf >> 2` (the shared part takes `rcvbuf` itself, [`Shared::set_rcvbuf_to`]).
    pub fn set_rcvbuf_to(&mut self, rcvbuf: u32) {
        self.forward_threshold = rcvbuf >> 2;
    }

    /// `n` datagrams were spliced from the shared queue onto the reader queue (what
    /// [`Shared::splice`] or [`Shared::uncharge`] returned).
    pub fn splice(&mut self, n: u32) {
        self.len += n;
    }

    /// The oldest datagram of the reader queue, of `truesize`, is read (or dropped at read
    /// time): 7.3 `udp_rmem_release(sk, truesize, 1, ...)`'s first half,
    /// `forward_deficit += size; if (size < forward_threshold &&
    /// !skb_queue_empty(&up->reader_queue)) return;` — else the whole deficit is to be
    /// uncharged, and the reader part owes nothing any more. `None` (and nothing changed)
    /// when the reader queue is empty.
    pub fn take(&mut self, truesize: u32) -> Option<Take> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        self.forward_deficit += truesize;
        let size = self.forward_deficit;
        if size < self.forward_threshold && self.len != 0 {
            return Some(Take::Kept);
        }
        self.forward_deficit = 0;
        Some(Take::Uncharge(size))
    }

    /// Close, the reader part ([`Shared::close`]): the reader queue is purged and the
    /// deficit uncharged with it. Returns (datagrams purged, deficit).
    pub(super) fn close(&mut self) -> (u32, u32) {
        let r = (self.len, self.forward_deficit);
        self.len = 0;
        self.forward_deficit = 0;
        r
    }
}

impl<M: Memory> Shared<M> {
    /// A reader found its queue empty: 7.3 `__skb_recv_udp()`'s
    /// `skb_queue_splice_tail_init(sk_queue, queue)`: every datagram of the shared queue
    /// moves to the reader queue. Returns how many, for [`Reader::splice`]. A classic
    /// socket has no reader queue: 0, nothing moves.
    pub fn splice(&mut self) -> u32 {
        if self.policy == Policy::Classic {
            return 0;
        }
        core::mem::take(&mut self.queued)
    }

    /// 7.3 `udp_rmem_release(sk, size, 1, ...)`'s second half, for the deficit `size` that
    /// [`Reader::take`] gave: `amt = (size + sk_forward_alloc - 1) & ~(PAGE_SIZE - 1)`
    /// goes back to the protocol, the rest stays in `sk_forward_alloc`, `sk_rmem_alloc -=
    /// size`; then the shared queue is spliced onto the reader queue ("this can save us
    /// from acquiring the rx queue lock on next receive"). Returns how many datagrams
    /// moved, for [`Reader::splice`].
    pub fn uncharge(&mut self, size: u32) -> u32 {
        self.uncharge_modern(size, 1);
        self.splice()
    }
}
