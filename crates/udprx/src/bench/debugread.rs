//! `udprx bench --debug-read`: where a read's time goes on the debug test kernel, udprx
//! against stock.
//!
//! The same runs as the bench's `enqueue`/`read` (`--fill` datagrams queued by pktgen into
//! a socket with room for all, read back on CPU 0), on the running kernel, in phases that
//! switch off at runtime what the debug kernel lets switch off, each measured with every
//! side (stock, udprx `modern`, udprx `classic`) interleaved for `--rounds` rounds:
//!
//! 1. `as booted`: every debug option the kernel booted with;
//! 2. `prove_locking=0`: lockdep's validation off
//!    (`/sys/module/lockdep/parameters/prove_locking`); lockdep still tracks every lock
//!    taken (`lock_acquire()` / `lock_release()`), only the dependency checks go;
//! 3. `kmemleak off` (`echo off > /sys/kernel/debug/kmemleak`, which cannot be undone, so
//!    it comes last), with lockdep's validation on again;
//! 4. `kmemleak off, prove_locking=0`.
//!
//! In phase 1 the read is also measured on CPU 1, where neither side frees the skb: both
//! hand it back to CPU 0 (`skb_attempt_defer_free()`).
//!
//! Each phase's read cost per datagram less the previous phase's is what that switch
//! saved, per side. Options with no runtime switch (KASAN, UBSAN, DEBUG_NET, lockdep's
//! tracking) are attributed by a profile taken in phase 1 (`profile.rs`); options with a
//! boot parameter (`no_debug_objects`, `kmemleak=off`) by another boot with it
//! (`UDPRX_VM_APPEND`): the report records the kernel's command line.

mod perf;
mod profile;

use super::{
    args::Args,
    host,
    pktgen::pktgen,
    runs::Bench,
    rx::{Rx, Side, RX_PORT},
    stats::median,
};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::{fs, path::Path, time::Instant};

const PROVE_LOCKING: &str = "/sys/module/lockdep/parameters/prove_locking";
const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";
const SIDES: [Side; 3] = [Side::Stock, Side::Modern, Side::Classic];

/// The label of every figure: what the guest's clock counts, and which kernel.
fn label(a: &Args) -> String {
    let kernel = if Path::new(PROVE_LOCKING).exists() {
        "debug test kernel"
    } else {
        "kernel without lockdep"
    };
    format!("clock {}, {kernel}", a.clock.name())
}

/// The bench's `enqueue`/`read` run with the reader on CPU 1, not where pktgen allocated
/// the skbs (CPU 0): a stock `recv()` then hands each skb back to CPU 0 to be freed there
/// (`skb_attempt_defer_free()`), out of the reader's time, and so does udprx's `read()`
/// (`napi_consume_skb()`). Recorded as `read-cpu1/<side>`.
fn read_on_cpu1(b: &mut Bench<'_>, side: Side) -> Result<()> {
    b.setup(side.name())?;
    let rx = Rx::open(side, RX_PORT, Some(64 << 20))?;
    let sent = pktgen(&[(0, RX_PORT)], b.a.fill, b.a.pkt_size, &b.mac)?[0].sent;
    let (read, cpu) = rx.drain_on(1)?;
    let ok = read == sent;
    b.checks.push(
        json!({ "what": format!("read-cpu1/{}: sent = read", side.name()),
                          "ok": ok, "detail": { "sent": sent, "read": read } }),
    );
    b.values
        .entry(format!("read-cpu1/{}", side.name()))
        .or_default()
        .push(cpu as f64 / read.max(1) as f64);
    Ok(())
}

/// One phase: every side, `rounds` rounds interleaved; the median read and enqueue cost
/// per datagram of each side (and with `cpu1`, the read on CPU 1).
fn phase(b: &mut Bench<'_>, name: &str, cpu1: bool) -> Result<Value> {
    b.values.clear();
    for round in 0..b.a.rounds {
        eprintln!("debug-read: {name}: round {} of {}", round + 1, b.a.rounds);
        for s in SIDES {
            b.enqueue_read(s)?;
            if cpu1 {
                read_on_cpu1(b, s)?;
            }
        }
    }
    let mut sides = serde_json::Map::new();
    for s in SIDES {
        let mut v = serde_json::Map::new();
        for (key, metric) in [
            ("read", "read"),
            ("enqueue", "enqueue"),
            ("read_cpu1", "read-cpu1"),
        ] {
            if let Some(x) = b.values.get(&format!("{metric}/{}", s.name())) {
                v.insert(key.into(), median(x).into());
                v.insert(format!("{key}_per_round"), json!(x));
            }
        }
        sides.insert(s.name().into(), v.into());
    }
    Ok(json!({ "phase": name, "sides": sides }))
}

fn read_of(p: &Value, side: &str) -> f64 {
    p["sides"][side]["read"].as_f64().unwrap_or(f64::NAN)
}

/// What switching from phase `from` to phase `to` saved per read, per side, and udprx's
/// share of it beyond stock's.
fn delta(what: &str, from: &Value, to: &Value) -> Value {
    let d = |s: &str| read_of(from, s) - read_of(to, s);
    json!({ "switch": what, "from": from["phase"], "to": to["phase"],
            "saved_per_read": { "stock": d("stock"), "modern": d("modern"), "classic": d("classic") },
            "udprx_beyond_stock": { "modern": d("modern") - d("stock"),
                                    "classic": d("classic") - d("stock") } })
}

