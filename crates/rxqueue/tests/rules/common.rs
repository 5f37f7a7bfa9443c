// SPDX-License-Identifier: GPL-2.0

//! What the rules' tests share: sysctl limits, queues charged to a given point, pools.

use udprx_rxqueue::{Limits, Outcome, Policy, Pool, Queue};

pub(crate) const LIMITS: Limits = Limits {
    rmem_max: 4 << 20,
    min_rcvbuf: 2304,
};

pub(crate) fn no_condense() -> u32 {
    panic!("skb_condense() must not be called here")
}

/// A queue with `rmem` bytes charged by one datagram and rcvbuf `rcvbuf`.
pub(crate) fn charged(policy: Policy, rcvbuf: u32, rmem: u32) -> Queue {
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

/// A pool of `limits` pages flushed to the global counter on every change
/// (`net.core.mem_pcpu_rsv` 1), with `udp_rmem_min` `rmem0`.
pub(crate) fn pool(limits: [i64; 3], rmem0: u32) -> Pool {
    Pool {
        pcpu_rsv: 1,
        limits,
        rmem0,
        ..Pool::default()
    }
}
