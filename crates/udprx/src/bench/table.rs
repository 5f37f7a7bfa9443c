//! The table the bench prints: each ratio against its goal, then each metric's median,
//! each with the clock and the kernel that measured it.

use super::{
    args::Clock,
    stats::{median, Ratio},
};
use serde_json::Value;

/// The goals of the bench: (ratio name, the clock it is judged on, bound, whether the ratio
/// must stay below it). On the instruction clock udprx must cost what C costs (the hook) and
/// less than the stock path (which walks more: the socket lookup, the per-node producer
/// queue); on the host clock, where atomics, masked interrupts and contended lines cost
/// what TCG makes them cost, at least as much must be delivered.
const GOALS: [(&str, &str, f64, bool); 11] = [
    ("pass: udprx / C twin", "icount", 1.00, true),
    (
        "per delivered datagram (enqueue + read): modern / stock",
        "icount",
        0.90,
        true,
    ),
    (
        "per delivered datagram (enqueue + read): classic / stock",
        "icount",
        0.90,
        true,
    ),
    (
        "per delivered datagram (enqueue + read): modern / stock",
        "wall",
        1.00,
        true,
    ),
    (
        "per delivered datagram (enqueue + read): classic / stock",
        "wall",
        1.00,
        true,
    ),
    (
        "delivered per second at saturation: modern / stock",
        "wall",
        0.9,
        false,
    ),
    (
        "delivered per second at saturation: classic / stock",
        "wall",
        0.9,
        false,
    ),
    (
        "two CPUs, one socket, delivered per second: modern / stock",
        "wall",
        1.00,
        false,
    ),
    (
        "two CPUs, one socket, delivered per second: classic / stock",
        "wall",
        1.00,
        false,
    ),
    (
        "two CPUs, two sockets / one socket: modern",
        "wall",
        1.9,
        false,
    ),
    (
        "two CPUs, two sockets / one socket: classic",
        "wall",
        1.9,
        false,
    ),
];

/// The kernel a report ran on, as its figures name it: the release and, when recorded, the
/// flavour (`bench`, or `debug`: the test kernel's debug set).
pub(super) fn kernel_name(report: &Value) -> String {
    let release = report["kernel"].as_str().unwrap_or("?");
    match report["kernel_flavour"].as_str() {
        Some(f) => format!("{release} {f}"),
        None => release.into(),
    }
}

/// The clock and kernel that measured `figure` (a value or a ratio of `report`); a report
/// saved before figures recorded them has the run's.
fn measured_by(report: &Value, figure: &Value) -> (String, String) {
    (
        figure["clock"]
            .as_str()
            .map_or_else(|| Clock::of(report).name(), str::to_string),
        figure["kernel"]
            .as_str()
            .map_or_else(|| kernel_name(report), str::to_string),
    )
}

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
        "{:<60} {:>8} {:>8} {:>8}  {:<6} {:<12} {}\n",
        "ratio", "median", "min", "max", "clock", "kernel", "goal"
    );
    let saved = report["ratios"].as_array();
    for r in rs {
        let j = r.json();
        // Ratios are computed again from the values: what measured one is the saved
        // ratio's, when it was saved.
        let (clock, kernel) = measured_by(
            report,
            saved
                .and_then(|v| v.iter().find(|x| x["ratio"] == r.name.as_str()))
                .unwrap_or(&Value::Null),
        );
        let goal = GOALS
            .iter()
            .find(|g| g.0 == r.name && g.1 == clock)
            .map(|&(_, _, bound, below)| {
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
            "{:<60} {:>8.3} {:>8.3} {:>8.3}  {clock:<6} {kernel:<12} {goal}\n",
            r.name,
            j["median"].as_f64().unwrap_or(f64::NAN),
            j["min"].as_f64().unwrap_or(f64::NAN),
            j["max"].as_f64().unwrap_or(f64::NAN),
        );
    }
    s += &format!(
        "{:<60} {:>12}  {:<6} {:<12} {}\n",
        "metric (median)", "value", "clock", "kernel", "unit"
    );
    if let Some(v) = report["values"].as_object() {
        for (k, x) in v {
            let (clock, kernel) = measured_by(report, x);
            let unit = match (per_second(k), clock.as_str()) {
                (true, _) => "datagrams/s",
                (false, "icount") => "ns/packet (= instructions)",
                (false, _) => "ns/packet",
            };
            s += &format!(
                "{:<60} {:>12.0}  {clock:<6} {kernel:<12} {unit}\n",
                k,
                x["median"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(t: &str, start: &str) -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with(start))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn each_figure_says_what_measured_it() {
        // A report saved before figures recorded it: the run's clock and kernel.
        let old = json!({ "kernel": "7.3.4", "clock": "icount",
            "values": { "enqueue/stock": { "median": 2895.0, "per_round": [2895.0] } } });
        let r = Ratio {
            name: "enqueue: modern / stock".into(),
            per_round: vec![0.9],
        };
        let t = table(&old, std::slice::from_ref(&r));
        assert_eq!(
            rows(&t, "enqueue"),
            [
                "enqueue: modern / stock 0.900 0.900 0.900 icount 7.3.4",
                "enqueue/stock 2895 icount 7.3.4 ns/packet (= instructions)"
            ]
        );
        // A report that has them: each figure's own.
        let new = json!({ "kernel": "7.3.4", "kernel_flavour": "bench", "clock": "icount",
            "values": { "two-cpus-one-socket/stock": { "median": 5000.0, "per_round": [5000.0],
                "clock": "wall", "kernel": "7.3.4 bench" } },
            "ratios": [{ "ratio": "enqueue: modern / stock", "clock": "wall",
                "kernel": "7.3.4 debug" }] });
        let t = table(&new, &[r]);
        assert_eq!(
            rows(&t, "enqueue"),
            ["enqueue: modern / stock 0.900 0.900 0.900 wall 7.3.4 debug"]
        );
        assert_eq!(
            rows(&t, "two-cpus"),
            ["two-cpus-one-socket/stock 5000 wall 7.3.4 bench datagrams/s"]
        );
    }

    #[test]
    fn goals_are_judged_on_their_clock() {
        let per = |v: f64| Ratio {
            name: "per delivered datagram (enqueue + read): modern / stock".into(),
            per_round: vec![v],
        };
        let on = |clock: &str, v: f64| {
            let t = table(&json!({ "kernel": "7.3.4", "clock": clock }), &[per(v)]);
            rows(&t, "per delivered").join("")
        };
        assert!(
            on("icount", 0.95).ends_with("<= 0.9 MISSED"),
            "{}",
            on("icount", 0.95)
        );
        assert!(on("icount", 0.89).ends_with("<= 0.9 met"));
        assert!(
            on("wall", 0.95).ends_with("<= 1 met"),
            "{}",
            on("wall", 0.95)
        );
        assert!(on("wall", 1.01).ends_with("<= 1 MISSED"));
    }
}
