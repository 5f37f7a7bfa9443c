// SPDX-License-Identifier: GPL-2.0

//! The read side of a udprx socket: 7.3's reader queue for `modern` (`__skb_recv_udp()`,
//! `udp_rmem_release()`, `first_packet_length()`), 3.13's one queue for `classic`, and
//! what looks at or empties both queues (poll, the info query, close).
//!
//! A `modern` reader takes datagrams off its private reader queue under the reader lock
//! and takes the shared lock, inside it, only to splice the shared queue onto an empty
//! reader queue and to uncharge the forward deficit, as 7.3 does. A `classic` reader takes
//! the shared lock alone, once per datagram, as 3.13 took `sk_receive_queue.lock`.

use super::{rx::RxQueue, Socket};
use crate::{
    abi,
    counters::DropReason,
    kapi::skb::{QueuedSkb, SkbQueue},
    rxqueue::{self, Policy, Take},
};
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Relaxed, Release},
};

/// The reader queue and the reader part of its accounting: 7.3's `up->reader_queue` and
/// `forward_deficit`, under `Socket::reader`.
///
/// # Invariants
///
/// `acct` counts exactly the skbs on `skbs`, which are charged to the shared part (see
/// [`rxqueue::Shared`]); `skbs` is empty for a `classic` socket.
pub(super) struct ReaderQueue {
    pub(super) skbs: SkbQueue,
    pub(super) acct: rxqueue::Reader,
}

impl Socket {
    /// Publishes whether the shared queue holds a datagram (see `nonempty`), after a
    /// change to it under `rx`. Written only when it changes: a reader spinning on an
    /// empty socket polls it, and an arrival to a socket that already held a datagram
    /// leaves its cache line alone. Release: a reader that sees a splice's `false` sees
    /// the reader queue's `true` published before it.
    pub(super) fn publish(&self, q: &RxQueue) {
        let v = q.acct.queued() != 0;
        if self.nonempty.load(Relaxed) != v {
            self.nonempty.store(v, Release);
        }
    }

    /// Publishes whether the reader queue holds a datagram (see `reader_nonempty`), after
    /// a change to it under `reader`.
    fn publish_reader(&self, r: &ReaderQueue) {
        let v = !r.acct.is_empty();
        if self.reader_nonempty.load(Relaxed) != v {
            self.reader_nonempty.store(v, Relaxed);
        }
    }

    /// `skb_queue_splice_tail_init(sk_queue, &up->reader_queue)` of the `n` datagrams the
    /// shared part gave up (both locks held).
    fn splice(&self, r: &mut ReaderQueue, q: &mut RxQueue, n: u32) {
        if n == 0 {
            return;
        }
        r.skbs.append(q.skbs.take());
        r.acct.splice(n);
        self.publish_reader(r);
        self.publish(q);
    }

    /// The rest of `udp_rmem_release()` for a read that left `take`: with `q` (the shared
    /// lock already held, `udp_skb_dtor_locked()`) or taking the shared lock for it
    /// (`udp_skb_destructor()`).
    #[inline(always)]
    fn took(&self, r: &mut ReaderQueue, q: Option<&mut RxQueue>, take: Option<Take>) {
        if let Some(Take::Uncharge(deficit)) = take {
            self.uncharge(r, q, deficit);
        }
        self.publish_reader(r);
    }

    /// `udp_rmem_release()`'s uncharge of `deficit` bytes, under the shared lock (`q`, or
    /// taken here), and the splice that comes with it. Out of line: a read with little
    /// to uncharge, most reads, does not do it.
    #[inline(never)]
    fn uncharge(&self, r: &mut ReaderQueue, q: Option<&mut RxQueue>, deficit: u32) {
        let mut guard;
        let q = match q {
            Some(q) => q,
            None => {
                guard = self.rx.lock();
                &mut *guard
            }
        };
        let n = q.acct.uncharge(deficit);
        self.splice(r, q, n);
    }

    /// The oldest datagram of the reader queue, taken off it and uncharged as 7.3 says;
    /// `q` if the caller holds the shared lock. Inline: a read's common case is this and
    /// the reader lock.
    #[inline(always)]
    fn take(&self, r: &mut ReaderQueue, q: Option<&mut RxQueue>) -> Option<QueuedSkb> {
        let skb = r.skbs.pop_front()?;
        let take = r.acct.take(skb.truesize());
        self.took(r, q, take);
        Some(skb)
    }

    /// The shared queue, spliced onto the empty reader queue, and its oldest datagram
    /// (both locks held): `__skb_recv_udp()`'s refill.
    fn refill(&self, r: &mut ReaderQueue, q: &mut RxQueue) -> Option<QueuedSkb> {
        let n = q.acct.splice();
        self.splice(r, q, n);
        self.take(r, Some(q))
    }

