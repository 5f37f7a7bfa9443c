//! Network namespaces: one entered by name (`/run/netns/NAME`), the calling thread's, a
//! new one, two joined by a veth pair.

use anyhow::{Context, Result};

/// Moves this (single-threaded) process into netns `name`, as `ip netns exec` does for the
/// network namespace (no /sys remount: the tools only use sockets, /dev and /proc/net).
pub fn enter_named(name: &str) -> Result<()> {
    let path = format!("/run/netns/{name}");
    let f = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("setns({path})"))?;
    Ok(())
}

/// The calling thread's netns.
pub fn this() -> Result<std::fs::File> {
    std::fs::File::open("/proc/thread-self/ns/net").context("open /proc/thread-self/ns/net")
}

/// Moves the calling thread into netns `ns`.
pub fn enter(ns: &std::fs::File) -> Result<()> {
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns(CLONE_NEWNET)")
}

/// Moves the calling thread into a new netns.
pub fn unshare() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")
}

/// Two new netns joined by a veth pair, each end up with its address (/24) and `lo` up:
/// `tx.0` in the sending netns, `rx.0` in the receiving one. Leaves the calling thread in
/// the receiving netns and returns (receiving, sending).
pub fn veth_pair(
    tx: (&str, std::net::Ipv4Addr),
    rx: (&str, std::net::Ipv4Addr),
) -> Result<(std::fs::File, std::fs::File)> {
    use super::link;
    use std::{os::fd::AsFd, time::Duration};
    unshare()?;
    link::up("lo")?;
    let rx_ns = this()?;
    unshare()?;
    let tx_ns = this()?;
    link::up("lo")?;
    link::add_veth(tx.0, rx.0, rx_ns.as_fd())?;
    link::add_addr(tx.0, tx.1, 24)?;
    link::up(tx.0)?;
    enter(&rx_ns)?;
    link::add_addr(rx.0, rx.1, 24)?;
    link::up(rx.0)?;
    link::wait_running(rx.0, Duration::from_secs(5))?;
    enter(&tx_ns)?;
    link::wait_running(tx.0, Duration::from_secs(5))?;
    enter(&rx_ns)?;
    Ok((rx_ns, tx_ns))
}
