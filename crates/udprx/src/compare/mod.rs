//! `udprx compare`: the same traffic, scenario by scenario, to a stock UDP socket and to
//! udprx sockets under each policy — each side in a fresh network namespace of its own —
//! next to what the accounting model predicts. Compared are the socket's counters (stock
//! `Udp:` with `UdpRx:`, drops, rmem) and every stock counter of the receiving netns that
//! moves (`Ip`, `Icmp`, `IcmpMsg`, `Udp`, `IpExt`, sockstat `UDP`). Exits 1 when `modern`
//! differs from stock (unless [`DOCUMENTED`]), `classic` from stock outside its socket, or
//! a policy from its model.
//!
//! [`DOCUMENTED`]: report::DOCUMENTED
//!
//! Everything runs in this one process (no exec per datagram): each side `unshare()`s a
//! new netns, brings `lo` up and binds its socket; its sender sends over loopback from the
//! same netns, or (link `veth`) from a second netns joined to it by a veth pair. After
//! each datagram it waits until the receiving netns's counters show it arrived (the
//! `LOCAL_IN` hook sees every UDP datagram; the protocol handler counts the others).

mod calibrate;
mod canvas;
mod guard;
mod model;
mod outcome;
mod overview;
#[cfg(test)]
mod picture_tests;
mod plot;
mod print;
mod report;
mod rx;
mod scenario;
mod sender;
mod side;
#[cfg(test)]
mod tests;

use self::{
    calibrate::calibrate,
    guard::UDP_MEM,
    print::{print_table, to_json},
    report::{compare_one, Compared},
    scenario::{scenarios, Guard, Kind, Link, Scenario, Step},
};
use anyhow::{bail, Context, Result};
use serde_json::Value;

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
    /// arrivals for each side; and DIR/overview.png: each scenario and link's verdict,
    /// delivered and dropped per side.
    #[arg(long, value_name = "DIR")]
    plot: Option<std::path::PathBuf>,
    /// The paths to run each scenario over (default: both, lo first).
    #[arg(long, value_enum, value_name = "LINK")]
    link: Vec<Link>,
}

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
            plot::draw(&plot::path(dir, c.name, link.name()), &c.into())?;
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
        let _ = UDP_MEM.set((f, v.trim().to_string(), rsv));
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
    let mut all = Vec::new();
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
                        plot::path(dir, c.name, c.link.name()).display()
                    );
                }
            }
            all.push(c);
        }
    }
    if a.json {
        println!("{}", Value::Array(out));
    }
    if let Some(dir) = &a.plot {
        // One row per scenario and link: scenarios in their listed order, links in theirs.
        let at = |n: &str| listed.iter().position(|s| s.name == n);
        all.sort_by_key(|c| (at(c.name), c.link));
        let rows: Vec<overview::Row<'_>> = all.iter().map(Into::into).collect();
        let path = overview::path(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
        overview::draw(&path, &rows)?;
        // The JSON stays the only thing on stdout.
        if a.json {
            eprintln!("overview: {}", path.display());
        } else {
            println!("overview: {}", path.display());
        }
    }
    if failed > 0 {
        bail!("{failed} scenario(s) differ");
    }
    Ok(())
}