    /// Takes the oldest datagram off the queues, uncharging it; waits unless `nonblock`.
    #[inline(always)]
    pub(super) fn dequeue(&self, nonblock: bool) -> Result<QueuedSkb> {
        // Shared queue first: a splice publishes the reader queue's `true` before the
        // shared queue's `false`.
        if nonblock && !self.nonempty.load(Acquire) && !self.reader_nonempty.load(Relaxed) {
            return Err(EAGAIN);
        }
        // Which lock to take first: a stale hint costs a retry (classic after modern) or
        // a reader lock taken for nothing (modern after classic).
        let mut modern = self.policy_hint.load(Relaxed) != Policy::Classic.to_raw();
        loop {
            let mut r = modern.then(|| self.reader.lock());
            if let Some(r) = r.as_deref_mut() {
                // The reader queue holds datagrams only while the policy is modern: it
                // changes only while nothing is charged.
                if let Some(skb) = self.take(r, None) {
                    return Ok(skb);
                }
            }
            let mut q = self.rx.lock();
            loop {
                match (q.acct.policy(), r.as_deref_mut()) {
                    (Policy::Classic, _) => {
                        if let Some(skb) = q.skbs.pop_front() {
                            q.acct.dequeue(skb.truesize());
                            self.publish(&q);
                            return Ok(skb);
                        }
                    }
                    (Policy::Modern, Some(r)) => {
                        if let Some(skb) = self.refill(r, &mut q) {
                            return Ok(skb);
                        }
                    }
                    // The reader lock comes first: drop the shared one and start over.
                    (Policy::Modern, None) => break,
                }
                if nonblock {
                    return Err(EAGAIN);
                }
                // Sleep under the shared lock alone, which arrivals take to look for
                // sleepers; a modern reader starts over when woken.
                r = None;
                q.sleepers += 1;
                let interrupted = self.wait.wait_interruptible(&mut q);
                q.sleepers -= 1;
                if interrupted {
                    return Err(ERESTARTSYS);
                }
            }
            modern = true;
        }
    }

    /// Whether a datagram can be read: the reader queue's, then the shared queue's (the
    /// lock arrivals take, so that an arrival after this sees a poller's `polled`).
    pub(super) fn readable(&self) -> bool {
        let r = self.reader.lock();
        !r.acct.is_empty() || self.rx.lock().acct.queued() != 0
    }

    /// `UDPRX_INFO`: the accounting of the whole socket, both queues, and its policy.
    pub(super) fn info(&self) -> abi::Info {
        let (i, policy) = {
            let r = self.reader.lock();
            let q = self.rx.lock();
            (q.acct.info(&r.acct), q.acct.policy())
        };
        abi::Info {
            rcvbuf: i.rcvbuf,
            rmem_alloc: i.rmem_alloc,
            backlog_len: i.backlog_len,
            backlog_count: i.backlog_count,
            queued: i.queued,
            policy: policy.to_raw(),
            held: u32::from(i.owned),
            forward_deficit: i.forward_deficit,
            drops: i.drops,
            forward_alloc: i.forward_alloc,
            port: self.port.lock().map_or(0, u32::from),
            reserved: 0,
        }
    }

    /// `sk_rcvbuf` is now `rcvbuf`, and 7.3's `forward_threshold` follows it.
    pub(super) fn set_rcvbuf_to(&self, rcvbuf: u32) {
        let mut r = self.reader.lock();
        let mut q = self.rx.lock();
        r.acct.set_rcvbuf_to(rcvbuf);
        q.acct.set_rcvbuf_to(rcvbuf);
        self.rcvbuf_hint.store(rcvbuf, Relaxed);
    }

    /// Close: a held socket's backlog released, then both queues purged and uncharged
    /// (`udp_destruct_common()`). Frees what was dropped and what was queued, oldest
    /// first.
    pub(super) fn purge(&self) {
        let state = &self.state;
        let (dropped, mut read_q, mut queued) = {
            let mut r = self.reader.lock();
            let mut q = self.rx.lock();
            let dropped = if q.acct.owned() {
                Self::release_locked(state, &mut q).0
            } else {
                Default::default()
            };
            q.acct.close(&mut r.acct);
            self.publish_reader(&r);
            self.publish(&q);
            (dropped, r.skbs.take(), q.skbs.take())
        };
        dropped.free(state);
        while let Some(skb) = read_q.pop_front().or_else(|| queued.pop_front()) {
            state.mib.drop_queued(skb, DropReason::SocketClose);
        }
    }
}
