//! `udprx send`: well-formed UDP through a normal socket; anything else (another IP
//! protocol, a bad or zero checksum, a wrong length field, a cut-off datagram) crafted by
//! hand and sent through a raw socket of that protocol, the kernel adding the IP header.

use crate::{
    datagram::{build, line, payload, Crafted, Csum, Shape},
    kernel::socket::set_udp_segment,
};
use anyhow::{bail, Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::{
    mem::MaybeUninit,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    time::{Duration, Instant},
};

#[derive(clap::Args)]
pub struct Args {
    /// Destination, ADDR:PORT (ADDR alone means port 0).
    #[arg(long, value_parser = parse_dest)]
    to: SocketAddrV4,
    /// Number of datagrams.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// Payload bytes per datagram.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// IP protocol number: 17 is UDP; any other number carries the same UDP datagram
    /// (header and payload) with that protocol in the IP header and pseudo-header.
    #[arg(long, default_value_t = 17)]
    proto: u8,
    /// UDP checksum to put in the header.
    #[arg(long, value_enum, default_value_t = Csum::Good)]
    csum: Csum,
    /// UDP length field (default: header + payload). Shorter than the datagram: the
    /// receiver trims the rest; longer: the receiver drops it.
    #[arg(long)]
    ulen: Option<u16>,
    /// Send only the first N bytes of the UDP datagram (header included), e.g. 4 for a
    /// datagram too short to hold a UDP header.
    #[arg(long)]
    truncate: Option<usize>,
    /// Source port of crafted datagrams.
    #[arg(long, default_value_t = 40000)]
    sport: u16,
    /// Print what a receiver should get, one line per datagram: LEN HEX (as `udprx recv`).
    #[arg(long)]
    print: bool,
    /// Wait for one ICMP port unreachable per datagram (up to 3 s); exit 1 if fewer come.
    #[arg(long)]
    expect_unreach: bool,
    /// Send all datagrams in one sendto() with UDP_SEGMENT (GSO): one skb of --count
    /// segments of --size bytes travels to the receiver, which splits it again (over veth
    /// the skb stays whole up to the receiver's stack).
    #[arg(long, conflicts_with_all = ["proto", "csum", "ulen", "truncate"])]
    segment: bool,
    /// Set SO_BROADCAST, to send to a broadcast address.
    #[arg(long)]
    broadcast: bool,
}

fn parse_dest(s: &str) -> Result<SocketAddrV4, String> {
    if let Ok(a) = s.parse::<SocketAddrV4>() {
        return Ok(a);
    }
    s.parse::<Ipv4Addr>()
        .map(|ip| SocketAddrV4::new(ip, 0))
        .map_err(|_| format!("'{s}' is not ADDR or ADDR:PORT (IPv4)"))
}

/// Builds datagram `seq` as `a` asks.
pub fn craft(a: &Args, src: Ipv4Addr, seq: u64) -> Crafted {
    let shape = Shape {
        sport: a.sport,
        dport: a.to.port(),
        seq,
        size: a.size,
        ulen: a.ulen,
        csum: a.csum,
        proto: a.proto,
    };
    let mut c = build(&shape, src, *a.to.ip());
    if let Some(t) = a.truncate {
        c.wire.truncate(t);
    }
    c
}

/// The source address the kernel will use towards `dst`.
fn source_for(dst: Ipv4Addr) -> Result<Ipv4Addr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("bind UDP socket")?;
    // A broadcast destination needs SO_BROADCAST even to look its route up.
    s.set_broadcast(true).context("SO_BROADCAST")?;
    s.connect((dst, 9))
        .with_context(|| format!("no route to {dst}"))?;
    match s.local_addr()? {
        std::net::SocketAddr::V4(a) => Ok(*a.ip()),
        std::net::SocketAddr::V6(_) => bail!("unexpected IPv6 source"),
    }
}

/// Whether `pkt` (IPv4 header + ICMP) is a port unreachable about a datagram of `proto`
/// to `dst`.
fn is_port_unreach(pkt: &[u8], proto: u8, dst: SocketAddrV4) -> bool {
    let Some(ihl) = pkt.first().map(|b| usize::from(b & 0xf) * 4) else {
        return false;
    };
    let icmp = &pkt[ihl.min(pkt.len())..];
    if icmp.len() < 8 + 20 + 4 || icmp[0] != 3 || icmp[1] != 3 {
        return false;
    }
    let inner = &icmp[8..];
    let iihl = usize::from(inner[0] & 0xf) * 4;
    if inner.len() < iihl + 4 || inner[9] != proto || inner[16..20] != dst.ip().octets() {
        return false;
    }
    u16::from_be_bytes([inner[iihl + 2], inner[iihl + 3]]) == dst.port()
}

/// Counts ICMP port unreachables about our datagrams until `want` came or 3 s passed.
fn await_unreach(icmp: &Socket, want: u64, proto: u8, dst: SocketAddrV4) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut got = 0;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    while got < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        icmp.set_read_timeout(Some(left))?;
        let n = match icmp.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => return Err(e).context("recv ICMP"),
        };
        // SAFETY: `recv` initialised the first `n` bytes.
        let pkt: Vec<u8> = buf[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        if is_port_unreach(&pkt, proto, dst) {
            got += 1;
        }
    }
    Ok(got)
}

