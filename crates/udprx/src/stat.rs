//! `udprx stat`: the udprx groups next to the stock `Udp:` line, nstat-style
//! (`GroupCounter value`, one per line), or as JSON.

use crate::snmp::{self, Group};
use anyhow::{Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Print {"Group": {"Counter": value, ...}, ...} instead.
    #[arg(long)]
    json: bool,
}

/// The groups shown: the stock `Udp:` group, then every group of `/proc/net/udprx`, of the
/// calling thread's netns (`/proc/net` is the thread group leader's: `udprx compare` runs
/// sides in threads of their own, each in its own netns).
pub fn groups() -> Result<Vec<Group>> {
    let stock =
        std::fs::read_to_string("/proc/thread-self/net/snmp").context("read /proc/net/snmp")?;
    let mut out: Vec<Group> = snmp::parse(&stock)?
        .into_iter()
        .filter(|g| g.name == "Udp")
        .collect();
    let ours = std::fs::read_to_string("/proc/thread-self/net/udprx")
        .context("read /proc/net/udprx (is udprx loaded?)")?;
    out.extend(snmp::parse(&ours)?);
    Ok(out)
}

/// The stock groups of the calling thread's netns that `udprx compare` compares: `Ip`,
/// `Icmp`, `IcmpMsg` and `Udp` of `/proc/net/snmp`, `IpExt` of `/proc/net/netstat`, and
/// `UDP` of `/proc/net/sockstat` (`inuse` is the netns's, `mem` global pages).
pub fn stock_groups() -> Result<Vec<Group>> {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/thread-self/net/{f}"))
            .with_context(|| format!("read /proc/net/{f}"))
    };
    let mut out: Vec<Group> = snmp::parse(&read("snmp")?)?
        .into_iter()
        .filter(|g| ["Ip", "Icmp", "IcmpMsg", "Udp"].contains(&g.name.as_str()))
        .collect();
    out.extend(
        snmp::parse(&read("netstat")?)?
            .into_iter()
            .filter(|g| g.name == "IpExt"),
    );
    out.extend(
        snmp::parse_sockstat(&read("sockstat")?)?
            .into_iter()
            .filter(|g| g.name == "UDP"),
    );
    Ok(out)
}

pub fn render_nstat(groups: &[Group]) -> String {
    let mut s = String::from("#kernel\n");
    for g in groups {
        for (n, v) in &g.counters {
            s.push_str(&format!("{:<32}{}\n", format!("{}{}", g.name, n), v));
        }
    }
    s
}

pub fn render_json(groups: &[Group]) -> String {
    let mut top = serde_json::Map::new();
    for g in groups {
        let m: serde_json::Map<_, _> = g
            .counters
            .iter()
            .map(|(n, v)| (n.clone(), serde_json::Value::from(*v)))
            .collect();
        top.insert(g.name.clone(), m.into());
    }
    serde_json::Value::Object(top).to_string()
}

pub fn run(a: &Args) -> Result<()> {
    let g = groups()?;
    if a.json {
        println!("{}", render_json(&g));
    } else {
        print!("{}", render_nstat(&g));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nstat_and_json() {
        let g = snmp::parse("UdpRxHook: Seen Stolen\nUdpRxHook: 4 0\n").unwrap();
        assert_eq!(
            render_nstat(&g),
            "#kernel\nUdpRxHookSeen                   4\nUdpRxHookStolen                 0\n"
        );
        assert_eq!(render_json(&g), r#"{"UdpRxHook":{"Seen":4,"Stolen":0}}"#);
    }
}
