//! Where the evidence is taken: fresh network namespaces joined by `lo` or a veth pair,
//! senders in them, counter snapshots and tracepoint counts.

use crate::{
    datagram::{self, Csum, Shape},
    kernel::{counters, dev::Device, link, netns},
};
use anyhow::{bail, Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::{
    collections::HashMap,
    fs::File,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    path::PathBuf,
    time::{Duration, Instant},
};

/// The IP protocol udprx's handler is loaded on.
pub const PROTO: u8 = 253;

/// A receiving netns (the calling thread is in it) and a sending one: the same for `lo`,
/// another behind a veth pair.
pub struct Net {
    pub rx: File,
    tx: File,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// The receiving interface's index (`iif` of input route lookups).
    pub rx_if: u32,
}

impl Net {
    /// A new netns with `lo` up; sender and receiver both in it.
    pub fn lo() -> Result<Self> {
        netns::unshare()?;
        link::up("lo")?;
        let rx = netns::this()?;
        Ok(Self {
            tx: netns::this()?,
            rx,
            src: Ipv4Addr::LOCALHOST,
            dst: Ipv4Addr::LOCALHOST,
            rx_if: 1,
        })
    }

    /// Two new netns joined by a veth pair (192.0.2.1 sends to 192.0.2.2, MTU 1500).
    pub fn veth() -> Result<Self> {
        const TX: (&str, Ipv4Addr) = ("art-tx", Ipv4Addr::new(192, 0, 2, 1));
        const RX: (&str, Ipv4Addr) = ("art-rx", Ipv4Addr::new(192, 0, 2, 2));
        let (rx, tx) = netns::veth_pair(TX, RX)?;
        // Neighbour entries that stay reachable for the run: no ARP probe arrives in the
        // middle of a measurement (each one is an input route lookup too).
        let hold = |dev: &str| {
            std::fs::write(
                format!("/proc/sys/net/ipv4/neigh/{dev}/base_reachable_time_ms"),
                "3600000",
            )
            .context("hold neighbour entries")
        };
        hold(RX.0)?;
        netns::enter(&tx)?;
        let held = hold(TX.0);
        netns::enter(&rx)?;
        held?;
        let rx_if = nix::net::if_::if_nametoindex(RX.0).context("if_nametoindex")?;
        Ok(Self {
            rx,
            tx,
            src: TX.1,
            dst: RX.1,
            rx_if,
        })
    }

    /// Runs `f` in the sending netns (sockets it makes stay there).
    pub fn in_tx<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        netns::enter(&self.tx)?;
        let r = f();
        netns::enter(&self.rx)?;
        r
    }

    /// A UDP socket in the sending netns.
    pub fn udp(&self) -> Result<UdpSocket> {
        self.in_tx(|| UdpSocket::bind((self.src, 0)).context("bind sender"))
    }

    /// A raw socket of IP protocol `proto` in the sending netns (the kernel adds the IP
    /// header).
    pub fn raw(&self, proto: u8) -> Result<Socket> {
        self.in_tx(|| {
            Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(proto))),
            )
            .context("raw socket")
        })
    }

    /// `n` datagrams of `size` bytes from `s` to `port`.
    pub fn send(&self, s: &UdpSocket, n: usize, size: usize, port: u16) -> Result<()> {
        for i in 0..n {
            s.send_to(
                &datagram::payload(i as u64, size),
                SocketAddrV4::new(self.dst, port),
            )
            .context("send")?;
        }
        Ok(())
    }

    /// `n` crafted datagrams: `size` payload bytes to `port`, the length field `ulen`
    /// (`None`: right), checksum `csum`, sent on a raw socket of `proto`.
    pub fn send_crafted(&self, n: usize, size: usize, port: u16, kind: Craft) -> Result<()> {
        let raw = self.raw(kind.proto)?;
        let shape = Shape {
            sport: 40000,
            dport: port,
            seq: 0,
            size,
            ulen: kind.ulen,
            csum: kind.csum,
            proto: kind.proto,
        };
        let mut wire = datagram::build(&shape, self.src, self.dst).wire;
        if let Some(len) = kind.truncate {
            wire.truncate(len);
        }
        for _ in 0..n {
            raw.send_to(&wire, &SockAddr::from(SocketAddrV4::new(self.dst, 0)))
                .context("raw send")?;
        }
        Ok(())
    }
}

