// SPDX-License-Identifier: GPL-2.0

//! What both policies share: the buffer's socket options and a page-granular
//! `forward_alloc`.

use super::common::LIMITS;
use udprx_rxqueue::{Outcome, Policy, Queue};

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
