// SPDX-License-Identifier: GPL-2.0

//! The receive side of a udprx socket: `udp_queue_rcv_skb()` and the queue, backlog and
//! accounting behind it, read and released by the file's calls.

use super::Socket;
use crate::{
    counters::{DropReason, UdpMib},
    kapi::{
        bhlock::{BhDisabled, SpinLockBhExt},
        skb::{QueuedSkb, Skb, SkbQueue},
        sock::Sock,
    },
    pernet::NetState,
    rxqueue::{self, Counter, Memory, Outcome, Policy},
};
use kernel::{
    prelude::*,
    sync::{aref::ARef, atomic::Relaxed},
};

/// The producers' side, under `Socket::rx`: the shared receive queue (7.3's
/// `sk_receive_queue`, all of 3.13's), the backlog and their accounting, which also
/// charges what the reader queue holds (see [`rxqueue::Shared`]).
///
/// # Invariants
///
/// `acct` counts exactly the skbs on `skbs` (queued) and `backlog` (backlogged), with their
/// truesizes.
pub(super) struct RxQueue {
    pub(super) skbs: SkbQueue,
    pub(super) backlog: SkbQueue,
    pub(super) acct: rxqueue::Shared<SockMemory>,
    /// Readers blocked in `read()`, waiting on `Socket::wait`.
    pub(super) sleepers: u32,
}

/// The protocol memory of the accounting model: the backing socket's `struct sock`, so
/// that `net.ipv4.udp_mem`, the memory cgroup and `sk_rmem_alloc` see udprx's charges.
///
/// # Invariants
///
/// `rmem` is what was last added to the sock's `sk_rmem_alloc` on udprx's behalf.
pub(super) struct SockMemory {
    pub(super) sk: ARef<Sock>,
    pub(super) rmem: u32,
}

impl Memory for SockMemory {
    fn set_rmem_alloc(&mut self, rmem_alloc: u32) {
        // Both are at most `INT_MAX` (the model's invariant), so is their difference.
        self.sk.rmem_add(rmem_alloc as i32 - self.rmem as i32);
        self.rmem = rmem_alloc;
    }

    fn schedule(&mut self, size: u32) -> bool {
        self.sk.mem_schedule(size)
    }

    fn reclaim(&mut self, bytes: u32) {
        self.sk.mem_reclaim(bytes);
    }
}

/// The drop reason `skb:kfree_skb` shows for a drop of the model.
fn reason(d: rxqueue::DropCause) -> DropReason {
    match d {
        rxqueue::DropCause::RcvqueuesFull | rxqueue::DropCause::RcvbufFull => {
            DropReason::SocketRcvbuff
        }
        rxqueue::DropCause::RmemSchedule
        | rxqueue::DropCause::ProtoMem
        | rxqueue::DropCause::BacklogMem => DropReason::ProtoMem,
    }
}

/// Datagrams the model dropped under the queue's lock: counted there, freed after it
/// with their drop reasons.
#[derive(Default)]
pub(super) struct Dropped {
    rcvbuf: SkbQueue,
    proto_mem: SkbQueue,
}

impl Dropped {
    /// Counts `skb`, dropped for `why`, and keeps it to be freed.
    pub(super) fn push(&mut self, state: &NetState, skb: QueuedSkb, why: rxqueue::DropCause) {
        for c in why.counters() {
            state.mib.udp.inc(match c {
                Counter::InErrors => UdpMib::InErrors,
                Counter::RcvbufErrors => UdpMib::RcvbufErrors,
                Counter::MemErrors => UdpMib::MemErrors,
            });
        }
        match reason(why) {
            DropReason::SocketRcvbuff => self.rcvbuf.push_back(skb),
            _ => self.proto_mem.push_back(skb),
        }
    }

    /// Frees them (call without the queue's lock).
    pub(super) fn free(self, state: &NetState) {
        for (mut q, why) in [
            (self.rcvbuf, DropReason::SocketRcvbuff),
            (self.proto_mem, DropReason::ProtoMem),
        ] {
            while let Some(skb) = q.pop_front() {
                state.mib.drop_queued(skb, why);
            }
        }
    }
}

impl Socket {
    /// A datagram for this socket that passed `udp_rcv()`'s checks (`skb->data` at the UDP
    /// header): `udp_queue_rcv_skb()`. A GRO packet the socket does not take as one is
    /// split into its datagrams first. Called with bottom halves disabled (`bh`), under
    /// RCU, from the port table.
    pub(crate) fn rcv(&self, state: &NetState, skb: Skb, bh: &BhDisabled) {
        let sk = self.sock.sk();
        if sk.unexpected_gso(&skb) {
            for seg in sk.segment(skb) {
                self.rcv_one(state, seg, bh);
            }
        } else {
            self.rcv_one(state, skb, bh);
        }
    }

