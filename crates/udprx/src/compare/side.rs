// SPDX-License-Identifier: GPL-2.0

//! One side of a comparison: a scenario's steps replayed against a socket (stock or udprx)
//! in a fresh network namespace, and what it did.

use super::{
    guard::{await_dropped, firewall_rule, udp_mem_start, UdpMemRestore},
    outcome::{arrivals, await_arrival, counters, get, netns_deltas, settled, Outcomes, Sample},
    rx::Rx,
    scenario::{Guard, Kind, Link, Scenario, Side, Step, CLOSED, PORT, PROTO},
    sender::fresh_side,
};
use crate::kernel::counters;
use anyhow::Result;
use udprx_abi::mib::{DropReason, Group, UdpMib};

pub(super) fn run_side(sc: &Scenario, side: Side, link: Link) -> Result<Outcomes> {
    let tx = fresh_side(link)?;
    let group = if side == Side::Stock {
        "Udp"
    } else {
        UdpMib::GROUP
    };
    if sc.guard == Guard::Firewall {
        firewall_rule()?;
    }
    let (pool, _scratch) = if sc.guard == Guard::UdpMem {
        let (p, s) = udp_mem_start(&tx)?;
        (Some(p), Some(s))
    } else {
        (None, None)
    };
    let _restore = pool.map(|_| UdpMemRestore);
    let n0 = counters::stock_groups()?;
    let mut n_open = None;
    let mut rx = Some(Rx::open(side, sc.rcvbuf, sc.guard)?);
    let c0 = counters()?;
    let mut o = Outcomes {
        rcvbuf: rx.as_ref().unwrap().mem()?.rcvbuf,
        pool,
        ..Default::default()
    };
    let mut buf = vec![0u8; 65536];
    let mut held = false;
    // Behind the firewall nothing reaches udprx's counters: the rule's counter is polled.
    let mut seen = if sc.guard == Guard::Firewall {
        0
    } else {
        arrivals(&c0)
    };
    for step in &sc.steps {
        match *step {
            Step::Send(..) | Step::SendClosed(..) | Step::SendGso(..) => {
                let drops0 = match &rx {
                    Some(r) => r.mem()?.drops,
                    None => 0,
                };
                match *step {
                    Step::SendGso(n, size) => tx.send_gso(n, size, PORT)?,
                    Step::SendClosed(size) if side == Side::Stock => {
                        tx.send_crafted(size, Kind::Good, CLOSED, 17)?
                    }
                    Step::SendClosed(size) => tx.send_crafted(size, Kind::Good, CLOSED, PROTO)?,
                    Step::Send(size, kind) => tx.send(size, kind, PORT, 17)?,
                    _ => unreachable!(),
                }
                let what = || format!("{} [{}]: {}", sc.name, link.name(), side.name());
                if sc.guard == Guard::Firewall {
                    await_dropped(&mut seen, what)?;
                } else {
                    await_arrival(&mut seen, what)?;
                }
                if let Some(r) = &rx {
                    let m = r.mem()?;
                    o.series.push(Sample {
                        rmem: m.rmem,
                        backlog: m.backlog,
                        dropped: m.drops > drops0,
                    });
                }
            }
            Step::Read => {
                if let Some(r) = rx.as_mut() {
                    if r.read(&mut buf)? {
                        o.delivered += 1;
                    }
                }
            }
            Step::Hold => {
                if let Some(Rx::Udprx(d)) = &rx {
                    d.hold()?;
                    held = true;
                }
            }
            Step::Release => {
                if let Some(Rx::Udprx(d)) = &rx {
                    if held {
                        d.release()?;
                        held = false;
                    }
                }
            }
            Step::Close => {
                if let Some(r) = &rx {
                    let m = r.mem()?;
                    o.final_rmem = i64::from(m.rmem);
                    o.drops = m.drops as i64;
                    n_open = Some(counters::stock_groups()?);
                }
                rx = None;
            }
        }
    }
    if let Some(r) = rx.as_mut() {
        let m = r.mem()?;
        o.final_rmem = i64::from(m.rmem);
        o.drops = m.drops as i64;
        while r.read(&mut buf)? {
            o.delivered += 1;
        }
        n_open = Some(counters::stock_groups()?);
    }
    drop(rx);
    let c1 = counters()?;
    let n1 = settled(&n0)?;
    o.netns = netns_deltas(side, &n0, n_open.as_deref().unwrap_or(&n0), &n1);
    for &c in UdpMib::ALL {
        // The stock `Udp:` line has the same names as `UdpRx:`.
        let key = format!("{group}{}", c.name());
        o.mib[c] =
            c1.get(&key).copied().unwrap_or(0) as i64 - c0.get(&key).copied().unwrap_or(0) as i64;
    }
    if side != Side::Stock {
        o.freed_at_close =
            get(&c1, DropReason::SocketClose) as i64 - get(&c0, DropReason::SocketClose) as i64;
    }
    Ok(o)
}
