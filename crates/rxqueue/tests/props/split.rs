// SPDX-License-Identifier: GPL-2.0

//! The two parts of a socket's accounting, [`Shared`] and [`Reader`], driven as the
//! kernel module drives them under its two locks, against the single-lock [`Queue`]: random
//! arrivals, hold/release, reads, socket options, policy changes and close, with protocol
//! memory from a small pool. After every step both parts equal the single-lock model's,
//! datagrams are read in the order they came, and the invariants hold: each part counts
//! the datagrams on its list, `sk_rmem_alloc` is their truesizes plus the deficit, there
//! is no deficit without a reader queue and no reader queue for `classic`, and the pool
//! holds exactly `sk_forward_alloc + sk_rmem_alloc` plus the classic backlog.

use super::{op, Op, LIMITS};
use proptest::prelude::*;
use std::collections::VecDeque;
use udprx_rxqueue::{Outcome, Policy, Pool, Queue, Reader, Shared, Take};

#[derive(Clone, Debug)]
enum Step {
    Op(Op),
    SetPolicy(Policy),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => op().prop_map(Step::Op),
        1 => prop_oneof![Just(Policy::Classic), Just(Policy::Modern)].prop_map(Step::SetPolicy),
    ]
}

/// The module's socket: the producers' part with the shared queue and the backlog (one
/// lock), the reader part with the reader queue (the other); lists of truesizes.
struct Split {
    shared: Shared<Pool>,
    reader: Reader,
    shared_q: VecDeque<u32>,
    backlog: VecDeque<u32>,
    reader_q: VecDeque<u32>,
}

impl Split {
    /// `n` datagrams move from the shared queue to the reader queue (both locks held).
    fn splice(&mut self, n: u32) {
        assert_eq!(n as usize, self.shared_q.len(), "a splice moves all");
        self.reader_q.extend(self.shared_q.drain(..));
        self.reader.splice(n);
    }

    /// The reader's `Take` answer, both locks held or the reader's only.
    fn finish(&mut self, take: Take) {
        if let Take::Uncharge(deficit) = take {
            let n = self.shared.uncharge(deficit);
            self.splice(n);
        }
    }

    /// `read()`: the reader lock; with its queue empty, the shared lock inside it.
    fn read(&mut self) -> Option<u32> {
        if let Some(t) = self.reader_q.pop_front() {
            let take = self
                .reader
                .take(t)
                .expect("the reader part counts its list");
            self.finish(take);
            return Some(t);
        }
        assert!(self.reader.is_empty());
        match self.shared.policy() {
            Policy::Classic => {
                let t = self.shared_q.pop_front();
                assert_eq!(self.shared.dequeue(t.unwrap_or(1)), t.is_some());
                t
            }
            Policy::Modern => {
                let n = self.shared.splice();
                self.splice(n);
                let t = self.reader_q.pop_front()?;
                let take = self.reader.take(t).expect("just spliced");
                self.finish(take);
                Some(t)
            }
        }
    }

    fn check(&self, q: &Queue<Pool>) -> Result<(), TestCaseError> {
        prop_assert_eq!(&self.shared, q.shared());
        prop_assert_eq!(&self.reader, q.reader());
        let i = self.shared.info(&self.reader);
        prop_assert_eq!(i, q.info());
        prop_assert_eq!(self.shared.queued() as usize, self.shared_q.len());
        prop_assert_eq!(self.reader.len() as usize, self.reader_q.len());
        prop_assert_eq!(i.backlog_count as usize, self.backlog.len());
        let bytes: u32 = self.shared_q.iter().chain(&self.reader_q).sum();
        prop_assert_eq!(i.rmem_alloc, bytes + self.reader.forward_deficit());
        if self.reader.is_empty() {
            prop_assert_eq!(self.reader.forward_deficit(), 0);
        }
        if self.shared.policy() == Policy::Classic {
            prop_assert!(self.reader.is_empty());
        }
        let pool = self.shared.memory();
        prop_assert_eq!(
            (pool.allocated + pool.pcpu) * 4096,
            i.forward_alloc + i64::from(i.rmem_alloc) + i64::from(i.backlog_charged)
        );
        Ok(())
    }
}

