//! The profile of a drain: `perf record -e cpu-clock` (a software clock: TCG has no PMU)
//! of CPU 0 while the reader, pinned there, reads a full socket; each sample of the
//! reader's thread is put in the bucket of the debug option whose code it ran in.
//!
//! A sample goes to the option of the outermost debug function on its kernel call chain
//! (frame pointers): the hook the read path itself called (`lock_acquire()` → lockdep,
//! even for the KASAN checks inside lockdep), and the caller of that hook is recorded,
//! which says which step of the read pays it. Samples with no debug function on their
//! chain are the path's own (`path`), and those outside the kernel `user`. KASAN's and
//! UBSAN's inline checks are compiled into the path's own functions: they are in `path`,
//! not in their buckets, which hold only the out-of-line parts (`kasan_*`, `__asan_*`
//! calls, `__ubsan_handle_*`).
//!
//! Under `-icount shift=0` the clock counts instructions: a sample is one every `PERIOD`
//! instructions executed on CPU 0.

use super::perf::{Perf, PERIOD};
use super::{
    super::{
        host::run_cmd,
        pktgen::pktgen,
        runs::Bench,
        rx::{pin_to_cpu, thread_cpu_ns, Rx, RX_PORT},
    },
    Side, SIDES,
};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    fs,
    process::{Command, Stdio},
};

/// Datagrams read under perf: a sample per `PERIOD` ns of a read of 50000-130000 gives
/// 10000-26000 samples, and `perf script` of more takes minutes of the guest's time.
const PROFILE_FILL: u64 = 2000;

/// The debug options, each with the prefixes of the functions through which the read
/// path enters it.
const OPTIONS: [(&str, &[&str]); 8] = [
    (
        "lockdep",
        &[
            "lock_acquire",
            "lock_release",
            "lock_acquired",
            "lock_contended",
            "lock_is_held",
            "lock_sync",
            "__lock_",
            "lockdep_",
            "__lockdep",
            "trace_hardirqs_",
            "trace_softirqs_",
            "mark_lock",
            "validate_chain",
            "debug_check_no_locks",
            "debug_lockdep_rcu_enabled",
            "rcu_read_lock_held",
            "rcu_read_lock_bh_held",
            "rcu_read_lock_sched_held",
            "rcu_read_lock_any_held",
            "rcu_lockdep_current_cpu_online",
        ],
    ),
    (
        "spinlock debug",
        &["do_raw_spin_", "do_raw_read_", "do_raw_write_"],
    ),
    (
        "might_sleep",
        &[
            "__might_sleep",
            "__might_resched",
            "__might_fault",
            "__cant_",
        ],
    ),
    (
        "KASAN",
        &["__asan_", "__kasan_", "kasan_", "check_region", "__hwasan_"],
    ),
    ("kmemleak", &["kmemleak_", "__kmemleak"]),
    (
        "debug_objects",
        &[
            "debug_object_",
            "__debug_object",
            "debug_check_no_obj_freed",
            "__debug_check_no_obj_freed",
        ],
    ),
    ("UBSAN", &["__ubsan_"]),
    (
        "stack traces",
        &["stack_trace_save", "stack_depot_", "arch_stack_walk"],
    ),
];

fn option_of(sym: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|p| sym.starts_with(p)))
        .map(|(name, _)| *name)
}

/// One side: a full socket, drained on CPU 0 under `perf record`; the reader's samples.
fn one(b: &mut Bench<'_>, side: Side) -> Result<Value> {
    b.setup(side.name())?;
    let rx = Rx::open(side, RX_PORT, Some(64 << 20))?;
    let sent = pktgen(
        &[(0, RX_PORT)],
        PROFILE_FILL.min(b.a.fill),
        b.a.pkt_size,
        &b.mac,
    )?[0]
        .sent;
    let mut perf = Perf::start(side.name())?;
    perf.command("enable")?;
    let (tid, read, cpu) = std::thread::scope(|s| {
        s.spawn(|| -> Result<(i32, u64, u64)> {
            pin_to_cpu(0)?;
            let tid = nix::unistd::gettid().as_raw();
            let t0 = thread_cpu_ns();
            let read = rx.drain();
            Ok((tid, read, thread_cpu_ns() - t0))
        })
        .join()
        .map_err(|_| anyhow!("reader panicked"))?
    })?;
    perf.command("disable")?;
    let data = perf.stop()?;
    drop(rx);
    if read != sent {
        bail!("profile of {}: sent {sent}, read {read}", side.name());
    }
    // Bounded: a perf script that has not finished in 5 minutes of the guest's time is
    // killed and the side has no profile.
    let out = Command::new("timeout")
        .args([
            "300",
            "perf",
            "script",
            "-F",
            "tid,ip,sym",
            "--kallsyms",
            "/proc/kallsyms",
            "--tid",
        ])
        .arg(tid.to_string())
        .arg("-i")
        .arg(&data)
        .stderr(Stdio::null())
        .output()
        .context("run perf script")?;
    let _ = fs::remove_file(&data);
    if !out.status.success() {
        bail!("perf script: {}", out.status);
    }
    let mut v = aggregate(&String::from_utf8_lossy(&out.stdout), read);
    v["read_ns_under_perf"] = (cpu as f64 / read.max(1) as f64).into();
    Ok(v)
}

