// SPDX-License-Identifier: GPL-2.0

//! A comparison of one scenario over one link: the sides next to the model, and the
//! differences that fail it ([`print`](super::print) prints it).

use super::{
    calibrate::Truesize,
    model::model,
    outcome::{Outcomes, STOCK_UDP},
    scenario::{Kind, Link, Scenario, Side, Step},
    side::run_side,
};
use anyhow::Result;
use std::collections::HashMap;
use udprx_abi::mib::{Group, UdpMib};
use udprx_rxqueue::Policy;

/// The rows of a comparison table: (name, value per column).
pub(super) fn rows(o: &Outcomes) -> Vec<(&'static str, i64)> {
    let mut r: Vec<(&'static str, i64)> =
        UdpMib::ALL.iter().map(|&c| (c.name(), o.mib[c])).collect();
    r.push(("delivered", o.delivered));
    r.push(("socket drops", o.drops));
    r.push(("final rmem", o.final_rmem));
    r.push(("freed at close", o.freed_at_close));
    r
}

/// Deliberate differences of udprx from stock in the netns's stock counters, the one place
/// they are listed: (scenario, row, why). None yet: every row must be equal.
pub(super) const DOCUMENTED: &[(&str, &str, &str)] = &[];

/// Rows shown but compared on no scenario, and why: what they measure is not the side's.
pub(super) const NOT_COMPARED: &[(&str, &str)] = &[(
    "sockstat UDP mem",
    "global, moved by the other links' sockets and in per-CPU batches",
)];

/// One stock counter of the receiving netns on each side (`None`: not applicable, shown as
/// `-` and compared as 0).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NetRow {
    pub(super) label: String,
    pub(super) values: [Option<i64>; 3],
    /// What differs from stock: nothing, a failure, or a documented or allowed difference.
    pub(super) note: String,
}

