// SPDX-License-Identifier: GPL-2.0

//! udprx's state in each network namespace: its `LOCAL_IN` hook, its port table, its
//! `/proc/net/udprx` file and its counters.

use crate::{
    counters::MibGroup,
    hook::LocalIn,
    kapi::{
        netfilter::HookRegistration,
        netns::{NetId, NetNs, PernetData},
        proc::{ProcNetEntry, ProcShow},
        skb::{DropReason, QueuedSkb, Skb},
    },
    ports::PortTable,
    socket::Socket,
};
use kernel::{prelude::*, seq_file::SeqFile};

/// Indices of the `UdpRx:` counters: the receive side of the stock `Udp:` line, same names,
/// same meaning (`UDP_MIB_*`).
pub(crate) mod udp_mib {
    /// Datagrams read by a socket (counted at read time, as `udp_recvmsg()` does).
    pub(crate) const IN_DATAGRAMS: usize = 0;
    /// Datagrams to a port nobody bound (an ICMP port unreachable was sent).
    pub(crate) const NO_PORTS: usize = 1;
    /// Datagrams dropped for any other reason (bad length, checksum, full buffer, ...).
    pub(crate) const IN_ERRORS: usize = 2;
    /// Dropped because the receive buffer was full.
    pub(crate) const RCVBUF_ERRORS: usize = 3;
    /// Dropped for a bad checksum (also counted in `InErrors`).
    pub(crate) const IN_CSUM_ERRORS: usize = 4;
    /// Dropped because protocol memory was exhausted.
    #[allow(dead_code)]
    pub(crate) const MEM_ERRORS: usize = 5;
    /// The names, as in `/proc/net/snmp`.
    pub(crate) const NAMES: [&str; 6] = [
        "InDatagrams",
        "NoPorts",
        "InErrors",
        "RcvbufErrors",
        "InCsumErrors",
        "MemErrors",
    ];
}

/// Indices of the `UdpRxHook:` counters.
pub(crate) mod hook_mib {
    /// UDP datagrams the hook saw.
    pub(crate) const SEEN: usize = 0;
    /// Datagrams the hook took (`NF_STOLEN`) for the udprx handler.
    pub(crate) const STOLEN: usize = 1;
    /// UDP datagrams the hook let through (`NF_ACCEPT`).
    pub(crate) const ACCEPTED: usize = 2;
}

/// Indices of the `UdpRxProto:` counters.
pub(crate) mod proto_mib {
    /// Packets the protocol handler received.
    pub(crate) const IN_PACKETS: usize = 0;
}

static NET_ID: NetId = NetId::new();

/// The per-netns state.
///
/// Field order is drop order: the hook and the file go before what they read.
#[pin_data]
pub(crate) struct UdprxNet {
    #[pin]
    hook: HookRegistration<LocalIn>,
    proc: ProcNetEntry<UdprxNet>,
    /// Bound udprx sockets of this netns, by port.
    #[pin]
    pub(crate) ports: PortTable<Socket>,
    /// `UdpRx:` — the receive side of the UDP MIB, for udprx sockets.
    pub(crate) udp_mib: MibGroup<6>,
    /// `UdpRxDrop:` — every skb udprx freed as dropped, by `skb_drop_reason`.
    pub(crate) drop_mib: MibGroup<7>,
    /// `UdpRxHook:` — what the `NF_INET_LOCAL_IN` hook did.
    pub(crate) hook_mib: MibGroup<3>,
    /// `UdpRxProto:` — what came in through the protocol number.
    pub(crate) proto_mib: MibGroup<1>,
}

impl UdprxNet {
    /// Frees `skb` as dropped for `reason`, counting it under `UdpRxDrop:`.
    pub(crate) fn drop_skb(&self, skb: Skb, reason: DropReason) {
        self.drop_mib.inc(reason.index());
        skb.drop_reason(reason);
    }

    /// Frees a queued `skb` as dropped for `reason`, counting it under `UdpRxDrop:`.
    pub(crate) fn drop_queued(&self, skb: QueuedSkb, reason: DropReason) {
        self.drop_mib.inc(reason.index());
        skb.drop_reason(reason);
    }
}

impl PernetData for UdprxNet {
    fn net_id() -> &'static NetId {
        &NET_ID
    }

    fn init(net: NetNs<'_>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ports <- PortTable::new(),
            udp_mib: MibGroup::new("UdpRx", udp_mib::NAMES),
            drop_mib: MibGroup::new("UdpRxDrop", DropReason::NAMES),
            hook_mib: MibGroup::new("UdpRxHook", ["Seen", "Stolen", "Accepted"]),
            proto_mib: MibGroup::new("UdpRxProto", ["InPackets"]),
            hook <- HookRegistration::local_in(net, crate::hook_priority()),
            proc: ProcNetEntry::new(net, c"udprx")?,
        })
    }
}

impl ProcShow for UdprxNet {
    fn show(&self, m: &SeqFile) {
        self.udp_mib.show(m);
        self.drop_mib.show(m);
        self.hook_mib.show(m);
        self.proto_mib.show(m);
    }
}