fn run(policy: Policy, pool: Pool, steps: &[Step]) -> Result<(), TestCaseError> {
    let rmem_default = 212_992;
    let mut q = Queue::with_memory(policy, rmem_default, pool);
    let mut all = VecDeque::new(); // the single-lock model's datagrams, oldest first
    let mut backlog = VecDeque::new();
    let mut s = Split {
        shared: Shared::with_memory(policy, rmem_default, pool),
        reader: Reader::new(rmem_default),
        shared_q: VecDeque::new(),
        backlog: VecDeque::new(),
        reader_q: VecDeque::new(),
    };
    for st in steps {
        match *st {
            Step::Op(Op::Arrive {
                truesize,
                condensed,
            }) => {
                let mut size = truesize;
                let want = q.enqueue(truesize, || {
                    size = condensed;
                    condensed
                });
                // The module condenses before it takes the lock.
                let charged = if s.shared.wants_condense(truesize) {
                    condensed
                } else {
                    truesize
                };
                let out = s.shared.enqueue_condensed(truesize, charged);
                prop_assert_eq!(out, want);
                prop_assert_eq!(charged, size);
                match out {
                    Outcome::Queued => {
                        all.push_back(size);
                        s.shared_q.push_back(size);
                    }
                    Outcome::Backlogged => {
                        backlog.push_back(size);
                        s.backlog.push_back(size);
                    }
                    Outcome::Dropped(_) => {}
                }
            }
            Step::Op(Op::Hold) => {
                if !q.info().owned {
                    q.lock();
                    s.shared.lock();
                }
            }
            Step::Op(Op::Release) => {
                if q.info().owned {
                    q.release_backlog(
                        backlog.drain(..),
                        |t| *t,
                        |t, o| {
                            if o == Outcome::Queued {
                                all.push_back(t);
                            }
                        },
                    );
                    let (shared, shared_q) = (&mut s.shared, &mut s.shared_q);
                    shared.release_backlog(
                        s.backlog.drain(..),
                        |t| *t,
                        |t, o| {
                            if o == Outcome::Queued {
                                shared_q.push_back(t);
                            }
                        },
                    );
                }
            }
            Step::Op(Op::Read) => {
                let head = all.pop_front();
                prop_assert_eq!(q.dequeue(head.unwrap_or(1)), head.is_some());
                prop_assert_eq!(s.read(), head, "read in arrival order");
            }
            Step::Op(Op::SetRcvbuf { val, force }) => {
                q.set_rcvbuf(val, force, LIMITS);
                // Both locks, reader first.
                let rcvbuf = LIMITS.rcvbuf(val, force);
                s.reader.set_rcvbuf_to(rcvbuf);
                s.shared.set_rcvbuf_to(rcvbuf);
            }
            Step::SetPolicy(p) => {
                prop_assert_eq!(s.shared.set_policy(p), q.set_policy(p));
            }
        }
        s.check(&q)?;
    }
    // Close: a held socket is released first, then both queues are purged.
    if q.info().owned {
        q.release_backlog(backlog.drain(..), |t| *t, |_, _| {});
        let shared_q = &mut s.shared_q;
        s.shared.release_backlog(
            s.backlog.drain(..),
            |t| *t,
            |t, o| {
                if o == Outcome::Queued {
                    shared_q.push_back(t);
                }
            },
        );
    }
    let n = s.shared_q.len() + s.reader_q.len();
    let freed = q.close();
    prop_assert_eq!(s.shared.close(&mut s.reader), freed);
    prop_assert_eq!(freed as usize, n);
    s.shared_q.clear();
    s.reader_q.clear();
    s.check(&q)?;
    let i = q.info();
    prop_assert_eq!((i.rmem_alloc, i.queued, i.forward_deficit), (0, 0, 0));
    prop_assert_eq!(q.memory().allocated + q.memory().pcpu, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn split_equals_single_lock(
        classic in any::<bool>(),
        limits in (0i64..64, 0i64..64, 0i64..256),
        rsv in 1i64..8,
        steps in proptest::collection::vec(step(), 0..300),
    ) {
        let policy = if classic { Policy::Classic } else { Policy::Modern };
        let pool = Pool {
            pcpu_rsv: rsv,
            limits: [limits.0, limits.1, limits.2],
            rmem0: 4096,
            ..Pool::default()
        };
        run(policy, pool, &steps)?;
    }
}
