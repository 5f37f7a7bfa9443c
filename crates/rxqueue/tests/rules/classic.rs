// SPDX-License-Identifier: GPL-2.0

//! The 3.13 rules (`classic`).

use super::common::{charged, no_condense, pool};
use udprx_rxqueue::{Counter, DropCause, Outcome, Policy, Queue};

#[test]
fn classic_sock_queue_rcv_skb_rmem_ge_rcvbuf() {
    // rmem == rcvbuf - 1: queued (even though rmem + truesize is far above rcvbuf).
    let mut q = charged(Policy::Classic, 10_000, 9_999);
    assert_eq!(q.enqueue(5_000, no_condense), Outcome::Queued);
    // rmem == rcvbuf: sk_rcvqueues_full() (>) passes, sock_queue_rcv_skb() (>=) drops.
    let mut q = charged(Policy::Classic, 10_000, 10_000);
    let o = q.enqueue(100, no_condense);
    assert_eq!(o, Outcome::Dropped(DropCause::RcvbufFull));
    assert_eq!(
        DropCause::RcvbufFull.counters(),
        &[Counter::RcvbufErrors, Counter::InErrors]
    );
    assert_eq!(q.info().drops, 1);
    // rmem == rcvbuf + 1: the early sk_rcvqueues_full() drop, InErrors only.
    let mut q = charged(Policy::Classic, 10_000, 10_001);
    assert_eq!(
        q.enqueue(100, no_condense),
        Outcome::Dropped(DropCause::RcvqueuesFull)
    );
    assert_eq!(DropCause::RcvqueuesFull.counters(), &[Counter::InErrors]);
}

#[test]
fn classic_rcvqueues_full_counts_the_backlog() {
    // backlog.len + rmem_alloc > rcvbuf, at the boundary.
    let mut q = Queue::new(Policy::Classic, 10_000);
    assert_eq!(q.enqueue(4_000, no_condense), Outcome::Queued);
    q.lock();
    assert_eq!(q.enqueue(5_999, no_condense), Outcome::Backlogged);
    // qsize = 9_999: not full.
    assert_eq!(q.enqueue(1, no_condense), Outcome::Backlogged);
    // qsize = 10_000 == rcvbuf: not full (the test is >).
    assert_eq!(q.enqueue(7, no_condense), Outcome::Backlogged);
    // qsize = 10_007 > rcvbuf: full.
    assert_eq!(
        q.enqueue(1, no_condense),
        Outcome::Dropped(DropCause::RcvqueuesFull)
    );
    let i = q.info();
    assert_eq!(
        (i.backlog_len, i.backlog_count, i.rmem_alloc, i.drops),
        (6_007, 3, 4_000, 1)
    );
}

#[test]
fn classic_release_goes_through_sock_queue_rcv_skb() {
    let mut q = Queue::new(Policy::Classic, 10_000);
    q.lock();
    for _ in 0..3 {
        assert_eq!(q.enqueue(4_000, no_condense), Outcome::Backlogged);
    }
    // backlog 12_000 > rcvbuf now.
    assert_eq!(
        q.enqueue(1, no_condense),
        Outcome::Dropped(DropCause::RcvqueuesFull)
    );
    // Drain: 0 < 10_000 queued; 4_000 < 10_000 queued; 8_000 < 10_000 queued (>= test).
    assert_eq!(q.drain_one(4_000), Some(Outcome::Queued));
    assert_eq!(q.drain_one(4_000), Some(Outcome::Queued));
    assert_eq!(q.drain_one(4_000), Some(Outcome::Queued));
    assert_eq!(q.drain_one(4_000), None);
    // While draining, sk_backlog.len still counts what was drained.
    assert_eq!(q.info().backlog_len, 12_000);
    q.release();
    let i = q.info();
    assert_eq!(
        (
            i.backlog_len,
            i.backlog_count,
            i.rmem_alloc,
            i.queued,
            i.owned
        ),
        (0, 0, 12_000, 3, false)
    );
    // Now the buffer is over: the next arrival drops early.
    assert_eq!(
        q.enqueue(1, no_condense),
        Outcome::Dropped(DropCause::RcvqueuesFull)
    );
}

#[test]
fn classic_release_drops_with_enomem_at_rcvbuf() {
    let mut q = Queue::new(Policy::Classic, 10_000);
    q.lock();
    assert_eq!(q.enqueue(5_000, no_condense), Outcome::Backlogged);
    assert_eq!(q.enqueue(5_000, no_condense), Outcome::Backlogged);
    assert_eq!(q.enqueue(1, no_condense), Outcome::Backlogged); // qsize 10_000: not > rcvbuf
    assert_eq!(q.drain_one(5_000), Some(Outcome::Queued));
    assert_eq!(q.drain_one(5_000), Some(Outcome::Queued));
    // rmem == rcvbuf: -ENOMEM.
    assert_eq!(
        q.drain_one(1),
        Some(Outcome::Dropped(DropCause::RcvbufFull))
    );
    q.release();
    assert_eq!(q.info().drops, 1);
}

