//! The table the bench prints: each ratio against its goal, then each metric's median.

use super::{
    args::Clock,
    stats::{median, Ratio},
};
use serde_json::Value;

/// The goals of the bench, as (ratio name, bound, whether the ratio must stay below it).
const GOALS: [(&str, f64, bool); 7] = [
    ("pass: udprx / C twin", 1.05, true),
    (
        "per delivered datagram (enqueue + read): modern / stock",
        1.10,
        true,
    ),
    (
        "per delivered datagram (enqueue + read): classic / stock",
        1.10,
        true,
    ),
    (
        "delivered per second at saturation: modern / stock",
        0.9,
        false,
    ),
    (
        "delivered per second at saturation: classic / stock",
        0.9,
        false,
    ),
    ("enqueue: modern / stock", 1.10, true),
    ("enqueue: classic / stock", 1.10, true),
];

/// Whether a metric is a rate (datagrams delivered per second), not a time per packet.
fn per_second(metric: &str) -> bool {
    [
        "saturation/",
        "two-cpus-one-socket/",
        "two-cpus-two-sockets/",
    ]
    .iter()
    .any(|p| metric.starts_with(p))
}

pub(super) fn table(report: &Value, rs: &[Ratio]) -> String {
    let mut s = String::new();
    s += &format!(
        "# udprx bench: kernel {}, {} rounds of {} packets ({} queued and read), {} bytes, {:.0} s\n",
        report["kernel"].as_str().unwrap_or("?"),
        report["rounds"],
        report["count"],
        report["fill"],
        report["pkt_size"],
        report["seconds"].as_f64().unwrap_or(0.0)
    );
    let clock = Clock::of(report);
    s += clock.caveat();
    s += &super::calls::table(&report["calls"]);
    s += &format!(
        "{:<60} {:>8} {:>8} {:>8}  {}\n",
        "ratio", "median", "min", "max", "goal"
    );
    for r in rs {
        let j = r.json();
        let goal = GOALS
            .iter()
            .find(|g| g.0 == r.name)
            .map(|&(_, bound, below)| {
                let m = median(&r.per_round);
                let met = if below { m <= bound } else { m >= bound };
                format!(
                    "{} {bound} {}",
                    if below { "<=" } else { ">=" },
                    if met { "met" } else { "MISSED" }
                )
            })
            .unwrap_or_default();
        s += &format!(
            "{:<60} {:>8.3} {:>8.3} {:>8.3}  {}\n",
            r.name,
            j["median"].as_f64().unwrap_or(f64::NAN),
            j["min"].as_f64().unwrap_or(f64::NAN),
            j["max"].as_f64().unwrap_or(f64::NAN),
            goal
        );
    }
    s += &format!("{:<60} {:>12}\n", "metric (median)", "value");
    if let Some(v) = report["values"].as_object() {
        for (k, x) in v {
            let unit = match (per_second(k), clock) {
                (true, _) => "datagrams/s",
                (false, Clock::Icount) => "ns/packet (= instructions)",
                (false, Clock::Wall) => "ns/packet",
            };
            s += &format!(
                "{:<60} {:>12.0} {unit}\n",
                k,
                x["median"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    s
}
