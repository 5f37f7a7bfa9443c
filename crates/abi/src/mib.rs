// SPDX-License-Identifier: GPL-2.0

//! The counter groups of `/proc/net/udprx`: one enum per group, its names derived from it.
//!
//! The file has the format of `/proc/net/snmp`: per group a line of names and a line of
//! values, both led by the group name (`UdpRx: InDatagrams NoPorts ...`). The kernel module
//! indexes its counters with these enums; the tools find a counter as `GROUP` + name (the
//! nstat name, e.g. `UdpRxInDatagrams`). The module compiles this file as a module of its
//! own crate (`#[path]`), so both sides use the same order and the same names.
#![forbid(unsafe_code)]

/// A group of counters: an enum whose variants index the group's values.
pub trait Group: Copy + 'static {
    /// The group name, first on both lines (`UdpRx`).
    const GROUP: &'static str;
    /// The counter names, in value order.
    const NAMES: &'static [&'static str];
    /// The index of this counter in [`Group::NAMES`] and in the values.
    fn index(self) -> usize;
    /// The counter's name.
    fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }
}

macro_rules! group {
    (
        $(#[$meta:meta])*
        $name:ident = $group:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(usize)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every counter of the group, in value order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The number of counters in the group.
            pub const LEN: usize = Self::ALL.len();
        }

        impl Group for $name {
            const GROUP: &'static str = $group;
            const NAMES: &'static [&'static str] = &[$($text,)*];
            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

group! {
    /// `UdpRx:` — the receive side of the stock `Udp:` line for udprx sockets: same names,
    /// same meaning (`UDP_MIB_*`), counted at the same places.
    UdpMib = "UdpRx" {
        /// Datagrams read by a socket (counted at read time, as `udp_recvmsg()` does).
        InDatagrams = "InDatagrams",
        /// Datagrams to a port nobody bound (an ICMP port unreachable was sent).
        NoPorts = "NoPorts",
        /// Datagrams dropped for any other reason (bad length, checksum, full buffer, ...).
        InErrors = "InErrors",
        /// Dropped because the receive buffer was full.
        RcvbufErrors = "RcvbufErrors",
        /// Dropped for a bad checksum (also counted in `InErrors`).
        InCsumErrors = "InCsumErrors",
        /// Dropped because protocol memory (`net.ipv4.udp_mem`, the memory cgroup) was
        /// exhausted (also counted in `InErrors`).
        MemErrors = "MemErrors",
        /// Broadcast and multicast datagrams no socket wanted (freed without an ICMP
        /// error, as `__udp4_lib_mcast_deliver()` does).
        IgnoredMulti = "IgnoredMulti",
    }
}

group! {
    /// `UdpRxDrop:` — every skb udprx freed as dropped, by `enum skb_drop_reason` (the
    /// names `skb:kfree_skb` prints).
    DropReason = "UdpRxDrop" {
        /// `SKB_DROP_REASON_NOT_SPECIFIED`: e.g. a UDP header that is not there at all.
        NotSpecified = "NOT_SPECIFIED",
        /// `SKB_DROP_REASON_NO_SOCKET`: no socket bound to the destination port.
        NoSocket = "NO_SOCKET",
        /// `SKB_DROP_REASON_PKT_TOO_SMALL`: UDP length longer than the packet, or below 8.
        PktTooSmall = "PKT_TOO_SMALL",
        /// `SKB_DROP_REASON_UDP_CSUM`: bad UDP checksum.
        UdpCsum = "UDP_CSUM",
        /// `SKB_DROP_REASON_XFRM_POLICY`: refused by the IPsec input policy.
        XfrmPolicy = "XFRM_POLICY",
        /// `SKB_DROP_REASON_SOCKET_RCVBUFF`: the socket's receive buffer is full.
        SocketRcvbuff = "SOCKET_RCVBUFF",
        /// `SKB_DROP_REASON_SOCKET_CLOSE`: still queued when the socket was closed.
        SocketClose = "SOCKET_CLOSE",
        /// `SKB_DROP_REASON_SOCKET_FILTER`: refused by the socket filter or a cgroup
        /// ingress program.
        SocketFilter = "SOCKET_FILTER",
        /// `SKB_DROP_REASON_PFMEMALLOC`: an skb from the emergency reserves, for a socket
        /// that is not helping to free memory.
        Pfmemalloc = "PFMEMALLOC",
        /// `SKB_DROP_REASON_SECURITY_HOOK`: refused by the LSM (`security_sock_rcv_skb()`).
        SecurityHook = "SECURITY_HOOK",
        /// `SKB_DROP_REASON_PROTO_MEM`: protocol memory (`net.ipv4.udp_mem`, the memory
        /// cgroup) refused the charge.
        ProtoMem = "PROTO_MEM",
    }
}

group! {
    /// `UdpRxHook:` — what the `NF_INET_LOCAL_IN` hook did.
    HookMib = "UdpRxHook" {
        /// UDP datagrams the hook saw.
        Seen = "Seen",
        /// Datagrams the hook took (`NF_STOLEN`) for the udprx handler.
        Stolen = "Stolen",
        /// UDP datagrams the hook let through (`NF_ACCEPT`).
        Accepted = "Accepted",
    }
}

group! {
    /// `UdpRxProto:` — what came in through the udprx protocol number.
    ProtoMib = "UdpRxProto" {
        /// Packets the protocol handler received.
        InPackets = "InPackets",
    }
}
