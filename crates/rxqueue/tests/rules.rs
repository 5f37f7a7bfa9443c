// SPDX-License-Identifier: GPL-2.0

//! Each cited kernel condition, pinned at its boundary: equal, one below, one above.

use udprx_rxqueue::{Counter, DropCause, Limits, Outcome, Policy, Pool, Queue};

const LIMITS: Limits = Limits {
    rmem_max: 4 << 20,
    min_rcvbuf: 2304,
};

fn no_condense() -> u32 {
    panic!("skb_condense() must not be called here")
}

/// A queue with `rmem` bytes charged by one datagram and rcvbuf `rcvbuf`.
fn charged(policy: Policy, rcvbuf: u32, rmem: u32) -> Queue {
    let mut q = Queue::new(policy, rcvbuf);
    if rmem > 0 {
        // Charge with room to spare, then shrink the buffer (as SO_RCVBUF on a busy socket).
        let mut big = Queue::new(policy, u32::MAX / 8);
        assert_eq!(big.enqueue(rmem, no_condense), Outcome::Queued);
        big.set_rcvbuf(
            0,
            true,
            Limits {
                rmem_max: 0,
                min_rcvbuf: rcvbuf,
            },
        );
        q = big;
    }
    assert_eq!(q.info().rmem_alloc, rmem);
    assert_eq!(q.info().rcvbuf, rcvbuf);
    q
}

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
fn modern_rmem_plus_size_gt_rcvbuf() {
    // rmem + size == rcvbuf: queued.
    let mut q = charged(Policy::Modern, 10_000, 4_000);
    assert_eq!(q.enqueue(6_000, || 6_000), Outcome::Queued);
    // rmem + size == rcvbuf + 1, rmem != 0: dropped, RcvbufErrors + InErrors.
    let mut q = charged(Policy::Modern, 10_000, 4_000);
    assert_eq!(
        q.enqueue(6_001, no_condense),
        Outcome::Dropped(DropCause::RcvbufFull)
    );
    // rmem + size == rcvbuf - 1: queued.
    let mut q = charged(Policy::Modern, 10_000, 4_000);
    assert_eq!(q.enqueue(5_999, || 5_999), Outcome::Queued);
}

#[test]
fn modern_accepts_one_datagram_when_nothing_is_charged() {
    // rmem == 0: "Accept the packet if queue is empty", however big.
    let mut q = Queue::new(Policy::Modern, 2_304);
    assert_eq!(q.enqueue(100_000, no_condense), Outcome::Queued);
    assert_eq!(
        q.enqueue(1, no_condense),
        Outcome::Dropped(DropCause::RcvbufFull)
    );
}

#[test]
fn modern_huge_rcvbuf_drops_even_when_empty() {
    // rcvbuf > INT_MAX >> 1 and rmem + size > rcvbuf: dropped even with rmem == 0.
    let limit = (i32::MAX as u32 >> 1) + 1;
    let mut q = Queue::new(Policy::Modern, limit);
    assert_eq!(
        q.enqueue(limit + 1, no_condense),
        Outcome::Dropped(DropCause::RcvbufFull)
    );
    // rcvbuf == INT_MAX >> 1: the empty-queue rule applies.
    let mut q = Queue::new(Policy::Modern, i32::MAX as u32 >> 1);
    assert_eq!(
        q.enqueue((i32::MAX as u32 >> 1) + 1, no_condense),
        Outcome::Queued
    );
}

#[test]
fn modern_condenses_above_half_the_buffer() {
    // rmem == rcvbuf / 2: no skb_condense().
    let mut q = charged(Policy::Modern, 10_000, 5_000);
    assert_eq!(q.enqueue(1_000, no_condense), Outcome::Queued);
    // rmem == rcvbuf / 2 + 1: skb_condense(), and the condensed size is charged.
    let mut q = charged(Policy::Modern, 10_000, 5_001);
    assert_eq!(q.enqueue(1_000, || 700), Outcome::Queued);
    assert_eq!(q.info().rmem_alloc, 5_701);
}

