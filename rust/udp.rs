// SPDX-License-Identifier: GPL-2.0

//! udprx's `udp_rcv()`: the checks of Linux 7.3's `udp_rcv()` (`net/ipv4/udp.c`, formerly
//! `__udp4_lib_rcv()`), in the same order, with the same counter and the same drop reason
//! for each outcome. Both entry points — the protocol handler and the `LOCAL_IN` hook — call
//! [`rcv`] with `skb->data` at the UDP header.

use crate::{
    counters::{DropReason, UdpMib},
    kapi::{
        bhlock::BhDisabled,
        skb::{IpSummed, Skb},
    },
    pernet::NetState,
    socket::Socket,
};
use kernel::sync::rcu;

/// Size of a UDP header.
const UDP_HLEN: u32 = 8;

/// Drops `skb` as `udp_rcv()`'s `drop:` label does: `InErrors`, then the reason.
fn drop_in_error(state: &NetState, skb: Skb, reason: DropReason) {
    state.mib.udp.inc(UdpMib::InErrors);
    state.mib.drop_skb(skb, reason);
}

/// `csum_error:`: `InCsumErrors`, then `InErrors`, reason `UDP_CSUM`.
fn drop_csum_error(state: &NetState, skb: Skb) {
    state.mib.udp.inc(UdpMib::InCsumErrors);
    drop_in_error(state, skb, DropReason::UdpCsum);
}

/// `udp4_csum_init()`, with the packet's own IP protocol in the pseudo-header: `false` when
/// the checksum is already known to be bad. For short packets (`CHECKSUM_BREAK`, 76 bytes)
/// `skb_checksum_init_zero_check()` verifies at once; longer ones are left for
/// `udp_lib_checksum_complete()` (no socket) or the read (`udp_recvmsg()`).
fn csum_init(skb: &mut Skb, proto: u8, check: u16) -> bool {
    if !skb.checksum_init_zero_check(proto, check) {
        return false;
    }
    if skb.ip_summed() == IpSummed::Complete && !skb.csum_valid() {
        // If software calculated the value, it is bad; a device's value is re-checked.
        if skb.csum_complete_sw() {
            return false;
        }
        skb.checksum_complete_unset();
    }
    true
}

/// Receives one UDP datagram (`skb->data` at the UDP header) for the udprx sockets of
/// `state`'s netns: for `owner` when the caller already found the port's socket (the
/// hook, under the RCU read lock), else for whichever socket has the port. Bottom halves
/// are disabled (`bh`), as `udp_rcv()` runs.
pub(crate) fn rcv(state: &NetState, mut skb: Skb, owner: Option<&Socket>, bh: &BhDisabled) {
    let proto = skb.ip_protocol();
    // A socket early demux attached (a multicast datagram's only socket) is let go: the
    // lookup below finds the socket, as `inet_steal_sock()` ... `sock_put()` does.
    skb.orphan();

    // "No space for header": reason NOT_SPECIFIED, InErrors.
    if !skb.may_pull(UDP_HLEN) {
        return drop_in_error(state, skb, DropReason::NotSpecified);
    }
    let Some(uh) = skb.udp_header() else {
        return drop_in_error(state, skb, DropReason::NotSpecified);
    };
    // `udp_get_len()`: a zero length field means "the skb's length" only for BIG TCP GSO
    // packets, which never reach a local UDP receiver here; zero is then simply too short.
    let ulen = u32::from(uh.len);
    if ulen > skb.len() || ulen < UDP_HLEN {
        return drop_in_error(state, skb, DropReason::PktTooSmall);
    }
    if ulen < skb.len() && !skb.trim_rcsum(ulen) {
        return drop_in_error(state, skb, DropReason::PktTooSmall);
    }
    if !csum_init(&mut skb, proto, uh.check) {
        return drop_csum_error(state, skb);
    }

    {
        let guard = rcu::read_lock();
        if let Some(sock) = owner.or_else(|| state.ports.lookup(&guard, uh.dest)) {
            // `udp_unicast_rcv_skb()` → `udp_queue_rcv_skb()`. A broadcast or multicast
            // datagram goes the same way: `__udp4_lib_mcast_deliver()` gives it to every
            // matching socket, and the port's owner is the only one (its backing socket
            // keeps every stock socket off the port).
            sock.rcv(state, skb, bh);
            return;
        }
    }
    // `__udp4_lib_mcast_deliver()` with no socket: `IgnoredMulti`, freed, no ICMP.
    if skb.is_broadcast_or_multicast() {
        state.mib.udp.inc(UdpMib::IgnoredMulti);
        return state.mib.drop_skb(skb, DropReason::NotSpecified);
    }

    // `no_sk:`
    if !skb.xfrm_policy_allows() {
        return drop_in_error(state, skb, DropReason::NotSpecified);
    }
    skb.nf_reset_ct();
    // "No socket. Drop packet silently, if checksum is wrong."
    if skb.udp_checksum_bad() {
        return drop_csum_error(state, skb);
    }
    state.mib.udp.inc(UdpMib::NoPorts);
    skb.icmp_port_unreachable();
    state.mib.drop_skb(skb, DropReason::NoSocket);
}
