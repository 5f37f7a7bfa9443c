//! `udprx bench`: the per-packet price of udprx's hook and of its receive path, measured
//! in one boot, as ratios.
//!
//! Traffic comes from the kernel's packet generator in `xmit_mode netif_receive`: pktgen
//! builds each packet and hands it to `netif_receive_skb()` on a dummy device whose address
//! is local, so every packet walks `ip_rcv` → `ip_local_deliver` → `NF_INET_LOCAL_IN` → the
//! handler in pktgen's own kernel thread, with no sender in the loop. pktgen reports the
//! time it was busy: busy time / packets is the cost of one packet's whole receive path
//! (building the skb included, the same in every variant).
//!
//! Variants, run interleaved (A B C D A B C D ...) for `--rounds` rounds:
//! - `pass`: traffic to a port nobody owns (NoPorts): no module / udprx loaded with no
//!   port bound / `udprx_twin.ko`, a C module whose hook does the same work / an empty
//!   nftables `input` chain;
//! - `enqueue` and `read`: `--count` datagrams into a socket with room for all of them
//!   (stock, udprx `modern`, udprx `classic`), then read back on CPU 0, where pktgen
//!   allocated them: pktgen's busy time per datagram, and the reader's CPU time per
//!   datagram;
//! - `saturation`: the same socket with its default buffer, a reader on CPU 1 reading as
//!   fast as it can while pktgen sends on CPU 0: datagrams delivered per second (only on
//!   `--clock wall`: under icount the vCPUs run in turns);
//! - `two-cpus`: two pktgen threads (CPU 0 and 1) into one socket;
//! - `loopback`: the second source, a userspace sender over `lo` into a socket with room
//!   for all: the sender's CPU time per datagram (its `sendto()` and, in its softirq, the
//!   whole receive path).
//!
//! What a nanosecond is depends on how qemu runs the guest (`--clock`, recorded in the
//! report): with `-icount shift=0` (what `make bench` uses) one instruction executed, so
//! the figures are deterministic instruction counts; otherwise host time through TCG.
//!
//! Every run ends with its conservation check: sent = read + dropped, on the socket's
//! counters (`Udp:` for stock, `UdpRx:` for udprx) and pktgen's. `--smoke` runs one small
//! round and checks only that.

use crate::{
    kernel::{
        counters,
        dev::Device,
        module::{insmod, rmmod},
    },
    plot::{self, RatioBar},
};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    net::{Ipv4Addr, UdpSocket},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};
use udprx_abi::{POLICY_CLASSIC, POLICY_MODERN};

#[derive(clap::Args)]
pub struct Args {
    /// udprx.ko built for the running kernel (loaded and unloaded by the bench).
    #[arg(long, required_unless_present = "report")]
    module: Option<PathBuf>,
    /// udprx_twin.ko, the C twin of the hook; without it that variant is left out.
    #[arg(long)]
    twin: Option<PathBuf>,
    /// Rounds of every variant, interleaved (under `--clock icount` the rounds differ by
    /// well under 1 %; on `wall` use 15 or more).
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Packets per run (`pass`, `saturation`, `two-cpus`).
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Datagrams queued, then read, per `enqueue`/`read` run (all must fit in memory).
    #[arg(long, default_value_t = 30_000)]
    fill: u64,
    /// pktgen's frame size (Ethernet header included, no FCS).
    #[arg(long, default_value_t = 64)]
    pkt_size: u32,
    /// Write bench.json and bench.png here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// What the guest's clock counts, as the VM was started (scripts/bench.sh): `icount`
    /// when qemu ran with `-icount shift=0`, `wall` otherwise. Recorded, and said in the
    /// table; it does not change what is measured.
    #[arg(long, value_enum, default_value_t = Clock::Wall)]
    clock: Clock,
    /// One round of a few packets; checks conservation only and exits 1 on a mismatch.
    #[arg(long)]
    smoke: bool,
    /// Measure nothing: print the table of a saved bench.json (and with --out, draw its
    /// picture again).
    #[arg(long, value_name = "BENCH_JSON", conflicts_with = "smoke")]
    report: Option<PathBuf>,
}

