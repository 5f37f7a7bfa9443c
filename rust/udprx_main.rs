// SPDX-License-Identifier: GPL-2.0

//! udprx: the IPv4/UDP receive path of `ip_local_deliver()` → `NF_INET_LOCAL_IN` →
//! `udp_rcv()`, re-walked in Rust.
//!
//! Rooms: [`ffi`] (the only place with raw kernel pointers), [`pernet`] (state in each
//! netns), [`hook`] (the `LOCAL_IN` hook), [`handler`] (the protocol handler) and
//! [`counters`] (`/proc/net/snmp`-style groups).

use kernel::prelude::*;

mod counters;
mod ffi;
mod handler;
mod hook;
mod pernet;

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
            default: 0,
            description: "Priority of the NF_INET_LOCAL_IN hook (0: NF_IP_PRI_FILTER)",
        },
    },
}

/// The hook priority chosen at load time.
pub(crate) fn hook_priority() -> i32 {
    module_parameters::hook_prio.value()
}

/// The module: the protocol handler and the per-netns state.
///
/// Field order is drop order: the handler is unregistered (and `synchronize_net()`ed by
/// `inet_del_protocol()`) before the per-netns state it reads goes.
#[pin_data]
struct Udprx {
    #[pin]
    proto: ffi::protocol::ProtoRegistration<handler::Handler>,
    #[pin]
    pernet: ffi::netns::PernetRegistration<pernet::UdprxNet>,
}

impl kernel::InPlaceModule for Udprx {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let proto = module_parameters::proto.value();
        try_pin_init!(Self {
            pernet <- ffi::netns::PernetRegistration::register(),
            proto <- ffi::protocol::ProtoRegistration::new(proto),
        })
    }
}
