// SPDX-License-Identifier: GPL-2.0

//! `fault`: every allocation of one operation failed in turn (`fail-nth`), and what each
//! attempt answered.

use crate::kernel::{dev::Device, module};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Op {
    /// open("/dev/udprx").
    Open,
    /// UDPRX_BIND (the backing socket's bind and the port table's copy).
    Bind,
    /// UDPRX_ATTACH_FILTER.
    Filter,
    /// UDPRX_SET_RCVBUF on a bound socket.
    Rcvbuf,
    /// A new network namespace (udprx's pernet init: state, /proc entry, hook).
    Netns,
    /// finit_module(udprx.ko) (module init: pernet subsystem, protocol, /dev/udprx).
    Insmod,
}

/// This thread's `/proc/thread-self/fail-nth`, opened once: reading and writing an open
/// file allocates nothing, so neither takes a fault meant for the operation.
struct FailNth(std::fs::File);

impl FailNth {
    fn open() -> Result<Self> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map(Self)
            .context("open /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)")
    }

    /// Fail the `n`-th fault-injection point this thread reaches (0: disarm).
    fn arm(&self, n: u32) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.0
            .write_at(n.to_string().as_bytes(), 0)
            .context("write fail-nth")?;
        Ok(())
    }

    /// Whether the armed fault was injected (the counter ran out); disarms it either way.
    fn fired(&self) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 16];
        let n = self.0.read_at(&mut b, 0).context("read fail-nth")?;
        let left: u32 = std::str::from_utf8(&b[..n])
            .unwrap_or("0")
            .trim()
            .parse()
            .unwrap_or(0);
        if left != 0 {
            self.arm(0)?;
        }
        Ok(left == 0)
    }
}

fn errno_of(e: &anyhow::Error) -> String {
    for c in e.chain() {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return format!("{:?}", Errno::from_raw(n));
            }
        }
        if let Some(n) = c.downcast_ref::<Errno>() {
            return format!("{n:?}");
        }
    }
    // A message that names the errno (`... ENOMEM: Out of memory`).
    let text = format!("{e:#}");
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() > 2 && w.starts_with('E') && w.chars().all(|c| c.is_ascii_uppercase()))
        .map_or(text.clone(), str::to_string)
}

pub(super) fn fault(op: Op, port: u16, module: Option<&std::path::Path>, max: u32) -> Result<()> {
    let home = std::fs::File::open("/proc/thread-self/ns/net")?;
    let nth = FailNth::open()?;
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    let mut n = 1u32;
    let points = loop {
        // What the attempt needs that is not under test is set up before arming.
        let pre = match op {
            Op::Bind | Op::Filter => Some(Device::open(true)?),
            Op::Rcvbuf => {
                let d = Device::open(true)?;
                d.bind(port)?;
                Some(d)
            }
            _ => None,
        };
        let ko = match (op, module) {
            (Op::Insmod, Some(m)) => Some(std::fs::File::open(m)?),
            (Op::Insmod, None) => bail!("--module is needed for insmod"),
            _ => None,
        };
        let prog = crate::kernel::filter::max_len(100);
        nth.arm(n)?;
        let r: Result<()> = match op {
            Op::Open => Device::open(true).map(drop),
            Op::Bind => pre.as_ref().unwrap().bind(port),
            Op::Filter => pre
                .as_ref()
                .unwrap()
                .attach_filter(&prog)
                .map_err(anyhow::Error::from),
            Op::Rcvbuf => pre.as_ref().unwrap().set_rcvbuf(100_000, false),
            Op::Netns => nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(anyhow::Error::from),
            Op::Insmod => module::load(ko.as_ref().unwrap()).map_err(anyhow::Error::from),
        };
        let fired = nth.fired()?;
        // Undo a success, so that the next attempt starts from the same state.
        if r.is_ok() {
            match op {
                Op::Netns => nix::sched::setns(&home, nix::sched::CloneFlags::CLONE_NEWNET)?,
                Op::Insmod => {
                    if let Err(e) = module::unload(c"udprx") {
                        bail!("insmod: rmmod after attempt {n}: {e}");
                    }
                }
                _ => {}
            }
        }
        drop(pre);
        match (&r, fired) {
            (Err(e), _) => *errors.entry(errno_of(e)).or_default() += 1,
            // The failed allocation was one the kernel can do without (a cache, a fallback).
            (Ok(()), true) => *errors.entry("absorbed".into()).or_default() += 1,
            (Ok(()), false) => break n - 1,
        }
        if !fired {
            bail!(
                "{op:?}: failed with no fault injected: {:#}",
                r.unwrap_err()
            );
        }
        if max != 0 && n >= max {
            break n;
        }
        n += 1;
    };
    let complete = max == 0 || points < max;
    println!(
        "{}",
        json!({ "op": format!("{op:?}").to_lowercase(), "points": points, "outcomes": errors,
                "complete": complete, "cut": !complete })
    );
    Ok(())
}
