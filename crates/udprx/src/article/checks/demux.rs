//! Early demux and the input route lookup, over veth (on `lo` the sender's route stays on
//! the skb and neither runs): `fib:fib_table_lookup` events with the receiving
//! interface's `iif`, for datagrams after the first (which resolves ARP and sets the
//! socket's cached route).

use super::{Cx, Obs, PORT};
use crate::article::env::{ensure, settle, stock_socket, Net, Snap};
use anyhow::Result;

const N: usize = 10;

/// Input route lookups for `N` datagrams: to a connected receiver, to a bound-only one,
/// and to a connected one with `net.ipv4.udp_early_demux = 0`; and the early-demux
/// sysctls of a fresh netns.
pub struct Demux {
    connected: usize,
    bound: usize,
    connected_off: usize,
    sysctls: String,
}

fn lookups(cx: &Cx, connect: bool, demux_on: bool) -> Result<(usize, String)> {
    let net = Net::veth()?;
    let mut sysctls = String::new();
    for s in ["ip_early_demux", "udp_early_demux", "tcp_early_demux"] {
        let v = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{s}"))?;
        sysctls.push_str(&format!("{s}={} ", v.trim()));
    }
    if !demux_on {
        std::fs::write("/proc/sys/net/ipv4/udp_early_demux", "0")?;
    }
    let rx = stock_socket(PORT)?;
    let tx = net.udp()?;
    if connect {
        rx.connect(tx.local_addr()?)?;
    }
    let s = Snap::take()?;
    net.send(&tx, 1, 32, PORT)?;
    settle(&s, "IpInDelivers", 1)?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, N, 32, PORT)?;
    let a = settle(&s, "IpInDelivers", N as i64)?;
    ensure(s.delta(&a, "IpInDelivers") == N as i64, || {
        "datagrams lost".into()
    })?;
    let iif = format!("iif {} ", net.rx_if);
    Ok((cx.trace.count(&["fib_table_lookup", &iif])?, sysctls))
}

fn demux(cx: &mut Cx) -> Result<&Demux> {
    if cx.demux.is_none() {
        let (connected, sysctls) = lookups(cx, true, true)?;
        let (bound, _) = lookups(cx, false, true)?;
        let (connected_off, _) = lookups(cx, true, false)?;
        cx.demux = Some(Demux {
            connected,
            bound,
            connected_off,
            sysctls,
        });
    }
    Ok(cx.demux.as_ref().unwrap())
}

fn shown(d: &Demux) -> String {
    format!(
        "veth, {N} datagrams after the first: fib:fib_table_lookup with the receiver's iif: \
         {} to a connected socket, {} to a bound-only one, {} to a connected one with \
         udp_early_demux=0",
        d.connected, d.bound, d.connected_off
    )
}

/// C02, C03, C29: a connected socket's cached route spares every lookup.
fn cached(cx: &mut Cx) -> Result<Obs> {
    let d = demux(cx)?;
    ensure(d.connected == 0 && d.bound >= N, || shown(d))?;
    Ok(Obs {
        stock: shown(d),
        udprx: None,
    })
}

/// C04: the sysctls, per netns, and what turning UDP's off does.
fn sysctls(cx: &mut Cx) -> Result<Obs> {
    let d = demux(cx)?;
    ensure(
        d.sysctls.trim() == "ip_early_demux=1 udp_early_demux=1 tcp_early_demux=1"
            && d.connected == 0
            && d.connected_off >= N,
        || format!("{} {}", d.sysctls, shown(d)),
    )?;
    Ok(Obs {
        stock: format!("a fresh netns: {}; {}", d.sysctls.trim(), shown(d)),
        udprx: None,
    })
}

/// C06: without a cached route, every datagram is routed.
fn routed(cx: &mut Cx) -> Result<Obs> {
    let d = demux(cx)?;
    ensure(d.bound >= N, || shown(d))?;
    Ok(Obs {
        stock: shown(d),
        udprx: None,
    })
}

pub fn find(id: &str) -> Option<super::Check> {
    Some(match id {
        "C02" | "C03" | "C29" => cached,
        "C04" => sysctls,
        "C06" => routed,
        _ => return None,
    })
}
