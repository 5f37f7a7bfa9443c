// SPDX-License-Identifier: GPL-2.0

//! The producers' part of a socket's accounting ([`Shared`]), what the info query reports
//! of a whole socket ([`Info`]), and the socket options that set its buffer.

use super::{
    memory::{Memory, Unlimited},
    policy::Policy,
    reader::Reader,
};

/// `INT_MAX`.
pub(super) const INT_MAX: u32 = i32::MAX as u32;

/// Sysctl values the socket options use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `net.core.rmem_max`.
    pub rmem_max: u32,
    /// `SOCK_MIN_RCVBUF` of the running kernel (`2048 + SKB_DATA_ALIGN(sizeof(struct
    /// sk_buff))`).
    pub min_rcvbuf: u32,
}

impl Limits {
    /// The `sk_rcvbuf` that `SO_RCVBUF` (`force == false`) or `SO_RCVBUFFORCE` with value
    /// `val` sets, as 7.3's `sk_setsockopt()` does for both policies (the option is the
    /// running kernel's): `SO_RCVBUF` clamps to `min_t(u32, val, rmem_max)` (a negative
    /// `val` is a huge u32, so it gets `rmem_max`); `SO_RCVBUFFORCE` takes `max(val, 0)`;
    /// then `__sock_set_rcvbuf()`: `val = min(val, INT_MAX / 2)`, `sk_rcvbuf = max(val *
    /// 2, SOCK_MIN_RCVBUF)`. (Whether the caller may force is the caller's check.)
    pub fn rcvbuf(&self, val: i32, force: bool) -> u32 {
        let val: i64 = if force {
            i64::from(val.max(0))
        } else {
            i64::from((val as u32).min(self.rmem_max))
        };
        let val = val.min(i64::from(INT_MAX / 2));
        (val * 2).max(i64::from(self.min_rcvbuf)) as u32
    }
}

/// A snapshot of the accounting of a whole socket, as the info query reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// `sk_rcvbuf`.
    pub rcvbuf: u32,
    /// `sk_rmem_alloc`.
    pub rmem_alloc: u32,
    /// `sk_backlog.len` (bytes on the backlog).
    pub backlog_len: u32,
    /// Datagrams on the backlog.
    pub backlog_count: u32,
    /// Datagrams on the receive queue and the reader queue, readable.
    pub queued: u32,
    /// `sk_drops`.
    pub drops: u64,
    /// Whether a task owns the socket (`sock_owned_by_user()`).
    pub owned: bool,
    /// 7.3 `udp_sk(sk)->forward_deficit`: read but not yet uncharged bytes.
    pub forward_deficit: u32,
    /// 7.3 `sk_forward_alloc`.
    pub forward_alloc: i64,
    /// Classic: the truesizes of the backlogged datagrams not yet drained, charged to
    /// protocol memory while they wait.
    pub backlog_charged: u32,
}

/// The producers' part of a socket's accounting: what 7.3 changes under
/// `sk_receive_queue.lock` (and 3.13 under the same lock, for everything: a classic socket
/// has no reader part but its buffer's threshold). Its partner is a [`Reader`]; the two
/// together are one socket, [`super::Queue`] when one lock guards both.
///
/// # Invariants
///
/// With its [`Reader`]: `rmem_alloc` is the sum of the truesizes of the datagrams on both
/// queues plus the reader's `forward_deficit`, and at most `INT_MAX` (it is mirrored in an
/// `int`); `queued` counts the datagrams on the shared queue (`sk_receive_queue`), the
/// reader's `len` those on the reader queue, which is empty for `classic`; `backlog_len`
/// is the sum of the truesizes on the backlog (classic) until the backlog is drained, and
/// `backlog_charged` the sum of those not yet drained; `forward_alloc + rmem_alloc +
/// backlog_charged` is what `mem` has scheduled and not reclaimed (a multiple of
/// `PAGE_SIZE`), and `mem` was last told `rmem_alloc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared<M: Memory = Unlimited> {
    pub(super) mem: M,
    pub(super) policy: Policy,
    pub(super) rcvbuf: u32,
    pub(super) rmem_alloc: u32,
    pub(super) backlog_len: u32,
    pub(super) backlog_count: u32,
    pub(super) backlog_charged: u32,
    pub(super) owned: bool,
    pub(super) queued: u32,
    pub(super) forward_alloc: i64,
    pub(super) drops: u64,
}

impl Shared {
    /// A new socket's producers' part with [`Unlimited`] memory: see
    /// [`Shared::with_memory`].
    pub const fn new(policy: Policy, rmem_default: u32) -> Self {
        Self::with_memory(policy, rmem_default, Unlimited)
    }
}

impl<M: Memory> Shared<M> {
    /// A new socket's producers' part, charging `mem`: `sock_init_data()` sets `sk_rcvbuf
    /// = net.core.rmem_default`. Its reader part is `Reader::new(rmem_default)`.
    pub const fn with_memory(policy: Policy, rmem_default: u32, mem: M) -> Self {
        Self {
            mem,
            policy,
            rcvbuf: rmem_default,
            rmem_alloc: 0,
            backlog_len: 0,
            backlog_count: 0,
            backlog_charged: 0,
            owned: false,
            queued: 0,
            forward_alloc: 0,
            drops: 0,
        }
    }

    /// The protocol memory this socket charges.
    pub const fn memory(&self) -> &M {
        &self.mem
    }

    /// The protocol memory this socket charges, to change its limits.
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// The policy.
    pub const fn policy(&self) -> Policy {
        self.policy
    }

    /// Changes the policy; only while nothing is charged (`EBUSY` territory otherwise).
    /// Nothing charged means both queues are empty and the reader part owes no deficit
    /// (every datagram and the deficit are in `rmem_alloc`), so the reader part needs no
    /// change.
    pub fn set_policy(&mut self, policy: Policy) -> bool {
        if self.rmem_alloc != 0 || self.backlog_count != 0 || self.owned {
            return false;
        }
        self.policy = policy;
        true
    }

    /// Datagrams on the shared queue (`sk_receive_queue`).
    pub const fn queued(&self) -> u32 {
        self.queued
    }

    /// Whether a task owns the socket (`sock_owned_by_user()`).
    pub const fn owned(&self) -> bool {
        self.owned
    }

    /// The whole socket, this part with its `reader`, as the info query reports it.
    pub const fn info(&self, reader: &Reader) -> Info {
        Info {
            rcvbuf: self.rcvbuf,
            rmem_alloc: self.rmem_alloc,
            backlog_len: self.backlog_len,
            backlog_count: self.backlog_count,
            queued: self.queued + reader.len,
            drops: self.drops,
            owned: self.owned,
            forward_deficit: reader.forward_deficit,
            forward_alloc: self.forward_alloc,
            backlog_charged: self.backlog_charged,
        }
    }

    /// `sk_rcvbuf` is now `rcvbuf` (as a socket option of the running kernel set it, see
    /// [`Limits::rcvbuf`]); the reader part's threshold follows it
    /// ([`Reader::set_rcvbuf_to`]).
    pub fn set_rcvbuf_to(&mut self, rcvbuf: u32) {
        self.rcvbuf = rcvbuf;
    }

    /// A datagram dropped at the socket for another reason (IPsec policy, a bad checksum
    /// found when read, a failed copy): `sk_drops` + 1, nothing else changes.
    pub fn count_drop(&mut self) {
        self.drops += 1;
    }
}
