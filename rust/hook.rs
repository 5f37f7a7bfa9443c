// SPDX-License-Identifier: GPL-2.0

//! The `NF_INET_LOCAL_IN` hook, between `ip_local_deliver()` and
//! `ip_local_deliver_finish()`, registered last (`NF_IP_PRI_LAST`) so that every firewall
//! rule runs first: it sees every datagram delivered locally in its netns and takes the UDP
//! datagrams (unicast, broadcast, multicast) whose destination port a udprx socket has
//! bound.

use crate::{
    counters::HookMib,
    kapi::{
        bhlock::BhDisabled,
        netfilter::{Hook, Verdict},
        netns::Net,
        skb::Skb,
        IPPROTO_UDP,
    },
    pernet::NetState,
    socket::Socket,
    udp,
};
use kernel::sync::rcu;

/// The udprx `LOCAL_IN` hook.
pub(crate) struct LocalIn;

impl Hook for LocalIn {
    /// The netns's state, handed over as the hook's `priv` (the hook is registered in one
    /// netns, by that netns's state).
    type Data = NetState;

    /// The udprx socket bound to the datagram's port.
    type Found<'a> = &'a Socket;

    // Inlined into the callback netfilter calls, as a C hook is that callback: otherwise
    // every packet pays a call and a table lookup of the verdict on top.
    #[inline(always)]
    fn hook<'a>(
        state: &'a NetState,
        _net: &Net,
        mut skb: Skb,
        rcu: &'a rcu::Guard,
    ) -> Verdict<&'a Socket> {
        if skb.ip_protocol() != IPPROTO_UDP {
            return Verdict::Accept(skb);
        }
        state.mib.hook.inc(HookMib::Seen);
        // Unicast, broadcast and multicast alike (a udprx port has one socket, udprx's);
        // anything whose destination port cannot be read goes on to the stock path, which
        // counts it as an error. The socket found here is the one `udp::rcv` delivers to:
        // one lookup, so a close in between cannot turn a stolen datagram into NoPorts.
        let Some(sock) = skb
            .udp_dest_port_at_ip()
            .and_then(|port| state.ports.lookup(rcu, port))
        else {
            state.mib.hook.inc(HookMib::Accepted);
            return Verdict::Accept(skb);
        };
        // Conntrack's confirmation hook has this hook's priority
        // (`NF_IP_PRI_CONNTRACK_CONFIRM` = `NF_IP_PRI_LAST`), and netfilter puts a later
        // registration of equal priority first: with conntrack active before insmod it comes
        // after this one. Confirm the flow here, as it would, so that a udprx flow enters the
        // conntrack table as a stock one does; a confirmed entry is left as it is.
        if !skb.conntrack_confirm() {
            return Verdict::Drop(skb);
        }
        Verdict::Steal(skb, sock)
    }

    #[inline(always)]
    fn steal(state: &NetState, net: &Net, mut skb: Skb, sock: &Socket, bh: &BhDisabled) {
        state.mib.hook.inc(HookMib::Stolen);
        // What `ip_local_deliver_finish()` would do before calling `udp_rcv()` (raw sockets
        // do not see stolen datagrams), and what `ip_protocol_deliver_rcu()` counts after.
        skb.pull_network_header();
        udp::rcv(state, skb, Some(sock), bh);
        net.count_ip_delivered();
    }
}
