//! The queue: the buffer test, `SO_RCVBUF`, the memory charged, the drops, the filter, the
//! wake-up and the read; and `sock_queue_rcv_skb()`, which 7.3 keeps for other sockets.

use super::{Cx, Obs, Side, PORT};
use crate::{
    article::env::{drain, drain_udprx, ensure, settle, stock_socket, udprx_socket, Net, Snap},
    kernel::socket as sock,
};
use anyhow::{Context, Result};
use socket2::SockRef;
use std::net::UdpSocket;
use udprx_abi::POLICY_MODERN;

const MEMINFO_RMEM: usize = 0;
const MEMINFO_BACKLOG: usize = 7;
const MEMINFO_DROPS: usize = 8;

fn sysctl(name: &str) -> Result<u64> {
    let v = std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
        .with_context(|| format!("read net.core.{name}"))?;
    Ok(v.trim().parse()?)
}

fn rcvbuf(s: &UdpSocket) -> Result<usize> {
    Ok(SockRef::from(s).recv_buffer_size()?)
}

/// 20 datagrams of 100 bytes to a socket of `SO_RCVBUF` 4096 that does not read. Taken
/// once, for the claims it shows (kept in [`Cx`]).
#[derive(Clone)]
pub(super) struct Full {
    snap: (Snap, Snap),
    reasons: usize,
    meminfo: [u32; 9],
    proc_drops: u64,
}

/// [`Full`], taken on first use.
fn fill_stock(cx: &mut Cx) -> Result<Full> {
    if cx.full.is_none() {
        cx.full = Some(take_full(cx)?);
    }
    Ok(cx.full.clone().unwrap())
}

fn take_full(cx: &Cx) -> Result<Full> {
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    sock::set_stock_rcvbuf(&r, 4096, false)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, 20, 100, PORT)?;
    let a = settle(&s, "IpInDelivers", 20)?;
    Ok(Full {
        reasons: cx.trace.count(&["kfree_skb", "SOCKET_RCVBUFF"])?,
        meminfo: sock::meminfo(&r)?,
        proc_drops: sock::proc_net_udp_drops(PORT)?,
        snap: (s, a),
    })
}

/// The same to a udprx socket under the modern policy, taken on first use.
fn fill_modern(cx: &mut Cx) -> Result<(i64, u64, String)> {
    if cx.full_modern.is_none() {
        cx.full_modern = Some(fill_udprx(POLICY_MODERN)?);
    }
    Ok(cx.full_modern.clone().unwrap())
}

/// The same to a udprx socket under `policy`: (dropped, `UDPRX_INFO` drops, counters).
pub(super) fn fill_udprx(policy: u32) -> Result<(i64, u64, String)> {
    let net = Net::lo()?;
    let d = crate::kernel::dev::Device::open(true)?;
    d.set_policy(policy)?;
    d.set_rcvbuf(4096, false)?;
    d.bind(PORT)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 20, 100, PORT)?;
    let a = settle(&s, "UdpRxHookStolen", 20)?;
    Ok((
        s.delta(&a, "UdpRxRcvbufErrors"),
        d.info()?.drops,
        s.show(
            &a,
            &[
                "UdpRxRcvbufErrors",
                "UdpRxInErrors",
                "UdpRxDropSOCKET_RCVBUFF",
            ],
        ),
    ))
}

/// C41, C52: a full buffer drops, counted as `RcvbufErrors` and `InErrors`.
fn c41(cx: &mut Cx) -> Result<Obs> {
    let f = fill_stock(cx)?;
    let (s, a) = &f.snap;
    let k = s.delta(a, "UdpRcvbufErrors");
    ensure(
        k > 0 && s.delta(a, "UdpInErrors") == k && f.reasons as i64 >= k,
        || {
            format!(
                "{} SOCKET_RCVBUFF {}",
                s.show(a, &["UdpRcvbufErrors", "UdpInErrors"]),
                f.reasons
            )
        },
    )?;
    let (m, _, seen) = fill_modern(cx)?;
    Ok(Obs {
        stock: format!(
            "lo, SO_RCVBUF 4096, 20 datagrams of 100 bytes not read: {}, skb:kfree_skb \
             SOCKET_RCVBUFF {}",
            s.show(a, &["UdpRcvbufErrors", "UdpInErrors", "UdpMemErrors"]),
            f.reasons
        ),
        udprx: if m == k {
            Side::equal(format!("modern policy: {seen}"))
        } else {
            Side::differs(format!("modern policy: {seen}"), "another number dropped")
        },
    })
}

