// SPDX-License-Identifier: GPL-2.0

//! `udprx stress`: the workloads of the stress selftest. Each prints one JSON line with
//! what it did, for the script to check against the counters; none of them judges the
//! kernel's counters itself.
//!
//! - `fault`: every allocation of one operation failed in turn (`/proc/thread-self/
//!   fail-nth`, with failslab and fail_page_alloc armed): each attempt fails with an errno
//!   or succeeds (the allocation was one the kernel can do without: "absorbed"), and the
//!   operation succeeds once no fault is left to inject;
//! - `ioctl-fuzz`: random ioctls, reads, writes and polls with bad sizes and pointers;
//! - `mutate`: crafted datagrams with random lengths, length fields, checksums and ports,
//!   IP options (well-formed and garbage) and fragments (reassembled before udprx sees them);
//! - `race`: threads racing bind, read, poll, epoll, info, rcvbuf, hold/release and the
//!   filter ioctls on one shared socket or on many, closing and reopening them, while two
//!   senders fill them;
//! - `churn`: sockets opened, bound and closed a few milliseconds later, one after the
//!   other, while two senders flood their ports (the bind and close windows, where the
//!   stock path can find a backing socket that udprx's table does not hold).

mod churn;
mod fault;
mod fuzz;
mod mutate;
mod race;
mod rng;

use anyhow::Result;
use fault::Op;
use std::net::Ipv4Addr;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Fail every allocation of OP in turn (fail-nth); print the errors seen.
    Fault {
        #[arg(long, value_enum)]
        op: Op,
        /// The port `bind` uses.
        #[arg(long, default_value_t = 7300)]
        port: u16,
        /// udprx.ko, for `insmod`.
        #[arg(long)]
        module: Option<std::path::PathBuf>,
        /// Give up after this many injection points (0: no limit).
        #[arg(long, default_value_t = 0)]
        max: u32,
    },
    /// Random ioctls, reads, writes and polls on /dev/udprx with bad sizes and pointers.
    IoctlFuzz {
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A port to try binding (as an unprivileged caller it must fail with EPERM).
        #[arg(long, default_value_t = 7301)]
        port: u16,
    },
    /// Crafted datagrams with random sizes, UDP length fields, checksums, truncation and
    /// destination ports (PORTS, comma-separated), on IP protocol PROTO; one in four
    /// carries IP options (well-formed or garbage), one in four more is sent as 2-3
    /// fragments in a random order. Needs CAP_NET_RAW (IP_HDRINCL).
    Mutate {
        #[arg(long)]
        to: Ipv4Addr,
        #[arg(long, value_delimiter = ',')]
        ports: Vec<u16>,
        #[arg(long, default_value_t = 17)]
        proto: u8,
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Attach a cgroup ingress BPF program that drops every packet to the cgroup2
    /// directory CGROUP (as systemd's IPAddressDeny=any): sockets created there receive
    /// nothing.
    DenyIngress {
        #[arg(long)]
        cgroup: std::path::PathBuf,
    },
    /// Attach an IPv4 bind program to the cgroup2 directory CGROUP: a bind to port DENY
    /// fails with EPERM, a bind to port FROM binds port TO, the others are left alone.
    Bind4 {
        #[arg(long)]
        cgroup: std::path::PathBuf,
        /// FROM:TO.
        #[arg(long, value_parser = parse_rewrite)]
        rewrite: (u16, u16),
        #[arg(long)]
        deny: u16,
    },
    /// THREADS threads race reads, poll, epoll and the socket ioctls on FILES shared udprx
    /// sockets (bound to PORT, PORT+1, ...) while two senders fill them for SECONDS; with
    /// more than one file they also close and reopen sockets. Then the sockets are closed.
    /// CYCLES times: open a udprx socket, bind it to one of PORTS ports from PORT (in
    /// turn), optionally set its buffer and hold it, keep it LIFE_MS, close it; two
    /// threads flood the ports with SIZE-byte datagrams all along.
    Churn {
        #[arg(long, default_value_t = 7310)]
        port: u16,
        #[arg(long, default_value_t = 4)]
        ports: u16,
        #[arg(long, default_value_t = 400)]
        cycles: u32,
        #[arg(long, default_value_t = 3)]
        life_ms: u64,
        #[arg(long, default_value_t = 1000)]
        size: usize,
        /// UDPRX_SET_RCVBUF with RCVBUF_FORCE on each socket.
        #[arg(long)]
        rcvbuf: Option<i32>,
        /// The classic policy, held from bind to close (closed while held).
        #[arg(long)]
        hold: bool,
    },
    Race {
        #[arg(long, default_value_t = 7302)]
        port: u16,
        /// Sockets bound to PORT, PORT+1, ...; with more than one, threads also close and
        /// reopen them while the others use them.
        #[arg(long, default_value_t = 1)]
        files: u16,
        #[arg(long, default_value_t = 4)]
        threads: u32,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// `FROM:TO`, two ports.
fn parse_rewrite(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once(':').ok_or("expected FROM:TO")?;
    let port = |p: &str| p.parse::<u16>().map_err(|e| format!("{p}: {e}"));
    Ok((port(a)?, port(b)?))
}

pub fn run(a: &Args) -> Result<()> {
    match &a.cmd {
        Cmd::Fault {
            op,
            port,
            module,
            max,
        } => fault::fault(*op, *port, module.as_deref(), *max),
        Cmd::IoctlFuzz { count, seed, port } => fuzz::ioctl_fuzz(*count, *seed, *port),
        Cmd::Mutate {
            to,
            ports,
            proto,
            count,
            seed,
        } => mutate::mutate(*to, ports, *proto, *count, *seed),
        Cmd::DenyIngress { cgroup } => crate::kernel::filter::deny_ingress(cgroup),
        Cmd::Bind4 {
            cgroup,
            rewrite: (from, to),
            deny,
        } => crate::kernel::filter::bind4(cgroup, *from, *to, *deny),
        Cmd::Race {
            port,
            files,
            threads,
            seconds,
            seed,
        } => race::race(*port, *files, *threads, *seconds, *seed),
        Cmd::Churn {
            port,
            ports,
            cycles,
            life_ms,
            size,
            rcvbuf,
            hold,
        } => churn::churn(*port, *ports, *cycles, *life_ms, *size, *rcvbuf, *hold),
    }
}
