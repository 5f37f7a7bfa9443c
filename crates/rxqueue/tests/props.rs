// SPDX-License-Identifier: GPL-2.0

//! Property tests: random sequences of arrivals, hold/release, reads and receive-buffer
//! changes, run against the model and against a straightforward reference that keeps the
//! actual lists of datagrams. After every step: `sk_rmem_alloc` equals the truesizes of
//! what is queued (plus the 7.3 forward deficit) and never goes negative, the backlog is
//! empty after a release, and every datagram is, exactly once, queued, backlogged, read or
//! dropped — and after close, read or dropped or freed by the close. `props/split.rs`:
//! the two parts of the accounting under two locks against the single-lock model.

#[path = "props/split.rs"]
mod split;

use proptest::prelude::*;

/// `INT_MAX`: `sk_rmem_alloc` is an `int`.
const INT_MAX: u32 = i32::MAX as u32;
use std::collections::VecDeque;
use udprx_rxqueue::{DropCause, Limits, Outcome, Policy, Pool, Queue};

const LIMITS: Limits = Limits {
    rmem_max: 1 << 20,
    min_rcvbuf: 2304,
};

#[derive(Clone, Debug)]
enum Op {
    Arrive { truesize: u32, condensed: u32 },
    Hold,
    Release,
    Read,
    SetRcvbuf { val: i32, force: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Sizes and buffers on a common grid as well, so that equalities (the boundaries of
        // `>` versus `>=`) actually happen.
        6 => (prop_oneof![256u32..70_000, (1u32..30).prop_map(|k| k * 1_152)], 0u32..=100)
            .prop_map(|(t, pct)| Op::Arrive {
            truesize: t,
            condensed: (t - t * pct / 200).max(256),
        }),
        1 => Just(Op::Hold),
        1 => Just(Op::Release),
        3 => Just(Op::Read),
        1 => (prop_oneof![-10_000i32..400_000, (1i32..60).prop_map(|k| k * 1_152)], any::<bool>())
            .prop_map(|(val, force)| Op::SetRcvbuf { val, force }),
    ]
}

/// Where a datagram ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Queued,
    Backlog,
    Read,
    Dropped,
    Closed,
}

/// The reference: lists of (id, truesize), the rules restated in the plainest terms.
struct Reference {
    policy: Policy,
    rcvbuf: u32,
    queue: VecDeque<(usize, u32)>,
    backlog: VecDeque<(usize, u32)>,
    owned: bool,
    deficit: u32,
    reader: usize,
    drops: u64,
}

impl Reference {
    fn queued_bytes(&self) -> u32 {
        self.queue.iter().map(|(_, t)| t).sum()
    }
    fn backlog_bytes(&self) -> u32 {
        self.backlog.iter().map(|(_, t)| t).sum()
    }
    fn rmem(&self) -> u32 {
        self.queued_bytes() + self.deficit
    }
}

