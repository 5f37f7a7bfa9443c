// SPDX-License-Identifier: GPL-2.0

//! `mutate`: crafted datagrams with random lengths, length fields, checksums and ports, IP
//! options and fragments, sent through a raw socket with our own IP header.

use super::rng::Rng;
use crate::datagram;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddrV4},
};

/// IPv4 options that are never sent: strict and loose source routes. With
/// `accept_source_route=0` (the default) `ip_rcv_options()` drops them without counting
/// them anywhere in `/proc/net/snmp`, so a datagram carrying one could not be accounted for.
const SOURCE_ROUTES: [u8; 2] = [131, 137];

/// Random IPv4 options, a multiple of 4 bytes, at most 40: well-formed ones the kernel
/// processes (NOP, record route, timestamp, router alert) or garbage: random types (never a
/// source route) with random, often impossible, lengths. `ip_options_compile()` refuses what
/// it cannot parse and counts it in `Ip: InHdrErrors`.
fn ip_options(rng: &mut Rng) -> Vec<u8> {
    let mut o = match rng.below(5) {
        0 => vec![1, 1, 1, 1],                           // NOPs
        1 => vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0],     // record route, 2 slots
        2 => vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0], // timestamp, 2 slots
        3 => vec![148, 4, 0, 0],                         // router alert
        _ => {
            let n = 1 + rng.below(40) as usize;
            let mut g: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            // Every byte may be read as an option type: none may be a source route.
            for b in &mut g {
                if SOURCE_ROUTES.contains(b) {
                    *b = 1;
                }
            }
            g
        }
    };
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(0); // end of options
    }
    o
}

/// An IPv4 header for `IP_HDRINCL` (`raw_send_hdrinc()` fills in the total length and the
/// checksum, and the source address when it is 0).
fn ip_header(proto: u8, id: u16, frag: u16, options: &[u8], dst: Ipv4Addr) -> Vec<u8> {
    let ihl = (20 + options.len()) / 4;
    let mut h = vec![0x40 | ihl as u8, 0, 0, 0];
    h.extend(id.to_be_bytes());
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(MUTATE_SRC.octets());
    h.extend(dst.octets());
    h.extend(options);
    h
}

/// The source of mutated datagrams (TEST-NET-1): in the test's netns no route leads back to
/// it, so no ICMP error about them is ever sent. An error would echo the datagram's IP
/// options (`__ip_options_echo()`), and a reply whose echoed options fail to parse would
/// itself be counted in `Ip: InHdrErrors`, which the test counts as refused datagrams.
/// (Over `lo` the packet keeps the route it was sent with: its source is not checked.)
const MUTATE_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// IP flag "more fragments" in the fragment field.
const IP_MF: u16 = 0x2000;

pub(super) fn mutate(to: Ipv4Addr, ports: &[u16], proto: u8, count: u64, seed: u64) -> Result<()> {
    if ports.is_empty() {
        bail!("--ports: at least one");
    }
    let mut rng = Rng::new(seed);
    // IPPROTO_RAW: the IP header is ours (IP_HDRINCL), options and fragment fields included.
    let sock = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
    )
    .context("raw socket (needs CAP_NET_RAW)")?;
    let src = MUTATE_SRC;
    let dst = socket2::SockAddr::from(SocketAddrV4::new(to, 0));
    let mut per_port: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut packets, mut with_options, mut fragmented) = (0u64, 0u64, 0u64);
    for seq in 0..count {
        let port = ports[rng.below(ports.len() as u64) as usize];
        let size = [0usize, 1, 40, 68, 100, 1000, 1400][rng.below(7) as usize];
        let csum = match rng.below(4) {
            0 => datagram::Csum::Bad,
            1 => datagram::Csum::Zero,
            _ => datagram::Csum::Good,
        };
        let ulen = match rng.below(4) {
            0 => Some(rng.below(2000) as u16),
            1 => Some((8 + size as u16).saturating_sub(rng.below(8) as u16)),
            _ => None,
        };
        let shape = datagram::Shape {
            sport: 40000 + rng.below(1000) as u16,
            dport: port,
            seq,
            size,
            ulen,
            csum,
            proto,
        };
        let mut wire = datagram::build(&shape, src, to).wire;
        if rng.below(6) == 0 {
            let keep = rng.below(wire.len() as u64 + 1) as usize;
            wire.truncate(keep.max(1));
        }
        if rng.below(8) == 0 && wire.len() > 8 {
            let i = 8 + rng.below(wire.len() as u64 - 8) as usize;
            wire[i] ^= 1 << rng.below(8);
        }
        // A nonzero id of our own (0 would have the kernel pick one): fragments of one
        // datagram share it, and every set is complete before the id comes round again.
        let id = (seq % 0xffff) as u16 + 1;
        let mut frames = Vec::new();
        if wire.len() >= 16 && rng.below(4) == 0 {
            // Two or three fragments cut at multiples of 8, sent in a random order; the
            // datagram is reassembled before NF_INET_LOCAL_IN and the handler.
            let units = wire.len().div_ceil(8);
            let mut cuts = vec![1 + rng.below(units as u64 - 1) as usize];
            if units > 2 && rng.below(2) == 0 {
                cuts.push(1 + rng.below(units as u64 - 1) as usize);
            }
            cuts.push(units);
            cuts.sort_unstable();
            cuts.dedup();
            let mut from = 0;
            for &c in &cuts {
                let end = (c * 8).min(wire.len());
                let mf = if end < wire.len() { IP_MF } else { 0 };
                let mut f = ip_header(proto, id, mf | (from / 8) as u16, &[], to);
                f.extend(&wire[from..end]);
                frames.push(f);
                from = end;
            }
            for i in (1..frames.len()).rev() {
                frames.swap(i, rng.below(i as u64 + 1) as usize);
            }
            fragmented += 1;
        } else {
            let options = if rng.below(4) == 0 {
                with_options += 1;
                ip_options(&mut rng)
            } else {
                Vec::new()
            };
            let mut f = ip_header(proto, id, 0, &options, to);
            f.extend(&wire);
            frames.push(f);
        }
        for f in &frames {
            sock.send_to(f, &dst)
                .with_context(|| format!("send datagram {seq}"))?;
        }
        packets += frames.len() as u64;
        *per_port.entry(port).or_default() += 1;
    }
    println!(
        "{}",
        json!({ "sent": count, "packets": packets, "with_options": with_options,
                "fragmented": fragmented, "per_port": per_port, "proto": proto })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_padded_bounded_and_never_route() {
        let mut rng = Rng::new(5);
        for _ in 0..10000 {
            let o = ip_options(&mut rng);
            assert!(!o.is_empty() && o.len() <= 40 && o.len() % 4 == 0, "{o:?}");
            assert!(!o.iter().any(|b| SOURCE_ROUTES.contains(b)), "{o:?}");
        }
    }

    #[test]
    fn header_has_ihl_id_fragment_and_addresses() {
        let h = ip_header(
            17,
            0x1234,
            IP_MF | 3,
            &[1, 1, 1, 1],
            Ipv4Addr::new(10, 0, 0, 2),
        );
        assert_eq!(h.len(), 24);
        assert_eq!(h[0], 0x46);
        assert_eq!(&h[4..6], &[0x12, 0x34]);
        assert_eq!(u16::from_be_bytes([h[6], h[7]]), 0x2003);
        assert_eq!(h[9], 17);
        assert_eq!(&h[12..16], &MUTATE_SRC.octets());
        assert_eq!(&h[16..20], &[10, 0, 0, 2]);
    }
}
