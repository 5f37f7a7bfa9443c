// SPDX-License-Identifier: GPL-2.0

//! The 7.3 rules (`modern`).

use super::common::{charged, no_condense, pool};
use udprx_rxqueue::{Counter, DropCause, Outcome, Policy, Queue, Reader, Shared, Take};

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

/// A modern socket's two parts, with `sizes` queued on the shared queue.
fn split(rcvbuf: u32, sizes: &[u32]) -> (Shared, Reader) {
    let mut s = Shared::new(Policy::Modern, rcvbuf);
    for &ts in sizes {
        assert_eq!(s.enqueue_condensed(ts, ts), Outcome::Queued);
    }
    (s, Reader::new(rcvbuf))
}

#[test]
fn reader_takes_the_deficit_at_its_threshold() {
    // rcvbuf 40_000: forward_threshold 10_000.
    let (mut s, mut r) = split(40_000, &[4_000, 5_999, 1, 3_000]);
    // An empty reader queue takes nothing: the reader splices first (`__skb_recv_udp()`).
    assert_eq!(r.take(4_000), None);
    assert_eq!(s.splice(), 4);
    r.splice(4);
    assert_eq!((s.queued(), r.len(), s.info(&r).queued), (0, 4, 4));
    // deficit 4_000, 9_999 < 10_000 with more on the reader queue: kept, still charged.
    assert_eq!(r.take(4_000), Some(Take::Kept));
    assert_eq!(r.take(5_999), Some(Take::Kept));
    assert_eq!(
        (s.info(&r).rmem_alloc, s.info(&r).forward_deficit),
        (13_000, 9_999)
    );
    // deficit == threshold: uncharge all of it, although one is still queued.
    assert_eq!(r.take(1), Some(Take::Uncharge(10_000)));
    assert_eq!(r.forward_deficit(), 0);
    assert_eq!(s.uncharge(10_000), 0);
    assert_eq!(s.info(&r).rmem_alloc, 3_000);
    // The reader queue empties below the threshold: uncharged too.
    assert_eq!(r.take(3_000), Some(Take::Uncharge(3_000)));
    assert_eq!(s.uncharge(3_000), 0);
    assert_eq!((s.info(&r).rmem_alloc, s.info(&r).queued), (0, 0));
}

#[test]
fn reader_uncharge_splices_what_arrived() {
    // `udp_rmem_release()` ends with `skb_queue_splice_tail_init(sk_queue,
    // &up->reader_queue)`: what arrived since the last splice moves with the uncharge.
    let (mut s, mut r) = split(40_000, &[12_000]);
    r.splice(s.splice());
    for ts in [1_000, 2_000] {
        assert_eq!(s.enqueue_condensed(ts, ts), Outcome::Queued);
    }
    assert_eq!((s.queued(), r.len(), s.info(&r).queued), (2, 1, 3));
    assert_eq!(r.take(12_000), Some(Take::Uncharge(12_000)));
    let n = s.uncharge(12_000);
    r.splice(n);
    assert_eq!((n, s.queued(), r.len()), (2, 0, 2));
    assert_eq!(s.info(&r).rmem_alloc, 3_000);
}

#[test]
fn reader_deficit_keeps_the_policy() {
    // The deficit is charged: no policy change until it is uncharged.
    let (mut s, mut r) = split(40_000, &[1_000, 1_000]);
    r.splice(s.splice());
    assert_eq!(r.take(1_000), Some(Take::Kept));
    assert!(!s.set_policy(Policy::Classic));
    assert_eq!(r.take(1_000), Some(Take::Uncharge(2_000)));
    // Taken off the reader queue but not yet uncharged: still busy.
    assert!(!s.set_policy(Policy::Classic));
    assert_eq!(s.uncharge(2_000), 0);
    assert!(s.set_policy(Policy::Classic));
    // A classic socket has no reader queue: nothing to splice, its reader dequeues.
    assert_eq!(s.enqueue_condensed(500, 500), Outcome::Queued);
    assert_eq!(s.splice(), 0);
    assert!(s.dequeue(500));
    assert_eq!(s.info(&r).rmem_alloc, 0);
}

#[test]
fn close_purges_both_queues_and_the_deficit() {
    // `udp_destruct_common()`: splice, purge, `udp_rmem_release(sk, total, 0, true)`
    // with the deficit added.
    let (mut s, mut r) = split(40_000, &[1_000, 2_000]);
    r.splice(s.splice());
    assert_eq!(r.take(1_000), Some(Take::Kept));
    assert_eq!(s.enqueue_condensed(3_000, 3_000), Outcome::Queued);
    assert_eq!(s.info(&r).rmem_alloc, 6_000);
    assert_eq!(s.close(&mut r), 2);
    let i = s.info(&r);
    assert_eq!((i.rmem_alloc, i.queued, i.forward_deficit), (0, 0, 0));
    assert_eq!((r.len(), s.queued()), (0, 0));
}
