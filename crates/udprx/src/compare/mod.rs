//! `udprx compare`: the same traffic, scenario by scenario, to a stock UDP socket and to
//! udprx sockets under each policy — each side in a fresh network namespace of its own —
//! next to what the accounting model predicts. Compared are the socket's counters (stock
//! `Udp:` with `UdpRx:`, drops, rmem) and every stock counter of the receiving netns that
//! moves (`Ip`, `Icmp`, `IcmpMsg`, `Udp`, `IpExt`, sockstat `UDP`). Exits 1 when `modern`
//! differs from stock (unless [`DOCUMENTED`]), `classic` from stock outside its socket, or
//! a policy from its model.
//!
//! Everything runs in this one process (no exec per datagram): each side `unshare()`s a
//! new netns, brings `lo` up and binds its socket; its sender sends over loopback from the
//! same netns, or (link `veth`) from a second netns joined to it by a veth pair. After
//! each datagram it waits until the receiving netns's counters show it arrived (the
//! `LOCAL_IN` hook sees every UDP datagram; the protocol handler counts the others).

use crate::{
    datagram::{self, payload, Csum, Shape},
    kernel::{counters, dev::Device, link},
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::{
    collections::{HashMap, VecDeque},
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::AsFd,
    time::{Duration, Instant},
};
use udprx_abi::mib::{DropReason, Group, HookMib, ProtoMib, UdpMib};
use udprx_rxqueue::{Counter, Memory, Outcome, Policy, Pool, Queue};

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

mod calibrate;
mod model;
mod plot;
mod report;
mod scenario;
mod side;

use calibrate::*;
use model::*;
use report::*;
use scenario::*;
use side::*;

/// Calibrates `link` and runs the chosen scenarios over it, in the calling thread (which
/// `unshare()`s network namespaces of its own for each side); draws the pictures.
fn run_link(
    link: Link,
    shapes: &[(usize, Kind)],
    wanted: &(dyn Fn(&Scenario) -> bool + Sync),
    plot: Option<&std::path::Path>,
    others_done: &std::sync::Barrier,
) -> Result<Vec<Compared>> {
    /// One `udp-mem` scenario at a time, over all links.
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // `udp-mem` runs once every link is done with the other scenarios (their sockets charge
    // the same global counter), one link at a time; every thread reaches the barrier,
    // whatever happened before it.
    let first = (|| -> Result<_> {
        let truesize = calibrate(link, shapes)?;
        let (alone, others): (Vec<Scenario>, Vec<Scenario>) =
            scenarios(Some(truesize[&(1000, Kind::Good)].plain))?
                .into_iter()
                .filter(|s| wanted(s))
                .partition(|s| s.guard == Guard::UdpMem);
        let mut done = Vec::new();
        for sc in &others {
            done.push(compare_one(sc, link, &truesize)?);
        }
        Ok((truesize, alone, done))
    })();
    others_done.wait();
    let (truesize, alone, mut done) = first?;
    for sc in &alone {
        let _one = ALONE.lock().unwrap_or_else(|e| e.into_inner());
        done.push(compare_one(sc, link, &truesize)?);
    }
    if let Some(dir) = plot {
        for c in &done {
            std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
            let path = dir.join(format!("{}-{}.png", c.name, link.name()));
            let lines: Vec<plot::Line<'_>> = c
                .sides
                .all()
                .into_iter()
                .map(|(s, o)| plot::Line {
                    name: s.name(),
                    points: &o.series,
                })
                .collect();
            plot::draw(
                &path,
                &format!("{} [{}]: {}", c.name, link.name(), c.about),
                c.rcvbuf,
                &lines,
            )?;
        }
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
        .filter_map(|st| match st {
            Step::Send(size, kind) => Some((*size, *kind)),
            Step::SendGso(_, size) => Some((*size, Kind::Segment)),
            _ => None,
        })
        .chain([(1000, Kind::Good)])
        .collect();
    shapes.sort();
    shapes.dedup();
    // The links are independent (each side in network namespaces of its own): each runs in
    // a thread of its own, side by side; the results are printed in link order.
    // `udp-mem` writes the global net.ipv4.udp_mem, which only the initial netns shows:
    // opened here, before any thread leaves it.
    if let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/sys/net/ipv4/udp_mem")
    {
        let v = std::fs::read_to_string("/proc/sys/net/ipv4/udp_mem")?;
        let rsv = std::fs::read_to_string("/proc/sys/net/core/mem_pcpu_rsv")?;
        let rsv = rsv.trim().parse().context("net.core.mem_pcpu_rsv")?;
        let _ = side::UDP_MEM.set((f, v.trim().to_string(), rsv));
    }
    let barrier = std::sync::Barrier::new(links.len());
    let results: Vec<Result<Vec<Compared>>> = std::thread::scope(|scope| {
        let runs: Vec<_> = links
            .iter()
            .map(|&link| {
                let (shapes, barrier) = (&shapes, &barrier);
                scope.spawn(move || run_link(link, shapes, &wanted, a.plot.as_deref(), barrier))
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
    fn model_guards() {
        let steps = vec![
            Step::Send(1000, Kind::Good),
            Step::Send(200, Kind::BadCsum),
            Step::Send(48, Kind::ZeroCsum),
        ];
        let mut sc = Scenario {
            name: "t",
            about: String::new(),
            rcvbuf: None,
            steps,
            classic_reason: "",
            guard: Guard::Firewall,
        };
        let m = model(&sc, Policy::Modern, 1 << 20, &ts(), None);
        assert_eq!(m.mib, Mib::default());
        assert_eq!((m.delivered, m.drops), (0, 0));
        // A filter keeping up to 100 bytes: the 1000 B datagram is filtered, the bad
        // checksum is found before the filter, the 48 B one is delivered.
        sc.guard = Guard::Filter(100);
        let m = model(&sc, Policy::Modern, 1 << 20, &ts(), None);
        assert_eq!(
            (
                m.delivered,
                m.drops,
                m.mib[UdpMib::InErrors],
                m.mib[UdpMib::InCsumErrors],
                m.mib[UdpMib::InDatagrams]
            ),
            (1, 2, 2, 1, 1)
        );
    }

    #[test]
    fn model_overflow_and_malformed() {
        let sc = Scenario {
            name: "t",
            about: String::new(),
            rcvbuf: None,
            steps: sends(20, 1000),
            classic_reason: "",
            guard: Guard::None,
        };
        let m = model(&sc, Policy::Modern, 8192, &ts(), None);
        assert_eq!(
            (
                m.delivered,
                m.mib[UdpMib::RcvbufErrors],
                m.mib[UdpMib::InErrors],
                m.drops
            ),
            (3, 17, 17, 17)
        );
        let c = model(&sc, Policy::Classic, 8192, &ts(), None);
        assert_eq!(
            (
                c.delivered,
                c.mib[UdpMib::RcvbufErrors],
                c.mib[UdpMib::InErrors],
                c.drops
            ),
            (4, 0, 16, 16)
        );
        let sc = scenarios(None)
            .unwrap()
            .into_iter()
            .find(|s| s.name == "malformed")
            .unwrap();
        let m = model(&sc, Policy::Modern, 212_992, &ts(), None);
        assert_eq!(m.mib[UdpMib::InCsumErrors], 2);
        assert_eq!(m.mib[UdpMib::InErrors], 3);
        assert_eq!(m.mib[UdpMib::InDatagrams], 1);
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

    fn rows(d: &[(&str, i64)]) -> Vec<(String, i64)> {
        d.iter().map(|(l, v)| (l.to_string(), *v)).collect()
    }

    #[test]
    fn net_rows_compare_with_stock() {
        let stock = rows(&[
            ("Ip InReceives", 3),
            ("Ip InDelivers", 3),
            ("Ip InDiscards", 0),
        ]);
        let modern = rows(&[
            ("Ip InReceives", 3),
            ("Ip InDelivers", 0),
            ("Ip InDiscards", 0),
            ("StockUdp InDatagrams", 0),
            ("sockstat UDP mem", 2),
        ]);
        let classic = rows(&[
            ("Ip InReceives", 3),
            ("Ip InDelivers", 3),
            ("StockUdp InDatagrams", 1),
            ("sockstat UDP mem", 1),
        ]);
        let sides = [
            (Side::Stock, stock.as_slice()),
            (Side::Modern, modern.as_slice()),
            (Side::Classic, classic.as_slice()),
        ];
        let (r, f) = net_rows("t", sides, &[]);
        // Moved nowhere: Ip InDiscards is no row.
        let labels: Vec<&str> = r.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Ip InReceives",
                "Ip InDelivers",
                "StockUdp InDatagrams",
                "sockstat UDP mem"
            ]
        );
        assert_eq!(r[0].note, "");
        assert_eq!(r[1].values, [Some(3), Some(0), Some(3)]);
        assert_eq!(r[1].note, "modern differs");
        // The stock side has no StockUdp rows; a udprx side's must not move.
        assert_eq!(r[2].values, [None, Some(0), Some(1)]);
        // Global protocol memory is shown, not compared.
        assert!(r[3].note.starts_with("not compared: global, "));
        assert_eq!(
            f,
            [
                "Ip InDelivers: modern 0 != stock 3",
                "StockUdp InDatagrams: classic 1, must not move",
            ]
        );
        // A documented difference is shown as such and fails nothing, in its scenario only.
        let doc = [("t", "Ip InDelivers", "because")];
        let (r, f) = net_rows("t", sides, &doc);
        assert_eq!(r[1].note, "modern differs (documented: because)");
        assert_eq!(f.len(), 1);
        assert_eq!(net_rows("u", sides, &doc).1.len(), 2);
    }

    #[test]
    fn netns_deltas_map_udp() {
        let g = |t: &str, s: &str| {
            let mut g = counters::parse(t).unwrap();
            g.extend(counters::parse_sockstat(s).unwrap());
            g
        };
        let before = g(
            "Ip: InDelivers\nIp: 10\nUdp: InDatagrams OutDatagrams\nUdp: 0 5\n",
            "UDP: inuse 2 mem 0\n",
        );
        let open = g("", "UDP: inuse 3 mem 1\n");
        let after = g(
            "Ip: InDelivers\nIp: 14\nUdp: InDatagrams OutDatagrams\nUdp: 4 9\n",
            "UDP: inuse 2 mem 0\n",
        );
        let d = |side| netns_deltas(side, &before, &open, &after);
        let stock = rows(&[
            ("Ip InDelivers", 4),
            ("Udp OutDatagrams", 4),
            ("sockstat UDP inuse", 0),
            ("sockstat UDP inuse open", 1),
            ("sockstat UDP mem", 0),
        ]);
        assert_eq!(d(Side::Stock), stock);
        // On a udprx side the stock line's receive counters are rows of their own.
        let mut modern = stock.clone();
        modern.insert(1, ("StockUdp InDatagrams".into(), 4));
        assert_eq!(d(Side::Modern), modern);
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