#[test]
fn modern_forward_deficit_threshold() {
    // rcvbuf 40_000: forward_threshold 10_000. Three datagrams queued.
    let mut q = Queue::new(Policy::Modern, 40_000);
    for ts in [4_000, 5_999, 3_000] {
        assert_eq!(q.enqueue(ts, || ts), Outcome::Queued);
    }
    assert_eq!(q.info().rmem_alloc, 12_999);
    // deficit 4_000 < 10_000 and the reader queue is not empty: stays charged.
    assert!(q.dequeue(4_000));
    assert_eq!(
        (q.info().rmem_alloc, q.info().forward_deficit),
        (12_999, 4_000)
    );
    // deficit 9_999 < 10_000: still charged.
    assert!(q.dequeue(5_999));
    assert_eq!(
        (q.info().rmem_alloc, q.info().forward_deficit),
        (12_999, 9_999)
    );
    // The reader queue is empty after this one: everything is uncharged.
    assert!(q.dequeue(3_000));
    assert_eq!((q.info().rmem_alloc, q.info().forward_deficit), (0, 0));

    // deficit == threshold exactly: uncharged although more is queued.
    let mut q = Queue::new(Policy::Modern, 40_000);
    for ts in [10_000, 1_000] {
        assert_eq!(q.enqueue(ts, || ts), Outcome::Queued);
    }
    assert!(q.dequeue(10_000));
    assert_eq!((q.info().rmem_alloc, q.info().forward_deficit), (1_000, 0));
}

#[test]
fn modern_forward_deficit_blocks_arrivals() {
    // The deficit is still charged, so it counts against rcvbuf for new datagrams.
    let mut q = Queue::new(Policy::Modern, 40_000);
    for _ in 0..4 {
        assert_eq!(q.enqueue(9_000, || 9_000), Outcome::Queued);
    }
    assert!(q.dequeue(9_000)); // deficit 9_000 < 10_000, 3 still queued
    assert_eq!(q.info().rmem_alloc, 36_000);
    assert_eq!(
        q.enqueue(4_001, || 4_001),
        Outcome::Dropped(DropCause::RcvbufFull)
    );
    assert_eq!(q.enqueue(4_000, || 4_000), Outcome::Queued);
}

#[test]
fn modern_ignores_ownership() {
    let mut q = Queue::new(Policy::Modern, 10_000);
    q.lock();
    assert_eq!(q.enqueue(1_000, || 1_000), Outcome::Queued);
    assert_eq!(q.drain_one(1_000), None);
    q.release();
    assert_eq!(q.info().queued, 1);
}

#[test]
fn forward_alloc_is_page_granular() {
    let mut q = Queue::new(Policy::Modern, 100_000);
    assert_eq!(q.enqueue(768, || 768), Outcome::Queued);
    // One page scheduled, 768 used.
    assert_eq!(q.info().forward_alloc, 4096 - 768);
    assert_eq!(q.enqueue(4_000, || 4_000), Outcome::Queued);
    // delta = 4000 - 3328 = 672: one more page.
    assert_eq!(q.info().forward_alloc, 8192 - 4768);
    q.close();
    let i = q.info();
    assert_eq!((i.rmem_alloc, i.queued, i.forward_deficit), (0, 0, 0));
    // Whole pages go back; what stays is below a page.
    assert!(i.forward_alloc >= 0 && i.forward_alloc < 4096);
}

#[test]
fn set_rcvbuf_semantics() {
    let mut q = Queue::new(Policy::Modern, 212_992);
    q.set_rcvbuf(100_000, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 200_000);
    // SO_RCVBUF clamps to rmem_max before doubling.
    q.set_rcvbuf((4 << 20) + 1, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 8 << 20);
    q.set_rcvbuf(4 << 20, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 8 << 20);
    q.set_rcvbuf((4 << 20) - 1, false, LIMITS);
    assert_eq!(q.info().rcvbuf, (8 << 20) - 2);
    // SO_RCVBUFFORCE ignores rmem_max.
    q.set_rcvbuf(16 << 20, true, LIMITS);
    assert_eq!(q.info().rcvbuf, 32 << 20);
    // The minimum: val * 2 below SOCK_MIN_RCVBUF.
    q.set_rcvbuf(1_151, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 2_304);
    q.set_rcvbuf(1_152, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 2_304);
    q.set_rcvbuf(1_153, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 2_306);
    // Negative: SO_RCVBUF sees a huge u32 (rmem_max), SO_RCVBUFFORCE clamps to 0.
    q.set_rcvbuf(-1, false, LIMITS);
    assert_eq!(q.info().rcvbuf, 8 << 20);
    q.set_rcvbuf(-1, true, LIMITS);
    assert_eq!(q.info().rcvbuf, 2_304);
    // INT_MAX / 2 cap before doubling.
    q.set_rcvbuf(i32::MAX, true, LIMITS);
    assert_eq!(q.info().rcvbuf, (i32::MAX as u32 / 2) * 2);
}

/// A pool of `limits` pages flushed to the global counter on every change
/// (`net.core.mem_pcpu_rsv` 1), with `udp_rmem_min` `rmem0`.
fn pool(limits: [i64; 3], rmem0: u32) -> Pool {
    Pool {
        pcpu_rsv: 1,
        limits,
        rmem0,
        ..Pool::default()
    }
}

