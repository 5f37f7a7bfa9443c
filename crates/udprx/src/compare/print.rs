// SPDX-License-Identifier: GPL-2.0

//! A comparison as `udprx compare` prints it: a table per scenario and link, or JSON.

use super::{
    outcome::Outcomes,
    report::{rows, Compared},
    scenario::Kind,
};
use serde_json::{json, Value};

pub(super) fn print_table(c: &Compared) {
    println!(
        "== {} [{}]: {} (sk_rcvbuf {})",
        c.name,
        c.link.name(),
        c.about,
        c.rcvbuf
    );
    if !c.truesizes.is_empty() {
        let t: Vec<String> = c
            .truesizes
            .iter()
            .map(|(size, kind, t)| {
                let k = if *kind == Kind::Good {
                    String::new()
                } else {
                    format!(" {kind:?}")
                };
                if t.condensed == t.plain {
                    format!("{size} B{k} {}", t.plain)
                } else {
                    format!("{size} B{k} {} (condensed {})", t.plain, t.condensed)
                }
            })
            .collect();
        println!("truesize: {}", t.join(", "));
    }
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>13} {:>14}",
        "counter", "stock", "modern", "classic", "model:modern", "model:classic"
    );
    let cols: Vec<Vec<(&str, i64)>> = c
        .sides
        .all()
        .iter()
        .map(|(_, o)| rows(o))
        .chain(c.models.all().iter().map(|(_, o)| rows(o)))
        .collect();
    let mut classic_differs = false;
    for (i, (name, stock)) in cols[0].iter().enumerate() {
        let at = |col: usize| cols[col][i].1;
        if (0..cols.len()).all(|c| at(c) == 0) {
            continue;
        }
        let unobservable = *name == "freed at close";
        let diff = at(2) != *stock && !unobservable;
        classic_differs |= diff;
        println!(
            "{:<24} {:>8} {:>8} {:>8} {:>13} {:>14}{}",
            name,
            if unobservable {
                "-".to_string()
            } else {
                stock.to_string()
            },
            at(1),
            at(2),
            at(3),
            at(4),
            if diff { "  *" } else { "" }
        );
    }
    for r in &c.net {
        let v = r
            .values
            .map(|v| v.map_or("-".to_string(), |v| v.to_string()));
        let note = if r.note.is_empty() {
            String::new()
        } else {
            format!("  {}", r.note)
        };
        let line = format!(
            "{:<24} {:>8} {:>8} {:>8} {:>13} {:>14}{note}",
            r.label, v[0], v[1], v[2], "", ""
        );
        println!("{}", line.trim_end());
    }
    if classic_differs {
        let why = if c.classic_reason.is_empty() {
            "(no 3.13 rule recorded for this scenario)"
        } else {
            &c.classic_reason
        };
        println!("  * classic differs from stock: {why}");
    }
    if c.failures.is_empty() {
        println!("  ok: modern = stock on every counter, each policy = its model");
    } else {
        for f in &c.failures {
            println!("  FAIL {f}");
        }
    }
    println!();
}

pub(super) fn to_json(c: &Compared) -> Value {
    let col = |o: &Outcomes| -> Value {
        let mut m = serde_json::Map::new();
        for (n, v) in rows(o) {
            m.insert(n.into(), v.into());
        }
        m.insert("rcvbuf".into(), o.rcvbuf.into());
        m.insert(
            "rmem_series".into(),
            o.series.iter().map(|s| s.rmem).collect::<Vec<_>>().into(),
        );
        m.insert(
            "dropped_series".into(),
            o.series
                .iter()
                .map(|s| s.dropped)
                .collect::<Vec<_>>()
                .into(),
        );
        Value::Object(m)
    };
    let mut sides = serde_json::Map::new();
    for (s, o) in c.sides.all() {
        sides.insert(s.name().into(), col(o));
    }
    for (name, o) in c.models.all() {
        sides.insert(name.into(), col(o));
    }
    json!({
        "scenario": c.name,
        "link": c.link.name(),
        "about": c.about,
        "sk_rcvbuf": c.rcvbuf,
        "columns": sides,
        "classic_reason": c.classic_reason,
        "truesize": c.truesizes.iter().map(|(size, kind, t)| json!({
            "bytes": size, "kind": format!("{kind:?}"), "plain": t.plain, "condensed": t.condensed,
        })).collect::<Vec<_>>(),
        "counters": c.net.iter().map(|r| json!({
            "counter": r.label,
            "stock": r.values[0], "modern": r.values[1], "classic": r.values[2],
            "note": r.note,
        })).collect::<Vec<_>>(),
        "failures": c.failures,
        "ok": c.failures.is_empty(),
    })
}
