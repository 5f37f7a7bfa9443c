// SPDX-License-Identifier: GPL-2.0

//! udprx's state in each network namespace: its `LOCAL_IN` hook, its `/proc/net/udprx`
//! file, and what its sockets share with them, the port table and the counters
//! ([`NetState`]).

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
use core::ops::Deref;
use kernel::{prelude::*, seq_file::SeqFile, sync::Arc};

static NET_ID: NetId = NetId::new();

/// What a netns's hook, handler and sockets share: each socket holds it for its life.
#[pin_data]
pub(crate) struct NetState {
    /// Bound udprx sockets of this netns, by port.
    #[pin]
    pub(crate) ports: PortTable<Socket>,
    /// The counters `/proc/net/udprx` shows.
    pub(crate) mib: Counters,
}

/// The per-netns state.
///
/// Field order is drop order: the file (whose removal waits for its readers) and the hook
/// go before what they read.
#[pin_data]
pub(crate) struct UdprxNet {
    proc: ProcNetEntry<UdprxNet>,
    #[pin]
    hook: HookRegistration<LocalIn>,
    shared: Arc<NetState>,
}

impl UdprxNet {
    /// A reference to the shared state, for a socket.
    pub(crate) fn shared(&self) -> Arc<NetState> {
        self.shared.clone()
    }
}

impl Deref for UdprxNet {
    type Target = NetState;

    fn deref(&self) -> &NetState {
        &self.shared
    }
}

impl PernetData for UdprxNet {
    fn net_id() -> &'static NetId {
        &NET_ID
    }

    /// The hook is registered last, once everything it reads exists.
    fn init(net: &Net) -> impl PinInit<Self, Error> {
        let shared = Arc::pin_init(
            try_pin_init!(NetState {
                ports <- PortTable::new(),
                mib: Counters::new()?,
            }),
            GFP_KERNEL,
        );
        // The hook holds its own reference: it reads the state through its `priv`.
        let for_hook = shared.clone();
        try_pin_init!(Self {
            shared: shared?,
            proc: ProcNetEntry::new(net, c"udprx")?,
            hook <- HookRegistration::local_in(net, crate::hook_priority(), for_hook?),
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
