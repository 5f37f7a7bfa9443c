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

use crate::{
    datagram,
    kernel::{dev::Device, module},
};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use serde_json::json;
use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use udprx_abi::{BindArgs, RcvbufArgs};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Op {
    /// open("/dev/udprx").
    Open,
    /// UDPRX_BIND (the backing socket's bind and the port table's copy).
    Bind,
    /// UDPRX_ATTACH_FILTER.
    Filter,
    /// UDPRX_SET_RCVBUF on a bound socket.
    Rcvbuf,
    /// A new network namespace (udprx's pernet init: state, /proc entry, hook).
    Netns,
    /// finit_module(udprx.ko) (module init: pernet subsystem, protocol, /dev/udprx).
    Insmod,
}

/// `FROM:TO`, two ports.
fn parse_rewrite(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once(':').ok_or("expected FROM:TO")?;
    let port = |p: &str| p.parse::<u16>().map_err(|e| format!("{p}: {e}"));
    Ok((port(a)?, port(b)?))
}

/// xorshift64*: deterministic for a seed, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub fn run(a: &Args) -> Result<()> {
    match &a.cmd {
        Cmd::Fault {
            op,
            port,
            module,
            max,
        } => fault(*op, *port, module.as_deref(), *max),
        Cmd::IoctlFuzz { count, seed, port } => ioctl_fuzz(*count, *seed, *port),
        Cmd::Mutate {
            to,
            ports,
            proto,
            count,
            seed,
        } => mutate(*to, ports, *proto, *count, *seed),
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
        } => race(*port, *files, *threads, *seconds, *seed),
        Cmd::Churn {
            port,
            ports,
            cycles,
            life_ms,
            size,
            rcvbuf,
            hold,
        } => churn(*port, *ports, *cycles, *life_ms, *size, *rcvbuf, *hold),
    }
}

// --- churn --------------------------------------------------------------------------------

fn churn(
    port: u16,
    ports: u16,
    cycles: u32,
    life_ms: u64,
    size: usize,
    rcvbuf: Option<i32>,
    hold: bool,
) -> Result<()> {
    if ports == 0 || port.checked_add(ports - 1).is_none() {
        bail!("--ports: 1 or more, and PORT + PORTS - 1 a port");
    }
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<()> {
        for t in 0..2u16 {
            let (stop, sent) = (&stop, &sent);
            s.spawn(move || {
                let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("sender socket");
                let p = datagram::payload(u64::from(t), size);
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    i = i.wrapping_add(1);
                    if u.send_to(&p, (Ipv4Addr::LOCALHOST, port + i % ports))
                        .is_ok()
                    {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let run = || -> Result<()> {
            for c in 0..cycles {
                let d = Device::open(true)?;
                if hold {
                    d.set_policy(udprx_rxqueue::Policy::Classic.to_raw())?;
                }
                if let Some(v) = rcvbuf {
                    d.set_rcvbuf(v, true)?;
                }
                d.bind(port + (c % u32::from(ports)) as u16)?;
                if hold {
                    d.hold()?;
                }
                std::thread::sleep(Duration::from_millis(life_ms));
            }
            Ok(())
        };
        let r = run();
        stop.store(true, Ordering::Relaxed);
        r
    })?;
    println!(
        "{}",
        json!({ "cycles": cycles, "sent": sent.load(Ordering::Relaxed), "held": hold })
    );
    Ok(())
}

// --- fault injection ----------------------------------------------------------------------

/// This thread's `/proc/thread-self/fail-nth`, opened once: reading and writing an open
/// file allocates nothing, so neither takes a fault meant for the operation.
struct FailNth(std::fs::File);

impl FailNth {
    fn open() -> Result<Self> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map(Self)
            .context("open /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)")
    }

    /// Fail the `n`-th fault-injection point this thread reaches (0: disarm).
    fn arm(&self, n: u32) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.0
            .write_at(n.to_string().as_bytes(), 0)
            .context("write fail-nth")?;
        Ok(())
    }

    /// Whether the armed fault was injected (the counter ran out); disarms it either way.
    fn fired(&self) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 16];
        let n = self.0.read_at(&mut b, 0).context("read fail-nth")?;
        let left: u32 = std::str::from_utf8(&b[..n])
            .unwrap_or("0")
            .trim()
            .parse()
            .unwrap_or(0);
        if left != 0 {
            self.arm(0)?;
        }
        Ok(left == 0)
    }
}

