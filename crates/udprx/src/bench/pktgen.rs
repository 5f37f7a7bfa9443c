//! The kernel's packet generator, in `xmit_mode netif_receive`, through
//! `/proc/net/pktgen`: one run, and what each of its threads reported.

use super::host::{DEV, LOCAL, PEER};
use anyhow::{anyhow, Context, Result};
use std::fs;

/// What one pktgen device reported for a run.
#[derive(Debug, Clone, Copy)]
pub(super) struct PgResult {
    /// Packets handed to the stack.
    pub(super) sent: u64,
    /// Microseconds pktgen was busy (elapsed minus idle).
    pub(super) busy_us: u64,
    /// When the run started and stopped on its thread, in microseconds of the guest's
    /// `CLOCK_MONOTONIC` (`ktime_get()`), the same clock on every CPU.
    pub(super) started_us: u64,
    pub(super) stopped_us: u64,
}

impl PgResult {
    /// pktgen's busy time per packet: one packet's whole receive path.
    pub(super) fn ns_per_packet(self) -> f64 {
        self.busy_us as f64 * 1000.0 / self.sent.max(1) as f64
    }
}

/// The wall time of a run of several threads, in seconds: from the first thread's start
/// to the last one's stop.
pub(super) fn span_secs(rs: &[PgResult]) -> f64 {
    let start = rs.iter().map(|r| r.started_us).min().unwrap_or(0);
    let stop = rs.iter().map(|r| r.stopped_us).max().unwrap_or(0);
    (stop.saturating_sub(start) as f64 / 1e6).max(1e-6)
}

fn pg_write(file: &str, cmd: &str) -> Result<()> {
    let path = format!("/proc/net/pktgen/{file}");
    fs::write(&path, cmd).with_context(|| format!("{path}: {cmd}"))
}

/// The result of `name`'s last run. pktgen's thread writes the result line with a few
/// `sprintf()`s after the run has stopped, and a read in between sees part of it: the line
/// is read again until it is whole (for up to 5 s).
fn pg_result(name: &str) -> Result<PgResult> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match pg_result_once(name) {
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

fn pg_result_once(name: &str) -> Result<PgResult> {
    parse_result(
        name,
        &fs::read_to_string(format!("/proc/net/pktgen/{name}"))?,
    )
}

/// The result in `text`, the contents of device `name`'s file.
fn parse_result(name: &str, text: &str) -> Result<PgResult> {
    // "Result: OK: 12345(c12000+d345) usec, 40000 (64byte,0frags)"
    let line = text
        .lines()
        .find(|l| l.starts_with("Result: OK:"))
        .ok_or_else(|| anyhow!("pktgen {name}: no result in\n{text}"))?;
    let busy = line
        .split("(c")
        .nth(1)
        .and_then(|s| s.split('+').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("pktgen {name}: cannot parse {line:?}"))?;
    let sent = line
        .split("usec, ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("pktgen {name}: cannot parse {line:?}"))?;
    // "     started: 123us  stopped: 456us idle: 7us"
    let stamp = |key: &str| {
        text.split(key)
            .nth(1)
            .and_then(|s| s.split("us").next())
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| anyhow!("pktgen {name}: no {key:?} in\n{text}"))
    };
    Ok(PgResult {
        sent,
        busy_us: busy,
        started_us: stamp("started: ")?,
        stopped_us: stamp("stopped: ")?,
    })
}

/// pktgen on `DEV`, one device per `(cpu, port)`: from the thread of `cpu`, `count`
/// packets to `LOCAL:port`. All start together; their results in the same order.
pub(super) fn pktgen(
    streams: &[(u32, u16)],
    count: u64,
    pkt_size: u32,
    mac: &str,
) -> Result<Vec<PgResult>> {
    for cpu in 0..2 {
        pg_write(&format!("kpktgend_{cpu}"), "rem_device_all")?;
    }
    let names: Vec<String> = streams
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if i == 0 {
                DEV.into()
            } else {
                format!("{DEV}@{i}")
            }
        })
        .collect();
    for (name, &(cpu, port)) in names.iter().zip(streams) {
        // rem_device_all only asks the thread to let go of its devices: until it has, the
        // device is busy.
        let thread = format!("kpktgend_{cpu}");
        let mut tries = 0;
        while let Err(e) = pg_write(&thread, &format!("add_device {name}")) {
            tries += 1;
            if tries == 100 {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        for c in [
            format!("count {count}"),
            format!("pkt_size {pkt_size}"),
            "delay 0".into(),
            "xmit_mode netif_receive".into(),
            "flag !SHARED".into(),
            format!("dst {LOCAL}"),
            format!("src_min {PEER}"),
            format!("src_max {PEER}"),
            format!("dst_mac {mac}"),
            format!("udp_dst_min {port}"),
            format!("udp_dst_max {port}"),
            "udp_src_min 9999".into(),
            "udp_src_max 9999".into(),
        ] {
            pg_write(name, &c)?;
        }
    }
    // Returns when every thread has sent its count.
    pg_write("pgctrl", "start")?;
    names.iter().map(|n| pg_result(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOWN: &str = "\
Params: count 1000  min_pkt_size: 64  max_pkt_size: 64
     frags: 0  delay: 0  clone_skb: 0  ifname: udprxb0@1
Current:
     pkts-sofar: 1000  errors: 0
     started: 81234567us  stopped: 81334567us idle: 12us
     seq_num: 1001  cur_dst_mac_offset: 0  cur_src_mac_offset: 0
Result: OK: 100000(c99988+d12) usec, 1000 (64byte,0frags)
  10000pps 5Mb/sec (5120000bps) errors: 0
";

    #[test]
    fn parses_a_result() {
        let r = parse_result("udprxb0@1", SHOWN).unwrap();
        assert_eq!(
            (r.sent, r.busy_us, r.started_us, r.stopped_us),
            (1000, 99988, 81234567, 81334567)
        );
        assert!(parse_result("x", &SHOWN.replace("Result: OK", "Result: Starting")).is_err());
    }

    #[test]
    fn span_is_first_start_to_last_stop() {
        let r = |started_us, stopped_us| PgResult {
            sent: 1,
            busy_us: 1,
            started_us,
            stopped_us,
        };
        assert_eq!(
            span_secs(&[r(1_000_000, 2_000_000), r(1_500_000, 3_500_000)]),
            2.5
        );
    }
}