/// How [`Net::send_crafted`] shapes a datagram.
#[derive(Clone, Copy)]
pub struct Craft {
    pub proto: u8,
    pub ulen: Option<u16>,
    pub csum: Csum,
    /// Cut the datagram (header included) to this many bytes.
    pub truncate: Option<usize>,
}

impl Craft {
    pub const fn good(proto: u8) -> Self {
        Self {
            proto,
            ulen: None,
            csum: Csum::Good,
            truncate: None,
        }
    }

    pub const fn bad_csum(proto: u8) -> Self {
        Self {
            csum: Csum::Bad,
            ..Self::good(proto)
        }
    }
}

/// Every counter of the calling thread's netns by nstat name: `Ip`, `Icmp`, `IcmpMsg`,
/// `Udp`, `IpExt`, `UDP` sockstat, and udprx's groups.
#[derive(Clone)]
pub struct Snap(HashMap<String, u64>);

impl Snap {
    pub fn take() -> Result<Self> {
        let mut m: HashMap<String, u64> = counters::by_name(counters::stock_groups()?).collect();
        m.extend(counters::by_name(counters::groups_if_loaded()?));
        Ok(Self(m))
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// `after - self` for counter `name`.
    pub fn delta(&self, after: &Snap, name: &str) -> i64 {
        after.get(name) as i64 - self.get(name) as i64
    }

    /// `NAME +D` for each of `names`.
    pub fn show(&self, after: &Snap, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| format!("{n} {:+}", self.delta(after, n)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Polls the counters until `name` has moved by at least `want` since `before` (at most
/// 5 s), and returns the snapshot that shows it.
pub fn settle(before: &Snap, name: &str, want: i64) -> Result<Snap> {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let now = Snap::take()?;
        if before.delta(&now, name) >= want || Instant::now() > end {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A tracefs instance of its own with some events on; counts what they printed.
pub struct Trace {
    dir: PathBuf,
}

const TRACEFS: &str = "/sys/kernel/tracing";

impl Trace {
    pub fn new(events: &[&str]) -> Result<Self> {
        if !std::path::Path::new(TRACEFS).join("instances").exists() {
            let ok = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .status()
                .context("mount tracefs")?
                .success();
            if !ok {
                bail!("cannot mount tracefs on {TRACEFS}");
            }
        }
        let dir = PathBuf::from(TRACEFS).join("instances/udprx-article");
        if !dir.exists() {
            std::fs::create_dir(&dir).context("create a tracefs instance")?;
        }
        std::fs::write(dir.join("buffer_size_kb"), "8192")?;
        for e in events {
            let f = dir.join("events").join(e).join("enable");
            std::fs::write(&f, "1").with_context(|| format!("enable {e}"))?;
        }
        Ok(Self { dir })
    }

    /// Empties the buffer.
    pub fn clear(&self) -> Result<()> {
        std::fs::write(self.dir.join("trace"), "").context("clear the trace")
    }

    /// The lines printed since the last [`Trace::clear`] that contain every one of `pats`.
    pub fn lines(&self, pats: &[&str]) -> Result<Vec<String>> {
        let t = std::fs::read_to_string(self.dir.join("trace")).context("read the trace")?;
        Ok(t.lines()
            .filter(|l| !l.starts_with('#') && pats.iter().all(|p| l.contains(p)))
            .map(str::to_string)
            .collect())
    }

    pub fn count(&self, pats: &[&str]) -> Result<usize> {
        Ok(self.lines(pats)?.len())
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("events/enable"), "0");
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A udprx socket in the calling thread's netns, under `policy`, bound to `port`.
pub fn udprx_socket(port: u16, policy: u32) -> Result<Device> {
    let d = Device::open(true)?;
    d.set_policy(policy)?;
    d.bind(port)?;
    Ok(d)
}

/// A stock UDP socket on `0.0.0.0:port`, non-blocking.
pub fn stock_socket(port: u16) -> Result<UdpSocket> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).context("bind stock socket")?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Reads every queued datagram of `s` (non-blocking); their count.
pub fn drain(s: &UdpSocket) -> usize {
    let mut buf = vec![0u8; 65536];
    let mut n = 0;
    while s.recv(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// Reads every queued datagram of `d`; their count.
pub fn drain_udprx(d: &mut Device) -> usize {
    let mut buf = vec![0u8; 65536];
    let mut n = 0;
    while d.read(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// Fails unless `cond`, with `what`.
pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<()> {
    if !cond {
        bail!("{}", what());
    }
    Ok(())
}
