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
}

impl PgResult {
    /// pktgen's busy time per packet: one packet's whole receive path.
    pub(super) fn ns_per_packet(self) -> f64 {
        self.busy_us as f64 * 1000.0 / self.sent.max(1) as f64
    }
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
    let text = fs::read_to_string(format!("/proc/net/pktgen/{name}"))?;
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
    Ok(PgResult {
        sent,
        busy_us: busy,
    })
}

/// pktgen on `DEV` from the threads of `cpus`, `count` packets each to `LOCAL:port`.
pub(super) fn pktgen(
    cpus: &[u32],
    port: u16,
    count: u64,
    pkt_size: u32,
    mac: &str,
) -> Result<Vec<PgResult>> {
    for cpu in 0..2 {
        pg_write(&format!("kpktgend_{cpu}"), "rem_device_all")?;
    }
    let names: Vec<String> = cpus
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
    for (name, cpu) in names.iter().zip(cpus) {
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
