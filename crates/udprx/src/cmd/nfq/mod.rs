// SPDX-License-Identifier: GPL-2.0

//! `udprx nfq`: a minimal NFQUEUE listener, what `libnetfilter_queue` does for one queue,
//! over a `NETLINK_NETFILTER` socket (`netlink-sys`) with the messages encoded in [`msg`]
//! (`include/uapi/linux/netfilter/nfnetlink_queue.h`). It binds queue Q for AF_INET,
//! answers every queued packet with one verdict, and prints `{"handled":N,"verdict":V}`.
//!
//! `repeat` (NF_REPEAT) runs the queueing hook again: a plain `queue` rule would queue the
//! packet again, forever. So it needs `--mark M`, set on the packet with the verdict, and a
//! rule that skips marked packets: `meta mark != M queue num Q`.

mod msg;

use crate::kernel::signal;
use anyhow::{bail, Context, Result};
use msg::{
    bind_message, params_message, parse, verdict_message, CopyMode, Incoming, Verdict, NLMSG_DONE,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use std::{
    os::fd::AsFd,
    time::{Duration, Instant},
};

#[derive(clap::Args)]
pub struct Args {
    /// The queue number (the rule's `queue num Q`).
    #[arg(long, default_value_t = 0)]
    queue: u16,
    /// The verdict given to every packet.
    #[arg(long, value_enum, default_value_t = Verdict::Accept)]
    verdict: Verdict,
    /// Set this mark on every packet with its verdict (NFQA_MARK). Needed by `repeat`: the
    /// rule must skip marked packets (`meta mark != M queue num Q`).
    #[arg(long)]
    mark: Option<u32>,
    /// What the kernel copies to us with each packet.
    #[arg(long, value_enum, default_value_t = CopyMode::Meta)]
    copy: CopyMode,
    /// Stop after this many packets (exit 1 if the timeout comes first).
    #[arg(long)]
    count: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
}

/// Sends `msg` and waits for its acknowledgement.
fn request(sock: &Socket, what: &str, seq: u32, msg: &[u8]) -> Result<()> {
    sock.send(msg, 0)
        .with_context(|| format!("{what}: send(netlink)"))?;
    let mut buf = Vec::with_capacity(65536);
    loop {
        buf.clear();
        sock.recv(&mut buf, 0)
            .with_context(|| format!("{what}: recv(netlink)"))?;
        for m in parse(&buf)? {
            match m {
                Incoming::Error { seq: s, error: 0 } if s == seq => return Ok(()),
                Incoming::Error { seq: s, error } if s == seq => {
                    return Err(std::io::Error::from_raw_os_error(-error)).context(what.to_string())
                }
                _ => {}
            }
        }
    }
}

pub fn run(a: &Args) -> Result<()> {
    if a.verdict == Verdict::Repeat && a.mark.is_none() {
        bail!("--verdict repeat needs --mark M and a rule that skips marked packets (`meta mark != M queue num Q`): NF_REPEAT runs the queueing hook again");
    }
    // Block them now: SIGINT/SIGTERM end the run with the JSON printed.
    signal::block()?;

    let mut sock = Socket::new(NETLINK_NETFILTER).context("socket(NETLINK_NETFILTER)")?;
    sock.bind_auto().context("bind(netlink)")?;
    sock.connect(&SocketAddr::new(0, 0))
        .context("connect(netlink)")?;
    sock.set_rx_buf_sz(1 << 20).ok();
    request(&sock, "NFQA_CFG_CMD bind", 1, &bind_message(1, a.queue))?;
    request(
        &sock,
        "NFQA_CFG_PARAMS",
        2,
        &params_message(2, a.queue, a.copy),
    )?;
    eprintln!("nfq: bound to queue {}", a.queue);

    let deadline = a
        .timeout
        .map(|t| Instant::now() + Duration::from_secs_f64(t));
    let mut handled = 0u64;
    let mut seq = 3u32;
    let mut buf = Vec::with_capacity(256 * 1024);
    let mut timed_out = false;
    while a.count.is_none_or(|c| handled < c) {
        if signal::stop_requested() {
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            timed_out = true;
            break;
        }
        // Wait in slices of 100 ms, so that a signal ends the loop soon.
        let slice = deadline.map_or(Duration::from_millis(100), |d| {
            (d - now).min(Duration::from_millis(100))
        });
        let mut fds = [nix::poll::PollFd::new(
            sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = slice.as_millis().max(1).min(u16::MAX as u128) as u16;
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e).context("poll(netlink)"),
        }
        buf.clear();
        sock.recv(&mut buf, 0).context("recv(netlink)")?;
        for m in parse(&buf)? {
            match m {
                Incoming::Packet { queue, id, .. } => {
                    let v = verdict_message(seq, queue, id, a.verdict, a.mark);
                    seq = seq.wrapping_add(1);
                    sock.send(&v, 0).context("send(verdict)")?;
                    handled += 1;
                }
                Incoming::Error { error, seq } if error != 0 => {
                    return Err(std::io::Error::from_raw_os_error(-error))
                        .with_context(|| format!("verdict (seq {seq}) refused"));
                }
                Incoming::Error { .. } | Incoming::Other(NLMSG_DONE) | Incoming::Other(_) => {}
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({"handled": handled, "verdict": a.verdict.name()})
    );
    if let Some(c) = a.count {
        if timed_out && handled < c {
            bail!("timeout: handled {handled} of {c} packet(s)");
        }
    }
    Ok(())
}
