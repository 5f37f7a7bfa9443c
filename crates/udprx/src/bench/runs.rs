//! The runs of the bench, one variant each (`pass`, `enqueue`/`read`, `saturation`,
//! `loopback`; `two-cpus` in twocpus.rs), with their conservation checks.

use super::{
    args::Args,
    host::{self, run_cmd},
    pktgen::pktgen,
    profile::Marks,
    rx::{pin_to_cpu, thread_cpu_ns, Rx, Side, RX_PORT},
};
use crate::kernel::{
    counters,
    module::{insmod, rmmod},
};
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, UdpSocket},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
};

/// The port `pass` traffic goes to (nobody binds it).
const PASS_PORT: u16 = 9;

/// The forced receive buffer of a socket that must hold every datagram of a run.
pub(super) const ROOM_FOR_ALL: i32 = 64 << 20;

/// The stock `Udp:` counters and udprx's groups (when loaded), as `GroupName` → value.
pub(super) fn counters() -> Result<BTreeMap<String, u64>> {
    Ok(counters::by_name(counters::groups_if_loaded()?).collect())
}

pub(super) fn delta(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, k: &str) -> u64 {
    b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0)
}

pub(super) struct Bench<'a> {
    pub(super) a: &'a Args,
    pub(super) mac: String,
    /// Per metric ("pass/udprx", "enqueue/modern", ...), the value of each round.
    pub(super) values: BTreeMap<String, Vec<f64>>,
    /// Every conservation check: what it compared, and whether it held.
    pub(super) checks: Vec<Value>,
    /// Whether the nftables table of the `nft` variant exists.
    pub(super) nft: bool,
    /// The marks of a profiled run (`--profile-marks`).
    pub(super) marks: Option<Marks>,
}

impl<'a> Bench<'a> {
    /// A bench of `a`'s runs, with pktgen's device set up.
    pub(super) fn new(a: &'a Args) -> Result<Self> {
        if !std::path::Path::new("/proc/net/pktgen/pgctrl").exists() {
            bail!("no /proc/net/pktgen: the kernel needs CONFIG_NET_PKTGEN");
        }
        Ok(Self {
            a,
            mac: host::setup_device()?,
            values: BTreeMap::new(),
            checks: Vec::new(),
            nft: false,
            marks: a.out.as_deref().filter(|_| a.profile_marks).map(Marks::new),
        })
    }

    pub(super) fn record(&mut self, metric: &str, v: f64) {
        self.values.entry(metric.into()).or_default().push(v);
    }

    pub(super) fn check(&mut self, what: String, ok: bool, detail: Value) {
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
    pub(super) fn setup(&mut self, variant: &str) -> Result<()> {
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
    pub(super) fn pass(&mut self, variant: &str) -> Result<()> {
        self.setup(variant)?;
        let before = counters()?;
        let r = pktgen(&[(0, PASS_PORT)], self.a.count, self.a.pkt_size, &self.mac)?[0];
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
        let (mut rxs, before) = self.sockets(side, &[RX_PORT], rcvbuf)?;
        Ok((rxs.remove(0), before))
    }

    /// [`Self::socket`], one socket per port of `ports`.
    pub(super) fn sockets(
        &mut self,
        side: Side,
        ports: &[u16],
        rcvbuf: Option<i32>,
    ) -> Result<(Vec<Rx>, BTreeMap<String, u64>)> {
        self.setup(side.name())?;
        let rxs = ports
            .iter()
            .map(|&p| Rx::open(side, p, rcvbuf))
            .collect::<Result<_>>()?;
        Ok((rxs, counters()?))
    }

    /// `count` datagrams into a socket with room for all, then read back.
    pub(super) fn enqueue_read(&mut self, side: Side) -> Result<()> {
        let (rx, before) = self.socket(side, Some(ROOM_FOR_ALL))?;
        if let Some(m) = &self.marks {
            m.symbols(side.name())?;
        }
        self.mark("enqueue", side.name());
        let r = pktgen(&[(0, RX_PORT)], self.a.fill, self.a.pkt_size, &self.mac)?[0];
        self.mark("read", side.name());
        // The reader runs on CPU 0, where pktgen allocated every skb: a read on another
        // CPU hands the skb back to its allocating CPU to be freed there later (stock
        // `skb_attempt_defer_free()`, udprx `napi_consume_skb()`), out of both figures.
        // On CPU 0 both free it in the read they are measured in.
        let (read, cpu) = rx.drain_on(0)?;
        self.mark("end", side.name());
        self.record(&format!("enqueue/{}", side.name()), r.ns_per_packet());
        self.record(
            &format!("read/{}", side.name()),
            cpu as f64 / read.max(1) as f64,
        );
        self.conserve("enqueue", side, r.sent, read, &before)
    }

    /// A reader on CPU 1 as fast as it can, pktgen on CPU 0.
    pub(super) fn saturation(&mut self, side: Side) -> Result<()> {
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
        let r = pktgen(&[(0, RX_PORT)], self.a.count, self.a.pkt_size, &self.mac);
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
    pub(super) fn loopback(&mut self, side: Side) -> Result<()> {
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
        self.conserve_also(kind, side, sent, read, before, (true, json!({})))
    }

    /// [`Self::conserve`], which also holds only if `also.0` does, with `also.1`'s fields in
    /// its detail.
    pub(super) fn conserve_also(
        &mut self,
        kind: &str,
        side: Side,
        sent: u64,
        read: u64,
        before: &BTreeMap<String, u64>,
        (also, more): (bool, Value),
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
        let mut ok = also && sent == read + inerr && indg == read && rcvbuf + mem <= inerr;
        let mut detail = json!({ "sent": sent, "read": read, "InDatagrams": indg,
            "InErrors": inerr, "RcvbufErrors": rcvbuf, "MemErrors": mem });
        if side != Side::Stock {
            let stolen = delta(before, after, "UdpRxHookStolen");
            ok &= stolen == sent;
            detail["UdpRxHookStolen"] = stolen.into();
        }
        if let (Some(d), Value::Object(m)) = (detail.as_object_mut(), more) {
            d.extend(m);
        }
        self.check(format!("{what}: sent = read + InErrors"), ok, detail);
        Ok(())
    }
}
