//! `udprx compare`: the same traffic, scenario by scenario, to a stock UDP socket and to
//! udprx sockets under each policy — each side in a fresh network namespace of its own —
//! next to what the accounting model predicts. Exits 1 when `modern` differs from stock or
//! a policy differs from its model.
//!
//! Everything runs in this one process (no exec per datagram): each side `unshare()`s a
//! new netns, brings `lo` up and binds its socket; its sender sends over loopback from the
//! same netns, or (link `veth`) from a second netns joined to it by a veth pair. After
//! each datagram it waits until the receiving netns's counters show it arrived (the
//! `LOCAL_IN` hook sees every UDP datagram; the protocol handler counts the others).

use crate::{
    dev::Device,
    link,
    send::{self, payload, Csum, Shape},
    stat,
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::{AsFd, AsRawFd},
    time::{Duration, Instant},
};
use udprx_rxqueue::{Counter, Outcome, Policy, Queue};

const PORT: u16 = 7000;
const CLOSED: u16 = 7999;
const PROTO: u8 = 253;
/// `CHECKSUM_BREAK`: datagrams up to this many bytes have their checksum verified on arrival.
const CHECKSUM_BREAK: usize = 76;

#[derive(clap::Args)]
pub struct Args {
    /// Scenarios to run (default: all of them).
    scenarios: Vec<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Write a PNG per scenario and link into DIR (NAME-LINK.png): sk_rmem_alloc over
    /// arrivals for each side.
    #[arg(long, value_name = "DIR")]
    plot: Option<std::path::PathBuf>,
    /// The paths to run each scenario over (default: both, lo first).
    #[arg(long, value_enum, value_name = "LINK")]
    link: Vec<Link>,
}

/// What a datagram looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Good,
    BadCsum,
    ZeroCsum,
    /// UDP length field longer than the datagram.
    LongUlen,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// A datagram of `size` payload bytes to the bound port.
    Send(usize, Kind),
    /// A well-formed datagram to a port nobody bound (protocol 17 for stock, `PROTO` for
    /// udprx).
    SendClosed(usize),
    /// One non-blocking read.
    Read,
    Hold,
    Release,
    /// Close the socket with whatever is queued.
    Close,
}

struct Scenario {
    name: &'static str,
    about: String,
    /// `SO_RCVBUF` value and whether forced.
    rcvbuf: Option<(i32, bool)>,
    steps: Vec<Step>,
    /// Why `classic` differs from stock, when it does.
    classic_reason: &'static str,
}

fn sends(n: usize, size: usize) -> Vec<Step> {
    vec![Step::Send(size, Kind::Good); n]
}

fn rmem_max() -> Result<i32> {
    let s = std::fs::read_to_string("/proc/sys/net/core/rmem_max").context("read rmem_max")?;
    Ok(s.trim().parse()?)
}

/// The scenarios; `ts1000` is the truesize of a 1000-byte datagram on this kernel (measured
/// first; `None` only for `--list`).
fn scenarios(ts1000: Option<u32>) -> Result<Vec<Scenario>> {
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
        },
        Scenario {
            name: "exact-fit",
            about: format!("6 x 1000 B, SO_RCVBUF {exact}: sk_rcvbuf is exactly 3 truesizes, nobody reads"),
            rcvbuf: Some((exact, false)),
            steps: sends(6, 1000),
            classic_reason: "",
        },
        Scenario {
            name: "slow-reader",
            about: "36 x 1000 B, SO_RCVBUF 4096, one read after every 3rd arrival".into(),
            rcvbuf: Some((4096, false)),
            steps: slow,
            classic_reason: "3.13 uncharges at once on read and admits while rmem < rcvbuf; 7.3 keeps read bytes charged until the deficit reaches rcvbuf/4 or the reader queue empties",
        },
        Scenario {
            name: "mixed-sizes",
            about: "24 datagrams of 100, 1500, 3000, 600 B (different truesizes), SO_RCVBUF 8192, nobody reads".into(),
            rcvbuf: Some((8192, false)),
            steps: mixed,
            classic_reason: "3.13 tests rmem < rcvbuf without the arriving truesize, so it admits one datagram past rcvbuf whatever its size and then nothing; 7.3 tests rmem + truesize <= rcvbuf, so it refuses the datagram that does not fit and still takes smaller ones",
        },
        Scenario {
            name: "tiny-rcvbuf",
            about: "5 x 4000 B, SO_RCVBUF 1 (sk_rcvbuf = SOCK_MIN_RCVBUF, smaller than one datagram)".into(),
            rcvbuf: Some((1, false)),
            steps: sends(5, 4000),
            classic_reason: "3.13: once the first datagram is in, rmem > rcvbuf and sk_rcvqueues_full() drops early, counting InErrors only",
        },
        Scenario {
            name: "clamp",
            about: format!("{clamp_n} x 60000 B, SO_RCVBUF 2 x rmem_max (clamped to rmem_max = {rmax})"),
            rcvbuf: Some((rmax.saturating_mul(2), false)),
            steps: sends(clamp_n, 60_000),
            classic_reason: "3.13 admits while rmem < rcvbuf: one more datagram",
        },
        Scenario {
            name: "force",
            about: format!("{force_n} x 60000 B, SO_RCVBUFFORCE 2 x rmem_max (not clamped)"),
            rcvbuf: Some((rmax.saturating_mul(2), true)),
            steps: sends(force_n, 60_000),
            classic_reason: "3.13 admits while rmem < rcvbuf: one more datagram",
        },
        Scenario {
            name: "closed-port",
            about: format!("3 datagrams to port {CLOSED}, bound by nobody (udprx: on protocol {PROTO})"),
            rcvbuf: None,
            steps: vec![Step::SendClosed(100); 3],
            classic_reason: "",
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
        },
        Scenario {
            name: "held",
            about: "socket held, 20 x 1000 B, released; SO_RCVBUF 4096 (stock: 7.3 UDP never backlogs, so the stock side is the same traffic unheld)".into(),
            rcvbuf: Some((4096, false)),
            steps: held,
            classic_reason: "3.13 backlogs while the socket is owned (sk_add_backlog, limit backlog.len + rmem > rcvbuf) and drains through sock_queue_rcv_skb() on release",
        },
        Scenario {
            name: "close",
            about: "5 x 1000 B queued, then close".into(),
            rcvbuf: Some((65536, false)),
            steps: close,
            classic_reason: "",
        },
    ])
}

