//! Network plumbing for `udprx compare`, done in-process: interface flags through
//! `SIOCSIFFLAGS` (as `ifconfig` does), a veth pair and IPv4 addresses through rtnetlink
//! (as `ip link add ... type veth peer ... netns` and `ip addr add` do).

use anyhow::{bail, Context, Result};
use std::{
    net::{Ipv4Addr, UdpSocket},
    os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
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

const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;

/// A netlink message under construction: header, fixed part, attributes.
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16) -> Self {
        let mut m = Msg(Vec::new());
        m.0.extend(0u32.to_ne_bytes()); // nlmsg_len, set by finish()
        m.0.extend(ty.to_ne_bytes());
        m.0.extend((flags | libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16).to_ne_bytes());
        m.0.extend(1u32.to_ne_bytes()); // nlmsg_seq
        m.0.extend(0u32.to_ne_bytes()); // nlmsg_pid: the kernel
        m
    }

    fn pad(&mut self) {
        while self.0.len() % 4 != 0 {
            self.0.push(0);
        }
    }

    /// `struct ifinfomsg` (family, type, index, flags, change all zero).
    fn ifinfomsg(&mut self) {
        self.0.extend([0u8; 16]);
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        self.0.extend(((4 + data.len()) as u16).to_ne_bytes());
        self.0.extend(ty.to_ne_bytes());
        self.0.extend(data);
        self.pad();
    }

    fn name(&mut self, ty: u16, s: &str) {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(ty, &d);
    }

    /// Opens a nested attribute; `close` fills in its length.
    fn open(&mut self, ty: u16) -> usize {
        let at = self.0.len();
        self.0.extend([0, 0]);
        self.0.extend((ty | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn close(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// Sends one request to rtnetlink in the current netns and waits for its acknowledgement.
fn request(what: &str, msg: Msg) -> Result<()> {
    // SAFETY: Plain socket(2); the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("socket(AF_NETLINK)");
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let buf = msg.finish();
    // SAFETY: `sockaddr_nl` is plain data; all zeroes addresses the kernel.
    let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `buf` and `to` are valid for the lengths passed.
    let r = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (&to as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("{what}: sendto(netlink)"));
    }
    let mut ack = [0u8; 4096];
    // SAFETY: `ack` is writable for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), ack.as_mut_ptr().cast(), ack.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("{what}: recv(netlink)"));
    }
    // nlmsghdr (16 bytes), then for NLMSG_ERROR an i32 error (0: acknowledged).
    if n < 20 || u16::from_ne_bytes([ack[4], ack[5]]) != libc::NLMSG_ERROR as u16 {
        bail!("{what}: unexpected netlink answer ({n} bytes)");
    }
    let err = i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]);
    if err != 0 {
        return Err(std::io::Error::from_raw_os_error(-err)).context(what.to_string());
    }
    Ok(())
}

/// Creates a veth pair: `name` in the current netns, `peer` in the netns `peer_ns`.
pub fn add_veth(name: &str, peer: &str, peer_ns: BorrowedFd<'_>) -> Result<()> {
    let mut m = Msg::new(
        libc::RTM_NEWLINK,
        (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
    );
    m.ifinfomsg();
    m.name(IFLA_IFNAME, name);
    let info = m.open(IFLA_LINKINFO);
    m.name(IFLA_INFO_KIND, "veth");
    let data = m.open(IFLA_INFO_DATA);
    let p = m.open(VETH_INFO_PEER);
    m.ifinfomsg();
    m.name(IFLA_IFNAME, peer);
    m.attr(IFLA_NET_NS_FD, &peer_ns.as_raw_fd().to_ne_bytes());
    m.close(p);
    m.close(data);
    m.close(info);
    request(&format!("add veth {name} peer {peer}"), m)
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
    let mut m = Msg::new(
        libc::RTM_NEWADDR,
        (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
    );
    // struct ifaddrmsg: family, prefixlen, flags, scope, index.
    m.0.extend([libc::AF_INET as u8, prefix, 0, 0]);
    m.0.extend(index.to_ne_bytes());
    m.attr(IFA_LOCAL, &addr.octets());
    m.attr(IFA_ADDRESS, &addr.octets());
    request(&format!("add {addr}/{prefix} to {name}"), m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_are_sized_and_aligned() {
        let mut m = Msg::new(libc::RTM_NEWLINK, 0);
        m.ifinfomsg();
        let o = m.open(IFLA_LINKINFO);
        m.name(IFLA_INFO_KIND, "veth");
        m.close(o);
        let b = m.finish();
        assert_eq!(b.len(), 16 + 16 + 4 + 12);
        assert_eq!(
            u32::from_ne_bytes(b[..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(u16::from_ne_bytes([b[32], b[33]]), 4 + 12);
        assert_eq!(
            u16::from_ne_bytes([b[34], b[35]]),
            IFLA_LINKINFO | NLA_F_NESTED
        );
        // "veth\0" is 5 bytes: attribute length 9, padded to 12.
        assert_eq!(u16::from_ne_bytes([b[36], b[37]]), 9);
        assert_eq!(&b[40..45], b"veth\0");
    }
}
