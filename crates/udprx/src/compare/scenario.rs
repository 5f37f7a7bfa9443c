// SPDX-License-Identifier: GPL-2.0

//! The scenarios and what they are made of: the sides and links each runs over, the port
//! and protocol, datagram kinds, steps, what stands before the socket, and the fixed
//! traffic of each scenario.

use anyhow::{Context, Result};

/// The port every side's socket binds.
pub(super) const PORT: u16 = 7000;
/// A port that no side binds (`closed-port`).
pub(super) const CLOSED: u16 = 7999;
/// The IP protocol of udprx's protocol handler (the module's default `proto`).
pub(super) const PROTO: u8 = 253;
/// `CHECKSUM_BREAK`: datagrams up to this many bytes have their checksum verified on arrival.
pub(super) const CHECKSUM_BREAK: usize = 76;

/// The sides of a comparison.
pub(super) use crate::side::Side;

/// The path datagrams take from sender to receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub(super) enum Link {
    /// Sender and receiver in one netns, over `lo` (MTU 65536).
    Lo,
    /// Sender and receiver in two netns joined by a veth pair (MTU 1500: datagrams over
    /// 1472 bytes arrive as fragments and are reassembled before `LOCAL_IN`).
    Veth,
}

impl Link {
    pub(super) fn name(self) -> &'static str {
        match self {
            Link::Lo => "lo",
            Link::Veth => "veth",
        }
    }
}

/// What a datagram looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Kind {
    Good,
    BadCsum,
    ZeroCsum,
    /// UDP length field longer than the datagram.
    LongUlen,
    /// One segment of a `UDP_SEGMENT` (GSO) send: its datagrams travel as one skb and are
    /// split again before the socket; a segment's truesize is its own.
    Segment,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Step {
    /// A datagram of `size` payload bytes to the bound port.
    Send(usize, Kind),
    /// One `sendto()` with `UDP_SEGMENT`: `.0` datagrams of `.1` payload bytes, one skb to
    /// the bound port.
    SendGso(usize, usize),
    /// A well-formed datagram to a port nobody bound (protocol 17 for stock, `PROTO` for
    /// udprx), from a raw socket on every side: over `lo` the sender's counters are the
    /// receiving netns's, and a UDP socket would count `Udp: OutDatagrams` on stock only.
    SendClosed(usize),
    /// One non-blocking read.
    Read,
    Hold,
    Release,
    /// Close the socket with whatever is queued.
    Close,
}

/// What stands between the sender and the socket, on every side alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Guard {
    /// Nothing.
    None,
    /// An nftables `input` chain at the filter priority that drops UDP to the port.
    Firewall,
    /// A classic BPF socket filter that drops datagrams longer than this many bytes (UDP
    /// header included): `SO_ATTACH_FILTER` or `UDPRX_ATTACH_FILTER`.
    Filter(u32),
    /// `net.ipv4.udp_mem` one page above what UDP holds when the side starts, everything
    /// on CPU 0 with its per-CPU batch flushed first. `udp_mem` is global: such a scenario
    /// runs alone, after the others, one link at a time.
    UdpMem,
}

pub(super) struct Scenario {
    pub(super) name: &'static str,
    pub(super) about: String,
    /// `SO_RCVBUF` value and whether forced.
    pub(super) rcvbuf: Option<(i32, bool)>,
    /// A firewall rule or a socket filter, the same for every side.
    pub(super) guard: Guard,
    pub(super) steps: Vec<Step>,
    /// Why `classic` differs from stock, when it does.
    pub(super) classic_reason: &'static str,
}

pub(super) fn sends(n: usize, size: usize) -> Vec<Step> {
    vec![Step::Send(size, Kind::Good); n]
}

pub(super) fn rmem_max() -> Result<i32> {
    let s = std::fs::read_to_string("/proc/sys/net/core/rmem_max").context("read rmem_max")?;
    Ok(s.trim().parse()?)
}