/// The sides of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Stock,
    Modern,
    Classic,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Stock => "stock",
            Side::Modern => "modern",
            Side::Classic => "classic",
        }
    }
}

/// The path datagrams take from sender to receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
enum Link {
    /// Sender and receiver in one netns, over `lo` (MTU 65536).
    Lo,
    /// Sender and receiver in two netns joined by a veth pair (MTU 1500: datagrams over
    /// 1472 bytes arrive as fragments and are reassembled before `LOCAL_IN`).
    Veth,
}

impl Link {
    fn name(self) -> &'static str {
        match self {
            Link::Lo => "lo",
            Link::Veth => "veth",
        }
    }
}

/// The veth pair's addresses (TEST-NET-1) and names.
const VETH_TX: (&str, Ipv4Addr) = ("udprx-tx", Ipv4Addr::new(192, 0, 2, 1));
const VETH_RX: (&str, Ipv4Addr) = ("udprx-rx", Ipv4Addr::new(192, 0, 2, 2));

fn this_netns() -> Result<std::fs::File> {
    std::fs::File::open("/proc/thread-self/ns/net").context("open /proc/thread-self/ns/net")
}

fn enter(ns: &std::fs::File) -> Result<()> {
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns(CLONE_NEWNET)")
}

/// A fresh side: leaves this thread in a new receiving netns and returns a sender whose
/// sockets live where `link` says (the same netns for `lo`, a second one behind a veth
/// pair for `veth`). A netns lives as long as a socket in it, so the sender keeps its own
/// netns (and the veth pair) alive.
fn fresh_side(link: Link) -> Result<Sender> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
    link::up("lo")?;
    if link == Link::Lo {
        return Sender::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
    }
    let rx_ns = this_netns()?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
    let tx_ns = this_netns()?;
    link::up("lo")?;
    link::add_veth(VETH_TX.0, VETH_RX.0, rx_ns.as_fd())?;
    link::add_addr(VETH_TX.0, VETH_TX.1, 24)?;
    link::up(VETH_TX.0)?;
    enter(&rx_ns)?;
    link::add_addr(VETH_RX.0, VETH_RX.1, 24)?;
    link::up(VETH_RX.0)?;
    link::wait_running(VETH_RX.0, Duration::from_secs(5))?;
    enter(&tx_ns)?;
    link::wait_running(VETH_TX.0, Duration::from_secs(5))?;
    let tx = Sender::new(VETH_TX.1, VETH_RX.1)?;
    enter(&rx_ns)?;
    Ok(tx)
}

/// All counters of the current netns (`udprx stat`), by nstat name.
fn counters() -> Result<HashMap<String, u64>> {
    let mut m = HashMap::new();
    for g in stat::groups()? {
        for (n, v) in g.counters {
            m.insert(format!("{}{}", g.name, n), v);
        }
    }
    Ok(m)
}

fn arrivals(c: &HashMap<String, u64>) -> u64 {
    c.get("UdpRxHookSeen").copied().unwrap_or(0)
        + c.get("UdpRxProtoInPackets").copied().unwrap_or(0)
}

