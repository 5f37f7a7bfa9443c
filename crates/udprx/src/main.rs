//! `udprx`: the userspace side of udprx — send traffic, read counters.
//!
//! Counters are read from `/proc/net/udprx` (the module's groups) and `/proc/net/snmp`
//! (the stock `Udp:` line) of the caller's network namespace.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod send;
mod snmp;
mod stat;

#[derive(Parser)]
#[command(name = "udprx", version, about = "udprx: traffic and counters for the udprx module")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send datagrams: UDP through a normal socket, any other protocol through a raw socket.
    Send(send::Args),
    /// Print the udprx counter groups next to the stock Udp: counters, nstat-style.
    Stat(stat::Args),
}

fn main() {
    let cli = Cli::parse();
    let r: Result<()> = match cli.cmd {
        Cmd::Send(a) => send::run(&a),
        Cmd::Stat(a) => stat::run(&a),
    };
    if let Err(e) = r {
        eprintln!("udprx: {e:#}");
        std::process::exit(1);
    }
}