/// What one nanosecond of the guest's clock is.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// qemu `-icount shift=0,sleep=off`: the guest's clock advances 1 ns per instruction
    /// executed, so every time the guest measures is a count of instructions: the same on
    /// every run and every host. What it leaves out is what instructions do not show:
    /// cache misses, the price of atomics and of masking interrupts on real hardware.
    Icount,
    /// Host time through TCG: what emulating each instruction cost the host, which depends
    /// on the instruction, the host and whatever else runs there.
    Wall,
}

impl Clock {
    /// Its name on the command line, which the report records.
    fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The saved run's clock (runs saved before the clock was recorded ran on `wall`).
    fn of(report: &Value) -> Self {
        report["clock"]
            .as_str()
            .and_then(|s| <Self as clap::ValueEnum>::from_str(s, false).ok())
            .unwrap_or(Clock::Wall)
    }

    /// The table's caveat.
    fn caveat(self) -> &'static str {
        match self {
            Clock::Icount => concat!(
                "# clock: icount (qemu -icount shift=0): 1 ns of guest time = 1 instruction executed;\n",
                "# the figures are instruction counts, not times: cache misses and the price of\n",
                "# atomics and of masking interrupts on real hardware are not in them;\n",
                "# saturation is not measured (the vCPUs run in turns): BENCH_CLOCK=wall measures it\n"
            ),
            Clock::Wall => {
                "# clock: wall; absolute figures are TCG-emulated time: compare only the ratios\n"
            }
        }
    }
}

const DEV: &str = "udprxb0";
const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// The port `pass` traffic goes to (nobody binds it).
const PASS_PORT: u16 = 9;
/// The forced receive buffer of a socket that must hold every datagram of a run.
const ROOM_FOR_ALL: i32 = 64 << 20;
/// The port of the receiving socket.
const RX_PORT: u16 = 7000;

fn run_cmd(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<()> {
    let mut c = Command::new(cmd);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    }
    let mut child = c.spawn().with_context(|| format!("run {cmd}"))?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("{cmd}: no stdin"))?
            .write_all(text.as_bytes())?;
    }
    let st = child.wait()?;
    if !st.success() {
        bail!("{cmd} {}: {st}", args.join(" "));
    }
    Ok(())
}

// --- pktgen ------------------------------------------------------------------------------

/// What one pktgen device reported for a run.
#[derive(Debug, Clone, Copy)]
struct PgResult {
    /// Packets handed to the stack.
    sent: u64,
    /// Microseconds pktgen was busy (elapsed minus idle).
    busy_us: u64,
}

impl PgResult {
    /// pktgen's busy time per packet: one packet's whole receive path.
    fn ns_per_packet(self) -> f64 {
        self.busy_us as f64 * 1000.0 / self.sent.max(1) as f64
    }
}

fn pg_write(file: &str, cmd: &str) -> Result<()> {
    let path = format!("/proc/net/pktgen/{file}");
    fs::write(&path, cmd).with_context(|| format!("{path}: {cmd}"))
}