fn run(policy: Policy, ops: &[Op]) -> Result<(), TestCaseError> {
    let rmem_default = 212_992;
    let mut q = Queue::new(policy, rmem_default);
    let mut r = Reference {
        policy,
        rcvbuf: rmem_default,
        queue: VecDeque::new(),
        backlog: VecDeque::new(),
        owned: false,
        deficit: 0,
        reader: 0,
        drops: 0,
    };
    let mut fate: Vec<Fate> = Vec::new();
    for o in ops {
        match *o {
            Op::Arrive {
                truesize,
                condensed,
            } => {
                let id = fate.len();
                let mut called = false;
                let rmem_before = r.rmem();
                let out = q.enqueue(truesize, || {
                    called = true;
                    condensed
                });
                let size = if called { condensed } else { truesize };
                // Reference decision.
                let want = match r.policy {
                    Policy::Classic => {
                        if r.backlog_bytes() + r.rmem() > r.rcvbuf {
                            Outcome::Dropped(DropCause::RcvqueuesFull)
                        } else if r.owned {
                            Outcome::Backlogged
                        } else if r.rmem() >= r.rcvbuf || r.rmem() + truesize > INT_MAX {
                            Outcome::Dropped(DropCause::RcvbufFull)
                        } else {
                            Outcome::Queued
                        }
                    }
                    Policy::Modern => {
                        let rmem = r.rmem();
                        if rmem + truesize > r.rcvbuf && rmem != 0 {
                            Outcome::Dropped(DropCause::RcvbufFull)
                        } else {
                            Outcome::Queued
                        }
                    }
                };
                prop_assert_eq!(out, want);
                // skb_condense() only by 7.3, only for an accepted datagram, only when
                // rmem > rcvbuf >> 1.
                let want_condense = policy == Policy::Modern
                    && out == Outcome::Queued
                    && rmem_before > r.rcvbuf >> 1;
                prop_assert_eq!(called, want_condense);
                match out {
                    Outcome::Queued => {
                        r.queue.push_back((id, size));
                        fate.push(Fate::Queued);
                    }
                    Outcome::Backlogged => {
                        r.backlog.push_back((id, truesize));
                        fate.push(Fate::Backlog);
                    }
                    Outcome::Dropped(_) => {
                        r.drops += 1;
                        fate.push(Fate::Dropped);
                    }
                }
            }
            Op::Hold => {
                q.lock();
                r.owned = true;
            }
            Op::Release => {
                // Classic: each backlogged datagram goes through sock_queue_rcv_skb's test
                // against the growing rmem; the backlog bytes stay counted until the end.
                while let Some((id, ts)) = r.backlog.pop_front() {
                    let out = q.drain_one(ts);
                    let want = if r.rmem() >= r.rcvbuf || r.rmem() + ts > INT_MAX {
                        Outcome::Dropped(DropCause::RcvbufFull)
                    } else {
                        Outcome::Queued
                    };
                    prop_assert_eq!(out, Some(want));
                    if want == Outcome::Queued {
                        r.queue.push_back((id, ts));
                        fate[id] = Fate::Queued;
                    } else {
                        r.drops += 1;
                        fate[id] = Fate::Dropped;
                    }
                }
                prop_assert_eq!(q.drain_one(1), None);
                q.release();
                r.owned = false;
                prop_assert_eq!(q.info().backlog_len, 0, "backlog drained on release");
                prop_assert_eq!(q.info().backlog_count, 0);
            }
            Op::Read => {
                let head = r.queue.pop_front();
                prop_assert_eq!(q.dequeue(head.map_or(1, |(_, t)| t)), head.is_some());
                if let Some((id, ts)) = head {
                    fate[id] = Fate::Read;
                    if r.policy == Policy::Modern {
                        if r.reader == 0 {
                            r.reader = r.queue.len() + 1;
                        }
                        r.reader -= 1;
                        r.deficit += ts;
                        // forward_threshold: rcvbuf >> 2 of the current setting.
                        if !(r.deficit < r.rcvbuf >> 2 && r.reader != 0) {
                            r.deficit = 0;
                            r.reader = r.queue.len();
                        }
                    }
                }
            }
            Op::SetRcvbuf { val, force } => {
                q.set_rcvbuf(val, force, LIMITS);
                let v: i64 = if force {
                    i64::from(val.max(0))
                } else {
                    i64::from((val as u32).min(LIMITS.rmem_max))
                };
                r.rcvbuf =
                    (v.min(i64::from(i32::MAX / 2)) * 2).max(i64::from(LIMITS.min_rcvbuf)) as u32;
            }
        }
        let i = q.info();
        prop_assert_eq!(i.rcvbuf, r.rcvbuf);
        prop_assert_eq!(
            i.rmem_alloc,
            r.rmem(),
            "rmem_alloc = queued truesizes + deficit"
        );
        prop_assert_eq!(i.forward_deficit, r.deficit);
        prop_assert_eq!(i.queued as usize, r.queue.len());
        prop_assert_eq!(i.backlog_count as usize, r.backlog.len());
        if policy == Policy::Classic {
            prop_assert_eq!(i.forward_deficit, 0);
            prop_assert!(i.backlog_len >= r.backlog_bytes());
        } else {
            prop_assert_eq!(i.backlog_count, 0, "7.3 UDP never backlogs");
        }
        prop_assert_eq!(i.drops, r.drops);
        prop_assert_eq!(
            fate.iter().filter(|f| **f == Fate::Dropped).count() as u64,
            r.drops
        );
        prop_assert_eq!(
            fate.iter().filter(|f| **f == Fate::Queued).count(),
            r.queue.len()
        );
    }
    // Close: release first if held, then everything queued is freed.
    if r.owned {
        while let Some((id, ts)) = r.backlog.pop_front() {
            if q.drain_one(ts) == Some(Outcome::Queued) {
                r.queue.push_back((id, ts));
                fate[id] = Fate::Queued;
            } else {
                fate[id] = Fate::Dropped;
            }
        }
        q.release();
    }
    let freed = q.close();
    prop_assert_eq!(freed as usize, r.queue.len());
    for (id, _) in r.queue.drain(..) {
        fate[id] = Fate::Closed;
    }
    let i = q.info();
    prop_assert_eq!(i.rmem_alloc, 0, "nothing left charged after close");
    prop_assert_eq!(i.forward_deficit, 0);
    prop_assert!(fate
        .iter()
        .all(|f| matches!(f, Fate::Read | Fate::Dropped | Fate::Closed)));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn classic_matches_reference(ops in proptest::collection::vec(op(), 0..200)) {
        run(Policy::Classic, &ops)?;
    }

    #[test]
    fn modern_matches_reference(ops in proptest::collection::vec(op(), 0..200)) {
        run(Policy::Modern, &ops)?;
    }
}