#[test]
fn classic_release_backlog_is_drain_one_each_then_release() {
    // The same three datagrams as above, through release_backlog(): oldest first, each
    // with its own truesize, the third refused at rmem == rcvbuf; then the task lets go.
    let mut q = Queue::new(Policy::Classic, 10_000);
    q.lock();
    for t in [5_000, 5_000, 1] {
        assert_eq!(q.enqueue(t, no_condense), Outcome::Backlogged);
    }
    let mut seen = Vec::new();
    q.release_backlog(
        ["a", "b", "c"],
        |&n| if n == "c" { 1 } else { 5_000 },
        |n, o| seen.push((n, o)),
    );
    assert_eq!(
        seen,
        [
            ("a", Outcome::Queued),
            ("b", Outcome::Queued),
            ("c", Outcome::Dropped(DropCause::RcvbufFull))
        ]
    );
    let i = q.info();
    assert_eq!(
        (
            i.backlog_len,
            i.backlog_count,
            i.owned,
            i.rmem_alloc,
            i.drops
        ),
        (0, 0, false, 10_000, 1)
    );
}

#[test]
fn classic_rmem_schedule_counts_in_errors_only() {
    let mut q = Queue::with_memory(Policy::Classic, 1 << 20, pool([1, 1, 1], 0));
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    // sk_forward_alloc is 0 after the first charge; the second page is refused.
    assert_eq!(q.info().forward_alloc, 0);
    assert_eq!(
        q.enqueue(100, no_condense),
        Outcome::Dropped(DropCause::RmemSchedule)
    );
    assert_eq!(DropCause::RmemSchedule.counters(), &[Counter::InErrors]);
    // A datagram that fits in sk_forward_alloc needs no schedule: read the first one
    // (4096 back in forward_alloc, not more than a page: kept), then two of 2000 fit.
    assert!(q.dequeue(4096));
    assert_eq!(q.info().forward_alloc, 4096);
    assert_eq!(q.memory().allocated, 1);
    assert_eq!(q.enqueue(2000, no_condense), Outcome::Queued);
    assert_eq!(q.enqueue(2000, no_condense), Outcome::Queued);
    assert_eq!(
        q.enqueue(200, no_condense),
        Outcome::Dropped(DropCause::RmemSchedule)
    );
    q.close();
    assert_eq!(q.memory().allocated, 0);
    assert_eq!(q.info().forward_alloc, 0);
}

#[test]
fn classic_backlog_is_charged_while_it_waits() {
    // Two pages of protocol memory: the held socket's backlog takes them, and the third
    // datagram is refused on arrival (InErrors only, as a failed sk_add_backlog()).
    let mut q = Queue::with_memory(Policy::Classic, 1 << 20, pool([2, 2, 2], 0));
    q.lock();
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Backlogged);
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Backlogged);
    assert_eq!(q.memory().allocated, 2, "the backlog holds its pages");
    assert_eq!(q.info().backlog_charged, 8192);
    assert_eq!(
        q.info().rmem_alloc,
        0,
        "sk_rmem_alloc counts the queue only"
    );
    assert_eq!(
        q.enqueue(100, no_condense),
        Outcome::Dropped(DropCause::BacklogMem)
    );
    assert_eq!(DropCause::BacklogMem.counters(), &[Counter::InErrors]);
    // The drain moves the charge to the queue: nothing is scheduled twice.
    let mut outcomes = Vec::new();
    q.release_backlog([4096, 4096], |t| *t, |_, o| outcomes.push(o));
    assert_eq!(outcomes, [Outcome::Queued, Outcome::Queued]);
    assert_eq!(q.memory().allocated, 2);
    assert_eq!(q.info().backlog_charged, 0);
    assert_eq!(q.info().rmem_alloc, 8192);
    q.close();
    assert_eq!(q.memory().allocated, 0);
}

#[test]
fn classic_backlog_dropped_at_drain_is_uncharged() {
    // rcvbuf 2304: two backlogged datagrams of 2304 pass sk_rcvqueues_full() (2304 is not
    // above 2304); drained, the first fills the buffer and the second meets
    // sock_queue_rcv_skb()'s `rmem >= rcvbuf`: dropped, and its charge goes back.
    let mut q = Queue::with_memory(Policy::Classic, 2304, pool([8, 8, 8], 0));
    q.lock();
    assert_eq!(q.enqueue(2304, no_condense), Outcome::Backlogged);
    assert_eq!(q.enqueue(2304, no_condense), Outcome::Backlogged);
    assert_eq!(q.memory().allocated, 2);
    let mut outcomes = Vec::new();
    q.release_backlog([2304, 2304], |t| *t, |_, o| outcomes.push(o));
    assert_eq!(
        outcomes,
        [Outcome::Queued, Outcome::Dropped(DropCause::RcvbufFull)]
    );
    // 8192 scheduled - 2304 queued = 5888 spare: more than a page, so a page goes back.
    assert_eq!(q.memory().allocated, 1);
    assert_eq!(q.info().forward_alloc, 4096 - 2304);
    q.close();
    assert_eq!(q.memory().allocated, 0);
}

#[test]
fn classic_rmem_never_passes_int_max() {
    // SO_RCVBUFFORCE near INT_MAX: sock_queue_rcv_skb()'s `rmem >= rcvbuf` lets one skb
    // past the limit; sk_rmem_alloc is an int, so that skb is dropped instead.
    let int_max = i32::MAX as u32;
    let mut q = Queue::new(Policy::Classic, int_max - 1);
    assert_eq!(q.enqueue(int_max - 100, no_condense), Outcome::Queued);
    assert_eq!(
        q.enqueue(101, no_condense),
        Outcome::Dropped(DropCause::RcvbufFull)
    );
    assert_eq!(q.enqueue(100, no_condense), Outcome::Queued);
    assert_eq!(q.info().rmem_alloc, int_max);
}
