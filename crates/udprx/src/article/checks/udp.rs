//! `udp_rcv()` (which 7.3 folded `__udp4_lib_rcv()` into): the header checks, the lookup,
//! the no-socket path, and `udp_queue_rcv_skb()`'s first steps.

use super::{Cx, Obs, Side, PORT};
use crate::{
    article::env::{
        drain, drain_udprx, ensure, settle, stock_socket, udprx_socket, Craft, Net, Snap, PROTO,
    },
    kernel::{dev::Device, filter, socket as sock},
};
use anyhow::Result;
use udprx_abi::POLICY_MODERN;

/// Sends `n` crafted datagrams with `craft` to a port with a stock socket (or none), then
/// the same with proto 17 to a udprx socket (`via_hook`) or with udprx's protocol to a
/// port with no socket; returns both snapshots pairs and the reason counts.
struct Pair {
    stock: (Snap, Snap, usize),
    udprx: (Snap, Snap, usize),
}

fn pair(cx: &Cx, craft: Craft, size: usize, bound: bool, reason: &str) -> Result<Pair> {
    let net = Net::lo()?;
    let _r = if bound {
        Some(stock_socket(PORT)?)
    } else {
        None
    };
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send_crafted(1, size, PORT, craft)?;
    let a = settle(&s, "IpInReceives", 1)?;
    let n = cx.trace.count(&["kfree_skb", reason])?;
    drop(_r);
    let net = Net::lo()?;
    let (_d, craft) = if bound {
        (Some(udprx_socket(PORT, POLICY_MODERN)?), craft)
    } else {
        (
            None,
            Craft {
                proto: PROTO,
                ..craft
            },
        )
    };
    cx.trace.clear()?;
    let t = Snap::take()?;
    net.send_crafted(1, size, PORT, craft)?;
    let b = settle(&t, "IpInReceives", 1)?;
    let m = cx.trace.count(&["kfree_skb", reason])?;
    Ok(Pair {
        stock: (s, a, n),
        udprx: (t, b, m),
    })
}

/// The udprx side of a [`Pair`]: equal when udprx's counters `names` moved as the stock
/// ones did (same names with `UdpRx` for `Udp`) and the drop reason showed on both sides
/// (tracepoints see the whole machine: their counts are at least, not exactly, ours).
fn udprx_side(p: &Pair, names: &[&str], reason: &str) -> Option<Side> {
    let (s, a, n) = &p.stock;
    let (t, b, m) = &p.udprx;
    let rx: Vec<String> = names
        .iter()
        .map(|x| x.replacen("Udp", "UdpRx", 1))
        .collect();
    let rx: Vec<&str> = rx.iter().map(String::as_str).collect();
    let seen = format!("{}, skb:kfree_skb {reason} {m}", t.show(b, &rx));
    let equal = (*n >= 1) == (*m >= 1)
        && names
            .iter()
            .zip(&rx)
            .all(|(x, y)| s.delta(a, x) == t.delta(b, y));
    if equal {
        Side::equal(seen)
    } else {
        Side::differs(seen, "udprx counted otherwise")
    }
}

fn stock_seen(p: &Pair, names: &[&str], reason: &str) -> String {
    let (s, a, n) = &p.stock;
    format!("{}, skb:kfree_skb {reason} {n}", s.show(a, names))
}

/// C25: a datagram shorter than a UDP header.
fn c25(cx: &mut Cx) -> Result<Obs> {
    let craft = Craft {
        truncate: Some(4),
        ..Craft::good(17)
    };
    let p = pair(cx, craft, 32, false, "NOT_SPECIFIED")?;
    let names = ["UdpInErrors", "UdpNoPorts"];
    let (s, a, n) = &p.stock;
    ensure(
        s.delta(a, "UdpInErrors") == 1 && s.delta(a, "UdpNoPorts") == 0 && *n >= 1,
        || stock_seen(&p, &names, "NOT_SPECIFIED"),
    )?;
    Ok(Obs {
        stock: format!(
            "lo, a 4-byte UDP packet: {}",
            stock_seen(&p, &names, "NOT_SPECIFIED")
        ),
        udprx: udprx_side(&p, &names, "NOT_SPECIFIED"),
    })
}

/// C26: a length field beyond the packet.
fn c26(cx: &mut Cx) -> Result<Obs> {
    let craft = Craft {
        ulen: Some(8 + 32 + 100),
        ..Craft::good(17)
    };
    let p = pair(cx, craft, 32, true, "PKT_TOO_SMALL")?;
    let names = ["UdpInErrors", "UdpInDatagrams"];
    let (s, a, n) = &p.stock;
    ensure(s.delta(a, "UdpInErrors") == 1 && *n >= 1, || {
        stock_seen(&p, &names, "PKT_TOO_SMALL")
    })?;
    Ok(Obs {
        stock: format!(
            "lo, UDP length 140 in a 40-byte datagram, bound port: {}",
            stock_seen(&p, &names, "PKT_TOO_SMALL")
        ),
        udprx: udprx_side(&p, &names, "PKT_TOO_SMALL"),
    })
}