/// Every side's profile, or why there is none.
pub(super) fn all(b: &mut Bench<'_>) -> Result<Value> {
    if run_cmd("perf", &["--version"], None).is_err() {
        return Ok(json!({ "error": "no perf in the guest" }));
    }
    let mut sides = serde_json::Map::new();
    for s in SIDES {
        eprintln!("debug-read: profile of {}", s.name());
        match one(b, s) {
            Ok(v) => sides.insert(s.name().into(), v),
            Err(e) => sides.insert(s.name().into(), json!({ "error": format!("{e:#}") })),
        };
    }
    Ok(json!({ "period": PERIOD, "sides": sides }))
}

#[derive(Default)]
struct Agg {
    samples: u64,
    buckets: BTreeMap<String, u64>,
    /// (bucket, the path's function that called into the option) → samples.
    callers: BTreeMap<(String, String), u64>,
    /// The path's own samples by leaf function.
    leaves: BTreeMap<String, u64>,
    /// Samples with the function anywhere on their kernel chain.
    inclusive: BTreeMap<String, u64>,
}

impl Agg {
    /// One sample: its kernel frames, innermost first.
    fn add(&mut self, frames: &[String]) {
        self.samples += 1;
        if frames.is_empty() {
            *self.buckets.entry("user".into()).or_default() += 1;
            return;
        }
        let mut seen: Vec<&String> = Vec::new();
        for f in frames {
            if !seen.contains(&f) {
                seen.push(f);
                *self.inclusive.entry(f.clone()).or_default() += 1;
            }
        }
        let hit = frames
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, f)| option_of(f).map(|o| (i, o)));
        match hit {
            Some((i, opt)) => {
                *self.buckets.entry(opt.into()).or_default() += 1;
                let caller = frames.get(i + 1).cloned().unwrap_or_else(|| "?".into());
                *self.callers.entry((opt.into(), caller)).or_default() += 1;
            }
            None => {
                *self.buckets.entry("path".into()).or_default() += 1;
                *self.leaves.entry(frames[0].clone()).or_default() += 1;
            }
        }
    }
}

fn top<K: Clone>(m: &BTreeMap<K, u64>, n: usize) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = m.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v.truncate(n);
    v
}

/// `perf script -F tid,ip,sym` of one thread: a line with the tid starts each sample, one
/// line per frame (address, symbol) follows.
fn aggregate(script: &str, reads: u64) -> Value {
    let mut agg = Agg::default();
    let mut frames: Option<Vec<String>> = None;
    for line in script.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.as_slice() {
            [tid] if tid.parse::<u32>().is_ok() => {
                if let Some(f) = frames.replace(Vec::new()) {
                    agg.add(&f);
                }
            }
            [addr, sym, ..] => {
                let kernel =
                    u64::from_str_radix(addr, 16).is_ok_and(|a| a >= 0xffff_8000_0000_0000);
                if let (Some(f), true) = (frames.as_mut(), kernel) {
                    f.push(sym.split("+0x").next().unwrap_or(sym).to_string());
                }
            }
            _ => {}
        }
    }
    if let Some(f) = frames {
        agg.add(&f);
    }
    let per_read = |c: u64| c as f64 * PERIOD as f64 / reads.max(1) as f64;
    json!({
        "reads": reads,
        "samples": agg.samples,
        "ns_per_read": per_read(agg.samples),
        "buckets": agg.buckets.iter().map(|(k, c)| (k.clone(), json!(per_read(*c))))
            .collect::<serde_json::Map<_, _>>(),
        "callers": top(&agg.callers, 40).into_iter().map(|((b, c), n)|
            json!({ "bucket": b, "caller": c, "ns_per_read": per_read(n) })).collect::<Vec<_>>(),
        "path_leaves": top(&agg.leaves, 25).into_iter().map(|(s, n)|
            json!({ "symbol": s, "ns_per_read": per_read(n) })).collect::<Vec<_>>(),
        "inclusive": top(&agg.inclusive, 40).into_iter().map(|(s, n)|
            json!({ "symbol": s, "ns_per_read": per_read(n) })).collect::<Vec<_>>(),
    })
}