fn write(path: &str, v: &str) -> Result<()> {
    fs::write(path, v).map_err(|e| anyhow::anyhow!("{path}: {e}"))
}

pub(super) fn run(a: &Args) -> Result<()> {
    let started = Instant::now();
    let mut b = Bench::new(a)?;
    let lockdep = Path::new(PROVE_LOCKING).exists();
    if lockdep {
        write(PROVE_LOCKING, "1")?;
    }
    let mut phases = vec![phase(&mut b, "as booted", true)?];
    let profiles = if a.smoke {
        Value::Null
    } else {
        profile::all(&mut b)?
    };
    let mut deltas = Vec::new();
    if lockdep {
        write(PROVE_LOCKING, "0")?;
        phases.push(phase(&mut b, "prove_locking=0", false)?);
        write(PROVE_LOCKING, "1")?;
        deltas.push(delta("prove_locking=0", &phases[0], &phases[1]));
    }
    // Refused (EPERM) when kmemleak is off already: booted with `kmemleak=off`, switched
    // off by an earlier run, or by itself after an error.
    let kmemleak = fs::write(KMEMLEAK, "off").is_ok();
    if kmemleak {
        let on = phases[0].clone();
        phases.push(phase(&mut b, "kmemleak off", false)?);
        deltas.push(delta("kmemleak off", &on, phases.last().unwrap()));
        if lockdep {
            write(PROVE_LOCKING, "0")?;
            let p = phase(&mut b, "kmemleak off, prove_locking=0", false)?;
            write(PROVE_LOCKING, "1")?;
            deltas.push(delta(
                "prove_locking=0 (kmemleak off)",
                phases.last().unwrap(),
                &p,
            ));
            phases.push(p);
        }
    }
    b.setup("none")?;
    let _ = host::run_cmd("ip", &["link", "del", host::DEV], None);
    let cmdline = fs::read_to_string("/proc/cmdline")?;
    let release = fs::read_to_string("/proc/sys/kernel/osrelease")?;
    let report = json!({
        "label": label(a),
        "kernel": release.trim(),
        "cmdline": cmdline.trim(),
        "clock": a.clock.name(),
        "rounds": a.rounds, "fill": a.fill, "pkt_size": a.pkt_size,
        "switches": { "prove_locking": lockdep, "kmemleak": kmemleak },
        "seconds": started.elapsed().as_secs_f64(),
        "phases": phases,
        "deltas": deltas,
        "profile": profiles,
        "conservation": b.checks,
    });
    print!("{}", table(&report));
    if let Some(dir) = &a.out {
        fs::create_dir_all(dir)?;
        fs::write(
            dir.join("debug-read.json"),
            serde_json::to_string_pretty(&report)? + "\n",
        )?;
    }
    let failed = b.checks.iter().filter(|c| c["ok"] != true).count();
    println!("conservation: {} checks, {} failed", b.checks.len(), failed);
    if failed > 0 {
        bail!("{failed} conservation checks failed");
    }
    Ok(())
}

/// The terminal's table: per phase the read cost of each side and the ratios, the
/// switches' deltas, and the profile's buckets.
pub(super) fn table(r: &Value) -> String {
    let label = r["label"].as_str().unwrap_or("?");
    let mut s = format!(
        "# udprx bench --debug-read: kernel {}, {} rounds of {} datagrams queued and read\n\
         # cmdline: {}\n",
        r["kernel"].as_str().unwrap_or("?"),
        r["rounds"],
        r["fill"],
        r["cmdline"].as_str().unwrap_or("?"),
    );
    s += &format!("\n## read per datagram, ns ({label})\n");
    s += &format!(
        "{:<32} {:>9} {:>9} {:>9} {:>8} {:>8}\n",
        "phase", "stock", "modern", "classic", "mod/st", "cla/st"
    );
    for p in r["phases"].as_array().into_iter().flatten() {
        let (st, m, c) = (
            read_of(p, "stock"),
            read_of(p, "modern"),
            read_of(p, "classic"),
        );
        s += &format!(
            "{:<32} {st:>9.0} {m:>9.0} {c:>9.0} {:>8.3} {:>8.3}\n",
            p["phase"].as_str().unwrap_or("?"),
            m / st,
            c / st
        );
    }
    if let Some(p) = r["phases"].get(0) {
        let v = |side: &str| p["sides"][side]["read_cpu1"].as_f64().unwrap_or(f64::NAN);
        let (st, m, c) = (v("stock"), v("modern"), v("classic"));
        s += &format!(
            "{:<32} {st:>9.0} {m:>9.0} {c:>9.0} {:>8.3} {:>8.3}\n",
            "as booted, reader on CPU 1",
            m / st,
            c / st
        );
    }
    s += &format!("\n## saved per read by a switch, ns ({label})\n");
    s += &format!(
        "{:<32} {:>9} {:>9} {:>9} {:>12}\n",
        "switch", "stock", "modern", "classic", "modern-stock"
    );
    for d in r["deltas"].as_array().into_iter().flatten() {
        let v = |k: &str| d["saved_per_read"][k].as_f64().unwrap_or(f64::NAN);
        s += &format!(
            "{:<32} {:>9.0} {:>9.0} {:>9.0} {:>12.0}\n",
            d["switch"].as_str().unwrap_or("?"),
            v("stock"),
            v("modern"),
            v("classic"),
            v("modern") - v("stock")
        );
    }
    s += &profile::table(&r["profile"], label);
    s
}

/// `udprx bench --report` of a saved debug-read.json.
pub(super) fn report(v: &Value) -> String {
    table(v)
}
