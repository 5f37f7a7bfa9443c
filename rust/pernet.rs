// SPDX-License-Identifier: GPL-2.0

//! udprx's state in each network namespace: its `LOCAL_IN` hook, its port table, its
//! `/proc/net/udprx` file and its counters.

use crate::{
    counters::Counters,
    hook::LocalIn,
    kapi::{
        netfilter::HookRegistration,
        netns::{Net, NetId, PernetData},
        proc::{ProcNetEntry, ProcShow},
    },
    ports::PortTable,
    socket::Socket,
};
use kernel::{prelude::*, seq_file::SeqFile};

static NET_ID: NetId = NetId::new();

/// The per-netns state.
///
/// Field order is drop order: the file (whose removal waits for its readers) and the hook
/// go before what they read.
#[pin_data]
pub(crate) struct UdprxNet {
    proc: ProcNetEntry<UdprxNet>,
    #[pin]
    hook: HookRegistration<LocalIn>,
    /// Bound udprx sockets of this netns, by port.
    #[pin]
    pub(crate) ports: PortTable<Socket>,
    /// The counters `/proc/net/udprx` shows.
    pub(crate) mib: Counters,
}

impl PernetData for UdprxNet {
    fn net_id() -> &'static NetId {
        &NET_ID
    }

    /// The hook is registered last, once everything it reads exists.
    fn init(net: &Net) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ports <- PortTable::new(),
            mib: Counters::new()?,
            proc: ProcNetEntry::new(net, c"udprx")?,
            hook <- HookRegistration::local_in(net, crate::hook_priority()),
        })
    }

    /// The hook goes first; the grace period the netns core then waits, once for all the
    /// namespaces that exit together, covers it (instead of one `synchronize_net()` per
    /// netns in the hook's drop).
    fn pre_exit(&self) {
        self.hook.unregister();
    }
}

impl ProcShow for UdprxNet {
    fn show(&self, m: &SeqFile) {
        self.mib.show(m);
    }
}