/// The profile's part of the table: per bucket, the ns per read of each side.
pub(super) fn table(p: &Value, label: &str) -> String {
    let Some(sides) = p["sides"].as_object() else {
        return format!(
            "\n## profile: {}\n",
            p["error"].as_str().unwrap_or("not taken")
        );
    };
    // No side profiled: say why rather than print a table of nothing.
    if let Some(err) = sides
        .values()
        .map(|v| v["error"].as_str())
        .collect::<Option<Vec<_>>>()
        .and_then(|errs| errs.first().copied())
    {
        return format!("\n## profile: not taken on any side: {err}\n");
    }
    let mut s = format!(
        "\n## profile of the drain, ns per read by debug option (perf cpu-clock, a sample per {} ns; {label})\n",
        p["period"]
    );
    let mut names: Vec<String> = vec!["path".into()];
    names.extend(OPTIONS.iter().map(|(n, _)| n.to_string()));
    names.push("user".into());
    s += &format!("{:<16}", "bucket");
    for side in SIDES {
        s += &format!(" {:>9}", side.name());
    }
    s += &format!(" {:>12}\n", "modern-stock");
    let get = |side: &str, b: &str| sides[side]["buckets"][b].as_f64().unwrap_or(0.0);
    for n in names.iter().map(String::as_str).chain(["total"]) {
        s += &format!("{n:<16}");
        let v = |side: &str| {
            if n == "total" {
                sides[side]["ns_per_read"].as_f64().unwrap_or(f64::NAN)
            } else {
                get(side, n)
            }
        };
        for side in SIDES {
            s += &format!(" {:>9.0}", v(side.name()));
        }
        s += &format!(" {:>12.0}\n", v("modern") - v("stock"));
    }
    for side in ["stock", "modern"] {
        s +=
            &format!("\n## {side}: where the path calls into each option, ns per read ({label})\n");
        for c in sides[side]["callers"]
            .as_array()
            .into_iter()
            .flatten()
            .take(14)
        {
            s += &format!(
                "{:<16} {:>7.0}  {}\n",
                c["bucket"].as_str().unwrap_or("?"),
                c["ns_per_read"].as_f64().unwrap_or(0.0),
                c["caller"].as_str().unwrap_or("?")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_go_to_the_outermost_debug_function() {
        let script = "\
    7
\tffffffff81200000 check_region_inline
\tffffffff81200100 __lock_acquire
\tffffffff81200200 lock_acquire
\tffffffff81200300 _raw_spin_lock_bh
\tffffffff81200400 __skb_recv_udp
    7
\tffffffff81300000 unwind_next_frame
\tffffffff81300100 kasan_save_stack
\tffffffff81300200 kmem_cache_free
    7
\tffffffff81400000 _copy_to_iter
\tffffffff81400100 skb_copy_datagram_iter
    7
\t7f0000001000 [unknown]
";
        let v = aggregate(script, 2);
        assert_eq!(v["samples"], 4);
        let per = PERIOD as f64 / 2.0;
        for (b, n) in [
            ("lockdep", 1.0),
            ("KASAN", 1.0),
            ("path", 1.0),
            ("user", 1.0),
        ] {
            assert_eq!(v["buckets"][b].as_f64(), Some(n * per), "{b}");
        }
        let callers: Vec<(&str, &str)> = v["callers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["bucket"].as_str().unwrap(), c["caller"].as_str().unwrap()))
            .collect();
        assert!(callers.contains(&("lockdep", "_raw_spin_lock_bh")));
        assert!(callers.contains(&("KASAN", "kmem_cache_free")));
        assert_eq!(v["path_leaves"][0]["symbol"], "_copy_to_iter");
    }
}
