//! The IP layer's steps: `ip_rcv`, routing to the local host, defragmentation, `LOCAL_IN`
//! and the hand-over to a protocol handler.

use super::{Cx, Obs, Side, PORT};
use crate::article::env::{
    drain, drain_udprx, ensure, settle, stock_socket, udprx_socket, Craft, Net, Snap,
};
use anyhow::{Context, Result};
use std::process::Command;
use udprx_abi::POLICY_MODERN;

/// C01: every datagram passes `ip_rcv()` (and `net:netif_receive_skb` before it).
fn c01(cx: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let _r = stock_socket(PORT)?;
    let tx = net.udp()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send(&tx, 5, 32, PORT)?;
    let a = settle(&s, "IpInReceives", 5)?;
    let rx = cx.trace.count(&["netif_receive_skb", "dev=lo "])?;
    ensure(s.delta(&a, "IpInReceives") == 5 && rx >= 5, || {
        format!(
            "InReceives {:+}, netif_receive_skb {rx}",
            s.delta(&a, "IpInReceives")
        )
    })?;
    Ok(Obs {
        stock: format!(
            "lo, 5 datagrams to a bound socket: net:netif_receive_skb 5 times, {}",
            s.show(&a, &["IpInReceives"])
        ),
        udprx: None,
    })
}

/// C07: the route says broadcast; `ip_rcv_finish` counts it.
fn c07(_: &mut Cx) -> Result<Obs> {
    let net = Net::veth()?;
    let tx = net.udp()?;
    tx.set_broadcast(true)?;
    let s = Snap::take()?;
    tx.send_to(&[0u8; 32], ("192.0.2.255", PORT))?;
    let a = settle(&s, "IpExtInBcastPkts", 1)?;
    ensure(s.delta(&a, "IpExtInBcastPkts") == 1, || {
        s.show(&a, &["IpExtInBcastPkts"])
    })?;
    Ok(Obs {
        stock: format!(
            "veth, one datagram to 192.0.2.255: {}",
            s.show(&a, &["IpExtInBcastPkts", "IpExtInBcastOctets"])
        ),
        udprx: None,
    })
}

/// C09: a datagram for the local host is delivered (`Ip: InDelivers`), with or without a
/// socket (without one, each also brings back an ICMP port unreachable, delivered too).
fn c09(_: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 5, 32, PORT)?;
    let a = settle(&s, "IpInDelivers", 10)?;
    ensure(s.delta(&a, "IpInDelivers") == 10, || {
        s.show(&a, &["IpInDelivers"])
    })?;
    let stock = s.show(&a, &["IpInDelivers", "UdpNoPorts", "IcmpInDestUnreachs"]);
    let _d = udprx_socket(PORT, POLICY_MODERN)?;
    let s = Snap::take()?;
    net.send(&tx, 5, 32, PORT)?;
    let b = settle(&s, "IpInDelivers", 5)?;
    let seen = s.show(&b, &["IpInDelivers", "UdpRxHookStolen"]);
    Ok(Obs {
        stock: format!(
            "lo, 5 datagrams to a port with no socket (and the 5 ICMP errors they bring back): \
             {stock}"
        ),
        udprx: if s.delta(&b, "IpInDelivers") == 5 {
            Side::equal(format!("5 datagrams to a udprx port: {seen}"))
        } else {
            Side::differs(seen, "the hook did not count its deliveries")
        },
    })
}

/// C10: `ip_rcv()`'s counters per datagram.
fn c10(_: &mut Cx) -> Result<Obs> {
    let net = Net::lo()?;
    let _r = stock_socket(PORT)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 5, 100, PORT)?;
    let a = settle(&s, "IpInReceives", 5)?;
    let names = ["IpInReceives", "IpExtInOctets", "IpExtInNoECTPkts"];
    ensure(
        s.delta(&a, "IpExtInOctets") == 5 * 128 && s.delta(&a, "IpExtInNoECTPkts") == 5,
        || s.show(&a, &names),
    )?;
    Ok(Obs {
        stock: format!(
            "lo, 5 datagrams of 100 bytes to a bound socket: {}",
            s.show(&a, &names)
        ),
        udprx: None,
    })
}

/// C11: fragments are reassembled before `LOCAL_IN`.
fn c11(_: &mut Cx) -> Result<Obs> {
    let net = Net::veth()?;
    let rx = stock_socket(PORT)?;
    let tx = net.udp()?;
    let s = Snap::take()?;
    net.send(&tx, 1, 3000, PORT)?;
    let a = settle(&s, "IpReasmOKs", 1)?;
    let mut buf = vec![0u8; 4000];
    let got = rx.recv(&mut buf).unwrap_or(0);
    let names = ["IpReasmReqds", "IpReasmOKs"];
    ensure(
        s.delta(&a, "IpReasmReqds") == 3 && s.delta(&a, "IpReasmOKs") == 1 && got == 3000,
        || format!("{}, read {got}", s.show(&a, &names)),
    )?;
    Ok(Obs {
        stock: format!(
            "veth (MTU 1500), one 3000-byte datagram: {}, one read of {got} bytes",
            s.show(&a, &names)
        ),
        udprx: None,
    })
}