/// C27: a short datagram's bad checksum is found on arrival, bound port or not.
fn c27(cx: &mut Cx) -> Result<Obs> {
    let p = pair(cx, Craft::bad_csum(17), 20, true, "UDP_CSUM")?;
    let names = ["UdpInCsumErrors", "UdpInErrors"];
    let (s, a, n) = &p.stock;
    ensure(s.delta(a, "UdpInCsumErrors") == 1 && *n >= 1, || {
        stock_seen(&p, &names, "UDP_CSUM")
    })?;
    Ok(Obs {
        stock: format!(
            "lo, a 28-byte datagram with a bad checksum to a bound socket, before any read: {}",
            stock_seen(&p, &names, "UDP_CSUM")
        ),
        udprx: udprx_side(&p, &names, "UDP_CSUM"),
    })
}

/// C33: a bad checksum to a port with no socket is not answered.
fn c33(cx: &mut Cx) -> Result<Obs> {
    let p = pair(cx, Craft::bad_csum(17), 200, false, "UDP_CSUM")?;
    let names = ["UdpInCsumErrors", "UdpInErrors", "UdpNoPorts"];
    let (s, a, n) = &p.stock;
    ensure(
        s.delta(a, "UdpInCsumErrors") == 1
            && s.delta(a, "UdpNoPorts") == 0
            && s.delta(a, "IcmpOutDestUnreachs") == 0
            && *n >= 1,
        || stock_seen(&p, &names, "UDP_CSUM"),
    )?;
    Ok(Obs {
        stock: format!(
            "lo, a 208-byte datagram with a bad checksum to a port with no socket: {}, {}",
            stock_seen(&p, &names, "UDP_CSUM"),
            s.show(a, &["IcmpOutDestUnreachs"])
        ),
        udprx: udprx_side(&p, &names, "UDP_CSUM"),
    })
}

/// C34, C35, C36, C24: no socket: `NoPorts`, an ICMP port unreachable, the drop reason
/// and where it was dropped.
fn noports(cx: &mut Cx) -> Result<Obs> {
    let p = pair(cx, Craft::good(17), 32, false, "NO_SOCKET")?;
    let names = ["UdpNoPorts", "UdpInErrors", "IcmpOutDestUnreachs"];
    let (s, a, n) = &p.stock;
    ensure(
        s.delta(a, "UdpNoPorts") == 1
            && s.delta(a, "UdpInErrors") == 0
            && s.delta(a, "IcmpOutDestUnreachs") == 1
            && *n >= 1,
        || stock_seen(&p, &names, "NO_SOCKET"),
    )?;
    // Where the stock drop happened, from a fresh run.
    let net = Net::lo()?;
    cx.trace.clear()?;
    let s0 = Snap::take()?;
    net.send_crafted(1, 32, PORT, Craft::good(17))?;
    settle(&s0, "IpInReceives", 1)?;
    let loc = cx
        .trace
        .lines(&["kfree_skb", "NO_SOCKET"])?
        .first()
        .and_then(|l| l.split("location=").nth(1))
        .and_then(|l| l.split('+').next())
        .unwrap_or("?")
        .to_string();
    ensure(loc == "udp_rcv", || format!("dropped in {loc}"))?;
    let mut side = udprx_side(&p, &["UdpNoPorts"], "NO_SOCKET");
    if let Some(sd) = side.as_mut() {
        let (t, b, _) = &p.udprx;
        sd.seen = format!("{}, {}", sd.seen, t.show(b, &["IcmpOutDestUnreachs"]));
    }
    Ok(Obs {
        stock: format!(
            "lo, a datagram to a port with no socket: {}, dropped in {loc}()",
            stock_seen(&p, &names, "NO_SOCKET")
        ),
        udprx: side,
    })
}

/// C31: found by the lookup, the datagram is queued; `InDatagrams` waits for the read.
fn c31(_: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 2, 32, PORT)?;
    let a = settle(&s, "IpInDelivers", 2)?;
    let read = drain(&r);
    let b = Snap::take()?;
    ensure(
        s.delta(&a, "UdpInDatagrams") == 0 && a.delta(&b, "UdpInDatagrams") == 2,
        || {
            format!(
                "{} then {}",
                s.show(&a, &["UdpInDatagrams"]),
                a.show(&b, &["UdpInDatagrams"])
            )
        },
    )?;
    let stock = format!(
        "lo, 2 datagrams to a bound socket: on arrival UdpInDatagrams {:+}, after {read} reads {:+}",
        s.delta(&a, "UdpInDatagrams"),
        a.delta(&b, "UdpInDatagrams")
    );
    let net = Net::lo()?;
    let mut d = udprx_socket(PORT, POLICY_MODERN)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 2, 32, PORT)?;
    let a = settle(&s, "UdpRxHookStolen", 2)?;
    let queued = d.info()?.queued;
    let read = drain_udprx(&mut d);
    let b = Snap::take()?;
    let seen = format!(
        "{queued} queued; on arrival UdpRxInDatagrams {:+}, after {read} reads {:+}",
        s.delta(&a, "UdpRxInDatagrams"),
        a.delta(&b, "UdpRxInDatagrams")
    );
    Ok(Obs {
        stock,
        udprx: if s.delta(&a, "UdpRxInDatagrams") == 0 && a.delta(&b, "UdpRxInDatagrams") == 2 {
            Side::equal(seen)
        } else {
            Side::differs(seen, "counted at another time")
        },
    })
}

