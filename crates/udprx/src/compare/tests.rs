// SPDX-License-Identifier: GPL-2.0

//! The comparison's pieces that run without udprx: the model, the rows, the deltas and
//! the crafted datagrams; and the links (as root).

use super::{
    calibrate::Truesize,
    model::model,
    outcome::{netns_deltas, Mib},
    report::net_rows,
    scenario::{scenarios, sends, Guard, Kind, Link, Scenario, Side, Step, PORT},
    sender::{craft, fresh_side, VETH_RX, VETH_TX},
};
use crate::{datagram::payload, kernel::counters};
use anyhow::{Context, Result};
use socket2::SockAddr;
use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    time::Duration,
};
use udprx_abi::mib::UdpMib;
use udprx_rxqueue::Policy;

fn ts() -> HashMap<(usize, Kind), Truesize> {
    let mut m = HashMap::new();
    for (k, t) in [
        ((1000, Kind::Good), 2304),
        ((200, Kind::BadCsum), 1280),
        ((48, Kind::ZeroCsum), 1280),
    ] {
        m.insert(
            k,
            Truesize {
                plain: t,
                condensed: t,
            },
        );
    }
    m
}

#[test]
fn model_guards() {
    let steps = vec![
        Step::Send(1000, Kind::Good),
        Step::Send(200, Kind::BadCsum),
        Step::Send(48, Kind::ZeroCsum),
    ];
    let mut sc = Scenario {
        name: "t",
        about: String::new(),
        rcvbuf: None,
        steps,
        classic_reason: "",
        guard: Guard::Firewall,
    };
    let m = model(&sc, Policy::Modern, 1 << 20, &ts(), None);
    assert_eq!(m.mib, Mib::default());
    assert_eq!((m.delivered, m.drops), (0, 0));
    // A filter keeping up to 100 bytes: the 1000 B datagram is filtered, the bad
    // checksum is found before the filter, the 48 B one is delivered.
    sc.guard = Guard::Filter(100);
    let m = model(&sc, Policy::Modern, 1 << 20, &ts(), None);
    assert_eq!(
        (
            m.delivered,
            m.drops,
            m.mib[UdpMib::InErrors],
            m.mib[UdpMib::InCsumErrors],
            m.mib[UdpMib::InDatagrams]
        ),
        (1, 2, 2, 1, 1)
    );
}

#[test]
fn model_overflow_and_malformed() {
    let sc = Scenario {
        name: "t",
        about: String::new(),
        rcvbuf: None,
        steps: sends(20, 1000),
        classic_reason: "",
        guard: Guard::None,
    };
    let m = model(&sc, Policy::Modern, 8192, &ts(), None);
    assert_eq!(
        (
            m.delivered,
            m.mib[UdpMib::RcvbufErrors],
            m.mib[UdpMib::InErrors],
            m.drops
        ),
        (3, 17, 17, 17)
    );
    let c = model(&sc, Policy::Classic, 8192, &ts(), None);
    assert_eq!(
        (
            c.delivered,
            c.mib[UdpMib::RcvbufErrors],
            c.mib[UdpMib::InErrors],
            c.drops
        ),
        (4, 0, 16, 16)
    );
    let sc = scenarios(None)
        .unwrap()
        .into_iter()
        .find(|s| s.name == "malformed")
        .unwrap();
    let m = model(&sc, Policy::Modern, 212_992, &ts(), None);
    assert_eq!(m.mib[UdpMib::InCsumErrors], 2);
    assert_eq!(m.mib[UdpMib::InErrors], 3);
    assert_eq!(m.mib[UdpMib::InDatagrams], 1);
    assert_eq!((m.delivered, m.drops, m.final_rmem), (1, 1, 0));
}

/// Both links carry datagrams from the sender to a stock socket in the receiving netns,
/// a fragmented one too (MTU 1500 on veth). Needs CAP_NET_ADMIN (unshare, veth).
#[test]
#[ignore = "needs CAP_NET_ADMIN; make check runs it (as root)"]
fn links_carry_datagrams() {
    for link in [Link::Lo, Link::Veth] {
        // unshare() and setns() move the calling thread only: a thread of its own.
        std::thread::spawn(move || -> Result<()> {
            let tx = fresh_side(link)?;
            let rx = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
            rx.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut buf = vec![0u8; 65536];
            for size in [1000, 3000] {
                tx.send(size, Kind::Good, PORT, 17)?;
                let (n, from) = rx
                    .recv_from(&mut buf)
                    .with_context(|| format!("{link:?}: {size} B"))?;
                assert_eq!(&buf[..n], &payload(0, size)[..], "{link:?}");
                assert_eq!(from.ip(), std::net::IpAddr::V4(tx.src));
            }
            // A crafted datagram's checksum covers the link's addresses: it is accepted.
            // (a wrong one would be dropped by udp_recvmsg() and the recv time out).
            let d = craft(100, Kind::Good, PORT, 17, tx.src, tx.dst);
            tx.raw17
                .send_to(&d, &SockAddr::from(SocketAddrV4::new(tx.dst, 0)))?;
            let n = rx
                .recv(&mut buf)
                .with_context(|| format!("{link:?}: crafted"))?;
            assert_eq!(&buf[..n], &d[8..]);
            Ok(())
        })
        .join()
        .unwrap()
        .unwrap();
    }
}

