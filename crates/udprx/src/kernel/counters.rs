//! The counters of the calling thread's network namespace, read from
//! `/proc/thread-self/net` (`/proc/net` is the thread group leader's: `udprx compare` runs
//! sides in threads of their own, each in its own netns). `/proc/net/snmp`'s format: per
//! group, a line of names and a line of values, each led by `Group:`; `/proc/net/netstat`
//! and `/proc/net/udprx` use the same format, `/proc/net/sockstat` has one line per group
//! instead (see [`parse_sockstat`]).

use anyhow::{bail, Context, Result};

/// One group: its name and its (counter, value) pairs in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub counters: Vec<(String, u64)>,
}

/// Parses a whole file.
pub fn parse(text: &str) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    while let Some(names) = lines.next() {
        let Some(values) = lines.next() else {
            bail!("group line without values: {names}");
        };
        let (gn, names) = split_group(names)?;
        let (gv, values) = split_group(values)?;
        if gn != gv {
            bail!("group {gn} is followed by {gv}");
        }
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if names.len() != values.len() {
            bail!(
                "group {gn}: {} names but {} values",
                names.len(),
                values.len()
            );
        }
        let counters = names
            .iter()
            .zip(&values)
            .map(|(n, v)| {
                // Some stock counters (e.g. Ip: Forwarding) are small signed values.
                let v = v
                    .parse::<i64>()
                    .map(|x| x as u64)
                    .or_else(|_| v.parse::<u64>());
                match v {
                    Ok(v) => Ok((n.to_string(), v)),
                    Err(_) => bail!("group {gn}: counter {n} has a bad value"),
                }
            })
            .collect::<Result<_>>()?;
        groups.push(Group {
            name: gn.to_string(),
            counters,
        });
    }
    Ok(groups)
}

/// Parses `/proc/net/sockstat`: one line per group, names and values alternating after
/// the group (`UDP: inuse 1 mem 0`).
pub fn parse_sockstat(text: &str) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (gn, rest) = split_group(line)?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() % 2 != 0 {
            bail!("sockstat {gn}: a name without a value");
        }
        let counters = words
            .chunks(2)
            .map(|p| match p[1].parse::<u64>() {
                Ok(v) => Ok((p[0].to_string(), v)),
                Err(_) => bail!("sockstat {gn}: {} has a bad value", p[0]),
            })
            .collect::<Result<_>>()?;
        groups.push(Group {
            name: gn.to_string(),
            counters,
        });
    }
    Ok(groups)
}

fn split_group(line: &str) -> Result<(&str, &str)> {
    match line.split_once(':') {
        Some((g, rest)) if !g.is_empty() && !g.contains(' ') => Ok((g, rest)),
        _ => bail!("not a 'Group: ...' line: {line}"),
    }
}

/// `/proc/net/FILE` of the calling thread's netns.
fn proc_net(file: &str) -> std::io::Result<String> {
    std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))
}

/// `/proc/net/FILE` of the calling thread's netns, or an error that names the file.
pub fn read(file: &str) -> Result<String> {
    proc_net(file).with_context(|| format!("read /proc/net/{file}"))
}

/// The stock `Udp:` group.
fn udp() -> Result<Vec<Group>> {
    Ok(parse(&read("snmp")?)?
        .into_iter()
        .filter(|g| g.name == "Udp")
        .collect())
}

/// The groups `udprx stat` shows: the stock `Udp:` group, then every group of
/// `/proc/net/udprx`.
pub fn groups() -> Result<Vec<Group>> {
    let mut out = udp()?;
    let ours = proc_net("udprx").context("read /proc/net/udprx (is udprx loaded?)")?;
    out.extend(parse(&ours)?);
    Ok(out)
}

/// [`groups()`], or the `Udp:` group alone when udprx is not loaded.
pub fn groups_if_loaded() -> Result<Vec<Group>> {
    let mut out = udp()?;
    if let Ok(ours) = proc_net("udprx") {
        out.extend(parse(&ours)?);
    }
    Ok(out)
}

/// The stock groups that `udprx compare` compares: `Ip`, `Icmp`, `IcmpMsg` and `Udp` of
/// `/proc/net/snmp`, `IpExt` of `/proc/net/netstat`, and `UDP` of `/proc/net/sockstat`
/// (`inuse` is the netns's, `mem` global pages).
pub fn stock_groups() -> Result<Vec<Group>> {
    let mut out: Vec<Group> = parse(&read("snmp")?)?
        .into_iter()
        .filter(|g| ["Ip", "Icmp", "IcmpMsg", "Udp"].contains(&g.name.as_str()))
        .collect();
    out.extend(
        parse(&read("netstat")?)?
            .into_iter()
            .filter(|g| g.name == "IpExt"),
    );
    out.extend(
        parse_sockstat(&read("sockstat")?)?
            .into_iter()
            .filter(|g| g.name == "UDP"),
    );
    Ok(out)
}

/// Every counter of `groups` by its nstat name, `GroupCounter` (`UdpRxHookSeen`).
pub fn by_name(groups: Vec<Group>) -> impl Iterator<Item = (String, u64)> {
    groups.into_iter().flat_map(|g| {
        let group = g.name;
        g.counters
            .into_iter()
            .map(move |(n, v)| (format!("{group}{n}"), v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snmp_udp_lines() {
        let t = "Udp: InDatagrams NoPorts InErrors\nUdp: 5 3 0\nUdpLite: InDatagrams\nUdpLite: 0\n";
        let g = parse(t).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "Udp");
        assert_eq!(g[0].counters[1], ("NoPorts".to_string(), 3));
    }

    #[test]
    fn parses_sockstat() {
        let t = "sockets: used 7\nTCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0\nUDP: inuse 3 mem 12\nUDPLITE: inuse 0\nFRAG: inuse 0 memory 0\n";
        let g = parse_sockstat(t).unwrap();
        assert_eq!(g.len(), 5);
        assert_eq!(g[2].name, "UDP");
        assert_eq!(
            g[2].counters,
            [("inuse".to_string(), 3), ("mem".to_string(), 12)]
        );
        assert_eq!(g[0].counters, [("used".to_string(), 7)]);
        assert!(parse_sockstat("UDP: inuse\n").is_err());
        assert!(parse_sockstat("UDP: inuse x\n").is_err());
        assert!(parse_sockstat("UDP inuse 1\n").is_err());
    }

    #[test]
    fn rejects_mismatches() {
        assert!(parse("Udp: A B\nUdp: 1\n").is_err());
        assert!(parse("Udp: A\nTcp: 1\n").is_err());
        assert!(parse("Udp: A\n").is_err());
        assert!(parse("Udp: A\nUdp: x\n").is_err());
    }
}
