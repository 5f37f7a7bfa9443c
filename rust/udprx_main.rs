// SPDX-License-Identifier: GPL-2.0

//! udprx: the IPv4/UDP receive path of `ip_local_deliver()` → `NF_INET_LOCAL_IN` →
//! `udp_rcv()`, re-walked in Rust.
//!
//! Rooms: [`kapi`] (the only place with raw kernel pointers), [`pernet`] (state in each
//! netns), [`hook`] (the `LOCAL_IN` hook), [`handler`] (the protocol handler), [`udp`] (the
//! checks of `udp_rcv()`, shared by both), [`ports`] (the per-netns port table),
//! [`socket`] (`/dev/udprx` files), [`counters`] (`/proc/net/snmp`-style groups) and
//! [`abi`] (ioctl numbers, shared with the userspace tools) and [`rxqueue`] (the accounting
//! model, shared with the host tests).
//!
//! [`pernet`] is the hub: the per-netns state holds the hook registration, the port table
//! and the counters, and the hook, the handler, [`udp`] and the sockets reach each other
//! through it, as their C counterparts do through `struct net`. The edges that are not
//! needed are cut: the port table is generic over what it holds, and the `kapi` room
//! depends on none of the others.

use kernel::prelude::*;

// The same sources as the `udprx-abi` crate of the userspace tools: ioctl numbers and
// layouts, and the counter groups of `/proc/net/udprx`. The lints a library crate's `pub`
// API trips in a module are allowed here: the tools use what the module does not.
#[allow(unreachable_pub, dead_code, missing_docs)]
#[path = "../crates/abi/src"]
mod abi {
    mod ioctl;
    pub(crate) mod mib;
    pub(crate) use ioctl::*;
}
mod counters;
mod handler;
mod hook;
mod kapi;
mod pernet;
mod ports;
// The same source as the `udprx-rxqueue` crate the host tests run.
#[allow(unreachable_pub, dead_code, missing_docs)]
#[path = "../crates/rxqueue/src/queue.rs"]
mod rxqueue;
mod socket;
mod udp;

module! {
    type: Udprx,
    name: "udprx",
    authors: ["The udprx developers"],
    description: "IPv4/UDP receive path in Rust: LOCAL_IN hook and protocol handler",
    license: "GPL",
    params: {
        proto: u8 {
            default: 253,
            description: "IP protocol number of the udprx handler (253: RFC 3692 experiments)",
        },
        hook_prio: i32 {
            default: 2147483647,
            description: "Priority of the NF_INET_LOCAL_IN hook (default NF_IP_PRI_LAST: after every filter, where the stock path delivers)",
        },
    },
}

/// The hook priority chosen at load time.
pub(crate) fn hook_priority() -> i32 {
    module_parameters::hook_prio.value()
}

/// The module: the protocol handler and the per-netns state.
///
/// Field order is drop order: `/dev/udprx` goes first (no file can be open: each pins the
/// module), then the handler is unregistered (and `synchronize_net()`ed by
/// `inet_del_protocol()`) before the per-netns state it reads goes.
#[pin_data]
struct Udprx {
    #[pin]
    dev: kapi::miscdev::MiscRegistration<socket::Socket>,
    #[pin]
    proto: kapi::protocol::ProtoRegistration<handler::Handler>,
    #[pin]
    pernet: kapi::netns::PernetRegistration<pernet::UdprxNet>,
}

impl kernel::InPlaceModule for Udprx {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let proto = module_parameters::proto.value();
        try_pin_init!(Self {
            pernet <- kapi::netns::PernetRegistration::register(),
            proto <- kapi::protocol::ProtoRegistration::new(proto),
            dev <- kapi::miscdev::MiscRegistration::register(c"udprx"),
        })
    }
}