fn rows(d: &[(&str, i64)]) -> Vec<(String, i64)> {
    d.iter().map(|(l, v)| (l.to_string(), *v)).collect()
}

#[test]
fn net_rows_compare_with_stock() {
    let stock = rows(&[
        ("Ip InReceives", 3),
        ("Ip InDelivers", 3),
        ("Ip InDiscards", 0),
    ]);
    let modern = rows(&[
        ("Ip InReceives", 3),
        ("Ip InDelivers", 0),
        ("Ip InDiscards", 0),
        ("StockUdp InDatagrams", 0),
        ("sockstat UDP mem", 2),
    ]);
    let classic = rows(&[
        ("Ip InReceives", 3),
        ("Ip InDelivers", 3),
        ("StockUdp InDatagrams", 1),
        ("sockstat UDP mem", 1),
    ]);
    let sides = [
        (Side::Stock, stock.as_slice()),
        (Side::Modern, modern.as_slice()),
        (Side::Classic, classic.as_slice()),
    ];
    let (r, f) = net_rows("t", sides, &[]);
    // Moved nowhere: Ip InDiscards is no row.
    let labels: Vec<&str> = r.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Ip InReceives",
            "Ip InDelivers",
            "StockUdp InDatagrams",
            "sockstat UDP mem"
        ]
    );
    assert_eq!(r[0].note, "");
    assert_eq!(r[1].values, [Some(3), Some(0), Some(3)]);
    assert_eq!(r[1].note, "modern differs");
    // The stock side has no StockUdp rows; a udprx side's must not move.
    assert_eq!(r[2].values, [None, Some(0), Some(1)]);
    // Global protocol memory is shown, not compared.
    assert!(r[3].note.starts_with("not compared: global, "));
    assert_eq!(
        f,
        [
            "Ip InDelivers: modern 0 != stock 3",
            "StockUdp InDatagrams: classic 1, must not move",
        ]
    );
    // A documented difference is shown as such and fails nothing, in its scenario only.
    let doc = [("t", "Ip InDelivers", "because")];
    let (r, f) = net_rows("t", sides, &doc);
    assert_eq!(r[1].note, "modern differs (documented: because)");
    assert_eq!(f.len(), 1);
    assert_eq!(net_rows("u", sides, &doc).1.len(), 2);
}

#[test]
fn netns_deltas_map_udp() {
    let g = |t: &str, s: &str| {
        let mut g = counters::parse(t).unwrap();
        g.extend(counters::parse_sockstat(s).unwrap());
        g
    };
    let before = g(
        "Ip: InDelivers\nIp: 10\nUdp: InDatagrams OutDatagrams\nUdp: 0 5\n",
        "UDP: inuse 2 mem 0\n",
    );
    let open = g("", "UDP: inuse 3 mem 1\n");
    let after = g(
        "Ip: InDelivers\nIp: 14\nUdp: InDatagrams OutDatagrams\nUdp: 4 9\n",
        "UDP: inuse 2 mem 0\n",
    );
    let d = |side| netns_deltas(side, &before, &open, &after);
    let stock = rows(&[
        ("Ip InDelivers", 4),
        ("Udp OutDatagrams", 4),
        ("sockstat UDP inuse", 0),
        ("sockstat UDP inuse open", 1),
        ("sockstat UDP mem", 0),
    ]);
    assert_eq!(d(Side::Stock), stock);
    // On a udprx side the stock line's receive counters are rows of their own.
    let mut modern = stock.clone();
    modern.insert(1, ("StockUdp InDatagrams".into(), 4));
    assert_eq!(d(Side::Modern), modern);
}

#[test]
fn crafted_lengths_and_checksums() {
    let lo = Ipv4Addr::LOCALHOST;
    let d = craft(10, Kind::LongUlen, 7000, 17, lo, lo);
    assert_eq!(u16::from_be_bytes([d[4], d[5]]), 118);
    assert_eq!(&craft(10, Kind::ZeroCsum, 7000, 17, lo, lo)[6..8], &[0, 0]);
    assert_ne!(
        craft(10, Kind::BadCsum, 7000, 17, lo, lo)[6..8],
        craft(10, Kind::Good, 7000, 17, lo, lo)[6..8]
    );
    // The pseudo-header is part of the sum: the same datagram between other addresses.
    assert_ne!(
        craft(10, Kind::Good, 7000, 17, lo, lo)[6..8],
        craft(10, Kind::Good, 7000, 17, VETH_TX.1, VETH_RX.1)[6..8]
    );
}