/// The result of `name`'s last run. pktgen's thread writes the result line with a few
/// `sprintf()`s after the run has stopped, and a read in between sees part of it: the line
/// is read again until it is whole (for up to 5 s).
fn pg_result(name: &str) -> Result<PgResult> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match pg_result_once(name) {
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

fn pg_result_once(name: &str) -> Result<PgResult> {
    let text = fs::read_to_string(format!("/proc/net/pktgen/{name}"))?;
    // "Result: OK: 12345(c12000+d345) usec, 40000 (64byte,0frags)"
    let line = text
        .lines()
        .find(|l| l.starts_with("Result: OK:"))
        .ok_or_else(|| anyhow!("pktgen {name}: no result in\n{text}"))?;
    let busy = line
        .split("(c")
        .nth(1)
        .and_then(|s| s.split('+').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("pktgen {name}: cannot parse {line:?}"))?;
    let sent = line
        .split("usec, ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("pktgen {name}: cannot parse {line:?}"))?;
    Ok(PgResult {
        sent,
        busy_us: busy,
    })
}

/// pktgen on `DEV` from the threads of `cpus`, `count` packets each to `LOCAL:port`.
fn pktgen(cpus: &[u32], port: u16, count: u64, pkt_size: u32, mac: &str) -> Result<Vec<PgResult>> {
    for cpu in 0..2 {
        pg_write(&format!("kpktgend_{cpu}"), "rem_device_all")?;
    }
    let names: Vec<String> = cpus
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if i == 0 {
                DEV.into()
            } else {
                format!("{DEV}@{i}")
            }
        })
        .collect();
    for (name, cpu) in names.iter().zip(cpus) {
        // rem_device_all only asks the thread to let go of its devices: until it has, the
        // device is busy.
        let thread = format!("kpktgend_{cpu}");
        let mut tries = 0;
        while let Err(e) = pg_write(&thread, &format!("add_device {name}")) {
            tries += 1;
            if tries == 100 {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        for c in [
            format!("count {count}"),
            format!("pkt_size {pkt_size}"),
            "delay 0".into(),
            "xmit_mode netif_receive".into(),
            "flag !SHARED".into(),
            format!("dst {LOCAL}"),
            format!("src_min {PEER}"),
            format!("src_max {PEER}"),
            format!("dst_mac {mac}"),
            format!("udp_dst_min {port}"),
            format!("udp_dst_max {port}"),
            "udp_src_min 9999".into(),
            "udp_src_max 9999".into(),
        ] {
            pg_write(name, &c)?;
        }
    }
    // Returns when every thread has sent its count.
    pg_write("pgctrl", "start")?;
    names.iter().map(|n| pg_result(n)).collect()
}

// --- counters ----------------------------------------------------------------------------

/// The stock `Udp:` counters and udprx's groups (when loaded), as `GroupName` → value.
fn counters() -> Result<BTreeMap<String, u64>> {
    Ok(counters::by_name(counters::groups_if_loaded()?).collect())
}

fn delta(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, k: &str) -> u64 {
    b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0)
}

// --- sockets -----------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
    /// The counter group of this side's socket.
    fn group(self) -> &'static str {
        if self == Side::Stock {
            "Udp"
        } else {
            "UdpRx"
        }
    }
}

enum Rx {
    Stock(UdpSocket),
    Udprx(Device),
}

impl Rx {
    /// A socket on `RX_PORT`; `rcvbuf` forced (SO_RCVBUFFORCE / RCVBUF_FORCE) when given.
    fn open(side: Side, rcvbuf: Option<i32>) -> Result<Self> {
        Ok(match side {
            Side::Stock => {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
                s.set_nonblocking(true)?;
                s.bind(&std::net::SocketAddr::from((Ipv4Addr::UNSPECIFIED, RX_PORT)).into())?;
                let s: UdpSocket = s.into();
                if let Some(b) = rcvbuf {
                    crate::kernel::socket::set_stock_rcvbuf(&s, b, true)?;
                }
                Rx::Stock(s)
            }
            Side::Modern | Side::Classic => {
                let d = Device::open(true)?;
                d.set_policy(if side == Side::Modern {
                    POLICY_MODERN
                } else {
                    POLICY_CLASSIC
                })?;
                if let Some(b) = rcvbuf {
                    d.set_rcvbuf(b, true)?;
                }
                d.bind(RX_PORT)?;
                Rx::Udprx(d)
            }
        })
    }

    /// Reads one datagram if one is queued.
    fn read(&self, buf: &mut [u8]) -> bool {
        match self {
            Rx::Stock(s) => s.recv(buf).is_ok(),
            Rx::Udprx(d) => d.read_nonblocking(buf),
        }
    }

    /// Reads until the queue is empty; the number read.
    fn drain(&self) -> u64 {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while self.read(&mut buf) {
            n += 1;
        }
        n
    }
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn pin_to_cpu(cpu: usize) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)?;
    Ok(())
}

