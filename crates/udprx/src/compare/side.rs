// SPDX-License-Identifier: GPL-2.0

//! One side of a comparison: its network namespaces and link, its sender and receiving
//! socket (stock or udprx), and the replay of a scenario's steps against it.

use super::*;
use crate::kernel::netns;

/// The sides of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Stock,
    Modern,
    Classic,
}

impl Side {
    pub(super) fn name(self) -> &'static str {
        match self {
            Side::Stock => "stock",
            Side::Modern => "modern",
            Side::Classic => "classic",
        }
    }
}

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

/// The veth pair's addresses (TEST-NET-1) and names.
pub(super) const VETH_TX: (&str, Ipv4Addr) = ("udprx-tx", Ipv4Addr::new(192, 0, 2, 1));
pub(super) const VETH_RX: (&str, Ipv4Addr) = ("udprx-rx", Ipv4Addr::new(192, 0, 2, 2));

/// A fresh side: leaves this thread in a new receiving netns and returns a sender whose
/// sockets live where `link` says (the same netns for `lo`, a second one behind a veth
/// pair for `veth`). A netns lives as long as a socket in it, so the sender keeps its own
/// netns (and the veth pair) alive.
pub(super) fn fresh_side(link: Link) -> Result<Sender> {
    netns::unshare()?;
    link::up("lo")?;
    if link == Link::Lo {
        return Sender::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
    }
    let rx_ns = netns::this()?;
    netns::unshare()?;
    let tx_ns = netns::this()?;
    link::up("lo")?;
    link::add_veth(VETH_TX.0, VETH_RX.0, rx_ns.as_fd())?;
    link::add_addr(VETH_TX.0, VETH_TX.1, 24)?;
    link::up(VETH_TX.0)?;
    netns::enter(&rx_ns)?;
    link::add_addr(VETH_RX.0, VETH_RX.1, 24)?;
    link::up(VETH_RX.0)?;
    link::wait_running(VETH_RX.0, Duration::from_secs(5))?;
    netns::enter(&tx_ns)?;
    link::wait_running(VETH_TX.0, Duration::from_secs(5))?;
    let tx = Sender::new(VETH_TX.1, VETH_RX.1)?;
    netns::enter(&rx_ns)?;
    Ok(tx)
}

/// All counters of the current netns (`udprx stat`), by nstat name.
pub(super) fn counters() -> Result<HashMap<String, u64>> {
    Ok(counters::by_name(counters::groups()?).collect())
}