/// Crafts a datagram from `src` to `dst` (the checksum's pseudo-header).
fn craft(size: usize, kind: Kind, port: u16, proto: u8, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let (csum, ulen) = match kind {
        Kind::Good => (Csum::Good, None),
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
    send::build(&shape, src, dst).wire
}

/// The sender of one side.
struct Sender {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    udp: UdpSocket,
    raw17: Socket,
    raw_proto: Socket,
}

impl Sender {
    /// Sockets in the current netns sending from `src` to `dst`.
    fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Result<Self> {
        Ok(Self {
            src,
            dst,
            udp: UdpSocket::bind((src, 0)).context("bind sender")?,
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

    fn send(&self, size: usize, kind: Kind, port: u16, proto: u8) -> Result<()> {
        let to = SocketAddrV4::new(self.dst, port);
        if kind == Kind::Good && proto == 17 {
            self.udp.send_to(&payload(0, size), to)?;
        } else {
            let raw = if proto == 17 {
                &self.raw17
            } else {
                &self.raw_proto
            };
            raw.send_to(
                &craft(size, kind, port, proto, self.src, self.dst),
                &SockAddr::from(SocketAddrV4::new(*to.ip(), 0)),
            )?;
        }
        Ok(())
    }
}

/// The receiver of one side.
enum Rx {
    Stock(UdpSocket),
    Udprx(Device),
}

/// What a socket reports about its memory.
struct Mem {
    rmem: u32,
    rcvbuf: u32,
    drops: u64,
}

impl Rx {
    fn open(side: Side, rcvbuf: Option<(i32, bool)>) -> Result<Self> {
        Ok(match side {
            Side::Stock => {
                let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
                s.set_nonblocking(true)?;
                if let Some((v, force)) = rcvbuf {
                    let opt = if force {
                        libc::SO_RCVBUFFORCE
                    } else {
                        libc::SO_RCVBUF
                    };
                    // SAFETY: Passes a valid int.
                    let r = unsafe {
                        libc::setsockopt(
                            s.as_raw_fd(),
                            libc::SOL_SOCKET,
                            opt,
                            (&v as *const i32).cast(),
                            4,
                        )
                    };
                    if r != 0 {
                        return Err(std::io::Error::last_os_error())
                            .context("setsockopt(SO_RCVBUF)");
                    }
                }
                Rx::Stock(s)
            }
            Side::Modern | Side::Classic => {
                let d = Device::open(true)?;
                d.set_policy(if side == Side::Modern {
                    udprx_abi::POLICY_MODERN
                } else {
                    udprx_abi::POLICY_CLASSIC
                })?;
                if let Some((v, force)) = rcvbuf {
                    d.set_rcvbuf(v, force)?;
                }
                d.bind(PORT)?;
                Rx::Udprx(d)
            }
        })
    }

    fn mem(&self) -> Result<Mem> {
        match self {
            Rx::Stock(s) => {
                let m = crate::recv::meminfo(s)?;
                Ok(Mem {
                    rmem: m[0],
                    rcvbuf: m[1],
                    drops: u64::from(m[8]),
                })
            }
            Rx::Udprx(d) => {
                let i = d.info()?;
                Ok(Mem {
                    rmem: i.rmem_alloc,
                    rcvbuf: i.rcvbuf,
                    drops: i.drops,
                })
            }
        }
    }

    /// One non-blocking read; whether a datagram was delivered.
    fn read(&mut self, buf: &mut [u8]) -> Result<bool> {
        let r = match self {
            Rx::Stock(s) => s.recv(buf),
            Rx::Udprx(d) => d.read(buf),
        };
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e).context("read"),
        }
    }
}

/// What one side did.
#[derive(Default)]
struct Outcomes {
    /// Counter deltas by short name (InDatagrams, ...).
    mib: BTreeMap<&'static str, i64>,
    delivered: i64,
    drops: i64,
    final_rmem: i64,
    freed_at_close: i64,
    rcvbuf: u32,
    /// rmem after each arrival, and whether that arrival was dropped.
    series: Vec<(u32, bool)>,
}

const MIB: [&str; 5] = [
    "InDatagrams",
    "NoPorts",
    "InErrors",
    "RcvbufErrors",
    "InCsumErrors",
];

/// Waits until the current netns has seen one more datagram than `seen` (the `LOCAL_IN`
/// hook counts every UDP datagram after reassembly; the protocol handler the others).
fn await_arrival(seen: &mut u64, what: impl Fn() -> String) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = arrivals(&counters()?);
        if n > *seen {
            *seen = n;
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{}: a datagram did not arrive within 5 s", what());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn run_side(sc: &Scenario, side: Side, link: Link) -> Result<Outcomes> {
    let tx = fresh_side(link)?;
    let group = if side == Side::Stock { "Udp" } else { "UdpRx" };
    let mut rx = Some(Rx::open(side, sc.rcvbuf)?);
    let c0 = counters()?;
    let mut o = Outcomes {
        rcvbuf: rx.as_ref().unwrap().mem()?.rcvbuf,
        ..Default::default()
    };
    let mut buf = vec![0u8; 65536];
    let mut held = false;
    let mut seen = arrivals(&c0);
    for step in &sc.steps {
        match *step {
            Step::Send(..) | Step::SendClosed(..) => {
                let (size, kind, port, proto) = match *step {
                    Step::SendClosed(size) if side == Side::Stock => (size, Kind::Good, CLOSED, 17),
                    Step::SendClosed(size) => (size, Kind::Good, CLOSED, PROTO),
                    Step::Send(size, kind) => (size, kind, PORT, 17),
                    _ => unreachable!(),
                };
                let drops0 = match &rx {
                    Some(r) => r.mem()?.drops,
                    None => 0,
                };
                tx.send(size, kind, port, proto)?;
                await_arrival(&mut seen, || {
                    format!("{} [{}]: {}", sc.name, link.name(), side.name())
                })?;
                if let Some(r) = &rx {
                    let m = r.mem()?;
                    o.series.push((m.rmem, m.drops > drops0));
                }
            }
            Step::Read => {
                if let Some(r) = rx.as_mut() {
                    if r.read(&mut buf)? {
                        o.delivered += 1;
                    }
                }
            }
            Step::Hold => {
                if let Some(Rx::Udprx(d)) = &rx {
                    d.hold()?;
                    held = true;
                }
            }
            Step::Release => {
                if let Some(Rx::Udprx(d)) = &rx {
                    if held {
                        d.release()?;
                        held = false;
                    }
                }
            }
            Step::Close => {
                if let Some(r) = &rx {
                    let m = r.mem()?;
                    o.final_rmem = i64::from(m.rmem);
                    o.drops = m.drops as i64;
                }
                rx = None;
            }
        }
    }
    if let Some(r) = rx.as_mut() {
        let m = r.mem()?;
        o.final_rmem = i64::from(m.rmem);
        o.drops = m.drops as i64;
        while r.read(&mut buf)? {
            o.delivered += 1;
        }
    }
    drop(rx);
    let c1 = counters()?;
    for name in MIB {
        let key = format!("{group}{name}");
        let d =
            c1.get(&key).copied().unwrap_or(0) as i64 - c0.get(&key).copied().unwrap_or(0) as i64;
        o.mib.insert(name, d);
    }
    if side != Side::Stock {
        o.freed_at_close = c1.get("UdpRxDropSOCKET_CLOSE").copied().unwrap_or(0) as i64
            - c0.get("UdpRxDropSOCKET_CLOSE").copied().unwrap_or(0) as i64;
    }
    Ok(o)
}

/// What a datagram shape is charged: its truesize on arrival, and after `skb_condense()`
/// (which 7.3 calls when the socket is more than half full; it shrinks a reassembled
/// datagram whose fragments fit in the head's tailroom).
#[derive(Clone, Copy, Debug)]
struct Truesize {
    plain: u32,
    condensed: u32,
}

/// Measures each datagram shape's [`Truesize`] on `modern` udprx sockets in a side of its
/// own: `plain` as the charge of one datagram on an empty socket; `condensed` as the charge
/// of a datagram arriving at a socket of sk_rcvbuf 8 x plain that holds 5 (more than half,
/// and room for one more).
fn calibrate(link: Link, shapes: &[(usize, Kind)]) -> Result<HashMap<(usize, Kind), Truesize>> {
    let tx = fresh_side(link)?;
    let mut seen = arrivals(&counters()?);
    let mut m = HashMap::new();
    let mut buf = vec![0u8; 65536];
    for &(size, kind) in shapes {
        if matches!(kind, Kind::LongUlen) || (kind == Kind::BadCsum && size + 8 <= CHECKSUM_BREAK) {
            continue; // dropped before any socket: never charged
        }
        let what = || format!("calibration [{}]: {size} B", link.name());
        let plain = {
            let mut rx = Rx::open(Side::Modern, None)?;
            tx.send(size, kind, PORT, 17)?;
            await_arrival(&mut seen, what)?;
            let p = rx.mem()?.rmem;
            while rx.read(&mut buf)? {}
            p
        };
        let rcvbuf = i32::try_from(4 * u64::from(plain)).context("truesize too big")?;
        let rx = Rx::open(Side::Modern, Some((rcvbuf, false)))?;
        for _ in 0..5 {
            tx.send(size, kind, PORT, 17)?;
            await_arrival(&mut seen, what)?;
        }
        let before = rx.mem()?;
        tx.send(size, kind, PORT, 17)?;
        await_arrival(&mut seen, what)?;
        let after = rx.mem()?;
        if before.rmem != 5 * plain || after.drops != before.drops {
            bail!("{}: expected 5 x {plain} charged and room for one more, found rmem {} then {} (drops {} then {})",
                what(), before.rmem, after.rmem, before.drops, after.drops);
        }
        m.insert(
            (size, kind),
            Truesize {
                plain,
                condensed: after.rmem - before.rmem,
            },
        );
    }
    Ok(m)
}

/// What the model predicts for one policy.
fn model(
    sc: &Scenario,
    policy: Policy,
    rcvbuf: u32,
    truesize: &HashMap<(usize, Kind), Truesize>,
) -> Outcomes {
    let mut q = Queue::new(policy, rcvbuf);
    let mut o = Outcomes {
        rcvbuf,
        ..Default::default()
    };
    for n in MIB {
        o.mib.insert(n, 0);
    }
    let bump = |o: &mut Outcomes, c: &'static str| *o.mib.get_mut(c).unwrap() += 1;
    // What is queued (truesize, checksum bad) and backlogged, in order.
    let mut queue: VecDeque<(u32, bool)> = VecDeque::new();
    let mut backlog: VecDeque<(u32, bool)> = VecDeque::new();
    let drop_counters = |o: &mut Outcomes, d: udprx_rxqueue::DropCause| {
        for c in d.counters() {
            *o.mib
                .get_mut(match c {
                    Counter::InErrors => "InErrors",
                    Counter::RcvbufErrors => "RcvbufErrors",
                })
                .unwrap() += 1;
        }
    };
    let mut closed = false;
    for step in &sc.steps {
        match *step {
            Step::SendClosed(_) => bump(&mut o, "NoPorts"),
            Step::Send(size, kind) => {
                if kind == Kind::LongUlen {
                    bump(&mut o, "InErrors");
                    o.series.push((q.info().rmem_alloc, false));
                    continue;
                }
                if kind == Kind::BadCsum && size + 8 <= CHECKSUM_BREAK {
                    bump(&mut o, "InCsumErrors");
                    bump(&mut o, "InErrors");
                    o.series.push((q.info().rmem_alloc, false));
                    continue;
                }
                let ts = truesize[&(size, kind)];
                let bad = kind == Kind::BadCsum;
                let rmem = q.info().rmem_alloc;
                let out = q.enqueue(ts.plain, || ts.condensed);
                match out {
                    // What was charged: the truesize, condensed or not.
                    Outcome::Queued => queue.push_back((q.info().rmem_alloc - rmem, bad)),
                    Outcome::Backlogged => backlog.push_back((ts.plain, bad)),
                    Outcome::Dropped(d) => drop_counters(&mut o, d),
                }
                o.series
                    .push((q.info().rmem_alloc, matches!(out, Outcome::Dropped(_))));
            }
            Step::Read => {
                model_read(&mut q, &mut queue, &mut o);
            }
            Step::Hold => q.take(),
            Step::Release => {
                q.release_backlog(
                    backlog.drain(..),
                    |&(ts, _)| ts,
                    |d, outcome| match outcome {
                        Outcome::Dropped(why) => drop_counters(&mut o, why),
                        _ => queue.push_back(d),
                    },
                );
            }
            Step::Close => {
                let i = q.info();
                o.final_rmem = i64::from(i.rmem_alloc);
                o.drops = i.drops as i64;
                o.freed_at_close = i64::from(q.close());
                queue.clear();
                closed = true;
            }
        }
    }
    if !closed {
        let i = q.info();
        o.final_rmem = i64::from(i.rmem_alloc);
        o.drops = i.drops as i64;
        while model_read(&mut q, &mut queue, &mut o) {}
    }
    o
}

/// One read in the model: skips (and counts) datagrams with a bad checksum, as
/// `udp_recvmsg()` does, and delivers the first good one; `false` when nothing was left.
fn model_read(q: &mut Queue, queue: &mut VecDeque<(u32, bool)>, o: &mut Outcomes) -> bool {
    while let Some((ts, bad)) = queue.pop_front() {
        q.dequeue(ts);
        if bad {
            q.count_drop();
            *o.mib.get_mut("InCsumErrors").unwrap() += 1;
            *o.mib.get_mut("InErrors").unwrap() += 1;
            continue;
        }
        *o.mib.get_mut("InDatagrams").unwrap() += 1;
        o.delivered += 1;
        return true;
    }
    false
}

/// The rows of a comparison table: (name, value per column).
fn rows(o: &Outcomes) -> Vec<(&'static str, i64)> {
    let mut r: Vec<(&'static str, i64)> = MIB.iter().map(|n| (*n, o.mib[n])).collect();
    r.push(("delivered", o.delivered));
    r.push(("socket drops", o.drops));
    r.push(("final rmem", o.final_rmem));
    r.push(("freed at close", o.freed_at_close));
    r
}

struct Compared {
    name: &'static str,
    link: Link,
    about: String,
    rcvbuf: u32,
    sides: Vec<(Side, Outcomes)>,
    models: Vec<(Policy, Outcomes)>,
    failures: Vec<String>,
    /// Why classic differs from stock: the scenario's 3.13 rule, plus the missing
    /// `skb_condense()` where a datagram shape shrinks under it on this link.
    classic_reason: String,
    /// The charged shapes of the scenario: (payload bytes, kind, truesize).
    truesizes: Vec<(usize, Kind, Truesize)>,
}

const NO_CONDENSE: &str = "3.13 has no skb_condense(): 7.3 shrinks a reassembled datagram once the socket is half full, so it fits more";

fn compare_one(
    sc: &Scenario,
    link: Link,
    truesize: &HashMap<(usize, Kind), Truesize>,
) -> Result<Compared> {
    let mut sides = Vec::new();
    for side in [Side::Stock, Side::Modern, Side::Classic] {
        sides.push((side, run_side(sc, side, link)?));
    }
    let rcvbuf = sides[1].1.rcvbuf;
    let models = vec![
        (Policy::Modern, model(sc, Policy::Modern, rcvbuf, truesize)),
        (
            Policy::Classic,
            model(sc, Policy::Classic, rcvbuf, truesize),
        ),
    ];
    let mut failures = Vec::new();
    let stock = rows(&sides[0].1);
    let modern = rows(&sides[1].1);
    let classic = rows(&sides[2].1);
    let mm = rows(&models[0].1);
    let mc = rows(&models[1].1);
    for i in 0..stock.len() {
        let name = stock[i].0;
        // The stock socket's close is not observable after the fact.
        if name != "freed at close" && modern[i].1 != stock[i].1 {
            failures.push(format!(
                "{name}: modern {} != stock {}",
                modern[i].1, stock[i].1
            ));
        }
        if modern[i].1 != mm[i].1 {
            failures.push(format!(
                "{name}: modern {} != model {}",
                modern[i].1, mm[i].1
            ));
        }
        if classic[i].1 != mc[i].1 {
            failures.push(format!(
                "{name}: classic {} != model {}",
                classic[i].1, mc[i].1
            ));
        }
    }
    if sides[0].1.rcvbuf != rcvbuf || sides[2].1.rcvbuf != rcvbuf {
        failures.push(format!(
            "sk_rcvbuf differs: stock {} modern {rcvbuf} classic {}",
            sides[0].1.rcvbuf, sides[2].1.rcvbuf
        ));
    }
    let mut truesizes: Vec<(usize, Kind, Truesize)> = sc
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Send(size, kind) => truesize.get(&(*size, *kind)).map(|t| (*size, *kind, *t)),
            _ => None,
        })
        .collect();
    truesizes.sort_by_key(|(s, k, _)| (*s, *k));
    truesizes.dedup_by_key(|(s, k, _)| (*s, *k));
    let mut classic_reason = sc.classic_reason.to_string();
    if truesizes.iter().any(|(_, _, t)| t.condensed != t.plain) {
        if !classic_reason.is_empty() {
            classic_reason.push_str("; ");
        }
        classic_reason.push_str(NO_CONDENSE);
    }
    Ok(Compared {
        name: sc.name,
        link,
        about: sc.about.clone(),
        rcvbuf,
        sides,
        models,
        failures,
        classic_reason,
        truesizes,
    })
}

fn print_table(c: &Compared) {
    println!(
        "== {} [{}]: {} (sk_rcvbuf {})",
        c.name,
        c.link.name(),
        c.about,
        c.rcvbuf
    );
    if !c.truesizes.is_empty() {
        let t: Vec<String> = c
            .truesizes
            .iter()
            .map(|(size, kind, t)| {
                let k = if *kind == Kind::Good {
                    String::new()
                } else {
                    format!(" {kind:?}")
                };
                if t.condensed == t.plain {
                    format!("{size} B{k} {}", t.plain)
                } else {
                    format!("{size} B{k} {} (condensed {})", t.plain, t.condensed)
                }
            })
            .collect();
        println!("truesize: {}", t.join(", "));
    }
    println!(
        "{:<16} {:>8} {:>8} {:>8} {:>13} {:>14}",
        "counter", "stock", "modern", "classic", "model:modern", "model:classic"
    );
    let cols: Vec<Vec<(&str, i64)>> = c
        .sides
        .iter()
        .map(|(_, o)| rows(o))
        .chain(c.models.iter().map(|(_, o)| rows(o)))
        .collect();
    let mut classic_differs = false;
    for (i, (name, stock)) in cols[0].iter().enumerate() {
        let at = |col: usize| cols[col][i].1;
        let unobservable = *name == "freed at close";
        let diff = at(2) != *stock && !unobservable;
        classic_differs |= diff;
        println!(
            "{:<16} {:>8} {:>8} {:>8} {:>13} {:>14}{}",
            name,
            if unobservable {
                "-".to_string()
            } else {
                stock.to_string()
            },
            at(1),
            at(2),
            at(3),
            at(4),
            if diff { "  *" } else { "" }
        );
    }
    if classic_differs {
        let why = if c.classic_reason.is_empty() {
            "(no 3.13 rule recorded for this scenario)"
        } else {
            &c.classic_reason
        };
        println!("  * classic differs from stock: {why}");
    }
    if c.failures.is_empty() {
        println!("  ok: modern = stock, each policy = its model");
    } else {
        for f in &c.failures {
            println!("  FAIL {f}");
        }
    }
    println!();
}

fn to_json(c: &Compared) -> Value {
    let col = |o: &Outcomes| -> Value {
        let mut m = serde_json::Map::new();
        for (n, v) in rows(o) {
            m.insert(n.into(), v.into());
        }
        m.insert("rcvbuf".into(), o.rcvbuf.into());
        m.insert(
            "rmem_series".into(),
            o.series.iter().map(|(r, _)| *r).collect::<Vec<_>>().into(),
        );
        m.insert(
            "dropped_series".into(),
            o.series.iter().map(|(_, d)| *d).collect::<Vec<_>>().into(),
        );
        Value::Object(m)
    };
    let mut sides = serde_json::Map::new();
    for (s, o) in &c.sides {
        sides.insert(s.name().into(), col(o));
    }
    for (p, o) in &c.models {
        sides.insert(
            if *p == Policy::Modern {
                "model:modern"
            } else {
                "model:classic"
            }
            .into(),
            col(o),
        );
    }
    json!({
        "scenario": c.name,
        "link": c.link.name(),
        "about": c.about,
        "sk_rcvbuf": c.rcvbuf,
        "columns": sides,
        "classic_reason": c.classic_reason,
        "truesize": c.truesizes.iter().map(|(size, kind, t)| json!({
            "bytes": size, "kind": format!("{kind:?}"), "plain": t.plain, "condensed": t.condensed,
        })).collect::<Vec<_>>(),
        "failures": c.failures,
        "ok": c.failures.is_empty(),
    })
}

/// Calibrates `link` and runs the chosen scenarios over it, in the calling thread (which
/// `unshare()`s network namespaces of its own for each side); draws the pictures.
fn run_link(
    link: Link,
    shapes: &[(usize, Kind)],
    wanted: &(dyn Fn(&Scenario) -> bool + Sync),
    plot: Option<&std::path::Path>,
) -> Result<Vec<Compared>> {
    let truesize = calibrate(link, shapes)?;
    let all = scenarios(Some(truesize[&(1000, Kind::Good)].plain))?;
    let mut done = Vec::new();
    for sc in all.iter().filter(|s| wanted(s)) {
        let c = compare_one(sc, link, &truesize)?;
        if let Some(dir) = plot {
            std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
            let path = dir.join(format!("{}-{}.png", c.name, link.name()));
            let lines: Vec<crate::plot::Line<'_>> = c
                .sides
                .iter()
                .map(|(s, o)| crate::plot::Line {
                    name: s.name(),
                    points: &o.series,
                })
                .collect();
            crate::plot::draw(
                &path,
                &format!("{} [{}]: {}", c.name, link.name(), c.about),
                c.rcvbuf,
                &lines,
            )?;
        }
        done.push(c);
    }
    Ok(done)
}

pub fn run(a: &Args) -> Result<()> {
    let mut links = a.link.clone();
    if links.is_empty() {
        links = vec![Link::Lo, Link::Veth];
    }
    links.sort();
    links.dedup();
    let listed = scenarios(None)?;
    for n in &a.scenarios {
        if !listed.iter().any(|s| s.name == n) {
            bail!("no scenario '{n}' (see --list)");
        }
    }
    let wanted = |s: &Scenario| a.scenarios.is_empty() || a.scenarios.iter().any(|n| n == s.name);
    if a.list {
        for link in &links {
            for s in listed.iter().filter(|s| wanted(s)) {
                println!("{:<12} {:<5} {}", s.name, link.name(), s.about);
            }
        }
        return Ok(());
    }
    // The datagram shapes do not depend on the measured truesize; 1000 B sizes exact-fit.
    let mut shapes: Vec<(usize, Kind)> = listed
        .iter()
        .filter(|s| wanted(s))
        .flat_map(|s| s.steps.iter())
        .filter_map(|st| {
            if let Step::Send(size, kind) = st {
                Some((*size, *kind))
            } else {
                None
            }
        })
        .chain([(1000, Kind::Good)])
        .collect();
    shapes.sort();
    shapes.dedup();
    // The links are independent (each side in network namespaces of its own): each runs in
    // a thread of its own, side by side; the results are printed in link order.
    let results: Vec<Result<Vec<Compared>>> = std::thread::scope(|scope| {
        let runs: Vec<_> = links
            .iter()
            .map(|&link| {
                let shapes = &shapes;
                scope.spawn(move || run_link(link, shapes, &wanted, a.plot.as_deref()))
            })
            .collect();
        runs.into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a link's thread panicked")))
            })
            .collect()
    });
    let mut failed = 0;
    let mut out = Vec::new();
    for r in results {
        for c in r? {
            if !c.failures.is_empty() {
                failed += 1;
            }
            if a.json {
                out.push(to_json(&c));
            } else {
                print_table(&c);
                if let Some(dir) = &a.plot {
                    println!(
                        "  picture: {}",
                        dir.join(format!("{}-{}.png", c.name, c.link.name()))
                            .display()
                    );
                }
            }
        }
    }
    if a.json {
        println!("{}", Value::Array(out));
    }
    if failed > 0 {
        bail!("{failed} scenario(s) differ");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> HashMap<(usize, Kind), Truesize> {
        let mut m = HashMap::new();
        for (k, t) in [
            ((1000, Kind::Good), 2304),
            ((200, Kind::BadCsum), 1280),
            ((48, Kind::ZeroCsum), 1280),
        ] {
            m.insert(
                k,
                Truesize {
                    plain: t,
                    condensed: t,
                },
            );
        }
        m
    }

    #[test]
    fn model_overflow_and_malformed() {
        let sc = Scenario {
            name: "t",
            about: String::new(),
            rcvbuf: None,
            steps: sends(20, 1000),
            classic_reason: "",
        };
        let m = model(&sc, Policy::Modern, 8192, &ts());
        assert_eq!(
            (
                m.delivered,
                m.mib["RcvbufErrors"],
                m.mib["InErrors"],
                m.drops
            ),
            (3, 17, 17, 17)
        );
        let c = model(&sc, Policy::Classic, 8192, &ts());
        assert_eq!(
            (
                c.delivered,
                c.mib["RcvbufErrors"],
                c.mib["InErrors"],
                c.drops
            ),
            (4, 0, 16, 16)
        );
        let sc = Scenario {
            name: "m",
            about: String::new(),
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
        };
        let m = model(&sc, Policy::Modern, 212_992, &ts());
        assert_eq!(m.mib["InCsumErrors"], 2);
        assert_eq!(m.mib["InErrors"], 3);
        assert_eq!(m.mib["InDatagrams"], 1);
        assert_eq!((m.delivered, m.drops, m.final_rmem), (1, 1, 0));
    }

    /// Both links carry datagrams from the sender to a stock socket in the receiving netns,
    /// a fragmented one too (MTU 1500 on veth). Needs CAP_NET_ADMIN (unshare, veth).
    #[test]
    #[ignore = "needs CAP_NET_ADMIN; make check runs it (as root)"]
    fn links_carry_datagrams() {
        for link in [Link::Lo, Link::Veth] {
            // unshare() and setns() move the calling thread only: a thread of its own.
            std::thread::spawn(move || -> Result<()> {
                let tx = fresh_side(link)?;
                let rx = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
                rx.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut buf = vec![0u8; 65536];
                for size in [1000, 3000] {
                    tx.send(size, Kind::Good, PORT, 17)?;
                    let (n, from) = rx
                        .recv_from(&mut buf)
                        .with_context(|| format!("{link:?}: {size} B"))?;
                    assert_eq!(&buf[..n], &payload(0, size)[..], "{link:?}");
                    assert_eq!(from.ip(), std::net::IpAddr::V4(tx.src));
                }
                // A crafted datagram's checksum covers the link's addresses: it is accepted.
                // (a wrong one would be dropped by udp_recvmsg() and the recv time out).
                let d = craft(100, Kind::Good, PORT, 17, tx.src, tx.dst);
                tx.raw17
                    .send_to(&d, &SockAddr::from(SocketAddrV4::new(tx.dst, 0)))?;
                let n = rx
                    .recv(&mut buf)
                    .with_context(|| format!("{link:?}: crafted"))?;
                assert_eq!(&buf[..n], &d[8..]);
                Ok(())
            })
            .join()
            .unwrap()
            .unwrap();
        }
    }

    #[test]
    fn crafted_lengths_and_checksums() {
        let lo = Ipv4Addr::LOCALHOST;
        let d = craft(10, Kind::LongUlen, 7000, 17, lo, lo);
        assert_eq!(u16::from_be_bytes([d[4], d[5]]), 118);
        assert_eq!(&craft(10, Kind::ZeroCsum, 7000, 17, lo, lo)[6..8], &[0, 0]);
        assert_ne!(
            craft(10, Kind::BadCsum, 7000, 17, lo, lo)[6..8],
            craft(10, Kind::Good, 7000, 17, lo, lo)[6..8]
        );
        // The pseudo-header is part of the sum: the same datagram between other addresses.
        assert_ne!(
            craft(10, Kind::Good, 7000, 17, lo, lo)[6..8],
            craft(10, Kind::Good, 7000, 17, VETH_TX.1, VETH_RX.1)[6..8]
        );
    }
}
