// SPDX-License-Identifier: GPL-2.0

//! udprx's state in each network namespace: its `LOCAL_IN` hook, its `/proc/net/udprx`
//! file and its counters.

use crate::{
    counters::MibGroup,
    ffi::{
        netfilter::HookRegistration,
        netns::{NetId, NetNs, PernetData},
        proc::{ProcNetEntry, ProcShow},
    },
    hook::LocalIn,
};
use kernel::{prelude::*, seq_file::SeqFile};

/// Indices of the `UdpRxHook:` counters.
pub(crate) mod hook_mib {
    /// UDP datagrams the hook saw.
    pub(crate) const SEEN: usize = 0;
    /// Datagrams the hook took (`NF_STOLEN`) for the udprx handler.
    #[allow(dead_code)]
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
/// Field order is drop order: the hook and the file go before the counters they read.
#[pin_data]
pub(crate) struct UdprxNet {
    #[pin]
    hook: HookRegistration<LocalIn>,
    proc: ProcNetEntry<UdprxNet>,
    /// `UdpRxHook:` — what the `NF_INET_LOCAL_IN` hook did.
    pub(crate) hook_mib: MibGroup<3>,
    /// `UdpRxProto:` — what the protocol handler received.
    pub(crate) proto_mib: MibGroup<1>,
}

impl PernetData for UdprxNet {
    fn net_id() -> &'static NetId {
        &NET_ID
    }

    fn init(net: NetNs<'_>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            hook_mib: MibGroup::new("UdpRxHook", ["Seen", "Stolen", "Accepted"]),
            proto_mib: MibGroup::new("UdpRxProto", ["InPackets"]),
            hook <- HookRegistration::local_in(net, crate::hook_priority()),
            proc: ProcNetEntry::new(net, c"udprx")?,
        })
    }
}

impl ProcShow for UdprxNet {
    fn show(&self, m: &SeqFile) {
        self.hook_mib.show(m);
        self.proto_mib.show(m);
    }
}