// --- the bench ---------------------------------------------------------------------------

struct Bench<'a> {
    a: &'a Args,
    mac: String,
    /// Per metric ("pass/udprx", "enqueue/modern", ...), the value of each round.
    values: BTreeMap<String, Vec<f64>>,
    /// Every conservation check: what it compared, and whether it held.
    checks: Vec<Value>,
    /// Whether the nftables table of the `nft` variant exists.
    nft: bool,
}

impl Bench<'_> {
    fn record(&mut self, metric: &str, v: f64) {
        self.values.entry(metric.into()).or_default().push(v);
    }

    fn check(&mut self, what: String, ok: bool, detail: Value) {
        if self.a.smoke || !ok {
            println!(
                "conservation {} {what}: {detail}",
                if ok { "ok" } else { "FAILED" }
            );
        }
        self.checks
            .push(json!({ "what": what, "ok": ok, "detail": detail }));
    }

    /// Loads exactly what `variant` needs.
    fn setup(&mut self, variant: &str) -> Result<()> {
        rmmod("udprx")?;
        rmmod("udprx_twin")?;
        if self.nft {
            run_cmd("nft", &["delete", "table", "inet", "udprx_bench"], None)?;
            self.nft = false;
        }
        match variant {
            "udprx" | "modern" | "classic" => insmod(
                self.a
                    .module
                    .as_ref()
                    .ok_or_else(|| anyhow!("no --module"))?,
            )?,
            "twin" => insmod(self.a.twin.as_ref().ok_or_else(|| anyhow!("no --twin"))?)?,
            "nft" => {
                run_cmd(
                    "nft",
                    &["-f", "-"],
                    Some(concat!(
                        "table inet udprx_bench {\n",
                        " chain input { type filter hook input priority 0; policy accept; }\n",
                        "}\n"
                    )),
                )?;
                self.nft = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Traffic udprx lets through: `count` packets to a port nobody has.
    fn pass(&mut self, variant: &str) -> Result<()> {
        self.setup(variant)?;
        let before = counters()?;
        let r = pktgen(&[0], PASS_PORT, self.a.count, self.a.pkt_size, &self.mac)?[0];
        let after = counters()?;
        self.record(&format!("pass/{variant}"), r.ns_per_packet());
        let noports = delta(&before, &after, "UdpNoPorts");
        let mut ok = r.sent == self.a.count && noports == r.sent;
        let mut detail = json!({ "sent": r.sent, "UdpNoPorts": noports });
        if variant == "udprx" {
            let (seen, acc) = (
                delta(&before, &after, "UdpRxHookSeen"),
                delta(&before, &after, "UdpRxHookAccepted"),
            );
            ok &= seen == r.sent && acc == r.sent;
            detail["UdpRxHookSeen"] = seen.into();
            detail["UdpRxHookAccepted"] = acc.into();
        }
        self.check(format!("pass/{variant}: sent = NoPorts"), ok, detail);
        Ok(())
    }

    /// What a `side` run needs: its modules, its socket on `RX_PORT` (`rcvbuf` forced when
    /// given), and the counters before the run.
    fn socket(&mut self, side: Side, rcvbuf: Option<i32>) -> Result<(Rx, BTreeMap<String, u64>)> {
        self.setup(side.name())?;
        let rx = Rx::open(side, rcvbuf)?;
        Ok((rx, counters()?))
    }

    /// `count` datagrams into a socket with room for all, then read back.
    fn enqueue_read(&mut self, side: Side) -> Result<()> {
        let (rx, before) = self.socket(side, Some(ROOM_FOR_ALL))?;
        let r = pktgen(&[0], RX_PORT, self.a.fill, self.a.pkt_size, &self.mac)?[0];
        // The reader runs on CPU 0, where pktgen allocated every skb: a stock `recv()` on
        // another CPU hands the skb back to its allocating CPU to be freed there later
        // (`skb_attempt_defer_free()`), out of both figures, while udprx frees it in
        // `read()`. On CPU 0 both free it in the read they are measured in.
        let (read, cpu) = std::thread::scope(|s| {
            s.spawn(|| -> Result<(u64, u64)> {
                pin_to_cpu(0)?;
                let t0 = thread_cpu_ns();
                let read = rx.drain();
                Ok((read, thread_cpu_ns() - t0))
            })
            .join()
            .map_err(|_| anyhow!("reader panicked"))?
        })?;
        self.record(&format!("enqueue/{}", side.name()), r.ns_per_packet());
        self.record(
            &format!("read/{}", side.name()),
            cpu as f64 / read.max(1) as f64,
        );
        self.conserve("enqueue", side, r.sent, read, &before)
    }

    /// A reader on CPU 1 as fast as it can, pktgen on CPU 0.
    fn saturation(&mut self, side: Side) -> Result<()> {
        let (rx, before) = self.socket(side, None)?;
        let rx = Arc::new(rx);
        let stop = Arc::new(AtomicBool::new(false));
        let read = Arc::new(AtomicU64::new(0));
        let reader = {
            let (rx, stop, read) = (rx.clone(), stop.clone(), read.clone());
            std::thread::spawn(move || -> Result<()> {
                pin_to_cpu(1)?;
                let mut buf = [0u8; 2048];
                loop {
                    if rx.read(&mut buf) {
                        read.fetch_add(1, Ordering::Relaxed);
                    } else if stop.load(Ordering::Acquire) {
                        // Everything pktgen sent has been queued or dropped by now.
                        read.fetch_add(rx.drain(), Ordering::Relaxed);
                        return Ok(());
                    }
                }
            })
        };
        let r = pktgen(&[0], RX_PORT, self.a.count, self.a.pkt_size, &self.mac);
        stop.store(true, Ordering::Release);
        reader.join().map_err(|_| anyhow!("reader panicked"))??;
        let r = r?[0];
        let read = read.load(Ordering::Relaxed);
        let secs = (r.busy_us as f64 / 1e6).max(1e-6);
        self.record(&format!("saturation/{}", side.name()), read as f64 / secs);
        self.conserve("saturation", side, r.sent, read, &before)
    }

    /// The second source: a userspace sender on CPU 0 sends `fill` datagrams over loopback
    /// into a socket with room for all. On `lo` the receive path runs in the sender's own
    /// softirq (`netif_rx()`, processed when the send re-enables bottom halves), so the
    /// sender's CPU time per datagram is one `sendto()` plus one receive path.
    fn loopback(&mut self, side: Side) -> Result<()> {
        let (rx, before) = self.socket(side, Some(ROOM_FOR_ALL))?;
        let fill = self.a.fill;
        let (sent, cpu) = std::thread::spawn(move || -> Result<(u64, u64)> {
            pin_to_cpu(0)?;
            let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            let payload = [0u8; 18]; // pktgen's 64-byte frame carries 18 bytes of UDP payload
            let t0 = thread_cpu_ns();
            let mut sent = 0;
            for _ in 0..fill {
                if tx.send_to(&payload, (Ipv4Addr::LOCALHOST, RX_PORT)).is_ok() {
                    sent += 1;
                }
            }
            Ok((sent, thread_cpu_ns() - t0))
        })
        .join()
        .map_err(|_| anyhow!("sender panicked"))??;
        let read = rx.drain();
        self.record(
            &format!("loopback/{}", side.name()),
            cpu as f64 / sent.max(1) as f64,
        );
        self.conserve("loopback", side, sent, read, &before)
    }

    /// Two pktgen threads (CPU 0 and CPU 1) into one socket with its default buffer.
    fn two_cpus(&mut self, side: Side) -> Result<()> {
        let (rx, before) = self.socket(side, None)?;
        let rs = pktgen(
            &[0, 1],
            RX_PORT,
            self.a.count / 2,
            self.a.pkt_size,
            &self.mac,
        )?;
        let read = rx.drain();
        let sent = rs.iter().map(|r| r.sent).sum();
        self.conserve("two-cpus", side, sent, read, &before)
    }

    /// sent = read + dropped, on the side's counters.
    /// `kind` run of `side` (counters `before` it): sent = read + dropped, on the side's
    /// counters as they are now.
    fn conserve(
        &mut self,
        kind: &str,
        side: Side,
        sent: u64,
        read: u64,
        before: &BTreeMap<String, u64>,
    ) -> Result<()> {
        let after = &counters()?;
        let what = &format!("{kind}/{}", side.name());
        let g = side.group();
        let d = |k: &str| delta(before, after, &format!("{g}{k}"));
        let (indg, inerr, rcvbuf, mem) = (
            d("InDatagrams"),
            d("InErrors"),
            d("RcvbufErrors"),
            d("MemErrors"),
        );
        let mut ok = sent == read + inerr && indg == read && rcvbuf + mem <= inerr;
        let mut detail = json!({ "sent": sent, "read": read, "InDatagrams": indg,
            "InErrors": inerr, "RcvbufErrors": rcvbuf, "MemErrors": mem });
        if side != Side::Stock {
            let stolen = delta(before, after, "UdpRxHookStolen");
            ok &= stolen == sent;
            detail["UdpRxHookStolen"] = stolen.into();
        }
        self.check(format!("{what}: sent = read + InErrors"), ok, detail);
        Ok(())
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A ratio measured within each round (both values from the same round), summarised.
struct Ratio {
    name: String,
    per_round: Vec<f64>,
}

impl Ratio {
    fn json(&self) -> Value {
        let min = self.per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .per_round
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        json!({ "ratio": self.name, "median": median(&self.per_round), "min": min, "max": max,
                "per_round": self.per_round })
    }
}

/// Looks a metric up in one round.
type Lookup<'a> = &'a dyn Fn(&str) -> f64;

fn ratio(
    values: &BTreeMap<String, Vec<f64>>,
    name: &str,
    f: impl Fn(Lookup<'_>) -> f64,
) -> Option<Ratio> {
    let rounds = values.values().map(Vec::len).min()?;
    let per_round: Vec<f64> = (0..rounds)
        .map(|r| {
            f(&|k: &str| {
                values
                    .get(k)
                    .and_then(|v| v.get(r).copied())
                    .unwrap_or(f64::NAN)
            })
        })
        .collect();
    per_round.iter().all(|x| x.is_finite()).then(|| Ratio {
        name: name.into(),
        per_round,
    })
}

fn ratios(values: &BTreeMap<String, Vec<f64>>) -> Vec<Ratio> {
    let mut out = Vec::new();
    let mut add = |name: &str, f: &dyn Fn(Lookup<'_>) -> f64| {
        if let Some(r) = ratio(values, name, f) {
            out.push(r);
        }
    };
    add("pass: udprx / C twin", &|v| {
        v("pass/udprx") / v("pass/twin")
    });
    add("pass: udprx / no module", &|v| {
        v("pass/udprx") / v("pass/none")
    });
    add("pass: C twin / no module", &|v| {
        v("pass/twin") / v("pass/none")
    });
    add("pass: empty nft chain / no module", &|v| {
        v("pass/nft") / v("pass/none")
    });
    for p in ["modern", "classic"] {
        add(&format!("enqueue: {p} / stock"), &|v| {
            v(&format!("enqueue/{p}")) / v("enqueue/stock")
        });
        add(&format!("read: {p} / stock"), &|v| {
            v(&format!("read/{p}")) / v("read/stock")
        });
        add(
            &format!("per delivered datagram (enqueue + read): {p} / stock"),
            &|v| {
                (v(&format!("enqueue/{p}")) + v(&format!("read/{p}")))
                    / (v("enqueue/stock") + v("read/stock"))
            },
        );
        add(
            &format!("delivered per second at saturation: {p} / stock"),
            &|v| v(&format!("saturation/{p}")) / v("saturation/stock"),
        );
        add(
            &format!("userspace sender over lo, per datagram: {p} / stock"),
            &|v| v(&format!("loopback/{p}")) / v("loopback/stock"),
        );
    }
    out
}

/// The goals of the bench, as (ratio name, bound, whether the ratio must stay below it).
const GOALS: [(&str, f64, bool); 7] = [
    ("pass: udprx / C twin", 1.05, true),
    (
        "per delivered datagram (enqueue + read): modern / stock",
        1.10,
        true,
    ),
    (
        "per delivered datagram (enqueue + read): classic / stock",
        1.10,
        true,
    ),
    (
        "delivered per second at saturation: modern / stock",
        0.9,
        false,
    ),
    (
        "delivered per second at saturation: classic / stock",
        0.9,
        false,
    ),
    ("enqueue: modern / stock", 1.10, true),
    ("enqueue: classic / stock", 1.10, true),
];

fn setup_device() -> Result<String> {
    let _ = run_cmd("ip", &["link", "del", DEV], None);
    run_cmd("ip", &["link", "add", DEV, "type", "dummy"], None)?;
    run_cmd(
        "ip",
        &["addr", "add", &format!("{LOCAL}/24"), "dev", DEV],
        None,
    )?;
    run_cmd("ip", &["link", "set", DEV, "up"], None)?;
    Ok(fs::read_to_string(format!("/sys/class/net/{DEV}/address"))?
        .trim()
        .to_string())
}

/// The table (and picture) of a saved run.
fn report(path: &Path, out: Option<&Path>) -> Result<()> {
    let report: Value = serde_json::from_str(
        &fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
    )?;
    // The ratios are computed again from the per-round values, so that a saved run shows
    // every ratio this version of the bench defines.
    let values: BTreeMap<String, Vec<f64>> = report["values"]
        .as_object()
        .ok_or_else(|| anyhow!("{}: no values", path.display()))?
        .iter()
        .map(|(k, v)| {
            let rounds = v["per_round"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            (k.clone(), rounds)
        })
        .collect();
    let rs = ratios(&values);
    print!("{}", table(&report, &rs));
    if let Some(dir) = out {
        draw(dir, &report, &rs)?;
    }
    Ok(())
}

/// One bar of the picture per ratio.
impl From<&Ratio> for RatioBar {
    fn from(r: &Ratio) -> Self {
        let j = r.json();
        RatioBar {
            name: r.name.clone(),
            median: j["median"].as_f64().unwrap_or(f64::NAN),
            min: j["min"].as_f64().unwrap_or(f64::NAN),
            max: j["max"].as_f64().unwrap_or(f64::NAN),
        }
    }
}

fn draw(dir: &Path, report: &Value, rs: &[Ratio]) -> Result<()> {
    fs::create_dir_all(dir)?;
    let bars: Vec<RatioBar> = rs.iter().map(RatioBar::from).collect();
    plot::ratios(
        &dir.join("bench.png"),
        &format!(
            "udprx bench: {} rounds of {} packets, kernel {}, clock {}",
            report["rounds"],
            report["count"],
            report["kernel"].as_str().unwrap_or("?"),
            Clock::of(report).name()
        ),
        &bars,
    )
}

pub fn run(a: &Args) -> Result<()> {
    if let Some(path) = &a.report {
        return report(path, a.out.as_deref());
    }
    let smoke;
    let a = if a.smoke {
        smoke = Args {
            module: a.module.clone(),
            twin: a.twin.clone(),
            rounds: 1,
            count: a.count.min(2000),
            fill: a.fill.min(2000),
            pkt_size: a.pkt_size,
            out: a.out.clone(),
            clock: a.clock,
            smoke: true,
            report: None,
        };
        &smoke
    } else {
        a
    };
    if !Path::new("/proc/net/pktgen/pgctrl").exists() {
        bail!("no /proc/net/pktgen: the kernel needs CONFIG_NET_PKTGEN");
    }
    let mac = setup_device()?;
    let mut b = Bench {
        a,
        mac,
        values: BTreeMap::new(),
        checks: Vec::new(),
        nft: false,
    };
    let mut pass = vec!["none", "udprx"];
    if a.twin.is_some() {
        pass.push("twin");
    }
    pass.push("nft");
    let sides = [Side::Stock, Side::Modern, Side::Classic];
    let started = Instant::now();
    for round in 0..a.rounds {
        eprintln!("bench: round {} of {}", round + 1, a.rounds);
        for v in &pass {
            b.pass(v)?;
        }
        for s in sides {
            b.enqueue_read(s)?;
        }
        // Under icount qemu runs the vCPUs in turns on one host thread: the reader never
        // runs beside pktgen, and what a run measures is how the turns fall.
        if a.clock == Clock::Wall {
            for s in sides {
                b.saturation(s)?;
            }
        }
        for s in sides {
            b.two_cpus(s)?;
        }
        for s in sides {
            b.loopback(s)?;
        }
    }
    b.setup("none")?;
    let _ = run_cmd("ip", &["link", "del", DEV], None);
    let rs = ratios(&b.values);
    let release = fs::read_to_string("/proc/sys/kernel/osrelease")?;
    let report = json!({
        "kernel": release.trim(),
        "clock": a.clock.name(),
        "rounds": a.rounds, "count": a.count, "fill": a.fill, "pkt_size": a.pkt_size,
        "seconds": started.elapsed().as_secs_f64(),
        "values": b.values.iter().map(|(k, v)| (k.clone(), json!({
            "median": median(v), "per_round": v }))).collect::<serde_json::Map<_, _>>(),
        "ratios": rs.iter().map(Ratio::json).collect::<Vec<_>>(),
        "conservation": b.checks,
    });
    let failed = b.checks.iter().filter(|c| c["ok"] != true).count();
    print!("{}", table(&report, &rs));
    if let Some(dir) = &a.out {
        fs::create_dir_all(dir)?;
        fs::write(
            dir.join("bench.json"),
            serde_json::to_string_pretty(&report)? + "\n",
        )?;
        if !a.smoke {
            draw(dir, &report, &rs)?;
        }
    }
    println!("conservation: {} checks, {} failed", b.checks.len(), failed);
    if failed > 0 {
        bail!("{failed} conservation checks failed");
    }
    Ok(())
}

fn table(report: &Value, rs: &[Ratio]) -> String {
    let mut s = String::new();
    s += &format!(
        "# udprx bench: kernel {}, {} rounds of {} packets ({} queued and read), {} bytes, {:.0} s\n",
        report["kernel"].as_str().unwrap_or("?"),
        report["rounds"],
        report["count"],
        report["fill"],
        report["pkt_size"],
        report["seconds"].as_f64().unwrap_or(0.0)
    );
    let clock = Clock::of(report);
    s += clock.caveat();
    s += &format!(
        "{:<58} {:>8} {:>8} {:>8}  {}\n",
        "ratio", "median", "min", "max", "goal"
    );
    for r in rs {
        let j = r.json();
        let goal = GOALS
            .iter()
            .find(|g| g.0 == r.name)
            .map(|&(_, bound, below)| {
                let m = median(&r.per_round);
                let met = if below { m <= bound } else { m >= bound };
                format!(
                    "{} {bound} {}",
                    if below { "<=" } else { ">=" },
                    if met { "met" } else { "MISSED" }
                )
            })
            .unwrap_or_default();
        s += &format!(
            "{:<58} {:>8.3} {:>8.3} {:>8.3}  {}\n",
            r.name,
            j["median"].as_f64().unwrap_or(f64::NAN),
            j["min"].as_f64().unwrap_or(f64::NAN),
            j["max"].as_f64().unwrap_or(f64::NAN),
            goal
        );
    }
    s += &format!("{:<58} {:>12}\n", "metric (median)", "value");
    if let Some(v) = report["values"].as_object() {
        for (k, x) in v {
            let unit = match (k.starts_with("saturation"), clock) {
                (true, _) => "datagrams/s",
                (false, Clock::Icount) => "ns/packet (= instructions)",
                (false, Clock::Wall) => "ns/packet",
            };
            s += &format!(
                "{:<58} {:>12.0} {unit}\n",
                k,
                x["median"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    s
}
