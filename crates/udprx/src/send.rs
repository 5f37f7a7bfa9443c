//! `udprx send`.

use anyhow::{bail, Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

#[derive(clap::Args)]
pub struct Args {
    /// Destination, ADDR:PORT (the port is ignored for protocols other than 17).
    #[arg(long, value_parser = parse_dest)]
    to: SocketAddrV4,
    /// Number of datagrams.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// Payload bytes per datagram.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// IP protocol number: 17 sends UDP through a UDP socket, anything else a raw IP packet
    /// with that protocol and the payload as its body.
    #[arg(long, default_value_t = 17)]
    proto: u8,
}

fn parse_dest(s: &str) -> Result<SocketAddrV4, String> {
    if let Ok(a) = s.parse::<SocketAddrV4>() {
        return Ok(a);
    }
    s.parse::<Ipv4Addr>()
        .map(|ip| SocketAddrV4::new(ip, 0))
        .map_err(|_| format!("'{s}' is not ADDR or ADDR:PORT (IPv4)"))
}

/// The payload of datagram `seq`: its sequence number, then a repeating pattern.
pub fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut p: Vec<u8> = seq.to_be_bytes().iter().copied().cycle().take(size.min(8)).collect();
    p.extend((p.len()..size).map(|i| (i % 251) as u8));
    p
}

pub fn run(a: &Args) -> Result<()> {
    if a.proto == 17 {
        if a.to.port() == 0 {
            bail!("UDP needs a destination port (--to ADDR:PORT)");
        }
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("bind UDP socket")?;
        for seq in 0..a.count {
            sock.send_to(&payload(seq, a.size), a.to)
                .with_context(|| format!("send to {}", a.to))?;
        }
    } else {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(i32::from(a.proto))))
            .context("raw socket (needs CAP_NET_RAW)")?;
        let dst = SockAddr::from(SocketAddrV4::new(*a.to.ip(), 0));
        for seq in 0..a.count {
            sock.send_to(&payload(seq, a.size), &dst)
                .with_context(|| format!("send to {}", a.to.ip()))?;
        }
    }
    println!(
        "udprx send: {} datagram(s) of {} byte(s) to {} (protocol {})",
        a.count, a.size, a.to, a.proto
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_size_and_sequence() {
        assert_eq!(payload(7, 0), Vec::<u8>::new());
        assert_eq!(payload(7, 3), vec![0, 0, 0]);
        let p = payload(0x0102, 12);
        assert_eq!(p.len(), 12);
        assert_eq!(&p[..8], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&p[8..], &[8, 9, 10, 11]);
    }

    #[test]
    fn destinations() {
        assert_eq!(parse_dest("127.0.0.1:9").unwrap(), "127.0.0.1:9".parse().unwrap());
        assert_eq!(parse_dest("10.0.0.1").unwrap().port(), 0);
        assert!(parse_dest("localhost:9").is_err());
    }
}