fn errno_of(e: &anyhow::Error) -> String {
    for c in e.chain() {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return format!("{:?}", Errno::from_raw(n));
            }
        }
        if let Some(n) = c.downcast_ref::<Errno>() {
            return format!("{n:?}");
        }
    }
    // A message that names the errno (`... ENOMEM: Out of memory`).
    let text = format!("{e:#}");
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() > 2 && w.starts_with('E') && w.chars().all(|c| c.is_ascii_uppercase()))
        .map_or(text.clone(), str::to_string)
}

fn fault(op: Op, port: u16, module: Option<&std::path::Path>, max: u32) -> Result<()> {
    let home = std::fs::File::open("/proc/thread-self/ns/net")?;
    let nth = FailNth::open()?;
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    let mut n = 1u32;
    let points = loop {
        // What the attempt needs that is not under test is set up before arming.
        let pre = match op {
            Op::Bind | Op::Filter => Some(Device::open(true)?),
            Op::Rcvbuf => {
                let d = Device::open(true)?;
                d.bind(port)?;
                Some(d)
            }
            _ => None,
        };
        let ko = match (op, module) {
            (Op::Insmod, Some(m)) => Some(std::fs::File::open(m)?),
            (Op::Insmod, None) => bail!("--module is needed for insmod"),
            _ => None,
        };
        let prog = crate::kernel::filter::max_len(100);
        nth.arm(n)?;
        let r: Result<()> = match op {
            Op::Open => Device::open(true).map(drop),
            Op::Bind => pre.as_ref().unwrap().bind(port),
            Op::Filter => pre
                .as_ref()
                .unwrap()
                .attach_filter(&prog)
                .map_err(anyhow::Error::from),
            Op::Rcvbuf => pre.as_ref().unwrap().set_rcvbuf(100_000, false),
            Op::Netns => nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(anyhow::Error::from),
            Op::Insmod => module::load(ko.as_ref().unwrap()).map_err(anyhow::Error::from),
        };
        let fired = nth.fired()?;
        // Undo a success, so that the next attempt starts from the same state.
        if r.is_ok() {
            match op {
                Op::Netns => nix::sched::setns(&home, nix::sched::CloneFlags::CLONE_NEWNET)?,
                Op::Insmod => {
                    if let Err(e) = module::unload(c"udprx") {
                        bail!("insmod: rmmod after attempt {n}: {e}");
                    }
                }
                _ => {}
            }
        }
        drop(pre);
        match (&r, fired) {
            (Err(e), _) => *errors.entry(errno_of(e)).or_default() += 1,
            // The failed allocation was one the kernel can do without (a cache, a fallback).
            (Ok(()), true) => *errors.entry("absorbed".into()).or_default() += 1,
            (Ok(()), false) => break n - 1,
        }
        if !fired {
            bail!(
                "{op:?}: failed with no fault injected: {:#}",
                r.unwrap_err()
            );
        }
        if max != 0 && n >= max {
            break n;
        }
        n += 1;
    };
    let complete = max == 0 || points < max;
    println!(
        "{}",
        json!({ "op": format!("{op:?}").to_lowercase(), "points": points, "outcomes": errors,
                "complete": complete, "cut": !complete })
    );
    Ok(())
}

// --- hostile ioctls ------------------------------------------------------------------------

