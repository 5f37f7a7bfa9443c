// SPDX-License-Identifier: GPL-2.0

//! What stands before the socket in a scenario, set up per side: the nftables rule of
//! `firewall`, and `net.ipv4.udp_mem` for `udp-mem`.

use super::{
    outcome::{arrivals, await_arrival, counters},
    scenario::{Kind, PORT},
    sender::Sender,
};
use crate::kernel::counters;
use anyhow::{bail, Context, Result};
use std::{
    net::{Ipv4Addr, UdpSocket},
    time::{Duration, Instant},
};
use udprx_rxqueue::Pool;

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
pub(super) struct UdpMemRestore;

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
///
/// [`Guard::UdpMem`]: super::scenario::Guard::UdpMem
pub(super) fn udp_mem_start(tx: &Sender) -> Result<(Pool, UdpSocket)> {
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
///
/// [`Guard::Firewall`]: super::scenario::Guard::Firewall
pub(super) fn firewall_rule() -> Result<()> {
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
pub(super) fn await_dropped(seen: &mut u64, what: impl Fn() -> String) -> Result<()> {
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
