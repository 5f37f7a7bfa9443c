//! UDP datagrams as the tools make them: the payload of datagram `seq`, the checksum, a
//! datagram crafted by hand (any length field, any checksum, any IP protocol in the
//! pseudo-header), and the `LEN HEX` line that `send --print` and `recv` print.

use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Csum {
    /// The right checksum (pseudo-header with the packet's IP protocol).
    Good,
    /// A wrong, non-zero checksum.
    Bad,
    /// Zero: "no checksum", which IPv4 UDP accepts.
    Zero,
}

/// The payload of datagram `seq`: its sequence number, then a repeating pattern.
pub fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut p: Vec<u8> = seq
        .to_be_bytes()
        .iter()
        .copied()
        .cycle()
        .take(size.min(8))
        .collect();
    p.extend((p.len()..size).map(|i| (i % 251) as u8));
    p
}

/// The Internet checksum (RFC 1071) of `chunks`, folded, not yet complemented.
fn sum16(chunks: &[&[u8]]) -> u32 {
    let mut sum = 0u32;
    for c in chunks {
        let mut it = c.chunks_exact(2);
        for w in &mut it {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [b] = it.remainder() {
            sum += u32::from(*b) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// The UDP checksum of `datagram` (its checksum field zero) from `src` to `dst` with IP
/// protocol `proto`; 0 is sent as 0xffff (RFC 768).
pub fn udp_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, datagram: &[u8]) -> u16 {
    let len = u16::try_from(datagram.len()).unwrap_or(u16::MAX);
    let pseudo = [
        &src.octets()[..],
        &dst.octets()[..],
        &[0, proto],
        &len.to_be_bytes()[..],
    ]
    .concat();
    let c = !(sum16(&[&pseudo, datagram]) as u16);
    if c == 0 {
        0xffff
    } else {
        c
    }
}

/// A crafted datagram: what goes on the wire, and the payload a receiver gets if it is
/// delivered.
pub struct Crafted {
    pub wire: Vec<u8>,
    pub delivered: Vec<u8>,
}

/// A datagram to craft: ports, payload (datagram `seq` of `size` bytes), the UDP length
/// field (default: header + payload) and checksum, and the IP protocol of the checksum's
/// pseudo-header.
pub struct Shape {
    pub sport: u16,
    pub dport: u16,
    pub seq: u64,
    pub size: usize,
    pub ulen: Option<u16>,
    pub csum: Csum,
    pub proto: u8,
}

/// Builds `shape` from `src` to `dst` (the checksum's pseudo-header).
pub fn build(shape: &Shape, src: Ipv4Addr, dst: Ipv4Addr) -> Crafted {
    let body = payload(shape.seq, shape.size);
    let natural = (8 + body.len()).min(usize::from(u16::MAX)) as u16;
    let ulen = shape.ulen.unwrap_or(natural);
    let mut d = Vec::with_capacity(8 + body.len());
    d.extend(shape.sport.to_be_bytes());
    d.extend(shape.dport.to_be_bytes());
    d.extend(ulen.to_be_bytes());
    d.extend([0, 0]);
    d.extend(&body);
    // The receiver trims to the length field before it checks the checksum.
    let covered = usize::from(ulen).clamp(8, d.len());
    let good = udp_checksum(src, dst, shape.proto, &d[..covered]);
    let check = match shape.csum {
        Csum::Good => good,
        Csum::Zero => 0,
        Csum::Bad => match good.wrapping_add(1) {
            0 => 1,
            b => b,
        },
    };
    d[6..8].copy_from_slice(&check.to_be_bytes());
    let delivered = d[8..covered].to_vec();
    Crafted { wire: d, delivered }
}

/// `LEN HEX` for one datagram.
pub fn line(data: &[u8]) -> String {
    let mut s = format!("{} ", data.len());
    for b in data {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
/// A datagram whose checksum is right sums to 0xffff with its pseudo-header.
pub fn verifies(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, d: &[u8]) -> bool {
    let len = (d.len() as u16).to_be_bytes();
    let pseudo = [&src.octets()[..], &dst.octets()[..], &[0, proto], &len[..]].concat();
    sum16(&[&pseudo, d]) == 0xffff
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
    fn checksum_known_vector() {
        // 127.0.0.1:40000 -> 127.0.0.1:7000, payload "abcd": computed by hand
        // (pseudo 7f00 0001 7f00 0001 0011 000c + udp 9c40 1b58 000c 0000 6162 6364:
        // sum 0x27a89, folded 0x7a8b, complemented 0x8574).
        let lo = Ipv4Addr::LOCALHOST;
        let mut d = vec![0x9c, 0x40, 0x1b, 0x58, 0, 12, 0, 0, b'a', b'b', b'c', b'd'];
        let c = udp_checksum(lo, lo, 17, &d);
        assert_eq!(c, 0x8574);
        d[6..8].copy_from_slice(&c.to_be_bytes());
        assert!(verifies(lo, lo, 17, &d));
    }
}