#[test]
fn modern_proto_mem_over_the_hard_limit() {
    // udp_mem = 2 2 2 pages: two one-page datagrams fit, the third is refused.
    let mut q = Queue::with_memory(Policy::Modern, 1 << 20, pool([2, 2, 2], 0));
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    assert_eq!(q.memory().allocated, 2);
    assert_eq!(
        q.enqueue(4096, no_condense),
        Outcome::Dropped(DropCause::ProtoMem)
    );
    assert_eq!(
        DropCause::ProtoMem.counters(),
        &[Counter::MemErrors, Counter::InErrors]
    );
    // Refused: nothing charged, the pages given back, sk_drops + 1.
    let i = q.info();
    assert_eq!((i.rmem_alloc, i.queued, i.drops), (8192, 2, 1));
    assert_eq!(q.memory().allocated, 2);
    // Reading all of it gives the pages back but one (`partial`: udp_rmem_release()
    // rounds size + forward_alloc - 1 down to pages), which the next
    // datagram then uses without a schedule.
    assert!(q.dequeue(4096));
    assert!(q.dequeue(4096));
    assert_eq!((q.memory().allocated, q.info().forward_alloc), (1, 4096));
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    assert_eq!(q.memory().allocated, 1);
    q.close();
    assert_eq!(q.memory().allocated, 0);
    assert_eq!(q.info().forward_alloc, 0);
}

#[test]
fn modern_proto_mem_between_min_and_max_guarantees_rmem0() {
    // udp_mem = 1 1 3: above min and below max a socket gets pages only while
    // sk_rmem_alloc < udp_rmem_min (rmem0); UDP has no memory-pressure flag to fall back on.
    let mut q = Queue::with_memory(Policy::Modern, 1 << 20, pool([1, 1, 3], 4096));
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    // rmem_alloc == rmem0: refused.
    assert_eq!(
        q.enqueue(4096, no_condense),
        Outcome::Dropped(DropCause::ProtoMem)
    );
    // rmem_alloc == rmem0 - 1: granted.
    let mut q = Queue::with_memory(Policy::Modern, 1 << 20, pool([1, 1, 3], 4097));
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    assert_eq!(q.memory().allocated, 2);
}

#[test]
fn modern_proto_mem_per_cpu_reserve_hides_pages_until_flushed() {
    // With a per-CPU reserve of 4 pages the global counter reads 0 until 4 pages are
    // added on this CPU (`if (!allocated) return 1;`), then the whole reserve lands.
    let mut p = pool([0, 0, 0], 0);
    p.pcpu_rsv = 4;
    let mut q = Queue::with_memory(Policy::Modern, 1 << 20, p);
    for _ in 0..3 {
        assert_eq!(q.enqueue(4096, no_condense), Outcome::Queued);
    }
    assert_eq!((q.memory().allocated, q.memory().pcpu), (0, 3));
    assert_eq!(
        q.enqueue(4096, no_condense),
        Outcome::Dropped(DropCause::ProtoMem)
    );
    // The refused page was flushed with the reserve and then taken back on its own.
    assert_eq!((q.memory().allocated, q.memory().pcpu), (4, -1));
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
fn condensing_before_the_lock_is_the_same_as_inside() {
    // 7.3 condenses an arrival that fits once the queue is past half full (8192 of 16384).
    for rmem in [0u32, 8192, 8193, 9000, 16000] {
        let mut a = charged(Policy::Modern, 16384, rmem);
        let mut b = a.clone();
        let wants = b.wants_condense(1000);
        assert_eq!(wants, rmem > 8192 && rmem + 1000 <= 16384, "rmem {rmem}");
        // The same answer from the values a caller reads without the lock.
        let i = b.info();
        assert_eq!(
            wants,
            udprx_rxqueue::wants_condense(Policy::Modern, i.rmem_alloc, i.rcvbuf, 1000)
        );
        let mut called = false;
        let oa = a.enqueue(1000, || {
            called = true;
            600
        });
        assert_eq!(called, wants, "rmem {rmem}");
        let ob = b.enqueue_condensed(1000, if wants { 600 } else { 1000 });
        assert_eq!((oa, a.info()), (ob, b.info()), "rmem {rmem}");
    }
    // Classic never condenses (3.13 had no skb_condense()).
    let q = charged(Policy::Classic, 16384, 9000);
    assert!(!q.wants_condense(1000));
    assert!(!udprx_rxqueue::wants_condense(
        Policy::Classic,
        9000,
        16384,
        1000
    ));
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
