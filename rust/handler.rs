// SPDX-License-Identifier: GPL-2.0

//! The protocol handler: what `ip_local_deliver_finish()` calls for packets of the udprx
//! protocol number. A packet of that protocol is a UDP datagram (header, payload) whose
//! checksum covers a pseudo-header with that protocol number; it goes to [`udp::rcv`].

use crate::{
    counters::ProtoMib,
    kapi::{netns::Net, protocol::ProtoHandler, skb::Skb},
    pernet::UdprxNet,
    udp,
};

/// The handler registered with `inet_add_protocol()`: udprx's `udp_rcv`.
pub(crate) struct Handler;

impl ProtoHandler for Handler {
    fn handle(net: &Net, skb: Skb) {
        // The state exists for every netns while the handler is registered (the handler is
        // registered after the pernet subsystem and unregistered before it).
        match net.data::<UdprxNet>() {
            Some(state) => {
                state.mib.proto.inc(ProtoMib::InPackets);
                udp::rcv(state, skb, None);
            }
            None => drop(skb),
        }
    }
}
