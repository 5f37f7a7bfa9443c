//! `udprx`: the userspace side of udprx — send traffic, receive through `/dev/udprx`, read
//! counters.
//!
//! [`kernel`] is the one place that talks to the module and the kernel, and [`datagram`]
//! builds datagrams; the commands use them: the small ones are in [`cmd`], the experiments
//! in [`compare`], [`bench`](mod@bench) and [`stress`].
//!
//! Counters are read from `/proc/net/udprx` (the module's groups) and `/proc/net/snmp`
//! (the stock `Udp:` line) of the caller's network namespace.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod article;
mod bench;
mod cmd;
mod compare;
mod datagram;
mod font;
mod kernel;
mod side;
mod stress;

use cmd::{check, landlock, model, nfq, recv, send, stat};

#[derive(Parser)]
#[command(
    name = "udprx",
    version,
    about = "udprx: traffic, sockets and counters for the udprx module"
)]
struct Cli {
    /// Run in the named network namespace (/run/netns/NAME), like `ip -n NAME`.
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    netns: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send datagrams: well-formed UDP through a UDP socket, anything else crafted and sent
    /// through a raw socket of the chosen IP protocol.
    Send(send::Args),
    /// Bind a udprx socket (or a stock one) to a port and print the datagrams: LEN HEX.
    Recv(recv::Args),
    /// Print the udprx counter groups next to the stock Udp: counters, nstat-style.
    Stat(stat::Args),
    /// The same traffic to a stock UDP socket and to udprx under each policy, scenario by
    /// scenario, next to the model's prediction; exits 1 on any mismatch.
    Compare(compare::Args),
    /// The per-packet price of the hook and of the receive path, as ratios to stock and to
    /// a C twin, measured with pktgen in one boot (`make bench`).
    Bench(bench::Args),
    /// What the accounting model predicts for N arrivals at a socket that does not read.
    Model(model::Args),
    /// A minimal NFQUEUE listener: bind queue Q, give every queued packet one verdict,
    /// print {"handled":N,"verdict":V}.
    Nfq(nfq::Args),
    /// Stress workloads for the selftests: fault injection, hostile ioctls, mutated
    /// datagrams, racing threads; each prints JSON.
    Stress(stress::Args),
    /// The article's claims about the receive path, each held against the running kernel,
    /// stock and udprx side by side (`make article`).
    Article(article::Args),
    /// Run a command in a Landlock domain that may bind UDP sockets to the given ports only.
    Landlock(landlock::Args),
    /// Check /dev/udprx's answers to bad ioctls and reads (for the selftests).
    #[command(hide = true)]
    IoctlCheck(check::Args),
}

fn main() {
    let cli = Cli::parse();
    if let Some(ns) = &cli.netns {
        if let Err(e) = kernel::netns::enter_named(ns) {
            eprintln!("udprx: {e:#}");
            std::process::exit(1);
        }
    }
    let r: Result<()> = match cli.cmd {
        Cmd::Send(a) => send::run(&a),
        Cmd::Recv(a) => recv::run(&a),
        Cmd::Stat(a) => stat::run(&a),
        Cmd::IoctlCheck(a) => check::run(&a),
        Cmd::Model(a) => model::run(&a),
        Cmd::Compare(a) => compare::run(&a),
        Cmd::Bench(a) => bench::run(&a),
        Cmd::Stress(a) => stress::run(&a),
        Cmd::Nfq(a) => nfq::run(&a),
        Cmd::Landlock(a) => landlock::run(&a),
        Cmd::Article(a) => article::run(&a),
    };
    if let Err(e) = r {
        eprintln!("udprx: {e:#}");
        std::process::exit(1);
    }
}
