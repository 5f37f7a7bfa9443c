//! Where a datagram's instructions go, function by function: `--profile-marks` in the
//! guest, `--profile-report` on the host.
//!
//! `make bench` boots the bench kernel once more under `-icount` with the tcgprof plugin
//! (`crates/tcgprof`), which snapshots how often every translation block ran each time the
//! guest executes `__x64_sys_sync`. With `--profile-marks` the bench calls `sync(2)` at the
//! start of each enqueue and each read, and after the read, saves the guest's
//! `/proc/kallsyms` once each side's modules are loaded, and lists its marks in
//! `marks.json`. The report subtracts consecutive snapshots, attributes each block's
//! instructions to the function it starts in, and divides by the datagrams of the run:
//! instructions per datagram, per function, for stock, `modern` and `classic` side by side.

use super::runs::Bench;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

/// Per function, instructions per datagram.
type Functions = BTreeMap<String, f64>;
/// Per phase (`enqueue`, `read`), per side (`stock`, `modern`, `classic`).
type Profile = BTreeMap<String, BTreeMap<String, Functions>>;

/// A function shown in the table: at least this many instructions per datagram on a side.
const SHOWN: f64 = 1.0;

/// The marks of a profiled run, in the order the guest made them.
pub(super) struct Marks {
    out: PathBuf,
    /// `kind/side`: `enqueue/stock` opens the stock enqueue, `end/stock` closes its read.
    names: Vec<String>,
}

impl Marks {
    pub(super) fn new(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            names: Vec::new(),
        }
    }

    /// The symbols as `side`'s run sees them (udprx loaded or not).
    pub(super) fn symbols(&self, side: &str) -> Result<()> {
        fs::copy("/proc/kallsyms", self.out.join(format!("kallsyms-{side}")))
            .context("copying /proc/kallsyms")?;
        Ok(())
    }

    /// A snapshot (the plugin's trigger is `sync(2)`), named `kind/side`.
    pub(super) fn mark(&mut self, kind: &str, side: &str) {
        nix::unistd::sync();
        self.names.push(format!("{kind}/{side}"));
    }

    /// `marks.json`: the marks and the datagrams of each run.
    pub(super) fn save(&self, fill: u64) -> Result<()> {
        let v = json!({ "fill": fill, "marks": self.names });
        fs::write(
            self.out.join("marks.json"),
            serde_json::to_string_pretty(&v)? + "\n",
        )?;
        Ok(())
    }
}

impl Bench<'_> {
    /// Marks `kind/side` when the run is profiled.
    pub(super) fn mark(&mut self, kind: &str, side: &str) {
        if let Some(m) = &mut self.marks {
            m.mark(kind, side);
        }
    }
}

/// A snapshot: block start → instructions executed there so far.
fn snapshot(text: &str) -> Result<BTreeMap<u64, u64>> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [vaddr, insns, execs] = f[..] else {
            bail!("bad snapshot line '{line}'");
        };
        let vaddr = u64::from_str_radix(vaddr, 16)?;
        *m.entry(vaddr).or_default() += insns.parse::<u64>()? * execs.parse::<u64>()?;
    }
    Ok(m)
}

/// Text symbols of a `/proc/kallsyms`, sorted by address: (address, name), Rust names
/// demangled, a module's with its `[module]`.
fn symbols(text: &str) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, kind, name) = (f.first()?, f.get(1)?, f.get(2)?);
            if !matches!(*kind, "t" | "T" | "w" | "W") {
                return None;
            }
            let addr = u64::from_str_radix(addr, 16).ok().filter(|&a| a != 0)?;
            let name = shorten(&format!("{:#}", rustc_demangle::demangle(name)));
            Some(match f.get(3) {
                Some(m) => (addr, format!("{name} {m}")),
                None => (addr, name),
            })
        })
        .collect();
    v.sort();
    v
}

