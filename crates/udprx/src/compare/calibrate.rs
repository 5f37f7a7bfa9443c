// SPDX-License-Identifier: GPL-2.0

//! What each datagram shape is charged on a link, measured on the running kernel.

use super::{
    outcome::{arrivals, await_arrival, counters},
    rx::Rx,
    scenario::{Guard, Kind, Link, Side, CHECKSUM_BREAK, PORT},
    sender::fresh_side,
};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

/// What a datagram shape is charged: its truesize on arrival, and after `skb_condense()`
/// (which 7.3 calls when the socket is more than half full; it shrinks a reassembled
/// datagram whose fragments fit in the head's tailroom).
#[derive(Clone, Copy, Debug)]
pub(super) struct Truesize {
    pub(super) plain: u32,
    pub(super) condensed: u32,
}

/// Measures each datagram shape's [`Truesize`] on `modern` udprx sockets in a side of its
/// own: `plain` as the charge of one datagram on an empty socket; `condensed` as the charge
/// of a datagram arriving at a socket of sk_rcvbuf 8 x plain that holds 5 (more than half,
/// and room for one more).
pub(super) fn calibrate(
    link: Link,
    shapes: &[(usize, Kind)],
) -> Result<HashMap<(usize, Kind), Truesize>> {
    let tx = fresh_side(link)?;
    let mut seen = arrivals(&counters()?);
    let mut m = HashMap::new();
    let mut buf = vec![0u8; 65536];
    for &(size, kind) in shapes {
        if matches!(kind, Kind::LongUlen) || (kind == Kind::BadCsum && size + 8 <= CHECKSUM_BREAK) {
            continue; // dropped before any socket: never charged
        }
        let what = || format!("calibration [{}]: {size} B", link.name());
        if kind == Kind::Segment {
            // Two segments in one send, split before the socket: each is charged the same.
            let mut rx = Rx::open(Side::Modern, None, Guard::None)?;
            tx.send_gso(2, size, PORT)?;
            await_arrival(&mut seen, what)?;
            let two = rx.mem()?.rmem;
            while rx.read(&mut buf)? {}
            if two % 2 != 0 {
                bail!(
                    "{}: two segments charged {two}, not twice one truesize",
                    what()
                );
            }
            m.insert(
                (size, kind),
                Truesize {
                    plain: two / 2,
                    condensed: two / 2,
                },
            );
            continue;
        }
        let plain = {
            let mut rx = Rx::open(Side::Modern, None, Guard::None)?;
            tx.send(size, kind, PORT, 17)?;
            await_arrival(&mut seen, what)?;
            let p = rx.mem()?.rmem;
            while rx.read(&mut buf)? {}
            p
        };
        let rcvbuf = i32::try_from(4 * u64::from(plain)).context("truesize too big")?;
        let rx = Rx::open(Side::Modern, Some((rcvbuf, false)), Guard::None)?;
        for _ in 0..5 {
            tx.send(size, kind, PORT, 17)?;
            await_arrival(&mut seen, what)?;
        }
        let before = rx.mem()?;
        tx.send(size, kind, PORT, 17)?;
        await_arrival(&mut seen, what)?;
        let after = rx.mem()?;
        if before.rmem != 5 * plain || after.drops != before.drops {
            bail!("{}: expected 5 x {plain} charged and room for one more, found rmem {} then {} (drops {} then {})",
                what(), before.rmem, after.rmem, before.drops, after.drops);
        }
        m.insert(
            (size, kind),
            Truesize {
                plain,
                condensed: after.rmem - before.rmem,
            },
        );
    }
    Ok(m)
}