    /// `udp_queue_rcv_one_skb()`: the IPsec policy, the socket filter step, then the queue.
    pub(super) fn rcv_one(&self, state: &NetState, mut skb: Skb, bh: &BhDisabled) {
        let sk = self.sock.sk();
        if !skb.xfrm_policy_allows() {
            return self.drop_in_error(state, skb, DropReason::XfrmPolicy);
        }
        skb.nf_reset_ct();
        // "if (rcu_access_pointer(sk->sk_filter) && udp_lib_checksum_complete(skb)) goto
        // csum_error;": a filter sees only datagrams with a good checksum.
        if sk.has_filter() && skb.udp_checksum_bad() {
            state.mib.udp.inc(UdpMib::InCsumErrors);
            return self.drop_in_error(state, skb, DropReason::UdpCsum);
        }
        if let Err(reason) = sk.filter(&mut skb) {
            return self.drop_in_error(state, skb, reason);
        }
        self.enqueue(state, skb.into_queued(), bh);
    }

    /// `udp_queue_rcv_one_skb()`'s `drop:` label: `InErrors`, `sk_drops`, the reason.
    pub(super) fn drop_in_error(&self, state: &NetState, skb: Skb, reason: DropReason) {
        state.mib.udp.inc(UdpMib::InErrors);
        self.count_drop();
        state.mib.drop_skb(skb, reason);
    }

    /// An arriving datagram past the socket filter: queued, backlogged or dropped as the
    /// socket's policy says. Bottom halves are disabled (`bh`): the queue's lock is taken
    /// with `spin_lock()`, as `__udp_enqueue_schedule_skb()` takes it.
    pub(super) fn enqueue(&self, state: &NetState, mut skb: QueuedSkb, bh: &BhDisabled) {
        let truesize = skb.truesize();
        // `skb_condense()` can free page fragments: it runs before the queue's lock is
        // taken, when the queue is past half full, as 7.3 decides it from an unlocked read
        // of `sk_rmem_alloc`.
        let wants = rxqueue::wants_condense(
            Policy::from_raw(self.policy_hint.load(Relaxed)).unwrap_or(Policy::Modern),
            self.sock.sk().rmem_alloc(),
            self.rcvbuf_hint.load(Relaxed),
            truesize,
        );
        let charged = if wants { skb.condense() } else { truesize };
        let mut q = self.rx.in_bh(bh).lock();
        match q.acct.enqueue_condensed(truesize, charged) {
            Outcome::Queued => {
                q.skbs.push_back(skb);
                self.publish(&q);
                // Read under the lock: a reader counts itself in before it sleeps, a
                // poller sets `polled` before it takes the lock to look at the queue.
                let wake = q.sleepers != 0 || self.polled.load(Relaxed);
                drop(q);
                if wake {
                    self.wait.notify_all();
                }
            }
            Outcome::Backlogged => q.backlog.push_back(skb),
            Outcome::Dropped(d) => {
                drop(q);
                let mut dropped = Dropped::default();
                dropped.push(state, skb, d);
                dropped.free(state);
            }
        }
    }

    /// Takes what the stock path queued on the backing socket into this socket's queue,
    /// as an arrival past the socket filter (the stock path ran it).
    pub(super) fn absorb_strays(&self, state: &NetState) {
        while let Some(skb) = self.sock.recv_stray() {
            self.enqueue(state, skb, &BhDisabled::new());
        }
    }

    /// Counts a datagram dropped at this socket before the queue (`udp_drops_inc()`).
    pub(super) fn count_drop(&self) {
        self.rx.lock().acct.count_drop();
    }

    /// `release_sock()`: drains the backlog through the queueing rules, then lets go.
    /// Returns what was dropped and whether anything was queued.
    pub(super) fn release_locked(state: &NetState, q: &mut RxQueue) -> (Dropped, bool) {
        let mut dropped = Dropped::default();
        let mut queued = false;
        let mut backlog = q.backlog.take();
        let skbs = &mut q.skbs;
        q.acct.release_backlog(
            core::iter::from_fn(|| backlog.pop_front()),
            |skb| skb.truesize(),
            |skb, outcome| match outcome {
                Outcome::Dropped(d) => dropped.push(state, skb, d),
                Outcome::Queued | Outcome::Backlogged => {
                    skbs.push_back(skb);
                    queued = true;
                }
            },
        );
        (dropped, queued)
    }

    pub(super) fn release_backlog(&self) -> Result {
        let state = &self.state;
        let (dropped, queued) = {
            // Classic arrivals are charged here, in process context, under the lock: bottom
            // halves are disabled, so the memory cgroup is charged without sleeping.
            let mut q = self.rx.lock();
            if !q.acct.owned() {
                return Err(EINVAL);
            }
            let r = Self::release_locked(state, &mut q);
            self.publish(&q);
            r
        };
        dropped.free(state);
        if queued {
            self.wait.notify_all();
        }
        Ok(())
    }
}
