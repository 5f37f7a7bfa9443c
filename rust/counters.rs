// SPDX-License-Identifier: GPL-2.0

//! Counters in the format of `/proc/net/snmp`: per group, a line of names and a line of
//! values, both led by the group name. The groups and their names are defined once, in
//! [`crate::abi::mib`], for the module and the tools.

use crate::abi::mib::{DropReason as DropMib, Group};
pub(crate) use crate::abi::mib::{HookMib, ProtoMib, UdpMib};
pub(crate) use crate::kapi::skb::DropReason;
use crate::kapi::{
    percpu::PerCpuCounters,
    skb::{QueuedSkb, Skb},
};
use core::marker::PhantomData;
use kernel::{prelude::*, seq_file::SeqFile, seq_print};

/// The counters of group `G` (one of the enums of [`crate::abi::mib`], shared with the
/// tools).
///
/// Per CPU, as the kernel's SNMP MIBs: bumped on the CPU the packet is on (softirq, or the
/// task closing a socket), summed over CPUs when `/proc` reads them.
///
/// # Invariants
///
/// `N == G::NAMES.len()`: every counter of `G` has a value.
pub(crate) struct MibGroup<G: Group, const N: usize> {
    values: PerCpuCounters<N>,
    group: PhantomData<G>,
}

impl<G: Group, const N: usize> MibGroup<G, N> {
    /// The counters of `G`, all zero.
    pub(crate) fn new() -> Result<Self> {
        const { assert!(N == G::NAMES.len()) };
        // INVARIANT: Asserted at compile time.
        Ok(Self {
            values: PerCpuCounters::new()?,
            group: PhantomData,
        })
    }

    /// Adds one to counter `c`.
    #[inline]
    pub(crate) fn inc(&self, c: G) {
        self.values.add(c.index(), 1);
    }

    /// Writes the group as `/proc/net/snmp` does: `Name: A B C` then `Name: 1 2 3`.
    pub(crate) fn show(&self, m: &SeqFile) {
        seq_print!(m, "{}:", G::GROUP);
        for f in G::NAMES {
            seq_print!(m, " {}", f);
        }
        seq_print!(m, "\n{}:", G::GROUP);
        for i in 0..N {
            seq_print!(m, " {}", self.values.sum(i));
        }
        seq_print!(m, "\n");
    }
}

/// The counters of one netns, in the order `/proc/net/udprx` shows them.
pub(crate) struct Counters {
    /// `UdpRx:` — the receive side of the UDP MIB, for udprx sockets.
    pub(crate) udp: MibGroup<UdpMib, { UdpMib::LEN }>,
    /// `UdpRxDrop:` — every skb udprx freed as dropped, by `skb_drop_reason`.
    drop: MibGroup<DropMib, { DropMib::LEN }>,
    /// `UdpRxHook:` — what the `NF_INET_LOCAL_IN` hook did.
    pub(crate) hook: MibGroup<HookMib, { HookMib::LEN }>,
    /// `UdpRxProto:` — what came in through the protocol number.
    pub(crate) proto: MibGroup<ProtoMib, { ProtoMib::LEN }>,
}

impl Counters {
    /// All zero.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            udp: MibGroup::new()?,
            drop: MibGroup::new()?,
            hook: MibGroup::new()?,
            proto: MibGroup::new()?,
        })
    }

    /// Frees `skb` as dropped for `reason`, counting it under `UdpRxDrop:`.
    pub(crate) fn drop_skb(&self, skb: Skb, reason: DropReason) {
        self.drop.inc(drop_counter(reason));
        skb.drop_reason(reason);
    }

    /// Frees a queued `skb` as dropped for `reason`, counting it under `UdpRxDrop:`.
    pub(crate) fn drop_queued(&self, skb: QueuedSkb, reason: DropReason) {
        self.drop.inc(drop_counter(reason));
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

/// The `UdpRxDrop:` counter of a drop reason (the counter has the reason's name).
fn drop_counter(reason: DropReason) -> DropMib {
    match reason {
        DropReason::NotSpecified => DropMib::NotSpecified,
        DropReason::NoSocket => DropMib::NoSocket,
        DropReason::PktTooSmall => DropMib::PktTooSmall,
        DropReason::UdpCsum => DropMib::UdpCsum,
        DropReason::XfrmPolicy => DropMib::XfrmPolicy,
        DropReason::SocketRcvbuff => DropMib::SocketRcvbuff,
        DropReason::SocketClose => DropMib::SocketClose,
        DropReason::SocketFilter => DropMib::SocketFilter,
        DropReason::Pfmemalloc => DropMib::Pfmemalloc,
        DropReason::SecurityHook => DropMib::SecurityHook,
        DropReason::ProtoMem => DropMib::ProtoMem,
    }
}