/// C42, C49, C50, C51: UDP has no backlog any more.
fn c42(cx: &mut Cx) -> Result<Obs> {
    let f = fill_stock(cx)?;
    ensure(f.meminfo[MEMINFO_BACKLOG] == 0, || {
        format!("SK_MEMINFO_BACKLOG {}", f.meminfo[MEMINFO_BACKLOG])
    })?;
    Ok(Obs {
        stock: format!(
            "lo, a full socket (SO_RCVBUF 4096, 20 datagrams): SO_MEMINFO backlog {}, \
             rmem_alloc {}",
            f.meminfo[MEMINFO_BACKLOG], f.meminfo[MEMINFO_RMEM]
        ),
        udprx: None,
    })
}

/// C55: the socket's drop count, three ways.
fn c55(cx: &mut Cx) -> Result<Obs> {
    let f = fill_stock(cx)?;
    let (s, a) = &f.snap;
    let k = s.delta(a, "UdpRcvbufErrors") as u64;
    ensure(
        u64::from(f.meminfo[MEMINFO_DROPS]) == k && f.proc_drops == k,
        || {
            format!(
                "SO_MEMINFO drops {}, /proc/net/udp drops {}",
                f.meminfo[MEMINFO_DROPS], f.proc_drops
            )
        },
    )?;
    let (m, info, _) = fill_modern(cx)?;
    let seen = format!("UDPRX_INFO drops {info}, UdpRxRcvbufErrors {m:+}");
    Ok(Obs {
        stock: format!(
            "lo, the full socket above: UdpRcvbufErrors {k:+}, SO_MEMINFO drops {}, \
             /proc/net/udp drops {}",
            f.meminfo[MEMINFO_DROPS], f.proc_drops
        ),
        udprx: if info == k && m as u64 == k {
            Side::equal(seen)
        } else {
            Side::differs(seen, "another number dropped")
        },
    })
}

/// C43: 7.3's test lets one datagram into an empty queue, however small the buffer.
fn c43(_: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    sock::set_stock_rcvbuf(&r, 0, false)?;
    let rb = rcvbuf(&r)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 2, 60000, PORT)?;
    let a = settle(&s, "IpInDelivers", 2)?;
    let read = drain(&r);
    ensure(
        rb == 2304 && read == 1 && s.delta(&a, "UdpRcvbufErrors") == 1,
        || {
            format!(
                "rcvbuf {rb}, read {read}, {}",
                s.show(&a, &["UdpRcvbufErrors"])
            )
        },
    )?;
    let net = Net::lo()?;
    let mut d = crate::kernel::dev::Device::open(true)?;
    d.set_policy(POLICY_MODERN)?;
    d.set_rcvbuf(0, false)?;
    d.bind(PORT)?;
    let tx = net.udp()?;
    let t = Snap::take()?;
    net.send(&tx, 2, 60000, PORT)?;
    let b = settle(&t, "UdpRxHookStolen", 2)?;
    let urb = d.info()?.rcvbuf;
    let uread = drain_udprx(&mut d);
    let seen = format!(
        "rcvbuf {urb}, read {uread}, {}",
        t.show(&b, &["UdpRxRcvbufErrors"])
    );
    Ok(Obs {
        stock: format!(
            "lo, SO_RCVBUF 0 gives {rb}; two 60000-byte datagrams: {read} read, {}",
            s.show(&a, &["UdpRcvbufErrors"])
        ),
        udprx: if urb as usize == rb && uread == read {
            Side::equal(seen)
        } else {
            Side::differs(seen, "another buffer or test")
        },
    })
}

