// SPDX-License-Identifier: GPL-2.0

//! A socket owned by a task (`lock_sock()`): classic arrivals wait on the backlog, and
//! `release_sock()` drains it.

use super::{memory::Memory, policy::Outcome, state::Shared};

impl<M: Memory> Shared<M> {
    /// A task takes ownership (`lock_sock()`): classic arrivals go to the backlog from now
    /// on. 7.3 UDP never looks at ownership on receive, so for `modern` this changes
    /// nothing but the flag.
    pub fn lock(&mut self) {
        self.owned = true;
    }

    /// One step of `release_sock()` → `__release_sock()`: the oldest backlogged datagram
    /// (of `truesize`) goes through `sk_backlog_rcv()` — 3.13 UDP's `backlog_rcv` is
    /// `__udp_queue_rcv_skb()`, i.e. `sock_queue_rcv_skb()`'s test, not
    /// `sk_rcvqueues_full()`. `sk_backlog.len` keeps counting it until
    /// [`Shared::release`]. It was charged when backlogged, so only the buffer test can drop
    /// it; a dropped one is uncharged.
    /// Returns `None` when the backlog is empty.
    pub fn drain_one(&mut self, truesize: u32) -> Option<Outcome> {
        if self.backlog_count == 0 {
            return None;
        }
        self.backlog_count -= 1;
        self.backlog_charged -= truesize;
        Some(self.queue_rcv_classic(truesize, true))
    }

    /// The end of `release_sock()`: after the backlog is drained (see
    /// [`Shared::drain_one`]), `sk->sk_backlog.len = 0` and the task lets go.
    pub fn release(&mut self) {
        self.backlog_len = 0;
        self.owned = false;
    }

    /// All of `release_sock()`: each datagram of `backlog`, oldest first, through
    /// [`Shared::drain_one`] with its `truesize`, then [`Shared::release`]. `each` gets every
    /// datagram with its outcome, [`Outcome::Queued`] or [`Outcome::Dropped`]. A datagram
    /// beyond what the model counts as backlogged (a caller's bug) is reported queued:
    /// kept rather than lost.
    pub fn release_backlog<T>(
        &mut self,
        backlog: impl IntoIterator<Item = T>,
        truesize: impl Fn(&T) -> u32,
        mut each: impl FnMut(T, Outcome),
    ) {
        for item in backlog {
            let outcome = self.drain_one(truesize(&item)).unwrap_or(Outcome::Queued);
            each(item, outcome);
        }
        self.release();
    }
}