/// C32: broadcast to a port with no socket: `IgnoredMulti`, no ICMP.
fn c32(_: &mut Cx) -> Result<Obs> {
    let net = Net::veth()?;
    let tx = net.udp()?;
    tx.set_broadcast(true)?;
    let s = Snap::take()?;
    tx.send_to(&[0u8; 32], ("192.0.2.255", PORT))?;
    let a = settle(&s, "IpInDelivers", 1)?;
    let names = ["UdpIgnoredMulti", "UdpNoPorts", "IcmpOutDestUnreachs"];
    ensure(
        s.delta(&a, "UdpIgnoredMulti") == 1 && s.delta(&a, "UdpNoPorts") == 0,
        || s.show(&a, &names),
    )?;
    Ok(Obs {
        stock: format!(
            "veth, one datagram to 192.0.2.255, no socket: {}",
            s.show(&a, &names)
        ),
        udprx: None,
    })
}

/// C37: a GRO/GSO packet the socket did not ask for is split before the queue.
fn c37(_: &mut Cx) -> Result<Obs> {
    let run = |udprx: bool| -> Result<usize> {
        let net = Net::lo()?;
        let tx = net.udp()?;
        sock::set_udp_segment(&tx, 100)?;
        let s = Snap::take()?;
        if udprx {
            let mut d = udprx_socket(PORT, POLICY_MODERN)?;
            tx.send_to(&[7u8; 1000], (net.dst, PORT))?;
            settle(&s, "UdpRxInDatagrams", 0)?;
            settle(&s, "IpInReceives", 1)?;
            Ok(drain_udprx(&mut d))
        } else {
            let r = stock_socket(PORT)?;
            tx.send_to(&[7u8; 1000], (net.dst, PORT))?;
            settle(&s, "IpInReceives", 1)?;
            Ok(drain(&r))
        }
    };
    let n = run(false)?;
    ensure(n == 10, || format!("read {n} datagrams"))?;
    let m = run(true)?;
    let seen = format!("the udprx socket reads {m} datagrams");
    Ok(Obs {
        stock: format!(
            "lo, one send of 1000 bytes with UDP_SEGMENT 100 (one GSO skb): the socket reads {n} datagrams"
        ),
        udprx: if m == n { Side::equal(seen) } else { Side::differs(seen, "not split") },
    })
}

/// C40: with a socket filter, a bad checksum is found before the queue; without, at read.
fn c40(cx: &mut Cx) -> Result<Obs> {
    let all = filter::max_len(65535);
    let run = |udprx: bool, filtered: bool| -> Result<(i64, i64)> {
        let net = Net::lo()?;
        let s = Snap::take()?;
        let name = if udprx {
            "UdpRxInCsumErrors"
        } else {
            "UdpInCsumErrors"
        };
        let (arrival, after) = if udprx {
            let mut d: Device = udprx_socket(PORT, POLICY_MODERN)?;
            if filtered {
                d.attach_filter(&all)?;
            }
            net.send_crafted(1, 200, PORT, Craft::bad_csum(17))?;
            let a = settle(&s, "UdpRxHookStolen", 1)?;
            drain_udprx(&mut d);
            (s.delta(&a, name), s.delta(&Snap::take()?, name))
        } else {
            let r = stock_socket(PORT)?;
            if filtered {
                filter::attach_stock(&r, &all)?;
            }
            net.send_crafted(1, 200, PORT, Craft::bad_csum(17))?;
            let a = settle(&s, "IpInDelivers", 1)?;
            drain(&r);
            (s.delta(&a, name), s.delta(&Snap::take()?, name))
        };
        Ok((arrival, after))
    };
    let _ = cx;
    let (f, nf) = (run(false, true)?, run(false, false)?);
    ensure(f == (1, 1) && nf == (0, 1), || format!("{f:?} {nf:?}"))?;
    let (uf, unf) = (run(true, true)?, run(true, false)?);
    let show = |(a, b): (i64, i64)| format!("InCsumErrors {a:+} on arrival, {b:+} after the read");
    let seen = format!("with a filter: {}; without: {}", show(uf), show(unf));
    Ok(Obs {
        stock: format!(
            "lo, a 208-byte datagram with a bad checksum to a bound socket: with an accept-all \
             filter: {}; without: {}",
            show(f),
            show(nf)
        ),
        udprx: if (uf, unf) == (f, nf) {
            Side::equal(seen)
        } else {
            Side::differs(seen, "checked at another step")
        },
    })
}

pub fn find(id: &str) -> Option<super::Check> {
    Some(match id {
        "C24" | "C34" | "C35" | "C36" => noports,
        "C25" => c25,
        "C26" => c26,
        "C27" => c27,
        "C31" => c31,
        "C32" => c32,
        "C33" => c33,
        "C37" => c37,
        "C40" => c40,
        _ => return None,
    })
}