/// Random traffic against a small protocol memory pool: after every step the pages the
/// pool holds for the socket are exactly `sk_forward_alloc + sk_rmem_alloc`, and after
/// close the pool is back to zero (nothing leaks into `udp_memory_allocated`).
fn run_pool(policy: Policy, limits: [i64; 3], rsv: i64, ops: &[Op]) -> Result<(), TestCaseError> {
    let pool = Pool {
        pcpu_rsv: rsv,
        limits,
        rmem0: 4096,
        ..Pool::default()
    };
    let mut q = Queue::with_memory(policy, 212_992, pool);
    let held = |q: &Queue<Pool>| q.memory().allocated + q.memory().pcpu;
    // The truesizes on the queue and on the backlog, oldest first.
    let mut queue = VecDeque::new();
    let mut backlog = VecDeque::new();
    for op in ops {
        match *op {
            Op::Arrive {
                truesize,
                condensed,
            } => {
                let before = held(&q);
                let mut size = truesize;
                match q.enqueue(truesize, || {
                    size = condensed;
                    condensed
                }) {
                    Outcome::Queued => queue.push_back(size),
                    Outcome::Backlogged => backlog.push_back(size),
                    Outcome::Dropped(
                        DropCause::ProtoMem | DropCause::RmemSchedule | DropCause::BacklogMem,
                    ) => {
                        prop_assert_eq!(held(&q), before);
                    }
                    Outcome::Dropped(_) => {}
                }
            }
            Op::Hold => {
                if !q.info().owned {
                    q.lock();
                }
            }
            Op::Release => {
                if q.info().owned {
                    q.release_backlog(
                        backlog.drain(..),
                        |t| *t,
                        |t, o| {
                            if o == Outcome::Queued {
                                queue.push_back(t);
                            }
                        },
                    );
                }
            }
            Op::Read => {
                if let Some(t) = queue.pop_front() {
                    prop_assert!(q.dequeue(t));
                }
            }
            Op::SetRcvbuf { val, force } => q.set_rcvbuf(val, force, LIMITS),
        }
        let i = q.info();
        prop_assert_eq!(
            held(&q) * 4096,
            i.forward_alloc + i64::from(i.rmem_alloc) + i64::from(i.backlog_charged),
            "{:?}",
            i
        );
        prop_assert_eq!(q.memory().rmem_alloc, i.rmem_alloc);
    }
    // Close releases a held socket first (`release_sock()` in `udp_lib_close()`).
    if q.info().owned {
        q.release_backlog(backlog.drain(..), |t| *t, |_, _| {});
    }
    q.close();
    prop_assert_eq!(held(&q), 0);
    prop_assert_eq!(q.info().forward_alloc, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn pool_pages_are_charges_plus_forward_alloc(
        classic in any::<bool>(),
        limits in (0i64..8, 0i64..8, 0i64..64),
        rsv in 1i64..8,
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let policy = if classic { Policy::Classic } else { Policy::Modern };
        run_pool(policy, [limits.0, limits.1, limits.2], rsv, &ops)?;
    }
}