/// Runs `nft` with `script` (in the calling thread's netns).
fn nft(script: &str) -> Result<String> {
    let out = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .context("run nft")?;
    anyhow::ensure!(out.status.success(), "nft failed: {script}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The packets an `nft` rule counter of table `art` counted.
fn nft_packets() -> Result<u64> {
    let out = Command::new("nft")
        .args(["list", "table", "inet", "art"])
        .output()
        .context("run nft")?;
    let t = String::from_utf8_lossy(&out.stdout);
    let p = t
        .split("packets ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    p.context("no counter in table inet art")
}

const TABLE: &str = "table inet art {\n chain input {\n  type filter hook input priority filter\n";

/// C12: a `LOCAL_IN` drop rule stops a datagram before any UDP counter.
fn c12(cx: &mut Cx) -> Result<Obs> {
    let run = |udprx: bool| -> Result<(Snap, Snap, usize)> {
        let net = Net::lo()?;
        nft(&format!("{TABLE}  udp dport {PORT} drop\n }}\n}}\n"))?;
        let _d = if udprx {
            Some(udprx_socket(PORT, POLICY_MODERN)?)
        } else {
            None
        };
        let _r = if udprx {
            None
        } else {
            Some(stock_socket(PORT)?)
        };
        let tx = net.udp()?;
        cx.trace.clear()?;
        let s = Snap::take()?;
        net.send(&tx, 3, 32, PORT)?;
        let a = settle(&s, "IpInReceives", 3)?;
        Ok((s, a, cx.trace.count(&["kfree_skb", "NETFILTER_DROP"])?))
    };
    let (s, a, drops) = run(false)?;
    let names = ["IpInDelivers", "UdpInDatagrams", "UdpNoPorts"];
    ensure(drops >= 3 && s.delta(&a, "IpInDelivers") == 0, || {
        format!("{} NETFILTER_DROP {drops}", s.show(&a, &names))
    })?;
    let (t, b, udrops) = run(true)?;
    let seen = format!(
        "{}, skb:kfree_skb NETFILTER_DROP {udrops}",
        t.show(&b, &["UdpRxHookSeen", "UdpRxInDatagrams"])
    );
    Ok(Obs {
        stock: format!(
            "lo, an nft input rule drops 3 datagrams: skb:kfree_skb NETFILTER_DROP {drops}, {}",
            s.show(&a, &names)
        ),
        udprx: if udrops >= 3 && t.delta(&b, "UdpRxHookSeen") == 0 {
            Side::equal(seen)
        } else {
            Side::differs(seen, "a datagram reached udprx's hook past the drop rule")
        },
    })
}

/// C13: a `LOCAL_IN` rule sees each datagram once, before the socket does.
fn c13(_: &mut Cx) -> Result<Obs> {
    let run = |udprx: bool| -> Result<(u64, usize)> {
        let net = Net::lo()?;
        nft(&format!("{TABLE}  udp dport {PORT} counter\n }}\n}}\n"))?;
        let tx = net.udp()?;
        let s = Snap::take()?;
        if udprx {
            let mut d = udprx_socket(PORT, POLICY_MODERN)?;
            net.send(&tx, 3, 32, PORT)?;
            settle(&s, "UdpRxHookStolen", 3)?;
            Ok((nft_packets()?, drain_udprx(&mut d)))
        } else {
            let r = stock_socket(PORT)?;
            net.send(&tx, 3, 32, PORT)?;
            settle(&s, "IpInDelivers", 3)?;
            Ok((nft_packets()?, drain(&r)))
        }
    };
    let (p, n) = run(false)?;
    ensure(p == 3 && n == 3, || format!("counter {p}, read {n}"))?;
    let (q, m) = run(true)?;
    let seen = format!("rule counter {q}, udprx socket read {m}");
    Ok(Obs {
        stock: format!("lo, 3 datagrams, an nft input counter rule: counter {p}, socket read {n}"),
        udprx: if q == p && m == n {
            Side::equal(seen)
        } else {
            Side::differs(seen, "the rule or the socket saw another count")
        },
    })
}

/// C14, C39: a protocol with no handler (136, once UDP-Lite) ends at
/// `ip_protocol_deliver_rcu()`.
fn c14(cx: &mut Cx) -> Result<Obs> {
    // From another netns: a raw socket of protocol 136 in the receiving one would take
    // the packet itself.
    let net = Net::veth()?;
    cx.trace.clear()?;
    let s = Snap::take()?;
    net.send_crafted(1, 32, PORT, Craft::good(136))?;
    let a = settle(&s, "IpInUnknownProtos", 1)?;
    let noproto = cx.trace.count(&["kfree_skb", "IP_NOPROTO"])?;
    let names = ["IpInUnknownProtos", "IpInDelivers", "IcmpMsgOutType3"];
    ensure(
        s.delta(&a, "IpInUnknownProtos") == 1 && noproto >= 1,
        || format!("{} IP_NOPROTO {noproto}", s.show(&a, &names)),
    )?;
    let lite = std::net::UdpSocket::bind("0.0.0.0:0").map(drop);
    // SAFETY: A plain socket() call; the descriptor, if any, is closed at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 136) };
    let err = std::io::Error::last_os_error();
    if fd >= 0 {
        // SAFETY: Our own new descriptor.
        unsafe { libc::close(fd) };
    }
    ensure(
        fd < 0 && err.raw_os_error() == Some(libc::EPROTONOSUPPORT),
        || format!("socket(AF_INET, SOCK_DGRAM, 136): {err}"),
    )?;
    drop(lite);
    Ok(Obs {
        stock: format!(
            "veth, one packet of IP protocol 136 (UDP-Lite): {}, skb:kfree_skb IP_NOPROTO \
             {noproto}; socket(AF_INET, SOCK_DGRAM, 136): {}; /proc/net/udplite {}",
            s.show(&a, &names),
            err,
            if std::path::Path::new("/proc/net/udplite").exists() {
                "exists"
            } else {
                "absent"
            }
        ),
        udprx: None,
    })
}

pub fn find(id: &str) -> Option<super::Check> {
    Some(match id {
        "C01" => c01,
        "C07" => c07,
        "C09" => c09,
        "C10" => c10,
        "C11" => c11,
        "C12" => c12,
        "C13" => c13,
        "C14" | "C39" => c14,
        _ => return None,
    })
}