fn ioctl_fuzz(count: u64, seed: u64, port: u16) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut results: BTreeMap<String, u64> = BTreeMap::new();
    // A page that is mapped but not accessible, and one that is readable garbage.
    // SAFETY: Anonymous mappings with no address hint.
    let none = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    let mut buf = vec![0u8; 65536];
    let cmds = [
        udprx_abi::UDPRX_BIND,
        udprx_abi::UDPRX_SET_RCVBUF,
        udprx_abi::UDPRX_SET_POLICY,
        udprx_abi::UDPRX_HOLD,
        udprx_abi::UDPRX_RELEASE,
        udprx_abi::UDPRX_INFO,
        udprx_abi::UDPRX_ATTACH_FILTER,
        udprx_abi::UDPRX_DETACH_FILTER,
        udprx_abi::UDPRX_SOCKET,
    ];
    let mut dev = Device::open(true)?;
    let mut binds_ok = 0u64;
    for i in 0..count {
        if i % 64 == 63 {
            dev = Device::open(true)?;
        }
        for b in buf.iter_mut().take(64) {
            *b = rng.next() as u8;
        }
        if rng.below(8) == 0 {
            // A well-formed bind of `port`: must fail without CAP_NET_ADMIN.
            let a = BindArgs {
                port,
                flags: 0,
                reserved: 0,
            };
            buf[..8].copy_from_slice(zerocopy::IntoBytes::as_bytes(&a));
        } else if rng.below(8) == 0 {
            let a = RcvbufArgs {
                val: rng.next() as i32,
                flags: (rng.below(3)) as u32,
            };
            buf[..4].copy_from_slice(&a.val.to_ne_bytes());
            buf[4..8].copy_from_slice(&a.flags.to_ne_bytes());
        }
        let arg: u64 = match rng.below(6) {
            0 => 0,
            1 => 1,
            2 => 0xffff_8000_0000_0000 + rng.below(1 << 30),
            3 => none as u64,
            4 => none as u64 + 4090,
            _ => buf.as_ptr() as u64,
        };
        let (what, r) = match rng.below(10) {
            0..=5 => {
                let cmd = if rng.below(5) == 0 {
                    rng.next() as u32
                } else {
                    cmds[rng.below(cmds.len() as u64) as usize]
                        ^ if rng.below(4) == 0 {
                            1 << rng.below(32)
                        } else {
                            0
                        }
                };
                // SAFETY: The kernel checks every pointer; bad ones give EFAULT.
                let r = unsafe { libc::ioctl(dev.fd(), cmd as _, arg) };
                if r == 0 && cmd == udprx_abi::UDPRX_BIND {
                    binds_ok += 1;
                }
                if r > 0 {
                    // A descriptor (`UDPRX_SOCKET`).
                    // SAFETY: It is new and ours.
                    unsafe { libc::close(r) };
                }
                ("ioctl", r as isize)
            }
            6 | 7 => {
                let len = [0usize, 1, 7, 65535, 1 << 20][rng.below(5) as usize];
                let p = if arg == buf.as_ptr() as u64 && len <= buf.len() {
                    buf.as_mut_ptr()
                } else {
                    arg as *mut u8
                };
                // SAFETY: As above: the kernel checks the destination.
                ("read", unsafe { libc::read(dev.fd(), p.cast(), len) })
            }
            8 => {
                // SAFETY: As above.
                ("write", unsafe {
                    libc::write(
                        dev.fd(),
                        arg as *const libc::c_void,
                        rng.below(100) as usize,
                    )
                })
            }
            _ => {
                let mut p = libc::pollfd {
                    fd: dev.fd(),
                    events: (rng.next() as i16) | libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: One valid pollfd, no wait.
                ("poll", unsafe { libc::poll(&mut p, 1, 0) } as isize)
            }
        };
        let key = if r < 0 {
            format!("{what} {:?}", Errno::last())
        } else {
            format!("{what} ok")
        };
        *results.entry(key).or_default() += 1;
    }
    println!(
        "{}",
        json!({ "calls": count, "binds_ok": binds_ok, "results": results })
    );
    Ok(())
}

