//! The ratios the bench reports, each measured within a round and summarised over the
//! rounds.

use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A ratio measured within each round (both values from the same round), summarised.
pub(super) struct Ratio {
    pub(super) name: String,
    pub(super) per_round: Vec<f64>,
}

impl Ratio {
    pub(super) fn json(&self) -> Value {
        let min = self.per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .per_round
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        json!({ "ratio": self.name, "median": median(&self.per_round), "min": min, "max": max,
                "per_round": self.per_round })
    }
}

/// Looks a metric up in one round.
type Lookup<'a> = &'a dyn Fn(&str) -> f64;

fn ratio(
    values: &BTreeMap<String, Vec<f64>>,
    name: &str,
    f: impl Fn(Lookup<'_>) -> f64,
) -> Option<Ratio> {
    let rounds = values.values().map(Vec::len).min()?;
    let per_round: Vec<f64> = (0..rounds)
        .map(|r| {
            f(&|k: &str| {
                values
                    .get(k)
                    .and_then(|v| v.get(r).copied())
                    .unwrap_or(f64::NAN)
            })
        })
        .collect();
    per_round.iter().all(|x| x.is_finite()).then(|| Ratio {
        name: name.into(),
        per_round,
    })
}

pub(super) fn ratios(values: &BTreeMap<String, Vec<f64>>) -> Vec<Ratio> {
    let mut out = Vec::new();
    let mut add = |name: &str, f: &dyn Fn(Lookup<'_>) -> f64| {
        if let Some(r) = ratio(values, name, f) {
            out.push(r);
        }
    };
    add("pass: udprx / C twin", &|v| {
        v("pass/udprx") / v("pass/twin")
    });
    add("pass: udprx / no module", &|v| {
        v("pass/udprx") / v("pass/none")
    });
    add("pass: C twin / no module", &|v| {
        v("pass/twin") / v("pass/none")
    });
    add("pass: empty nft chain / no module", &|v| {
        v("pass/nft") / v("pass/none")
    });
    for p in ["modern", "classic"] {
        add(&format!("enqueue: {p} / stock"), &|v| {
            v(&format!("enqueue/{p}")) / v("enqueue/stock")
        });
        add(&format!("read: {p} / stock"), &|v| {
            v(&format!("read/{p}")) / v("read/stock")
        });
        add(
            &format!("per delivered datagram (enqueue + read): {p} / stock"),
            &|v| {
                (v(&format!("enqueue/{p}")) + v(&format!("read/{p}")))
                    / (v("enqueue/stock") + v("read/stock"))
            },
        );
        add(
            &format!("delivered per second at saturation: {p} / stock"),
            &|v| v(&format!("saturation/{p}")) / v("saturation/stock"),
        );
        add(
            &format!("userspace sender over lo, per datagram: {p} / stock"),
            &|v| v(&format!("loopback/{p}")) / v("loopback/stock"),
        );
    }
    for p in ["modern", "classic"] {
        add(
            &format!("two CPUs, one socket, delivered per second: {p} / stock"),
            &|v| v(&format!("two-cpus-one-socket/{p}")) / v("two-cpus-one-socket/stock"),
        );
    }
    // Scaling: what a second socket, so no lock and queue shared by the two CPUs, buys.
    for p in ["stock", "modern", "classic"] {
        add(&format!("two CPUs, two sockets / one socket: {p}"), &|v| {
            v(&format!("two-cpus-two-sockets/{p}")) / v(&format!("two-cpus-one-socket/{p}"))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cpu_ratios() {
        let values: BTreeMap<String, Vec<f64>> = [
            ("two-cpus-one-socket/stock", 100.0),
            ("two-cpus-one-socket/modern", 110.0),
            ("two-cpus-one-socket/classic", 90.0),
            ("two-cpus-two-sockets/stock", 150.0),
            ("two-cpus-two-sockets/modern", 220.0),
            ("two-cpus-two-sockets/classic", 180.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v]))
        .collect();
        let got: Vec<(String, f64)> = ratios(&values)
            .into_iter()
            .map(|r| (r.name, r.per_round[0]))
            .collect();
        let want = [
            (
                "two CPUs, one socket, delivered per second: modern / stock",
                1.1,
            ),
            (
                "two CPUs, one socket, delivered per second: classic / stock",
                0.9,
            ),
            ("two CPUs, two sockets / one socket: stock", 1.5),
            ("two CPUs, two sockets / one socket: modern", 2.0),
            ("two CPUs, two sockets / one socket: classic", 2.0),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((n, v), (wn, wv)) in got.iter().zip(want) {
            assert_eq!(n, wn);
            assert!((v - wv).abs() < 1e-9, "{n}: {v}");
        }
    }
}
