//! The evidence for each claim, taken on the running kernel: the stock path, and udprx
//! beside it where udprx re-walks the step. A check fails (`Err`) when the kernel does not
//! do what the claim's status says. Counters are the netns's own and exact; tracepoints see
//! the whole machine, so an event count is a lower bound (other tests' namespaces may still
//! be going away beside it).

mod demux;
mod ip;
mod queue;
mod read;
mod udp;

use super::env::Trace;
use anyhow::Result;

/// What a check measured.
pub struct Obs {
    /// On the stock path.
    pub stock: String,
    /// The same observation on udprx, and whether it equals the stock one.
    pub udprx: Option<Side>,
}

/// udprx's side of an observation.
pub struct Side {
    pub seen: String,
    pub equal: bool,
    /// Why it differs, when it does.
    pub why: &'static str,
}

impl Side {
    pub fn equal(seen: String) -> Option<Self> {
        Some(Self {
            seen,
            equal: true,
            why: "",
        })
    }

    pub fn differs(seen: String, why: &'static str) -> Option<Self> {
        Some(Self {
            seen,
            equal: false,
            why,
        })
    }
}

/// What the checks share: the tracepoints, and results of experiments that several
/// claims rest on.
pub struct Cx {
    pub trace: Trace,
    demux: Option<demux::Demux>,
    full: Option<queue::Full>,
    full_modern: Option<(i64, u64, String)>,
}

impl Cx {
    pub fn new() -> Result<Self> {
        Ok(Self {
            trace: Trace::new(&[
                "skb/kfree_skb",
                "fib/fib_table_lookup",
                "sock/sock_rcvqueue_full",
                "sock/sk_data_ready",
                "sock/sock_recv_length",
                "net/netif_receive_skb",
                "icmp/icmp_send",
            ])?,
            demux: None,
            full: None,
            full_modern: None,
        })
    }
}

/// The port the receivers bind.
pub const PORT: u16 = 7000;

/// A check.
pub type Check = fn(&mut Cx) -> Result<Obs>;

/// The check of claim `id`, if it has one.
pub fn find(id: &str) -> Option<Check> {
    demux::find(id)
        .or_else(|| ip::find(id))
        .or_else(|| udp::find(id))
        .or_else(|| queue::find(id))
        .or_else(|| read::find(id))
}