/// A demangled Rust name with each path cut to its last two segments:
/// `<udprx_main::kapi::miscdev::Vtable<udprx_main::socket::Socket>>::read_iter` is
/// `<miscdev::Vtable<socket::Socket>>::read_iter`. C names pass unchanged.
fn shorten(name: &str) -> String {
    let mut out = String::new();
    let mut path: Vec<&str> = Vec::new();
    let mut rest = name;
    let flush = |path: &mut Vec<&str>, out: &mut String| {
        out.push_str(&path[path.len().saturating_sub(2)..].join("::"));
        path.clear();
    };
    while !rest.is_empty() {
        let ident = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if ident > 0 {
            path.push(&rest[..ident]);
            rest = &rest[ident..];
            if let Some(r) = rest.strip_prefix("::") {
                if r.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                    rest = r;
                    continue;
                }
            }
            flush(&mut path, &mut out);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Instructions per function between two snapshots, divided by `per`.
fn attribute(
    before: &BTreeMap<u64, u64>,
    after: &BTreeMap<u64, u64>,
    syms: &[(u64, String)],
    per: f64,
) -> Functions {
    let mut m = Functions::new();
    for (&a, &n) in after {
        let d = n - before.get(&a).copied().unwrap_or(0).min(n);
        if d == 0 {
            continue;
        }
        let i = syms.partition_point(|(s, _)| *s <= a);
        let name = match i {
            // Userspace addresses (the reader's own code) have no kernel symbol.
            _ if a < 0x8000_0000_0000_0000 => "(userspace)".to_string(),
            0 => format!("{a:#x}"),
            _ => syms[i - 1].1.clone(),
        };
        *m.entry(name).or_default() += d as f64 / per;
    }
    m
}

/// Reads a profiled run's directory: per phase (`enqueue`, `read`), per side, per
/// function, instructions per datagram.
fn load(dir: &Path) -> Result<Profile> {
    let marks: Value = serde_json::from_str(&fs::read_to_string(dir.join("marks.json"))?)?;
    let fill = marks["fill"].as_u64().ok_or_else(|| anyhow!("no fill"))? as f64;
    let names: Vec<&str> = marks["marks"]
        .as_array()
        .ok_or_else(|| anyhow!("no marks"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let snap = |i: usize| -> Result<BTreeMap<u64, u64>> {
        let p = dir.join(format!("snap-{i}"));
        snapshot(&fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?)
    };
    let mut out = Profile::new();
    let mut syms = BTreeMap::new();
    let mut prev = snap(0)?;
    for i in 1..names.len() {
        let next = snap(i)?;
        let (kind, side) = names[i - 1].split_once('/').unwrap_or(("?", "?"));
        if kind != "end" {
            if !syms.contains_key(side) {
                let p = dir.join(format!("kallsyms-{side}"));
                syms.insert(side.to_string(), symbols(&fs::read_to_string(&p)?));
            }
            let f = attribute(&prev, &next, &syms[side], fill);
            out.entry(kind.into()).or_default().insert(side.into(), f);
        }
        prev = next;
    }
    Ok(out)
}

/// The table of one phase: functions with at least [`SHOWN`] instructions per datagram on
/// a side, the rest summed, and the totals.
fn table(kind: &str, sides: &BTreeMap<String, Functions>) -> String {
    let order: Vec<&str> = ["stock", "modern", "classic"]
        .into_iter()
        .filter(|s| sides.contains_key(*s))
        .collect();
    let get = |s: &str, f: &str| sides[s].get(f).copied().unwrap_or(0.0);
    let mut funcs: Vec<&String> = sides.values().flat_map(|m| m.keys()).collect();
    funcs.sort();
    funcs.dedup();
    let top = |f: &str| order.iter().map(|s| get(s, f)).fold(0.0, f64::max);
    funcs.sort_by(|a, b| top(b).total_cmp(&top(a)));
    let mut t = format!("{:<72}", format!("{kind}: instructions per datagram"));
    for s in &order {
        let _ = write!(t, " {s:>9}");
    }
    t.push('\n');
    let mut rest = vec![0.0; order.len()];
    for f in funcs {
        if top(f) < SHOWN {
            for (r, s) in rest.iter_mut().zip(&order) {
                *r += get(s, f);
            }
            continue;
        }
        let name: String = f.chars().take(71).collect();
        let _ = write!(t, "{name:<72}");
        for s in &order {
            let _ = write!(t, " {:>9.1}", get(s, f));
        }
        t.push('\n');
    }
    let _ = write!(t, "{:<72}", format!("(each under {SHOWN} on every side)"));
    for r in &rest {
        let _ = write!(t, " {r:>9.1}");
    }
    let _ = write!(t, "\n{:<72}", "total");
    for s in &order {
        let _ = write!(t, " {:>9.1}", sides[*s].values().sum::<f64>());
    }
    t + "\n"
}

/// `--profile-report DIR`: prints the tables and writes `DIR/profile.json`.
pub(super) fn report(dir: &Path) -> Result<()> {
    let p = load(dir)?;
    println!("# where the instructions go: clock icount, one run of each side, tcgprof");
    println!("# (a block counts for the function it starts in; pktgen's work and the");
    println!("# reader's system call are in every column)");
    for (kind, sides) in &p {
        print!("{}", table(kind, sides));
    }
    fs::write(
        dir.join("profile.json"),
        serde_json::to_string_pretty(&p)? + "\n",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_blocks_to_functions() {
        let syms = symbols(concat!(
            "ffffffff81000000 T udp_rcv\n",
            "ffffffff81000100 t __udp4_lib_lookup\n",
            "ffffffff81000200 d some_data\n",
            "ffffffffc0000000 t _RNvNtCs1234_10udprx_main3udp3rcv\t[udprx]\n",
        ));
        assert_eq!(syms.len(), 3);
        assert_eq!(syms[2].1, "udp::rcv [udprx]");
        assert_eq!(
            shorten("<udprx_main::kapi::miscdev::Vtable<udprx_main::socket::Socket>>::read_iter"),
            "<miscdev::Vtable<socket::Socket>>::read_iter"
        );
        assert_eq!(
            shorten("udprx_main::kapi::netfilter::hook_callback::<udprx_main::hook::LocalIn>"),
            "netfilter::hook_callback::<hook::LocalIn>"
        );
        assert_eq!(shorten("__udp4_lib_lookup"), "__udp4_lib_lookup");
        let before = snapshot("ffffffff81000000 5 10\n").unwrap();
        let after = snapshot(concat!(
            "ffffffff81000000 5 30\n",
            "ffffffff81000010 3 20\n",
            "ffffffff81000100 4 10\n",
            "ffffffff81000000 2 10\n",
            "ffffffffc0000008 10 10\n",
            "7f0000001000 4 5\n",
        ))
        .unwrap();
        let f = attribute(&before, &after, &syms, 10.0);
        // udp_rcv: (5*30 + 3*20 + 2*10 - 5*10) / 10
        assert_eq!(f["udp_rcv"], 18.0);
        assert_eq!(f["__udp4_lib_lookup"], 4.0);
        assert_eq!(f["udp::rcv [udprx]"], 10.0);
        assert_eq!(f["(userspace)"], 2.0);
        assert!(snapshot("12 x 3").is_err());
    }

    #[test]
    fn table_sums_what_it_leaves_out() {
        let mut sides = BTreeMap::new();
        for (s, a, b) in [("stock", 10.0, 0.5), ("modern", 7.0, 0.3)] {
            sides.insert(
                s.to_string(),
                BTreeMap::from([("f".to_string(), a), ("g".to_string(), b)]),
            );
        }
        let t = table("enqueue", &sides);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].ends_with("    stock    modern"));
        assert!(lines[1].starts_with('f') && lines[1].ends_with("10.0       7.0"));
        assert!(lines[2].starts_with("(each under") && lines[2].ends_with("0.5       0.3"));
        assert!(lines[3].starts_with("total") && lines[3].ends_with("10.5       7.3"));
    }
}