// --- mutated datagrams ---------------------------------------------------------------------

/// IPv4 options that are never sent: strict and loose source routes. With
/// `accept_source_route=0` (the default) `ip_rcv_options()` drops them without counting
/// them anywhere in `/proc/net/snmp`, so a datagram carrying one could not be accounted for.
const SOURCE_ROUTES: [u8; 2] = [131, 137];

/// Random IPv4 options, a multiple of 4 bytes, at most 40: well-formed ones the kernel
/// processes (NOP, record route, timestamp, router alert) or garbage: random types (never a
/// source route) with random, often impossible, lengths. `ip_options_compile()` refuses what
/// it cannot parse and counts it in `Ip: InHdrErrors`.
fn ip_options(rng: &mut Rng) -> Vec<u8> {
    let mut o = match rng.below(5) {
        0 => vec![1, 1, 1, 1],                           // NOPs
        1 => vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0],     // record route, 2 slots
        2 => vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0], // timestamp, 2 slots
        3 => vec![148, 4, 0, 0],                         // router alert
        _ => {
            let n = 1 + rng.below(40) as usize;
            let mut g: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            // Every byte may be read as an option type: none may be a source route.
            for b in &mut g {
                if SOURCE_ROUTES.contains(b) {
                    *b = 1;
                }
            }
            g
        }
    };
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(0); // end of options
    }
    o
}

/// An IPv4 header for `IP_HDRINCL` (`raw_send_hdrinc()` fills in the total length and the
/// checksum, and the source address when it is 0).
fn ip_header(proto: u8, id: u16, frag: u16, options: &[u8], dst: Ipv4Addr) -> Vec<u8> {
    let ihl = (20 + options.len()) / 4;
    let mut h = vec![0x40 | ihl as u8, 0, 0, 0];
    h.extend(id.to_be_bytes());
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(MUTATE_SRC.octets());
    h.extend(dst.octets());
    h.extend(options);
    h
}

/// The source of mutated datagrams (TEST-NET-1): in the test's netns no route leads back to
/// it, so no ICMP error about them is ever sent. An error would echo the datagram's IP
/// options (`__ip_options_echo()`), and a reply whose echoed options fail to parse would
/// itself be counted in `Ip: InHdrErrors`, which the test counts as refused datagrams.
/// (Over `lo` the packet keeps the route it was sent with: its source is not checked.)
const MUTATE_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// IP flag "more fragments" in the fragment field.
const IP_MF: u16 = 0x2000;

