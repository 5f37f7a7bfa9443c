// SPDX-License-Identifier: GPL-2.0

//! Counters in the format of `/proc/net/snmp`: per group, a line of names and a line of
//! values, both led by the group name. The groups and their names are defined once, in
//! [`crate::abi::mib`], for the module and the tools.

use crate::abi::mib::Group;
pub(crate) use crate::abi::mib::{DropReason, HookMib, ProtoMib, UdpMib};
use crate::kapi::skb::{QueuedSkb, Skb};
use core::marker::PhantomData;
use kernel::{
    seq_file::SeqFile,
    seq_print,
    sync::atomic::{Atomic, Relaxed},
};

/// The counters of group `G` (one of the enums of [`crate::abi::mib`], shared with the
/// tools), which can be read at any time without tearing.
///
/// Each counter is a 64-bit atomic, bumped from softirq context and read from `/proc`.
///
/// # Invariants
///
/// `N == G::NAMES.len()`: every counter of `G` has a value.
pub(crate) struct MibGroup<G: Group, const N: usize> {
    values: [Atomic<u64>; N],
    group: PhantomData<G>,
}

impl<G: Group, const N: usize> MibGroup<G, N> {
    /// The counters of `G`, all zero.
    pub(crate) const fn new() -> Self {
        const { assert!(N == G::NAMES.len()) };
        // INVARIANT: Asserted at compile time.
        Self {
            values: [const { Atomic::new(0) }; N],
            group: PhantomData,
        }
    }

    /// Adds one to counter `c`.
    pub(crate) fn inc(&self, c: G) {
        self.values[c.index()].add(1, Relaxed);
    }

    /// Writes the group as `/proc/net/snmp` does: `Name: A B C` then `Name: 1 2 3`.
    pub(crate) fn show(&self, m: &SeqFile) {
        seq_print!(m, "{}:", G::GROUP);
        for f in G::NAMES {
            seq_print!(m, " {}", f);
        }
        seq_print!(m, "\n{}:", G::GROUP);
        for v in &self.values {
            seq_print!(m, " {}", v.load(Relaxed));
        }
        seq_print!(m, "\n");
    }
}

/// The counters of one netns, in the order `/proc/net/udprx` shows them.
pub(crate) struct Counters {
    /// `UdpRx:` — the receive side of the UDP MIB, for udprx sockets.
    pub(crate) udp: MibGroup<UdpMib, { UdpMib::LEN }>,
    /// `UdpRxDrop:` — every skb udprx freed as dropped, by `skb_drop_reason`.
    drop: MibGroup<DropReason, { DropReason::LEN }>,
    /// `UdpRxHook:` — what the `NF_INET_LOCAL_IN` hook did.
    pub(crate) hook: MibGroup<HookMib, { HookMib::LEN }>,
    /// `UdpRxProto:` — what came in through the protocol number.
    pub(crate) proto: MibGroup<ProtoMib, { ProtoMib::LEN }>,
}

impl Counters {
    /// All zero.
    pub(crate) const fn new() -> Self {
        Self {
            udp: MibGroup::new(),
            drop: MibGroup::new(),
            hook: MibGroup::new(),
            proto: MibGroup::new(),
        }
    }

    /// Frees `skb` as dropped for `reason`, counting it under `UdpRxDrop:`.
    pub(crate) fn drop_skb(&self, skb: Skb, reason: DropReason) {
        self.drop.inc(reason);
        skb.drop_reason(reason);
    }

    /// Frees a queued `skb` as dropped for `reason`, counting it under `UdpRxDrop:`.
    pub(crate) fn drop_queued(&self, skb: QueuedSkb, reason: DropReason) {
        self.drop.inc(reason);
        skb.drop_reason(reason);
    }

    /// Writes every group, as `/proc/net/snmp` does.
    pub(crate) fn show(&self, m: &SeqFile) {
        self.udp.show(m);
        self.drop.show(m);
        self.hook.show(m);
        self.proto.show(m);
    }
}