/// The rows of the netns counters that moved on some side, in first-seen order, and the
/// failures: a udprx side that differs from stock, unless [`DOCUMENTED`] for `scenario`
/// or [`NOT_COMPARED`].
pub(super) fn net_rows(
    scenario: &str,
    sides: [(Side, &[(String, i64)]); 3],
    documented: &[(&str, &str, &'static str)],
) -> (Vec<NetRow>, Vec<String>) {
    let mut labels: Vec<&str> = Vec::new();
    for (_, d) in &sides {
        for (l, _) in d.iter() {
            if !labels.contains(&l.as_str()) {
                labels.push(l);
            }
        }
    }
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for label in labels {
        let values = sides.map(|(side, d)| {
            let stock_udp = label.split(' ').next() == Some(STOCK_UDP);
            (side != Side::Stock || !stock_udp)
                .then(|| d.iter().find(|(l, _)| l == label).map_or(0, |(_, v)| *v))
        });
        if values.iter().all(|v| v.unwrap_or(0) == 0) {
            continue;
        }
        let stock = values[0].unwrap_or(0);
        if let Some((_, why)) = NOT_COMPARED.iter().find(|(row, _)| *row == label) {
            let differs = values.iter().any(|v| v.unwrap_or(0) != stock);
            rows.push(NetRow {
                label: label.to_string(),
                values,
                note: if differs {
                    format!("not compared: {why}")
                } else {
                    String::new()
                },
            });
            continue;
        }
        let mut notes = Vec::new();
        for (i, (side, _)) in sides.iter().enumerate().skip(1) {
            let v = values[i].unwrap_or(0);
            if v == stock {
                continue;
            }
            let why = documented
                .iter()
                .find(|(sc, row, _)| *sc == scenario && *row == label);
            match why {
                Some((_, _, why)) => {
                    notes.push(format!("{} differs (documented: {why})", side.name()))
                }
                None => {
                    notes.push(format!("{} differs", side.name()));
                    failures.push(match values[0] {
                        Some(_) => format!("{label}: {} {v} != stock {stock}", side.name()),
                        None => format!("{label}: {} {v}, must not move", side.name()),
                    });
                }
            }
        }
        rows.push(NetRow {
            label: label.to_string(),
            values,
            note: notes.join("; "),
        });
    }
    (rows, failures)
}

/// What the three sides of a comparison measured.
pub(super) struct Sides {
    pub(super) stock: Outcomes,
    pub(super) modern: Outcomes,
    pub(super) classic: Outcomes,
}

impl Sides {
    pub(super) fn all(&self) -> [(Side, &Outcomes); 3] {
        [
            (Side::Stock, &self.stock),
            (Side::Modern, &self.modern),
            (Side::Classic, &self.classic),
        ]
    }
}

/// What the accounting model predicts under each policy.
pub(super) struct Models {
    pub(super) modern: Outcomes,
    pub(super) classic: Outcomes,
}

impl Models {
    pub(super) fn all(&self) -> [(&'static str, &Outcomes); 2] {
        [
            ("model:modern", &self.modern),
            ("model:classic", &self.classic),
        ]
    }
}

pub(super) struct Compared {
    pub(super) name: &'static str,
    pub(super) link: Link,
    pub(super) about: String,
    pub(super) rcvbuf: u32,
    pub(super) sides: Sides,
    pub(super) models: Models,
    /// The stock counters of the receiving netns that moved on some side.
    pub(super) net: Vec<NetRow>,
    pub(super) failures: Vec<String>,
    /// Why classic differs from stock: the scenario's 3.13 rule, plus the missing
    /// `skb_condense()` where a datagram shape shrinks under it on this link.
    pub(super) classic_reason: String,
    /// The charged shapes of the scenario: (payload bytes, kind, truesize).
    pub(super) truesizes: Vec<(usize, Kind, Truesize)>,
}

pub(super) const NO_CONDENSE: &str = "3.13 has no skb_condense(): 7.3 shrinks a reassembled datagram once the socket is half full, so it fits more";

pub(super) fn compare_one(
    sc: &Scenario,
    link: Link,
    truesize: &HashMap<(usize, Kind), Truesize>,
) -> Result<Compared> {
    let sides = Sides {
        stock: run_side(sc, Side::Stock, link)?,
        modern: run_side(sc, Side::Modern, link)?,
        classic: run_side(sc, Side::Classic, link)?,
    };
    let rcvbuf = sides.modern.rcvbuf;
    let models = Models {
        modern: model(sc, Policy::Modern, rcvbuf, truesize, sides.modern.pool),
        classic: model(sc, Policy::Classic, rcvbuf, truesize, sides.classic.pool),
    };
    let mut failures = Vec::new();
    let stock = rows(&sides.stock);
    let modern = rows(&sides.modern);
    let classic = rows(&sides.classic);
    let model_modern = rows(&models.modern);
    let model_classic = rows(&models.classic);
    for i in 0..stock.len() {
        let name = stock[i].0;
        // The stock socket's close is not observable after the fact.
        if name != "freed at close" && modern[i].1 != stock[i].1 {
            failures.push(format!(
                "{name}: modern {} != stock {}",
                modern[i].1, stock[i].1
            ));
        }
        if modern[i].1 != model_modern[i].1 {
            failures.push(format!(
                "{name}: modern {} != model {}",
                modern[i].1, model_modern[i].1
            ));
        }
        if classic[i].1 != model_classic[i].1 {
            failures.push(format!(
                "{name}: classic {} != model {}",
                classic[i].1, model_classic[i].1
            ));
        }
    }
    let (net, differ) = net_rows(
        sc.name,
        sides.all().map(|(s, o)| (s, o.netns.as_slice())),
        DOCUMENTED,
    );
    failures.extend(differ);
    if sides.stock.rcvbuf != rcvbuf || sides.classic.rcvbuf != rcvbuf {
        failures.push(format!(
            "sk_rcvbuf differs: stock {} modern {rcvbuf} classic {}",
            sides.stock.rcvbuf, sides.classic.rcvbuf
        ));
    }
    let mut truesizes: Vec<(usize, Kind, Truesize)> = sc
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Send(size, kind) => truesize.get(&(*size, *kind)).map(|t| (*size, *kind, *t)),
            Step::SendGso(_, size) => truesize
                .get(&(*size, Kind::Segment))
                .map(|t| (*size, Kind::Segment, *t)),
            _ => None,
        })
        .collect();
    truesizes.sort_by_key(|(s, k, _)| (*s, *k));
    truesizes.dedup_by_key(|(s, k, _)| (*s, *k));
    let mut classic_reason = sc.classic_reason.to_string();
    if truesizes.iter().any(|(_, _, t)| t.condensed != t.plain) {
        if !classic_reason.is_empty() {
            classic_reason.push_str("; ");
        }
        classic_reason.push_str(NO_CONDENSE);
    }
    Ok(Compared {
        name: sc.name,
        link,
        about: sc.about.clone(),
        rcvbuf,
        sides,
        models,
        net,
        failures,
        classic_reason,
        truesizes,
    })
}