/// C44: `rmem_max` is global: read in a child netns, not written there.
fn c44(_: &mut Cx) -> Result<Obs> {
    let _net = Net::lo()?;
    let max = sysctl("rmem_max")?;
    let w = std::fs::write("/proc/sys/net/core/rmem_max", format!("{max}\n"));
    let denied = matches!(&w, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied);
    ensure(denied, || format!("rmem_max {max}, write {w:?}"))?;
    Ok(Obs {
        stock: format!(
            "net.core.rmem_max {max} in a child netns; writing it there: {}",
            w.err().map_or("allowed".into(), |e| e.to_string())
        ),
        udprx: None,
    })
}

/// C45: a new socket starts at `rmem_default`.
fn c45(_: &mut Cx) -> Result<Obs> {
    let _net = Net::lo()?;
    let def = sysctl("rmem_default")?;
    let r = stock_socket(PORT)?;
    let rb = rcvbuf(&r)? as u64;
    drop(r);
    ensure(rb == def, || format!("SO_RCVBUF {rb}, rmem_default {def}"))?;
    let d = udprx_socket(PORT, POLICY_MODERN)?;
    let urb = u64::from(d.info()?.rcvbuf);
    let seen = format!("a new udprx socket: rcvbuf {urb}");
    Ok(Obs {
        stock: format!("net.core.rmem_default {def}; a new socket's SO_RCVBUF {rb}"),
        udprx: if urb == rb {
            Side::equal(seen)
        } else {
            Side::differs(seen, "another default")
        },
    })
}

/// C46, C47: `SO_RCVBUF` doubles and clamps to `rmem_max`; `SO_RCVBUFFORCE` does not clamp.
fn c46(_: &mut Cx) -> Result<Obs> {
    let _net = Net::lo()?;
    let vals: [(i32, bool); 4] = [
        (1 << 30, false),
        (65536, false),
        (1000, false),
        (16 << 20, true),
    ];
    let r = stock_socket(PORT)?;
    let mut got = Vec::new();
    for (v, force) in vals {
        sock::set_stock_rcvbuf(&r, v, force)?;
        got.push(rcvbuf(&r)? as u64);
    }
    drop(r);
    let max = sysctl("rmem_max")?;
    ensure(got == [2 * max, 131072, 2304, 32 << 20], || {
        format!("{got:?}")
    })?;
    let d = udprx_socket(PORT, POLICY_MODERN)?;
    let mut ugot = Vec::new();
    for (v, force) in vals {
        d.set_rcvbuf(v, force)?;
        ugot.push(u64::from(d.info()?.rcvbuf));
    }
    let show = |g: &[u64]| {
        vals.iter()
            .zip(g)
            .map(|((v, f), g)| format!("{}{v} -> {g}", if *f { "FORCE " } else { "" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let seen = format!("UDPRX_SET_RCVBUF {}", show(&ugot));
    Ok(Obs {
        stock: format!("SO_RCVBUF {} (rmem_max {max})", show(&got)),
        udprx: if ugot == got {
            Side::equal(seen)
        } else {
            Side::differs(seen, "other sizes")
        },
    })
}

/// C48: what a queued datagram is charged is its truesize, not its length.
fn c48(_: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 1, 100, PORT)?;
    settle(&s, "IpInDelivers", 1)?;
    let rmem = sock::meminfo(&r)?[MEMINFO_RMEM];
    ensure(rmem > 100, || format!("rmem_alloc {rmem}"))?;
    drop(r);
    let net = Net::lo()?;
    let d = udprx_socket(PORT, POLICY_MODERN)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 1, 100, PORT)?;
    settle(&s, "UdpRxHookStolen", 1)?;
    let urmem = d.info()?.rmem_alloc;
    let seen = format!("rmem_alloc {urmem}");
    Ok(Obs {
        stock: format!("lo, one 100-byte datagram queued: SO_MEMINFO rmem_alloc {rmem}"),
        udprx: if urmem == rmem {
            Side::equal(seen)
        } else {
            Side::differs(seen, "another truesize")
        },
    })
}

pub fn find(id: &str) -> Option<super::Check> {
    Some(match id {
        "C41" | "C52" => c41,
        "C42" | "C49" | "C50" | "C51" => c42,
        "C43" => c43,
        "C44" => c44,
        "C45" => c45,
        "C46" | "C47" => c46,
        "C48" => c48,
        "C55" => c55,
        _ => return None,
    })
}
