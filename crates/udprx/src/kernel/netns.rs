//! Network namespaces: one entered by name (`/run/netns/NAME`), the calling thread's, a
//! new one.

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
