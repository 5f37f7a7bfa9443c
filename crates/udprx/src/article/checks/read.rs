//! `sock_queue_rcv_skb()`, which 7.3 keeps for other sockets, and the last steps: the
//! socket filter, the queue as `FIONREAD` sees it, the wake-up and the read.

use super::{queue::fill_udprx, Cx, Obs, Side, PORT};
use crate::{
    article::env::{drain, ensure, settle, stock_socket, udprx_socket, Net, Snap},
    kernel::filter,
};
use anyhow::{Context, Result};
use udprx_abi::{POLICY_CLASSIC, POLICY_MODERN};

/// The drop count of the raw socket bound to IP protocol 17 in `/proc/net/raw`.
fn raw_drops() -> Result<u64> {
    let t = crate::kernel::counters::read("raw")?;
    let line = t
        .lines()
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(":0011"))
        })
        .context("no raw socket of protocol 17")?;
    Ok(line.split_whitespace().last().unwrap_or("0").parse()?)
}

/// C53, C54: `sock_queue_rcv_skb()`'s test, 3.13's, still serves raw sockets: held
/// against udprx's classic policy with the same buffer and traffic.
fn c54(cx: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let raw = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::UDP),
    )?;
    raw.set_recv_buffer_size(4096)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, 20, 100, PORT)?;
    settle(&s, "IpInDelivers", 20)?;
    let drops = raw_drops()?;
    let full = cx.trace.count(&["sock_rcvqueue_full"])?;
    ensure(drops > 0, || format!("raw drops {drops}"))?;
    drop(raw);
    let (m, _, seen) = fill_udprx(POLICY_CLASSIC)?;
    let seen = format!("classic policy, the same buffer and traffic: {seen}");
    Ok(Obs {
        stock: format!(
            "lo, a raw IPPROTO_UDP socket, SO_RCVBUF 4096, 20 datagrams of 100 bytes not \
             read: /proc/net/raw drops {drops}, sock:sock_rcvqueue_full {full} (raw_v4_input() \
             tests the buffer before sock_queue_rcv_skb() does)"
        ),
        udprx: if m as u64 == drops {
            Side::equal(seen)
        } else {
            Side::differs(seen, "the raw socket's skbs are clones of another truesize")
        },
    })
}

/// C56: the socket filter drops before the buffer test, as `InErrors`.
fn c56(cx: &mut Cx) -> Result<Obs> {
    let none = [libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    filter::attach_stock(&r, &none)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, 3, 32, PORT)?;
    let a = settle(&s, "UdpInErrors", 3)?;
    let n = cx.trace.count(&["kfree_skb", "SOCKET_FILTER"])?;
    let names = ["UdpInErrors", "UdpRcvbufErrors"];
    ensure(s.delta(&a, "UdpInErrors") == 3 && n >= 3, || {
        s.show(&a, &names)
    })?;
    drop(r);
    let net = Net::lo()?;
    let d = udprx_socket(PORT, POLICY_MODERN)?;
    d.attach_filter(&none)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let t = Snap::take()?;
    net.send(&tx, 3, 32, PORT)?;
    let b = settle(&t, "UdpRxInErrors", 3)?;
    let m = cx.trace.count(&["kfree_skb", "SOCKET_FILTER"])?;
    let seen = format!(
        "{}, skb:kfree_skb SOCKET_FILTER {m}",
        t.show(&b, &["UdpRxInErrors", "UdpRxRcvbufErrors"])
    );
    Ok(Obs {
        stock: format!(
            "lo, a filter that drops all, 3 datagrams: {}, skb:kfree_skb SOCKET_FILTER {n}",
            s.show(&a, &names)
        ),
        udprx: if m >= 3 && t.delta(&b, "UdpRxInErrors") == 3 {
            Side::equal(seen)
        } else {
            Side::differs(seen, "counted otherwise")
        },
    })
}

/// C58: what `FIONREAD` says of a queue of datagrams.
fn c58(_: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 1, 100, PORT)?;
    net.send(&tx, 1, 200, PORT)?;
    settle(&s, "IpInDelivers", 2)?;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&r), libc::FIONREAD, &mut n) };
    ensure(rc == 0 && n == 100, || format!("FIONREAD {n}"))?;
    Ok(Obs {
        stock: format!("lo, datagrams of 100 and 200 bytes queued: FIONREAD {n} (the first)"),
        udprx: None,
    })
}

/// C59: each queued datagram wakes the socket (`sk_data_ready`).
fn c59(cx: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let _r = stock_socket(PORT)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, 3, 32, PORT)?;
    settle(&s, "IpInDelivers", 3)?;
    let n = cx.trace.count(&["sk_data_ready"])?;
    ensure(n >= 3, || format!("sk_data_ready {n}"))?;
    drop(_r);
    let net = Net::lo()?;
    let d = udprx_socket(PORT, POLICY_MODERN)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let t = Snap::take()?;
    net.send(&tx, 3, 32, PORT)?;
    settle(&t, "UdpRxHookStolen", 3)?;
    let m = cx.trace.count(&["sk_data_ready"])?;
    let readable = d.epoll_readable()?;
    Ok(Obs {
        stock: format!("lo, 3 datagrams queued: sock:sk_data_ready {n}"),
        udprx: Side::differs(
            format!("sock:sk_data_ready {m}; epoll says readable: {readable}"),
            "a udprx socket is a file, not a struct sock: it wakes its own wait queue",
        ),
    })
}

/// C60: `InDatagrams` counts reads, not arrivals.
fn c60(cx: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let r = stock_socket(PORT)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, 3, 32, PORT)?;
    let a = settle(&s, "IpInDelivers", 3)?;
    let read = drain(&r);
    let b = Snap::take()?;
    let reads = cx.trace.count(&["sock_recv_length", "length = 32,"])?;
    ensure(
        s.delta(&a, "UdpInDatagrams") == 0 && a.delta(&b, "UdpInDatagrams") == 3 && reads >= 3,
        || {
            format!(
                "arrival {:+}, read {:+}, sock_recv_length {reads}",
                s.delta(&a, "UdpInDatagrams"),
                a.delta(&b, "UdpInDatagrams")
            )
        },
    )?;
    Ok(Obs {
        stock: format!(
            "lo, 3 datagrams: UdpInDatagrams {:+} on arrival, {:+} after {read} reads \
             (sock:sock_recv_length {reads})",
            s.delta(&a, "UdpInDatagrams"),
            a.delta(&b, "UdpInDatagrams")
        ),
        udprx: None,
    })
}

pub fn find(id: &str) -> Option<super::Check> {
    Some(match id {
        "C53" | "C54" => c54,
        "C56" => c56,
        "C58" => c58,
        "C59" => c59,
        "C60" => c60,
        _ => return None,
    })
}