fn mutate(to: Ipv4Addr, ports: &[u16], proto: u8, count: u64, seed: u64) -> Result<()> {
    if ports.is_empty() {
        bail!("--ports: at least one");
    }
    let mut rng = Rng::new(seed);
    // IPPROTO_RAW: the IP header is ours (IP_HDRINCL), options and fragment fields included.
    let sock = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
    )
    .context("raw socket (needs CAP_NET_RAW)")?;
    let src = MUTATE_SRC;
    let dst = socket2::SockAddr::from(SocketAddrV4::new(to, 0));
    let mut per_port: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut packets, mut with_options, mut fragmented) = (0u64, 0u64, 0u64);
    for seq in 0..count {
        let port = ports[rng.below(ports.len() as u64) as usize];
        let size = [0usize, 1, 40, 68, 100, 1000, 1400][rng.below(7) as usize];
        let csum = match rng.below(4) {
            0 => datagram::Csum::Bad,
            1 => datagram::Csum::Zero,
            _ => datagram::Csum::Good,
        };
        let ulen = match rng.below(4) {
            0 => Some(rng.below(2000) as u16),
            1 => Some((8 + size as u16).saturating_sub(rng.below(8) as u16)),
            _ => None,
        };
        let shape = datagram::Shape {
            sport: 40000 + rng.below(1000) as u16,
            dport: port,
            seq,
            size,
            ulen,
            csum,
            proto,
        };
        let mut wire = datagram::build(&shape, src, to).wire;
        if rng.below(6) == 0 {
            let keep = rng.below(wire.len() as u64 + 1) as usize;
            wire.truncate(keep.max(1));
        }
        if rng.below(8) == 0 && wire.len() > 8 {
            let i = 8 + rng.below(wire.len() as u64 - 8) as usize;
            wire[i] ^= 1 << rng.below(8);
        }
        // A nonzero id of our own (0 would have the kernel pick one): fragments of one
        // datagram share it, and every set is complete before the id comes round again.
        let id = (seq % 0xffff) as u16 + 1;
        let mut frames = Vec::new();
        if wire.len() >= 16 && rng.below(4) == 0 {
            // Two or three fragments cut at multiples of 8, sent in a random order; the
            // datagram is reassembled before NF_INET_LOCAL_IN and the handler.
            let units = wire.len().div_ceil(8);
            let mut cuts = vec![1 + rng.below(units as u64 - 1) as usize];
            if units > 2 && rng.below(2) == 0 {
                cuts.push(1 + rng.below(units as u64 - 1) as usize);
            }
            cuts.push(units);
            cuts.sort_unstable();
            cuts.dedup();
            let mut from = 0;
            for &c in &cuts {
                let end = (c * 8).min(wire.len());
                let mf = if end < wire.len() { IP_MF } else { 0 };
                let mut f = ip_header(proto, id, mf | (from / 8) as u16, &[], to);
                f.extend(&wire[from..end]);
                frames.push(f);
                from = end;
            }
            for i in (1..frames.len()).rev() {
                frames.swap(i, rng.below(i as u64 + 1) as usize);
            }
            fragmented += 1;
        } else {
            let options = if rng.below(4) == 0 {
                with_options += 1;
                ip_options(&mut rng)
            } else {
                Vec::new()
            };
            let mut f = ip_header(proto, id, 0, &options, to);
            f.extend(&wire);
            frames.push(f);
        }
        for f in &frames {
            sock.send_to(f, &dst)
                .with_context(|| format!("send datagram {seq}"))?;
        }
        packets += frames.len() as u64;
        *per_port.entry(port).or_default() += 1;
    }
    println!(
        "{}",
        json!({ "sent": count, "packets": packets, "with_options": with_options,
                "fragmented": fragmented, "per_port": per_port, "proto": proto })
    );
    Ok(())
}

// --- races on one socket -------------------------------------------------------------------

