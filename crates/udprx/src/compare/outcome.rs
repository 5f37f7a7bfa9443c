// SPDX-License-Identifier: GPL-2.0

//! What a side did: the counters of its netns by nstat name, their change over a run, and
//! the waits for an arrival to show in them.

use super::scenario::Side;
use crate::kernel::counters;
use anyhow::{bail, Result};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};
use udprx_abi::mib::{Group, HookMib, ProtoMib, UdpMib};
use udprx_rxqueue::{Counter, Pool};

/// All counters of the current netns (`udprx stat`), by nstat name.
pub(super) fn counters() -> Result<HashMap<String, u64>> {
    Ok(counters::by_name(counters::groups()?).collect())
}

pub(super) fn arrivals(c: &HashMap<String, u64>) -> u64 {
    get(c, HookMib::Seen) + get(c, ProtoMib::InPackets)
}

/// Waits until the current netns has seen one more datagram than `seen` (the `LOCAL_IN`
/// hook counts every UDP datagram after reassembly; the protocol handler the others).
pub(super) fn await_arrival(seen: &mut u64, what: impl Fn() -> String) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = arrivals(&counters()?);
        if n > *seen {
            *seen = n;
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{}: a datagram did not arrive within 5 s", what());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What one side did.
#[derive(Default)]
pub(super) struct Outcomes {
    /// Deltas of the receive-side MIB counters (`Udp:` or `UdpRx:`).
    pub(super) mib: Mib,
    pub(super) delivered: i64,
    pub(super) drops: i64,
    pub(super) final_rmem: i64,
    pub(super) freed_at_close: i64,
    /// `udp-mem`: protocol memory as this side found it, for the model.
    pub(super) pool: Option<Pool>,
    pub(super) rcvbuf: u32,
    /// The socket after each arrival.
    pub(super) series: Vec<Sample>,
    /// The stock counters of the receiving netns over the run, by row ([`netns_deltas`]);
    /// empty for a model.
    pub(super) netns: Vec<(String, i64)>,
}

/// The socket as one arrival left it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sample {
    /// `sk_rmem_alloc`.
    pub(super) rmem: u32,
    /// `sk_backlog.len`: bytes waiting on the backlog of a held socket, not in `rmem`
    /// (classic while held; 7.3 UDP never backlogs).
    pub(super) backlog: u32,
    /// Whether this arrival was dropped.
    pub(super) dropped: bool,
}

/// The row group of the receive counters of the stock `Udp:` line on a udprx side, which
/// counts in `UdpRx:` instead: they must not move. The stock side has no such rows (its
/// `Udp:` receive counters are the socket's own rows).
pub(super) const STOCK_UDP: &str = "StockUdp";

/// [`counters::stock_groups()`] once the netns holds no more UDP sockets than at `before`, or
/// after 1 s: a closed socket was seen counted in `inuse` for a moment after `close()`
/// (once, over veth, a stock side).
pub(super) fn settled(before: &[counters::Group]) -> Result<Vec<counters::Group>> {
    let inuse = |gs: &[counters::Group]| {
        gs.iter()
            .filter(|g| g.name == "UDP")
            .flat_map(|g| &g.counters)
            .find_map(|(n, v)| (n == "inuse").then_some(*v))
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let now = counters::stock_groups()?;
        if inuse(&now) <= inuse(before) || Instant::now() > deadline {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The counters of [`counters::stock_groups()`] as rows `Group Counter`: their change from
/// `before` (the socket not yet open) to `after` (closed), and `sockstat UDP inuse open`
/// from `before` to `open` (the socket still open). `Udp:` receive counters are the
/// socket's rows on the stock side and [`STOCK_UDP`] rows on a udprx side.
pub(super) fn netns_deltas(
    side: Side,
    before: &[counters::Group],
    open: &[counters::Group],
    after: &[counters::Group],
) -> Vec<(String, i64)> {
    let value = |gs: &[counters::Group], g: &str, c: &str| {
        gs.iter()
            .filter(|x| x.name == g)
            .flat_map(|x| &x.counters)
            .find(|(n, _)| n == c)
            .map_or(0, |(_, v)| *v as i64)
    };
    let mut out = Vec::new();
    for g in after {
        for (c, v) in &g.counters {
            let d = (*v as i64).wrapping_sub(value(before, &g.name, c));
            let group = match g.name.as_str() {
                "Udp" if UdpMib::NAMES.contains(&c.as_str()) => {
                    if side == Side::Stock {
                        continue;
                    }
                    STOCK_UDP
                }
                "UDP" => "sockstat UDP",
                n => n,
            };
            out.push((format!("{group} {c}"), d));
            if g.name == "UDP" && c == "inuse" {
                let inuse = value(open, "UDP", "inuse") - value(before, "UDP", "inuse");
                out.push(("sockstat UDP inuse open".into(), inuse));
            }
        }
    }
    out
}

/// The MIB counter an accounting-model counter is.
pub(super) fn mib_of(c: Counter) -> UdpMib {
    match c {
        Counter::InErrors => UdpMib::InErrors,
        Counter::RcvbufErrors => UdpMib::RcvbufErrors,
        Counter::MemErrors => UdpMib::MemErrors,
    }
}

/// The value of counter `c` in `m`, the counters of a netns by nstat name.
pub(super) fn get<G: Group>(m: &HashMap<String, u64>, c: G) -> u64 {
    m.get(&format!("{}{}", G::GROUP, c.name()))
        .copied()
        .unwrap_or(0)
}

/// One value per [`UdpMib`] counter: the receive side of `Udp:` (stock) or `UdpRx:`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Mib([i64; UdpMib::LEN]);

impl core::ops::Index<UdpMib> for Mib {
    type Output = i64;
    fn index(&self, c: UdpMib) -> &i64 {
        &self.0[c as usize]
    }
}

impl core::ops::IndexMut<UdpMib> for Mib {
    fn index_mut(&mut self, c: UdpMib) -> &mut i64 {
        &mut self.0[c as usize]
    }
}
