//! `udprx model`: what the accounting model predicts for N arrivals of one truesize at a
//! socket that does not read (optionally held during the arrivals and released after),
//! as JSON, for the selftests to hold the kernel's numbers against.

use anyhow::Result;
use serde_json::json;
use udprx_rxqueue::{Counter, Outcome, Policy, Queue};

use super::recv::PolicyArg;

#[derive(clap::Args)]
pub struct Args {
    /// Policy.
    #[arg(long, value_enum)]
    policy: PolicyArg,
    /// The socket's effective sk_rcvbuf (after doubling and clamping).
    #[arg(long)]
    sk_rcvbuf: u32,
    /// skb->truesize of each datagram.
    #[arg(long)]
    truesize: u32,
    /// Number of arrivals.
    #[arg(long)]
    count: u32,
    /// The socket is held during the arrivals and released after.
    #[arg(long)]
    hold: bool,
}

pub fn predict(
    policy: Policy,
    sk_rcvbuf: u32,
    truesize: u32,
    count: u32,
    hold: bool,
) -> serde_json::Value {
    let mut q = Queue::new(policy, sk_rcvbuf);
    let (mut queued, mut backlogged, mut rcvbuf_errors, mut in_errors) = (0u32, 0u32, 0u32, 0u32);
    let count_drop = |d: udprx_rxqueue::DropCause, rcv: &mut u32, inn: &mut u32| {
        for c in d.counters() {
            match c {
                Counter::RcvbufErrors => *rcv += 1,
                Counter::InErrors => *inn += 1,
                // The model's memory is unlimited here: never refused.
                Counter::MemErrors => {}
            }
        }
    };
    if hold {
        q.lock();
    }
    for _ in 0..count {
        match q.enqueue(truesize, || truesize) {
            Outcome::Queued => queued += 1,
            Outcome::Backlogged => backlogged += 1,
            Outcome::Dropped(d) => count_drop(d, &mut rcvbuf_errors, &mut in_errors),
        }
    }
    let held = q.info();
    if hold {
        q.release_backlog(
            0..backlogged,
            |_| truesize,
            |_, outcome| match outcome {
                Outcome::Dropped(d) => count_drop(d, &mut rcvbuf_errors, &mut in_errors),
                _ => queued += 1,
            },
        );
    }
    let i = q.info();
    json!({
        "delivered": queued,
        "dropped": count - queued,
        "RcvbufErrors": rcvbuf_errors,
        "InErrors": in_errors,
        "drops": i.drops,
        "rmem_alloc": i.rmem_alloc,
        "held_backlog_count": held.backlog_count,
        "held_backlog_len": held.backlog_len,
    })
}

pub fn run(a: &Args) -> Result<()> {
    let policy = match a.policy {
        PolicyArg::Classic => Policy::Classic,
        PolicyArg::Modern => Policy::Modern,
    };
    println!(
        "{}",
        predict(policy, a.sk_rcvbuf, a.truesize, a.count, a.hold)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_without_reading() {
        // rcvbuf 10_000, truesize 2_000. modern: 5 fit exactly (rmem + size > rcvbuf drops
        // from the 6th). classic: 3.13 queues while rmem < rcvbuf: 0, 2k, 4k, 6k, 8k → 5
        // queued; then rmem == rcvbuf: sk_rcvqueues_full (>) passes and
        // sock_queue_rcv_skb (>=) says ENOMEM, three times.
        let m = predict(Policy::Modern, 10_000, 2_000, 8, false);
        assert_eq!(
            (m["delivered"].as_u64(), m["RcvbufErrors"].as_u64()),
            (Some(5), Some(3))
        );
        let c = predict(Policy::Classic, 10_000, 2_000, 8, false);
        let got = (
            c["delivered"].as_u64(),
            c["RcvbufErrors"].as_u64(),
            c["InErrors"].as_u64(),
        );
        assert_eq!(got, (Some(5), Some(3), Some(3)));
        // truesize 3_000: modern 3 (9k), classic 4 (0, 3k, 6k, 9k < 10k), after which rmem
        // 12k > rcvbuf: the early sk_rcvqueues_full drop, InErrors only.
        assert_eq!(
            predict(Policy::Modern, 10_000, 3_000, 8, false)["delivered"].as_u64(),
            Some(3)
        );
        let c = predict(Policy::Classic, 10_000, 3_000, 8, false);
        let got = (
            c["delivered"].as_u64(),
            c["RcvbufErrors"].as_u64(),
            c["InErrors"].as_u64(),
        );
        assert_eq!(got, (Some(4), Some(0), Some(4)));
    }

    #[test]
    fn held_classic_uses_the_backlog() {
        let c = predict(Policy::Classic, 10_000, 3_000, 8, true);
        // Backlog admits while backlog.len + rmem <= rcvbuf: 0, 3k, 6k, 9k → 4, then drops.
        assert_eq!(c["held_backlog_count"].as_u64(), Some(4));
        assert_eq!(c["delivered"].as_u64(), Some(4));
        assert_eq!(c["RcvbufErrors"].as_u64(), Some(0));
        let m = predict(Policy::Modern, 10_000, 3_000, 8, true);
        assert_eq!(m["held_backlog_count"].as_u64(), Some(0));
        assert_eq!(m["delivered"].as_u64(), Some(3));
    }
}
