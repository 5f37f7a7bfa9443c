//! `udprx recv`: bind a udprx socket (or, with `--stock`, a normal UDP socket) to a port and
//! print what arrives, one datagram per line: `LEN HEX`. With `--no-read` (or `--hold`) it
//! binds and keeps the socket without reading until SIGINT/SIGTERM or `--timeout`, then
//! prints the socket's accounting as JSON (the machine interface the tests use).

use crate::{
    datagram::line,
    kernel::{
        dev::Device,
        signal,
        socket::{meminfo, proc_net_udp_drops, set_stock_rcvbuf},
    },
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::{
    io::Write,
    net::{Ipv4Addr, UdpSocket},
    time::{Duration, Instant},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyArg {
    /// The rules of Linux 3.13 (the article's).
    Classic,
    /// The rules of the running kernel (7.3).
    Modern,
}

#[derive(clap::Args)]
pub struct Args {
    /// UDP port to bind, in the caller's network namespace.
    #[arg(long)]
    port: u16,
    /// Stop after this many datagrams (exit 1 if the timeout comes first).
    #[arg(long)]
    count: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Print only the number of datagrams at the end.
    #[arg(long)]
    quiet: bool,
    /// Read buffer size: longer datagrams are truncated to it, as by recv(2).
    #[arg(long, default_value_t = 65535)]
    bufsize: usize,
    /// Use a stock UDP socket bound to 0.0.0.0:PORT instead of udprx (for comparisons).
    #[arg(long)]
    stock: bool,
    /// Receive buffer, as the value of setsockopt(SO_RCVBUF) (the kernel doubles it).
    #[arg(long, allow_negative_numbers = true)]
    rcvbuf: Option<i32>,
    /// Set the receive buffer like SO_RCVBUFFORCE (ignores net.core.rmem_max; needs
    /// CAP_NET_ADMIN).
    #[arg(long, requires = "rcvbuf")]
    force: bool,
    /// Accounting policy of the udprx socket.
    #[arg(long, value_enum, default_value_t = PolicyArg::Modern)]
    policy: PolicyArg,
    /// Hold the socket (as a syscall owning it would) while waiting; release it at the
    /// end, draining the backlog. Implies --no-read.
    #[arg(long)]
    hold: bool,
    /// Use the udprx socket already open as this file descriptor (e.g. opened in another
    /// netns by the shell that started this) instead of opening /dev/udprx.
    #[arg(long, conflicts_with = "stock")]
    fd: Option<i32>,
    /// Attach a classic BPF socket filter that drops datagrams longer than N bytes (UDP
    /// header included), with SO_ATTACH_FILTER or UDPRX_ATTACH_FILTER.
    #[arg(long, value_name = "N")]
    filter_max_len: Option<u32>,
    /// Do not read: wait for SIGINT/SIGTERM or --timeout, then print the accounting as JSON
    /// (before and after reading what is queued).
    #[arg(long)]
    no_read: bool,
}

enum Receiver {
    Udprx(Device),
    Stock(UdpSocket),
}

impl Receiver {
    /// One datagram, or `None` when `deadline` passes first.
    fn recv(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<Option<usize>> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(None);
        }
        match self {
            Receiver::Udprx(dev) => {
                if !dev.wait_readable(left)? {
                    return Ok(None);
                }
                // A datagram can vanish between poll and read (bad checksum found on read):
                // then the read blocks for the next one, as recv(2) would.
                Ok(Some(dev.read(buf).context("read /dev/udprx")?))
            }
            Receiver::Stock(s) => {
                s.set_read_timeout(left).context("SO_RCVTIMEO")?;
                match s.recv(buf) {
                    Ok(n) => Ok(Some(n)),
                    Err(e) if would_block(&e) => Ok(None),
                    Err(e) => Err(e).context("recv"),
                }
            }
        }
    }

    /// Reads whatever is queued without waiting; returns the number of datagrams.
    fn drain(&mut self, buf: &mut [u8]) -> Result<u64> {
        let mut n = 0;
        match self {
            Receiver::Udprx(dev) => {
                while dev.wait_readable(Some(Duration::ZERO))? {
                    dev.read(buf).context("read /dev/udprx")?;
                    n += 1;
                }
            }
            Receiver::Stock(s) => {
                s.set_nonblocking(true)?;
                loop {
                    match s.recv(buf) {
                        Ok(_) => n += 1,
                        Err(e) if would_block(&e) => break,
                        Err(e) => return Err(e).context("recv"),
                    }
                }
            }
        }
        Ok(n)
    }

    /// The socket's accounting, as JSON.
    fn info(&self, port: u16) -> Result<Value> {
        match self {
            Receiver::Udprx(dev) => {
                let i = dev.info()?;
                Ok(json!({
                    "rcvbuf": i.rcvbuf,
                    "rmem_alloc": i.rmem_alloc,
                    "queued": i.queued,
                    "backlog_len": i.backlog_len,
                    "backlog_count": i.backlog_count,
                    "drops": i.drops,
                    "held": i.held != 0,
                    "forward_deficit": i.forward_deficit,
                    "forward_alloc": i.forward_alloc,
                }))
            }
            Receiver::Stock(s) => {
                let m = meminfo(s)?;
                Ok(json!({
                    "rcvbuf": m[1],
                    "rmem_alloc": m[0],
                    "backlog_len": m[7],
                    "drops": m[8],
                    "forward_alloc": m[4] as i32,
                    "proc_net_udp_drops": proc_net_udp_drops(port)?,
                }))
            }
        }
    }
}

fn would_block(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

pub fn run(a: &Args) -> Result<()> {
    let keep = a.no_read || a.hold;
    // Block them now: a signal sent as soon as we say "bound" stays pending, and ends the
    // run cleanly (JSON or the count printed) instead of killing it.
    signal::block()?;
    let mut rx = if a.stock {
        if a.policy != PolicyArg::Modern || a.hold {
            bail!("--policy classic and --hold are for udprx sockets (a stock socket follows the running kernel)");
        }
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, a.port))
            .with_context(|| format!("bind UDP socket to port {}", a.port))?;
        if let Some(n) = a.filter_max_len {
            crate::kernel::filter::attach_stock(&s, &crate::kernel::filter::max_len(n))?;
        }
        if let Some(v) = a.rcvbuf {
            set_stock_rcvbuf(&s, v, a.force)?;
        }
        Receiver::Stock(s)
    } else {
        let dev = match a.fd {
            Some(fd) => Device::from_fd(fd)?,
            None => Device::open(false)?,
        };
        dev.set_policy(match a.policy {
            PolicyArg::Classic => udprx_abi::POLICY_CLASSIC,
            PolicyArg::Modern => udprx_abi::POLICY_MODERN,
        })?;
        if let Some(n) = a.filter_max_len {
            dev.attach_filter(&crate::kernel::filter::max_len(n))
                .map_err(|e| anyhow::anyhow!("attach filter: {e}"))?;
        }
        if let Some(v) = a.rcvbuf {
            dev.set_rcvbuf(v, a.force)?;
        }
        dev.bind(a.port)?;
        if a.hold {
            dev.hold()?;
        }
        Receiver::Udprx(dev)
    };
    eprintln!(
        "udprx recv: bound to port {} ({})",
        a.port,
        if a.stock { "stock UDP socket" } else { "udprx" }
    );
    let mut buf = vec![0u8; a.bufsize];

    if keep {
        signal::wait(a.timeout)?;
        let mut out = serde_json::Map::new();
        if a.hold {
            out.insert("held".into(), rx.info(a.port)?);
            if let Receiver::Udprx(dev) = &rx {
                dev.release()?;
            }
        }
        out.insert("before_read".into(), rx.info(a.port)?);
        let delivered = rx.drain(&mut buf)?;
        out.insert("delivered".into(), delivered.into());
        out.insert("after_read".into(), rx.info(a.port)?);
        println!("{}", Value::Object(out));
        return Ok(());
    }

    let deadline = a
        .timeout
        .map(|t| Instant::now() + Duration::from_secs_f64(t));
    let mut n = 0u64;
    let stdout = std::io::stdout();
    while a.count.is_none_or(|c| n < c) {
        // Wait in slices, so that SIGINT/SIGTERM end the loop within 100 ms.
        let slice = Instant::now() + Duration::from_millis(100);
        let until = deadline.map_or(slice, |d| d.min(slice));
        let Some(len) = rx.recv(&mut buf, Some(until))? else {
            if signal::stop_requested() || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            continue;
        };
        n += 1;
        if !a.quiet {
            let mut o = stdout.lock();
            writeln!(o, "{}", line(&buf[..len]))?;
            o.flush()?;
        }
    }
    if a.quiet {
        println!("{n}");
    }
    if let Some(c) = a.count {
        if n < c {
            bail!("timeout: received {n} of {c} datagram(s)");
        }
    }
    Ok(())
}
