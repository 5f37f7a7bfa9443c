//! Network plumbing for `udprx compare`, done in-process: interface flags through
//! `SIOCSIFFLAGS` (as `ifconfig` does), a veth pair and IPv4 addresses through rtnetlink
//! (as `ip link add ... type veth peer ... netns` and `ip addr add` do), with the
//! rust-netlink crates (`netlink-packet-route` builds the messages, `netlink-sys` is the
//! socket), used synchronously.

use anyhow::{bail, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage},
    AddressFamily, RouteNetlinkMessage,
};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::{
    net::{Ipv4Addr, UdpSocket},
    os::fd::{AsRawFd, BorrowedFd, RawFd},
    time::{Duration, Instant},
};

/// An `ifreq` naming `name`.
fn ifreq(name: &str) -> Result<libc::ifreq> {
    if name.len() >= libc::IFNAMSIZ {
        bail!("interface name too long: {name}");
    }
    // SAFETY: `ifreq` is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, c) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = c as libc::c_char;
    }
    Ok(ifr)
}

/// The interface flags of `name` in the current netns.
pub fn flags(name: &str) -> Result<libc::c_int> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("socket")?;
    let mut ifr = ifreq(name)?;
    // SAFETY: `ifr` is a valid `ifreq` the ioctl reads and writes.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("SIOCGIFFLAGS {name}"));
    }
    // SAFETY: SIOCGIFFLAGS filled in the flags member of the union.
    Ok(libc::c_int::from(unsafe { ifr.ifr_ifru.ifru_flags }))
}

/// Sets `name` up in the current netns.
pub fn up(name: &str) -> Result<()> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("socket")?;
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_flags = (flags(name)? | libc::IFF_UP) as libc::c_short;
    // SAFETY: `ifr` is a valid `ifreq` the ioctl reads.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("SIOCSIFFLAGS {name}"));
    }
    Ok(())
}

/// Waits until `name` is running (carrier on and the link watcher has activated its
/// queueing discipline: before that, what is sent is dropped).
pub fn wait_running(name: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while flags(name)? & libc::IFF_RUNNING == 0 {
        if Instant::now() > deadline {
            bail!("{name}: not running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Sends one request to rtnetlink in the current netns and waits for its acknowledgement.
fn request(what: &str, flags: u16, msg: RouteNetlinkMessage) -> Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    header.sequence_number = 1;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf);
    let mut sock = Socket::new(NETLINK_ROUTE).context("socket(AF_NETLINK)")?;
    sock.bind_auto().context("bind(netlink)")?;
    sock.connect(&SocketAddr::new(0, 0))
        .context("connect(netlink)")?;
    sock.send(&buf, 0)
        .with_context(|| format!("{what}: send(netlink)"))?;
    let mut ack = Vec::with_capacity(4096);
    sock.recv(&mut ack, 0)
        .with_context(|| format!("{what}: recv(netlink)"))?;
    let answer = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&ack)
        .map_err(|e| anyhow::anyhow!("{what}: bad netlink answer: {e}"))?;
    match answer.payload {
        NetlinkPayload::Error(e) if e.code.is_none() => Ok(()),
        NetlinkPayload::Error(e) => Err(e.to_io()).context(what.to_string()),
        other => bail!("{what}: unexpected netlink answer {other:?}"),
    }
}

/// A link message naming `name`, with `more` attributes after the name.
fn link(name: &str, more: Vec<LinkAttribute>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m.attributes.extend(more);
    m
}

/// The veth request: `name` here, `peer` in the netns of `peer_ns`.
fn veth_message(name: &str, peer: &str, peer_ns: RawFd) -> LinkMessage {
    let peer = link(peer, vec![LinkAttribute::NetNsFd(peer_ns)]);
    link(
        name,
        vec![LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ])],
    )
}

/// Creates a veth pair: `name` in the current netns, `peer` in the netns `peer_ns`.
pub fn add_veth(name: &str, peer: &str, peer_ns: BorrowedFd<'_>) -> Result<()> {
    request(
        &format!("add veth {name} peer {peer}"),
        NLM_F_CREATE | NLM_F_EXCL,
        RouteNetlinkMessage::NewLink(veth_message(name, peer, peer_ns.as_raw_fd())),
    )
}

/// The address request: `addr/prefix` on interface `index`.
fn addr_message(index: u32, addr: Ipv4Addr, prefix: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(addr.into()));
    m.attributes.push(AddressAttribute::Address(addr.into()));
    m
}

/// Adds `addr/prefix` to `name` in the current netns.
pub fn add_addr(name: &str, addr: Ipv4Addr, prefix: u8) -> Result<()> {
    let cname = std::ffi::CString::new(name)?;
    // SAFETY: `cname` is a valid C string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("no interface {name}"));
    }
    request(
        &format!("add {addr}/{prefix} to {name}"),
        NLM_F_CREATE | NLM_F_EXCL,
        RouteNetlinkMessage::NewAddress(addr_message(index, addr, prefix)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    /// The bytes `ip link add A type veth peer name B netns FD` sends after its
    /// `struct ifinfomsg` (as the hand-built messages of earlier versions were laid out).
    #[test]
    fn veth_request_is_laid_out_as_the_kernel_reads_it() {
        let m = veth_message("ab", "cd", 7);
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        // struct ifinfomsg, then IFLA_IFNAME (3) "ab\0".
        assert_eq!(&b[16..24], &[7, 0, 3, 0, b'a', b'b', 0, 0]);
        // IFLA_LINKINFO (18), nested: IFLA_INFO_KIND (1) "veth\0" (length 9, padded to 12).
        assert_eq!(u16_at(26) & 0x3fff, 18);
        assert_eq!(u16_at(24) as usize, b.len() - 24);
        assert_eq!(u16_at(28), 9);
        assert_eq!(u16_at(30), 1);
        assert_eq!(&b[32..37], b"veth\0");
        // IFLA_INFO_DATA (2) > VETH_INFO_PEER (1) > ifinfomsg, "cd", IFLA_NET_NS_FD (28) 7.
        assert_eq!(u16_at(42) & 0x3fff, 2);
        assert_eq!(u16_at(46) & 0x3fff, 1);
        let peer = &b[48..];
        assert_eq!(&peer[16..24], &[7, 0, 3, 0, b'c', b'd', 0, 0]);
        assert_eq!(&peer[24..32], &[8, 0, 28, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn address_request_carries_local_and_address() {
        let m = addr_message(5, Ipv4Addr::new(10, 0, 0, 2), 24);
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        // struct ifaddrmsg: AF_INET, prefix 24, flags, scope, index 5.
        assert_eq!(&b[..8], &[2, 24, 0, 0, 5, 0, 0, 0]);
        // IFA_LOCAL (2) and IFA_ADDRESS (1), 10.0.0.2 each.
        assert_eq!(&b[8..16], &[8, 0, 2, 0, 10, 0, 0, 2]);
        assert_eq!(&b[16..24], &[8, 0, 1, 0, 10, 0, 0, 2]);
    }
}