/// The scenarios; `ts1000` is the truesize of a 1000-byte datagram on this kernel (measured
/// first; `None` only for `--list`).
pub(super) fn scenarios(ts1000: Option<u32>) -> Result<Vec<Scenario>> {
    let rmax = rmem_max()?;
    // SO_RCVBUF for a buffer of exactly three datagrams (the kernel doubles it).
    let exact = ts1000.map_or(3456, |t| (3 * t / 2) as i32);
    let mut slow = Vec::new();
    for i in 0..36 {
        slow.push(Step::Send(1000, Kind::Good));
        if i % 3 == 2 {
            slow.push(Step::Read);
        }
    }
    let mixed = [100, 1500, 3000, 600]
        .iter()
        .cycle()
        .take(24)
        .map(|&s| Step::Send(s, Kind::Good))
        .collect();
    let mut held = vec![Step::Hold];
    held.extend(sends(20, 1000));
    held.push(Step::Release);
    let mut close = sends(5, 1000);
    close.push(Step::Close);
    let filtered = [100, 1400]
        .iter()
        .cycle()
        .take(12)
        .map(|&s| Step::Send(s, Kind::Good))
        .collect();
    // Each clamp scenario sends a little more than its buffer holds, in big datagrams (the
    // truesize of 60000 bytes is over 60000, so buffer / 60000 datagrams overflow it).
    let clamp_n = (2 * rmax as usize) / 60_000 + 4;
    let force_n = (4 * rmax as usize) / 60_000 + 4;
    Ok(vec![
        Scenario {
            name: "overflow",
            about: "20 x 1000 B, SO_RCVBUF 4096, nobody reads".into(),
            rcvbuf: Some((4096, false)),
            steps: sends(20, 1000),
            classic_reason: "3.13 sock_queue_rcv_skb() admits while rmem < rcvbuf (one more datagram), then sk_rcvqueues_full() drops early with InErrors only",
            guard: Guard::None,
        },
        Scenario {
            name: "exact-fit",
            about: format!("6 x 1000 B, SO_RCVBUF {exact}: sk_rcvbuf is exactly 3 truesizes, nobody reads"),
            rcvbuf: Some((exact, false)),
            steps: sends(6, 1000),
            classic_reason: "",
            guard: Guard::None,
        },
        Scenario {
            name: "slow-reader",
            about: "36 x 1000 B, SO_RCVBUF 4096, one read after every 3rd arrival".into(),
            rcvbuf: Some((4096, false)),
            steps: slow,
            classic_reason: "3.13 uncharges at once on read and admits while rmem < rcvbuf; 7.3 keeps read bytes charged until the deficit reaches rcvbuf/4 or the reader queue empties",
            guard: Guard::None,
        },
        Scenario {
            name: "mixed-sizes",
            about: "24 datagrams of 100, 1500, 3000, 600 B (different truesizes), SO_RCVBUF 8192, nobody reads".into(),
            rcvbuf: Some((8192, false)),
            steps: mixed,
            classic_reason: "3.13 tests rmem < rcvbuf without the arriving truesize, so it admits one datagram past rcvbuf whatever its size and then nothing; 7.3 tests rmem + truesize <= rcvbuf, so it refuses the datagram that does not fit and still takes smaller ones",
            guard: Guard::None,
        },
        Scenario {
            name: "tiny-rcvbuf",
            about: "5 x 4000 B, SO_RCVBUF 1 (sk_rcvbuf = SOCK_MIN_RCVBUF, smaller than one datagram)".into(),
            rcvbuf: Some((1, false)),
            steps: sends(5, 4000),
            classic_reason: "3.13: once the first datagram is in, rmem > rcvbuf and sk_rcvqueues_full() drops early, counting InErrors only",
            guard: Guard::None,
        },
        Scenario {
            name: "clamp",
            about: format!("{clamp_n} x 60000 B, SO_RCVBUF 2 x rmem_max (clamped to rmem_max = {rmax})"),
            rcvbuf: Some((rmax.saturating_mul(2), false)),
            steps: sends(clamp_n, 60_000),
            classic_reason: "3.13 admits while rmem < rcvbuf: one more datagram",
            guard: Guard::None,
        },
        Scenario {
            name: "force",
            about: format!("{force_n} x 60000 B, SO_RCVBUFFORCE 2 x rmem_max (not clamped)"),
            rcvbuf: Some((rmax.saturating_mul(2), true)),
            steps: sends(force_n, 60_000),
            classic_reason: "3.13 admits while rmem < rcvbuf: one more datagram",
            guard: Guard::None,
        },
        Scenario {
            name: "closed-port",
            about: format!("3 datagrams to port {CLOSED}, bound by nobody (udprx: on protocol {PROTO})"),
            rcvbuf: None,
            steps: vec![Step::SendClosed(100); 3],
            classic_reason: "",
            guard: Guard::None,
        },
        Scenario {
            name: "malformed",
            about: "bad checksum (40 B: found on arrival; 208 B: found on read), zero checksum, UDP length > datagram; reads after each".into(),
            rcvbuf: None,
            steps: vec![
                Step::Send(32, Kind::BadCsum),
                Step::Send(200, Kind::BadCsum),
                Step::Read,
                Step::Send(48, Kind::ZeroCsum),
                Step::Read,
                Step::Send(100, Kind::LongUlen),
                Step::Read,
            ],
            classic_reason: "",
            guard: Guard::None,
        },
        Scenario {
            name: "held",
            about: "socket held, 20 x 1000 B, released; SO_RCVBUF 4096 (stock: 7.3 UDP never backlogs, so the stock side is the same traffic unheld)".into(),
            rcvbuf: Some((4096, false)),
            steps: held,
            classic_reason: "3.13 backlogs while the socket is owned (sk_add_backlog, limit backlog.len + rmem > rcvbuf) and drains through sock_queue_rcv_skb() on release",
            guard: Guard::None,
        },
        Scenario {
            name: "close",
            about: "5 x 1000 B queued, then close".into(),
            rcvbuf: Some((65536, false)),
            steps: close,
            classic_reason: "",
            guard: Guard::None,
        },
        Scenario {
            name: "gro",
            about: "8 sends with UDP_SEGMENT of 8 x 300 B each: one skb per send reaches LOCAL_IN and is split into its 8 datagrams (udp_unexpected_gso()); reads between".into(),
            rcvbuf: None,
            steps: [Step::SendGso(8, 300), Step::Read, Step::Read]
                .iter()
                .copied()
                .cycle()
                .take(24)
                .collect(),
            classic_reason: "3.13 uncharges at once on read; 7.3 keeps read bytes charged until the deficit reaches rcvbuf/4 or the reader queue empties",
            guard: Guard::None,
        },
        Scenario {
            name: "udp-mem",
            about: "40 x 60000 B, SO_RCVBUFFORCE 4 MiB, nobody reads; net.ipv4.udp_mem one page above what UDP holds (CPU 0, per-CPU batch flushed first)".into(),
            rcvbuf: Some((4 << 20, true)),
            steps: sends(40, 60_000),
            classic_reason: "3.13 counts a refused sk_rmem_schedule() (-ENOBUFS) in InErrors only; 7.3 adds MemErrors",
            guard: Guard::UdpMem,
        },
        Scenario {
            name: "firewall",
            about: format!("5 x 1000 B to port {PORT}, which an nftables input rule (priority filter) drops"),
            rcvbuf: None,
            steps: sends(5, 1000),
            classic_reason: "",
            guard: Guard::Firewall,
        },
        Scenario {
            name: "filter",
            about: "12 datagrams of 100 and 1400 B; the socket's classic BPF filter drops those over 508 B (UDP header included)".into(),
            rcvbuf: None,
            steps: filtered,
            classic_reason: "",
            guard: Guard::Filter(508),
        },
    ])
}
