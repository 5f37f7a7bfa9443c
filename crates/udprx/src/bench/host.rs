//! What the bench sets up with the host's tools (`ip`, `nft`): the dummy device pktgen
//! hands its packets to, whose address is local.

use anyhow::{anyhow, bail, Context, Result};
use std::{
    fs,
    io::Write,
    net::Ipv4Addr,
    process::{Command, Stdio},
};

pub(super) const DEV: &str = "udprxb0";

pub(super) const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

pub(super) const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

pub(super) fn run_cmd(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<()> {
    let mut c = Command::new(cmd);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    }
    let mut child = c.spawn().with_context(|| format!("run {cmd}"))?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("{cmd}: no stdin"))?
            .write_all(text.as_bytes())?;
    }
    let st = child.wait()?;
    if !st.success() {
        bail!("{cmd} {}: {st}", args.join(" "));
    }
    Ok(())
}

pub(super) fn setup_device() -> Result<String> {
    let _ = run_cmd("ip", &["link", "del", DEV], None);
    run_cmd("ip", &["link", "add", DEV, "type", "dummy"], None)?;
    run_cmd(
        "ip",
        &["addr", "add", &format!("{LOCAL}/24"), "dev", DEV],
        None,
    )?;
    run_cmd("ip", &["link", "set", DEV, "up"], None)?;
    Ok(fs::read_to_string(format!("/sys/class/net/{DEV}/address"))?
        .trim()
        .to_string())
}