pub fn run(a: &Args) -> Result<()> {
    let crafted = a.proto != 17 || a.csum != Csum::Good || a.ulen.is_some() || a.truncate.is_some();
    let icmp = if a.expect_unreach {
        Some(
            Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
                .context("raw ICMP socket (needs CAP_NET_RAW)")?,
        )
    } else {
        None
    };
    let src = source_for(*a.to.ip())?;
    if crafted {
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(a.proto))),
        )
        .context("raw socket (needs CAP_NET_RAW)")?;
        let dst = SockAddr::from(SocketAddrV4::new(*a.to.ip(), 0));
        for seq in 0..a.count {
            let c = craft(a, src, seq);
            sock.send_to(&c.wire, &dst)
                .with_context(|| format!("send to {}", a.to.ip()))?;
            if a.print {
                println!("{}", line(&c.delivered));
            }
        }
    } else {
        if a.to.port() == 0 {
            bail!("UDP needs a destination port (--to ADDR:PORT)");
        }
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("bind UDP socket")?;
        if a.broadcast {
            sock.set_broadcast(true).context("SO_BROADCAST")?;
        }
        if a.segment {
            let all: Vec<Vec<u8>> = (0..a.count).map(|seq| payload(seq, a.size)).collect();
            set_udp_segment(&sock, a.size)?;
            sock.send_to(&all.concat(), a.to)
                .with_context(|| format!("send {} segments to {}", a.count, a.to))?;
            if a.print {
                for p in &all {
                    println!("{}", line(p));
                }
            }
        } else {
            for seq in 0..a.count {
                let p = payload(seq, a.size);
                sock.send_to(&p, a.to)
                    .with_context(|| format!("send to {}", a.to))?;
                if a.print {
                    println!("{}", line(&p));
                }
            }
        }
    }
    if !a.print {
        println!(
            "udprx send: {} datagram(s) of {} byte(s) to {} (protocol {}{})",
            a.count,
            a.size,
            a.to,
            a.proto,
            if crafted { ", crafted" } else { "" }
        );
    }
    if let Some(icmp) = icmp {
        let got = await_unreach(&icmp, a.count, a.proto, a.to)?;
        eprintln!("udprx send: {got} ICMP port unreachable(s) received");
        if got < a.count {
            bail!("expected {} ICMP port unreachable(s), got {got}", a.count);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagram::verifies;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["t", "--to", "127.0.0.1:7000"];
        v.extend_from_slice(extra);
        T::parse_from(v).a
    }

    #[test]
    fn destinations() {
        assert_eq!(
            parse_dest("127.0.0.1:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(parse_dest("10.0.0.1").unwrap().port(), 0);
        assert!(parse_dest("localhost:9").is_err());
    }

    #[test]
    fn crafted_checksums() {
        let lo = Ipv4Addr::LOCALHOST;
        for proto in ["17", "253"] {
            let good = craft(&args(&["--proto", proto, "--size", "33"]), lo, 3);
            assert!(verifies(lo, lo, proto.parse().unwrap(), &good.wire));
            assert!(
                !verifies(lo, lo, 99, &good.wire),
                "the protocol is in the pseudo-header"
            );
            assert_eq!(good.delivered, payload(3, 33));
            let bad = craft(&args(&["--proto", proto, "--csum", "bad"]), lo, 0);
            assert!(!verifies(lo, lo, proto.parse().unwrap(), &bad.wire));
            assert_ne!(&bad.wire[6..8], &[0, 0]);
            let zero = craft(&args(&["--proto", proto, "--csum", "zero"]), lo, 0);
            assert_eq!(&zero.wire[6..8], &[0, 0]);
        }
    }

    #[test]
    fn crafted_lengths() {
        let lo = Ipv4Addr::LOCALHOST;
        // Trimmed: the length field covers 8 + 10 bytes of 8 + 32; the checksum covers the same.
        let t = craft(&args(&["--ulen", "18"]), lo, 1);
        assert_eq!(t.wire.len(), 40);
        assert_eq!(&t.wire[4..6], &18u16.to_be_bytes());
        assert!(verifies(lo, lo, 17, &t.wire[..18]));
        assert_eq!(t.delivered, payload(1, 32)[..10].to_vec());
        // Cut off: fewer bytes than a header.
        let s = craft(&args(&["--truncate", "4"]), lo, 0);
        assert_eq!(s.wire.len(), 4);
    }

    #[test]
    fn icmp_port_unreach_parsing() {
        let dst: SocketAddrV4 = "127.0.0.1:7000".parse().unwrap();
        let mut pkt = vec![0x45; 1];
        pkt.resize(20, 0);
        pkt.extend([3, 3, 0, 0, 0, 0, 0, 0]);
        let mut inner = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        inner.extend([0x9c, 0x40, 0x1b, 0x58]);
        pkt.extend(&inner);
        assert!(is_port_unreach(&pkt, 17, dst));
        assert!(!is_port_unreach(&pkt, 253, dst));
        assert!(!is_port_unreach(
            &pkt,
            17,
            "127.0.0.1:7001".parse().unwrap()
        ));
        pkt[21] = 1; // code 1: host unreachable
        assert!(!is_port_unreach(&pkt, 17, dst));
    }
}
