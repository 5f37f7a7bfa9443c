// SPDX-License-Identifier: GPL-2.0

//! What the accounting model (`udprx-rxqueue`) predicts for a scenario under one policy.

use super::{
    calibrate::Truesize,
    outcome::{mib_of, Outcomes, Sample},
    scenario::{Guard, Kind, Scenario, Step, CHECKSUM_BREAK},
};
use std::collections::{HashMap, VecDeque};
use udprx_abi::mib::UdpMib;
use udprx_rxqueue::{Memory, Outcome, Policy, Pool, Queue};

/// What the model predicts for one policy.
pub(super) fn model(
    sc: &Scenario,
    policy: Policy,
    rcvbuf: u32,
    truesize: &HashMap<(usize, Kind), Truesize>,
    pool: Option<Pool>,
) -> Outcomes {
    match pool {
        // Protocol memory as the side found it (`udp-mem`).
        Some(p) => model_with(sc, Queue::with_memory(policy, rcvbuf, p), truesize),
        None => model_with(sc, Queue::new(policy, rcvbuf), truesize),
    }
}

fn model_with<M: Memory>(
    sc: &Scenario,
    mut q: Queue<M>,
    truesize: &HashMap<(usize, Kind), Truesize>,
) -> Outcomes {
    let rcvbuf = q.info().rcvbuf;
    let mut o = Outcomes {
        rcvbuf,
        ..Default::default()
    };
    let bump = |o: &mut Outcomes, c: UdpMib| o.mib[c] += 1;
    // What is queued (truesize, checksum bad) and backlogged, in order.
    let mut queue: VecDeque<(u32, bool)> = VecDeque::new();
    let mut backlog: VecDeque<(u32, bool)> = VecDeque::new();
    let drop_counters = |o: &mut Outcomes, d: udprx_rxqueue::DropCause| {
        for &c in d.counters() {
            o.mib[mib_of(c)] += 1;
        }
    };
    let mut closed = false;
    for step in &sc.steps {
        match *step {
            Step::SendClosed(_) => bump(&mut o, UdpMib::NoPorts),
            Step::SendGso(n, size) => {
                // Split before the socket: `n` arrivals of a segment's truesize.
                let ts = truesize[&(size, Kind::Segment)];
                let mut dropped = false;
                for _ in 0..n {
                    let rmem = q.info().rmem_alloc;
                    match q.enqueue(ts.plain, || ts.condensed) {
                        Outcome::Queued => queue.push_back((q.info().rmem_alloc - rmem, false)),
                        Outcome::Backlogged => backlog.push_back((ts.plain, false)),
                        Outcome::Dropped(d) => {
                            drop_counters(&mut o, d);
                            dropped = true;
                        }
                    }
                }
                o.series.push(sample(&q, dropped));
            }
            Step::Send(_, _) if sc.guard == Guard::Firewall => {
                // Dropped by the rule before `LOCAL_IN`'s last hook: nothing moves.
                o.series.push(sample(&q, false));
            }
            Step::Send(size, kind) => {
                if kind == Kind::LongUlen {
                    bump(&mut o, UdpMib::InErrors);
                    o.series.push(sample(&q, false));
                    continue;
                }
                if kind == Kind::BadCsum && size + 8 <= CHECKSUM_BREAK {
                    bump(&mut o, UdpMib::InCsumErrors);
                    bump(&mut o, UdpMib::InErrors);
                    o.series.push(sample(&q, false));
                    continue;
                }
                if let Guard::Filter(max) = sc.guard {
                    // `udp_queue_rcv_one_skb()`: with a filter attached the checksum is
                    // verified first; then the filter; either drop is `InErrors` and a
                    // socket drop.
                    let refused = kind == Kind::BadCsum || size + 8 > max as usize;
                    if refused {
                        if kind == Kind::BadCsum {
                            bump(&mut o, UdpMib::InCsumErrors);
                        }
                        bump(&mut o, UdpMib::InErrors);
                        q.count_drop();
                        o.series.push(sample(&q, true));
                        continue;
                    }
                }
                let ts = truesize[&(size, kind)];
                let bad = kind == Kind::BadCsum;
                let rmem = q.info().rmem_alloc;
                let out = q.enqueue(ts.plain, || ts.condensed);
                match out {
                    // What was charged: the truesize, condensed or not.
                    Outcome::Queued => queue.push_back((q.info().rmem_alloc - rmem, bad)),
                    Outcome::Backlogged => backlog.push_back((ts.plain, bad)),
                    Outcome::Dropped(d) => drop_counters(&mut o, d),
                }
                o.series
                    .push(sample(&q, matches!(out, Outcome::Dropped(_))));
            }
            Step::Read => {
                model_read(&mut q, &mut queue, &mut o);
            }
            Step::Hold => q.lock(),
            Step::Release => {
                q.release_backlog(
                    backlog.drain(..),
                    |&(ts, _)| ts,
                    |d, outcome| match outcome {
                        Outcome::Dropped(why) => drop_counters(&mut o, why),
                        _ => queue.push_back(d),
                    },
                );
            }
            Step::Close => {
                let i = q.info();
                o.final_rmem = i64::from(i.rmem_alloc);
                o.drops = i.drops as i64;
                o.freed_at_close = i64::from(q.close());
                queue.clear();
                closed = true;
            }
        }
    }
    if !closed {
        let i = q.info();
        o.final_rmem = i64::from(i.rmem_alloc);
        o.drops = i.drops as i64;
        while model_read(&mut q, &mut queue, &mut o) {}
    }
    o
}

/// The model's socket after an arrival.
fn sample<M: Memory>(q: &Queue<M>, dropped: bool) -> Sample {
    let i = q.info();
    Sample {
        rmem: i.rmem_alloc,
        backlog: i.backlog_len,
        dropped,
    }
}

/// One read in the model: skips (and counts) datagrams with a bad checksum, as
/// `udp_recvmsg()` does, and delivers the first good one; `false` when nothing was left.
pub(super) fn model_read<M: Memory>(
    q: &mut Queue<M>,
    queue: &mut VecDeque<(u32, bool)>,
    o: &mut Outcomes,
) -> bool {
    while let Some((ts, bad)) = queue.pop_front() {
        q.dequeue(ts);
        if bad {
            q.count_drop();
            o.mib[UdpMib::InCsumErrors] += 1;
            o.mib[UdpMib::InErrors] += 1;
            continue;
        }
        o.mib[UdpMib::InDatagrams] += 1;
        o.delivered += 1;
        return true;
    }
    false
}
