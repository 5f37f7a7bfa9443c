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
//! - `two-cpus`: pktgen on both CPUs at once, `--fill / 2` datagrams each, into one socket
//!   with room for all and into two (one each), then read back: datagrams delivered per
//!   second of the run's wall time (only on `--clock wall`); and into one socket with its
//!   default buffer, nobody reading (its conservation check only);
//! - `loopback`: the second source, a userspace sender over `lo` into a socket with room
//!   for all: the sender's CPU time per datagram (its `sendto()` and, in its softirq, the
//!   whole receive path).
//!
//! What a nanosecond is depends on how qemu runs the guest (`--clock`, recorded in the
//! report, and with each figure, beside the kernel that measured it): with `-icount
//! shift=0` (what `make bench` uses) one instruction executed, so the figures are
//! deterministic instruction counts; otherwise host time through TCG.
//!
//! Every run ends with its conservation check: sent = read + dropped, on the socket's
//! counters (`Udp:` for stock, `UdpRx:` for udprx) and pktgen's. `--smoke` runs one small
//! round and checks only that.

mod args;
mod calls;
mod debugread;
mod host;
mod pktgen;
mod plot;
mod profile;
mod runs;
mod rx;
mod stats;
mod table;
mod twocpus;

pub use args::Args;
use args::{Clock, Run};
use plot::RatioBar;
use runs::Bench;
use rx::Side;
use stats::{median, ratios, Ratio};
use table::{kernel_name, table};
use twocpus::Sockets;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::{collections::BTreeMap, fs, path::Path, time::Instant};

/// The table (and picture) of a saved run.
fn report(path: &Path, out: Option<&Path>) -> Result<()> {
    let report: Value = serde_json::from_str(
        &fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
    )?;
    if report.get("phases").is_some() {
        print!("{}", debugread::report(&report));
        return Ok(());
    }
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
    if let Some(dir) = &a.profile_report {
        return profile::report(dir);
    }
    let smoke;
    let a = if a.smoke {
        smoke = Args {
            rounds: 1,
            count: a.count.min(2000),
            fill: a.fill.min(2000),
            ..a.clone()
        };
        &smoke
    } else {
        a
    };
    let calls = match (&a.objdump, &a.module) {
        (Some(objdump), Some(ko)) => Some(calls::calls(objdump, ko)?),
        _ => None,
    };
    if a.debug_read {
        return debugread::run(a);
    }
    if a.calls_only {
        print!("{}", calls::table(calls.as_ref().unwrap_or(&Value::Null)));
        return Ok(());
    }
    let mut b = Bench::new(a)?;
    let mut pass = vec!["none", "udprx"];
    if a.twin.is_some() {
        pass.push("twin");
    }
    pass.push("nft");
    let sides = [Side::Stock, Side::Modern, Side::Classic];
    // Under icount qemu runs the vCPUs in turns on one host thread: a reader never runs
    // beside pktgen, nor one pktgen thread beside the other, and what a run on two CPUs
    // measures is how the turns fall. The smoke run takes them all, for their checks.
    let both_cpus = a.clock == Clock::Wall || a.smoke;
    let started = Instant::now();
    for round in 0..a.rounds {
        eprintln!("bench: round {} of {}", round + 1, a.rounds);
        if a.runs(Run::Pass) {
            for v in &pass {
                b.pass(v)?;
            }
        }
        if a.runs(Run::Enqueue) {
            for s in sides {
                b.enqueue_read(s)?;
            }
        }
        if a.runs(Run::Saturation) && both_cpus {
            for s in sides {
                b.saturation(s)?;
            }
        }
        if a.runs(Run::TwoCpus) {
            if both_cpus {
                for n in [Sockets::One, Sockets::Two] {
                    for s in sides {
                        b.two_cpus(s, n)?;
                    }
                }
            }
            for s in sides {
                b.two_cpus_full(s)?;
            }
        }
        if a.runs(Run::Loopback) {
            for s in sides {
                b.loopback(s)?;
            }
        }
    }
    b.setup("none")?;
    if let Some(m) = &b.marks {
        m.save(a.fill)?;
    }
    let _ = host::run_cmd("ip", &["link", "del", host::DEV], None);
    let rs = ratios(&b.values);
    let read = |f: &str| -> Result<String> {
        Ok(fs::read_to_string(format!("/proc/sys/kernel/{f}"))?
            .trim()
            .to_string())
    };
    // The test kernel's debug set has lockdep, whose /proc/lockdep the bench kernel lacks.
    let flavour = if Path::new("/proc/lockdep").exists() {
        "debug"
    } else {
        "bench"
    };
    let mut report = json!({
        "kernel": read("osrelease")?,
        "kernel_flavour": flavour,
        "kernel_version": read("version")?,
        "clock": a.clock.name(),
        "rounds": a.rounds, "count": a.count, "fill": a.fill, "pkt_size": a.pkt_size,
        "seconds": started.elapsed().as_secs_f64(),
        "conservation": b.checks,
        "calls": calls,
    });
    // Each figure says what measured it.
    let by = json!({ "clock": a.clock.name(), "kernel": kernel_name(&report) });
    let with_by = |mut v: Value| {
        if let (Some(m), Some(b)) = (v.as_object_mut(), by.as_object()) {
            m.extend(b.clone());
        }
        v
    };
    report["values"] = b
        .values
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                with_by(json!({ "median": median(v), "per_round": v })),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    report["ratios"] = rs.iter().map(|r| with_by(r.json())).collect();
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
