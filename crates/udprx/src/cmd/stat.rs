//! `udprx stat`: the udprx groups next to the stock `Udp:` line, nstat-style
//! (`GroupCounter value`, one per line), or as JSON.

use crate::kernel::counters::{self, Group};
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Print {"Group": {"Counter": value, ...}, ...} instead.
    #[arg(long)]
    json: bool,
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
    let g = counters::groups()?;
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
        let g = counters::parse("UdpRxHook: Seen Stolen\nUdpRxHook: 4 0\n").unwrap();
        assert_eq!(
            render_nstat(&g),
            "#kernel\nUdpRxHookSeen                   4\nUdpRxHookStolen                 0\n"
        );
        assert_eq!(render_json(&g), r#"{"UdpRxHook":{"Seen":4,"Stolen":0}}"#);
    }
}