pub(super) fn arrivals(c: &HashMap<String, u64>) -> u64 {
    get(c, HookMib::Seen) + get(c, ProtoMib::InPackets)
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

/// The receiver of one side.
pub(super) enum Rx {
    Stock(UdpSocket),
    Udprx(Device),
}

/// What a socket reports about its memory.
pub(super) struct Mem {
    pub(super) rmem: u32,
    pub(super) rcvbuf: u32,
    pub(super) drops: u64,
}

impl Rx {
    pub(super) fn open(side: Side, rcvbuf: Option<(i32, bool)>, guard: Guard) -> Result<Self> {
        let filter = match guard {
            Guard::Filter(max) => Some(crate::kernel::filter::max_len(max)),
            Guard::None | Guard::Firewall | Guard::UdpMem => None,
        };
        Ok(match side {
            Side::Stock => {
                let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
                s.set_nonblocking(true)?;
                if let Some(f) = &filter {
                    crate::kernel::filter::attach_stock(&s, f)?;
                }
                if let Some((v, force)) = rcvbuf {
                    crate::kernel::socket::set_stock_rcvbuf(&s, v, force)?;
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
                if let Some(f) = &filter {
                    d.attach_filter(f)
                        .map_err(|e| anyhow::anyhow!("attach filter: {e}"))?;
                }
                d.bind(PORT)?;
                Rx::Udprx(d)
            }
        })
    }

    pub(super) fn mem(&self) -> Result<Mem> {
        match self {
            Rx::Stock(s) => {
                let m = crate::kernel::socket::meminfo(s)?;
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
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<bool> {
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
pub(super) struct Outcomes {
    /// Deltas of the receive-side MIB counters (`Udp:` or `UdpRx:`).
    pub(super) mib: Mib,
    pub(super) delivered: i64,
    pub(super) drops: i64,
    pub(super) final_rmem: i64,
    pub(super) freed_at_close: i64,
    /// `udp-mem`: protocol memory as this side found it, for the model.
    pub(super) pool: Option<Pool>,
    pub(super) rcvbuf: u32,
    /// rmem after each arrival, and whether that arrival was dropped.
    pub(super) series: Vec<(u32, bool)>,
    /// The stock counters of the receiving netns over the run, by row ([`netns_deltas`]);
    /// empty for a model.
    pub(super) netns: Vec<(String, i64)>,
}

/// The row group of the receive counters of the stock `Udp:` line on a udprx side, which
/// counts in `UdpRx:` instead: they must not move. The stock side has no such rows (its
/// `Udp:` receive counters are the socket's own rows).
pub(super) const STOCK_UDP: &str = "StockUdp";

/// [`counters::stock_groups()`] once the netns holds no more UDP sockets than at `before`, or
/// after 1 s: a closed socket was seen counted in `inuse` for a moment after `close()`
/// (once, over veth, a stock side).
fn settled(before: &[counters::Group]) -> Result<Vec<counters::Group>> {
    let inuse = |gs: &[counters::Group]| {
        gs.iter()
            .filter(|g| g.name == "UDP")
            .flat_map(|g| &g.counters)
            .find_map(|(n, v)| (n == "inuse").then_some(*v))
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let now = counters::stock_groups()?;
        if inuse(&now) <= inuse(before) || Instant::now() > deadline {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The counters of [`counters::stock_groups()`] as rows `Group Counter`: their change from
/// `before` (the socket not yet open) to `after` (closed), and `sockstat UDP inuse open`
/// from `before` to `open` (the socket still open). `Udp:` receive counters are the
/// socket's rows on the stock side and [`STOCK_UDP`] rows on a udprx side.
pub(super) fn netns_deltas(
    side: Side,
    before: &[counters::Group],
    open: &[counters::Group],
    after: &[counters::Group],
) -> Vec<(String, i64)> {
    let value = |gs: &[counters::Group], g: &str, c: &str| {
        gs.iter()
            .filter(|x| x.name == g)
            .flat_map(|x| &x.counters)
            .find(|(n, _)| n == c)
            .map_or(0, |(_, v)| *v as i64)
    };
    let mut out = Vec::new();
    for g in after {
        for (c, v) in &g.counters {
            let d = (*v as i64).wrapping_sub(value(before, &g.name, c));
            let group = match g.name.as_str() {
                "Udp" if UdpMib::NAMES.contains(&c.as_str()) => {
                    if side == Side::Stock {
                        continue;
                    }
                    STOCK_UDP
                }
                "UDP" => "sockstat UDP",
                n => n,
            };
            out.push((format!("{group} {c}"), d));
            if g.name == "UDP" && c == "inuse" {
                let inuse = value(open, "UDP", "inuse") - value(before, "UDP", "inuse");
                out.push(("sockstat UDP inuse open".into(), inuse));
            }
        }
    }
    out
}

/// The MIB counter an accounting-model counter is.
pub(super) fn mib_of(c: Counter) -> UdpMib {
    match c {
        Counter::InErrors => UdpMib::InErrors,
        Counter::RcvbufErrors => UdpMib::RcvbufErrors,
        Counter::MemErrors => UdpMib::MemErrors,
    }
}

/// The value of counter `c` in `m`, the counters of a netns by nstat name.
pub(super) fn get<G: Group>(m: &HashMap<String, u64>, c: G) -> u64 {
    m.get(&format!("{}{}", G::GROUP, c.name()))
        .copied()
        .unwrap_or(0)
}

/// One value per [`UdpMib`] counter: the receive side of `Udp:` (stock) or `UdpRx:`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Mib([i64; UdpMib::LEN]);

impl core::ops::Index<UdpMib> for Mib {
    type Output = i64;
    fn index(&self, c: UdpMib) -> &i64 {
        &self.0[c as usize]
    }
}

impl core::ops::IndexMut<UdpMib> for Mib {
    fn index_mut(&mut self, c: UdpMib) -> &mut i64 {
        &mut self.0[c as usize]
    }
}

/// `/proc/sys/net/ipv4/udp_mem`, opened in the initial netns (the only one that has it) at
/// start-up, its value then, and `net.core.mem_pcpu_rsv` (also the initial netns's).
pub(super) static UDP_MEM: std::sync::OnceLock<(std::fs::File, String, i64)> =
    std::sync::OnceLock::new();

/// Writes `udp_mem`.
fn set_udp_mem(v: &str) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let (f, _, _) = UDP_MEM
        .get()
        .context("net.ipv4.udp_mem is not writable here (udprx compare runs in the initial netns as root for udp-mem)")?;
    f.write_at(v.as_bytes(), 0)
        .context("write net.ipv4.udp_mem")?;
    Ok(())
}

/// Puts `udp_mem` back as it was at start-up when dropped.
struct UdpMemRestore;

impl Drop for UdpMemRestore {
    fn drop(&mut self) {
        if let Some((_, v, _)) = UDP_MEM.get() {
            let _ = set_udp_mem(v);
        }
    }
}

/// A number from a sysctl of this thread's netns.
fn sysctl_i64(path: &str) -> Result<i64> {
    let s = std::fs::read_to_string(path).with_context(|| format!("read {path}"))?;
    s.trim().parse().with_context(|| format!("parse {path}"))
}

/// `UDP: ... mem N` of `/proc/net/sockstat`: `udp_memory_allocated` (pages, global).
fn udp_pages() -> Result<i64> {
    counters::parse_sockstat(&counters::read("sockstat")?)?
        .into_iter()
        .filter(|g| g.name == "UDP")
        .flat_map(|g| g.counters)
        .find_map(|(n, v)| (n == "mem").then_some(v as i64))
        .context("no UDP mem in /proc/net/sockstat")
}

/// [`Guard::UdpMem`]: pins this thread (sender, receiver and their softirqs) to CPU 0;
/// charges a scratch socket one datagram at a time until CPU 0's per-CPU batch of UDP
/// pages is flushed into the global counter (it then holds none), keeping the socket (its
/// pages stay counted, returned for the caller to hold until the side is done); sets
/// `udp_mem` one page above what UDP then holds; returns the protocol memory as the model
/// starts from.
fn udp_mem_start(tx: &Sender) -> Result<(Pool, UdpSocket)> {
    let mut cpus = nix::sched::CpuSet::new();
    cpus.set(0)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpus).context("pin to CPU 0")?;
    let rsv = UDP_MEM
        .get()
        .map(|u| u.2)
        .context("net.ipv4.udp_mem is not writable here (udprx compare runs in the initial netns as root for udp-mem)")?;
    let scratch = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT + 1))?;
    crate::kernel::socket::set_stock_rcvbuf(&scratch, 8 << 20, true)?;
    let mut seen = arrivals(&counters()?);
    let before = udp_pages()?;
    let mut sent = 0;
    while udp_pages()? == before {
        if sent * 15 > 4 * rsv {
            bail!("udp-mem: no flush of the per-CPU batch seen after {sent} datagrams");
        }
        tx.send(60_000, Kind::Good, PORT + 1, 17)?;
        await_arrival(&mut seen, || "udp-mem: flush".into())?;
        sent += 1;
    }
    let held = udp_pages()?;
    set_udp_mem(&format!("{0} {0} {0}", held + 1))?;
    let pool = Pool {
        allocated: held,
        pcpu: 0,
        pcpu_rsv: rsv,
        limits: [held + 1; 3],
        rmem0: sysctl_i64("/proc/sys/net/ipv4/udp_rmem_min")? as u32,
        rmem_alloc: 0,
    };
    Ok((pool, scratch))
}

/// The nftables rule of [`Guard::Firewall`], in this thread's netns: an `inet` table whose
/// `input` chain (filter priority) counts and drops UDP to [`PORT`].
fn firewall_rule() -> Result<()> {
    let rule = format!(
        "table inet udprx {{\n counter dropped {{ }}\n chain input {{\n  type filter hook input priority filter; policy accept;\n  udp dport {PORT} counter name dropped drop\n }}\n}}\n"
    );
    let mut nft = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("run nft (package nftables)")?;
    std::io::Write::write_all(&mut nft.stdin.take().context("nft stdin")?, rule.as_bytes())?;
    if !nft.wait()?.success() {
        bail!("nft -f: the firewall rule was refused");
    }
    Ok(())
}

/// Packets the firewall rule dropped.
fn firewall_dropped() -> Result<u64> {
    let out = std::process::Command::new("nft")
        .args(["list", "counter", "inet", "udprx", "dropped"])
        .output()
        .context("run nft")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no packet count in `nft list counter`: {text}"))
}

/// Waits until the firewall rule has dropped one more datagram than `seen`.
fn await_dropped(seen: &mut u64, what: impl Fn() -> String) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = firewall_dropped()?;
        if n > *seen {
            *seen = n;
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{}: the firewall did not see a datagram within 5 s", what());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the current netns has seen one more datagram than `seen` (the `LOCAL_IN`
/// hook counts every UDP datagram after reassembly; the protocol handler the others).
pub(super) fn await_arrival(seen: &mut u64, what: impl Fn() -> String) -> Result<()> {
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

pub(super) fn run_side(sc: &Scenario, side: Side, link: Link) -> Result<Outcomes> {
    let tx = fresh_side(link)?;
    let group = if side == Side::Stock {
        "Udp"
    } else {
        UdpMib::GROUP
    };
    if sc.guard == Guard::Firewall {
        firewall_rule()?;
    }
    let (pool, _scratch) = if sc.guard == Guard::UdpMem {
        let (p, s) = udp_mem_start(&tx)?;
        (Some(p), Some(s))
    } else {
        (None, None)
    };
    let _restore = pool.map(|_| UdpMemRestore);
    let n0 = counters::stock_groups()?;
    let mut n_open = None;
    let mut rx = Some(Rx::open(side, sc.rcvbuf, sc.guard)?);
    let c0 = counters()?;
    let mut o = Outcomes {
        rcvbuf: rx.as_ref().unwrap().mem()?.rcvbuf,
        pool,
        ..Default::default()
    };
    let mut buf = vec![0u8; 65536];
    let mut held = false;
    // Behind the firewall nothing reaches udprx's counters: the rule's counter is polled.
    let mut seen = if sc.guard == Guard::Firewall {
        0
    } else {
        arrivals(&c0)
    };
    for step in &sc.steps {
        match *step {
            Step::Send(..) | Step::SendClosed(..) | Step::SendGso(..) => {
                let drops0 = match &rx {
                    Some(r) => r.mem()?.drops,
                    None => 0,
                };
                match *step {
                    Step::SendGso(n, size) => tx.send_gso(n, size, PORT)?,
                    Step::SendClosed(size) if side == Side::Stock => {
                        tx.send_crafted(size, Kind::Good, CLOSED, 17)?
                    }
                    Step::SendClosed(size) => tx.send_crafted(size, Kind::Good, CLOSED, PROTO)?,
                    Step::Send(size, kind) => tx.send(size, kind, PORT, 17)?,
                    _ => unreachable!(),
                }
                let what = || format!("{} [{}]: {}", sc.name, link.name(), side.name());
                if sc.guard == Guard::Firewall {
                    await_dropped(&mut seen, what)?;
                } else {
                    await_arrival(&mut seen, what)?;
                }
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
                    n_open = Some(counters::stock_groups()?);
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
        n_open = Some(counters::stock_groups()?);
    }
    drop(rx);
    let c1 = counters()?;
    let n1 = settled(&n0)?;
    o.netns = netns_deltas(side, &n0, n_open.as_deref().unwrap_or(&n0), &n1);
    for &c in UdpMib::ALL {
        // The stock `Udp:` line has the same names as `UdpRx:`.
        let key = format!("{group}{}", c.name());
        o.mib[c] =
            c1.get(&key).copied().unwrap_or(0) as i64 - c0.get(&key).copied().unwrap_or(0) as i64;
    }
    if side != Side::Stock {
        o.freed_at_close =
            get(&c1, DropReason::SocketClose) as i64 - get(&c0, DropReason::SocketClose) as i64;
    }
    Ok(o)
}
