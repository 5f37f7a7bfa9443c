// SPDX-License-Identifier: GPL-2.0

//! The sending half of a side: fresh network namespaces, joined by `lo` or a veth pair,
//! and the sockets that send a scenario's datagrams, well-formed or crafted.

use super::scenario::{Kind, Link, PROTO};
use crate::{
    datagram::{self, payload, Csum, Shape},
    kernel::{link, netns},
};
use anyhow::{Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

/// The veth pair's addresses (TEST-NET-1) and names.
pub(super) const VETH_TX: (&str, Ipv4Addr) = ("udprx-tx", Ipv4Addr::new(192, 0, 2, 1));

pub(super) const VETH_RX: (&str, Ipv4Addr) = ("udprx-rx", Ipv4Addr::new(192, 0, 2, 2));

/// A fresh side: leaves this thread in a new receiving netns and returns a sender whose
/// sockets live where `link` says (the same netns for `lo`, a second one behind a veth
/// pair for `veth`). A netns lives as long as a socket in it, so the sender keeps its own
/// netns (and the veth pair) alive.
pub(super) fn fresh_side(link: Link) -> Result<Sender> {
    if link == Link::Lo {
        netns::unshare()?;
        link::up("lo")?;
        return Sender::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
    }
    let (rx_ns, tx_ns) = netns::veth_pair(VETH_TX, VETH_RX)?;
    netns::enter(&tx_ns)?;
    let tx = Sender::new(VETH_TX.1, VETH_RX.1);
    netns::enter(&rx_ns)?;
    tx
}

/// Crafts a datagram from `src` to `dst` (the checksum's pseudo-header).
pub(super) fn craft(
    size: usize,
    kind: Kind,
    port: u16,
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Vec<u8> {
    let (csum, ulen) = match kind {
        Kind::Good | Kind::Segment => (Csum::Good, None),
        Kind::BadCsum => (Csum::Bad, None),
        Kind::ZeroCsum => (Csum::Zero, None),
        Kind::LongUlen => (Csum::Good, Some((8 + size + 100) as u16)),
    };
    let shape = Shape {
        sport: 40000,
        dport: port,
        seq: 0,
        size,
        ulen,
        csum,
        proto,
    };
    datagram::build(&shape, src, dst).wire
}

/// The sender of one side.
pub(super) struct Sender {
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
    pub(super) udp: UdpSocket,
    /// For `UDP_SEGMENT` sends (the option stays set on the socket).
    pub(super) gso: UdpSocket,
    pub(super) raw17: Socket,
    pub(super) raw_proto: Socket,
}

impl Sender {
    /// Sockets in the current netns sending from `src` to `dst`.
    pub(super) fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Result<Self> {
        Ok(Self {
            src,
            dst,
            udp: UdpSocket::bind((src, 0)).context("bind sender")?,
            gso: UdpSocket::bind((src, 0)).context("bind GSO sender")?,
            raw17: Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP))
                .context("raw socket")?,
            raw_proto: Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(PROTO))),
            )
            .context("raw socket")?,
        })
    }

    /// One `sendto()` of `n` datagrams of `size` bytes with `UDP_SEGMENT`.
    pub(super) fn send_gso(&self, n: usize, size: usize, port: u16) -> Result<()> {
        crate::kernel::socket::set_udp_segment(&self.gso, size)?;
        let all: Vec<u8> = (0..n as u64).flat_map(|i| payload(i, size)).collect();
        self.gso
            .send_to(&all, SocketAddrV4::new(self.dst, port))
            .context("send with UDP_SEGMENT")?;
        Ok(())
    }

    /// A datagram from the UDP socket when it is a good one, else [`Sender::send_crafted`].
    pub(super) fn send(&self, size: usize, kind: Kind, port: u16, proto: u8) -> Result<()> {
        if kind == Kind::Good && proto == 17 {
            self.udp
                .send_to(&payload(0, size), SocketAddrV4::new(self.dst, port))?;
            return Ok(());
        }
        self.send_crafted(size, kind, port, proto)
    }

    /// A crafted datagram from the raw socket of `proto`.
    pub(super) fn send_crafted(&self, size: usize, kind: Kind, port: u16, proto: u8) -> Result<()> {
        let raw = if proto == 17 {
            &self.raw17
        } else {
            &self.raw_proto
        };
        raw.send_to(
            &craft(size, kind, port, proto, self.src, self.dst),
            &SockAddr::from(SocketAddrV4::new(self.dst, 0)),
        )?;
        Ok(())
    }
}
