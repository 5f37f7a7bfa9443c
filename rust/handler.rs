// SPDX-License-Identifier: GPL-2.0

//! The protocol handler: what `ip_local_deliver_finish()` calls for packets of the udprx
//! protocol number. A packet of that protocol is a UDP datagram (header, payload) whose
//! checksum covers a pseudo-header with that protocol number; it goes to [`udp::rcv`].

use crate::{
    counters::ProtoMib,
    kapi::{bhlock::BhDisabled, netns::Net, protocol::ProtoHandler, skb::Skb},
    pernet::UdprxNet,
    udp,
};
use kernel::sync::rcu;

/// The handler registered with `inet_add_protocol()`: udprx's `udp_rcv`.
pub(crate) struct Handler;

impl ProtoHandler for Handler {
    fn handle(net: &Net, skb: Skb, bh: &BhDisabled) {
        // A netns still being set up or already being torn down has no state, and no
        // udprx socket.
        match net.data::<UdprxNet>() {
            Some(state) => {
                state.mib.proto.inc(ProtoMib::InPackets);
                udp::rcv(state, skb, None, bh);
            }
            None => drop(skb),
        }
    }

    /// `__udp4_lib_err()`: an ICMP error is for the socket bound to the quoted datagram's
    /// source port; when there is none it is counted (`Icmp: InErrors`) and dropped. A
    /// udprx socket never sends, is never connected and has no `IP_RECVERR`, so an error
    /// for one is dropped without a count, as for such a stock socket.
    fn error(net: &Net, quoted_source_port: Option<u16>) {
        let Some(state) = net.data::<UdprxNet>() else {
            return;
        };
        let guard = rcu::read_lock();
        if quoted_source_port
            .and_then(|port| state.ports.lookup(&guard, port))
            .is_none()
        {
            net.count_icmp_in_error();
        }
    }
}