fn race(port: u16, files: u16, threads: u32, seconds: f64, seed: u64) -> Result<()> {
    if files == 0 || port.checked_add(files - 1).is_none() {
        bail!("--files: 1 or more, and PORT + FILES - 1 a port");
    }
    // Slot i holds the socket of port PORT + i. With more than one file, threads also close
    // a slot's socket and open a new one in its place while the others use it.
    let slots: Vec<std::sync::Mutex<Arc<Device>>> = (0..files)
        .map(|_| Device::open(true).map(|d| std::sync::Mutex::new(Arc::new(d))))
        .collect::<Result<_>>()?;
    let slot = |i: usize| slots[i].lock().unwrap_or_else(|e| e.into_inner()).clone();
    // Everyone binds the first socket at once: exactly one wins, the others get EINVAL.
    let first = slot(0);
    let wins: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let d = first.clone();
                s.spawn(move || d.bind(port).is_ok())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(false)).collect()
    });
    drop(first);
    let won = wins.iter().filter(|w| **w).count();
    if won != 1 {
        bail!("{won} of {threads} racing binds succeeded, want 1");
    }
    for i in 1..files {
        slot(usize::from(i)).bind(port + i)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let read = Arc::new(AtomicU64::new(0));
    let reopened = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (stop, sent) = (stop.clone(), sent.clone());
            s.spawn(move || {
                let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("sender socket");
                let p = datagram::payload(t, 200);
                let mut rng = Rng::new(seed ^ (0x5eed + t));
                while !stop.load(Ordering::Relaxed) {
                    let to = port + rng.below(u64::from(files)) as u16;
                    if u.send_to(&p, (Ipv4Addr::LOCALHOST, to)).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        for t in 0..threads {
            let (read, reopened, slots, slot) = (read.clone(), reopened.clone(), &slots, &slot);
            let mut rng = Rng::new(seed + u64::from(t));
            s.spawn(move || {
                let mut buf = vec![0u8; 2048];
                let prog = crate::kernel::filter::max_len(4000);
                let ops = if files > 1 { 11 } else { 10 };
                while Instant::now() < deadline {
                    let i = rng.below(u64::from(files)) as usize;
                    let dev = slot(i);
                    match rng.below(ops) {
                        0..=2 => {
                            if dev.read_nonblocking(&mut buf) {
                                read.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        3 => {
                            let _ = dev.wait_readable(Some(Duration::ZERO));
                        }
                        4 => {
                            let _ = dev.info();
                        }
                        5 => {
                            let _ = dev.set_rcvbuf(1000 + rng.below(200_000) as i32, false);
                        }
                        6 => {
                            if dev.hold().is_ok() {
                                std::thread::yield_now();
                                let _ = dev.release();
                            }
                        }
                        7 => {
                            let _ = dev.attach_filter(&prog);
                        }
                        8 => {
                            let _ = dev.detach_filter();
                        }
                        9 => {
                            let _ = dev.epoll_readable();
                        }
                        _ => {
                            // Close and reopen: the old socket is closed by whichever
                            // thread drops it last, perhaps in the middle of its read;
                            // the new one binds once the port is free again.
                            drop(dev);
                            let Ok(new) = Device::open(true) else {
                                continue;
                            };
                            let new = Arc::new(new);
                            let old = std::mem::replace(
                                &mut *slots[i].lock().unwrap_or_else(|e| e.into_inner()),
                                new.clone(),
                            );
                            drop(old);
                            reopened.fetch_add(1, Ordering::Relaxed);
                            for _ in 0..100 {
                                if new.bind(port + i as u16).is_ok() {
                                    break;
                                }
                                std::thread::yield_now();
                            }
                        }
                    }
                }
            });
        }
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
    });
    // A socket left held is released by close; what is queued is freed by it.
    let mut queued = 0u64;
    for i in 0..usize::from(files) {
        queued += u64::from(slot(i).info()?.queued);
    }
    println!(
        "{}",
        json!({ "sent": sent.load(Ordering::Relaxed), "read": read.load(Ordering::Relaxed),
                "queued_at_close": queued, "reopened": reopened.load(Ordering::Relaxed),
                "files": files, "threads": threads })
    );
    drop(slots);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_padded_bounded_and_never_route() {
        let mut rng = Rng::new(5);
        for _ in 0..10000 {
            let o = ip_options(&mut rng);
            assert!(!o.is_empty() && o.len() <= 40 && o.len() % 4 == 0, "{o:?}");
            assert!(!o.iter().any(|b| SOURCE_ROUTES.contains(b)), "{o:?}");
        }
    }

    #[test]
    fn header_has_ihl_id_fragment_and_addresses() {
        let h = ip_header(
            17,
            0x1234,
            IP_MF | 3,
            &[1, 1, 1, 1],
            Ipv4Addr::new(10, 0, 0, 2),
        );
        assert_eq!(h.len(), 24);
        assert_eq!(h[0], 0x46);
        assert_eq!(&h[4..6], &[0x12, 0x34]);
        assert_eq!(u16::from_be_bytes([h[6], h[7]]), 0x2003);
        assert_eq!(h[9], 17);
        assert_eq!(&h[12..16], &MUTATE_SRC.octets());
        assert_eq!(&h[16..20], &[10, 0, 0, 2]);
    }
}
