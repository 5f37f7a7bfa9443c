// SPDX-License-Identifier: GPL-2.0

//! A datagram leaving the queue: read (or dropped when read), or freed at close.

use super::{memory::Memory, policy::Policy, state::Queue};

impl<M: Memory> Queue<M> {
    /// A datagram of `truesize` is read (or dropped at read time for a bad checksum):
    /// it leaves the queue and is uncharged.
    ///
    /// 3.13: `skb_free_datagram_locked()` → `sock_rfree()`: `sk_rmem_alloc -= truesize`,
    /// `sk_mem_uncharge()`: `sk_forward_alloc += truesize`; then `sk_mem_reclaim_partial()`:
    /// `if (sk->sk_forward_alloc > SK_MEM_QUANTUM) __sk_mem_reclaim(sk)`, which gives back
    /// the whole pages of `sk_forward_alloc`.
    /// 7.3: `__skb_recv_udp()` moves all of `sk_receive_queue` to the reader queue when the
    /// reader queue is empty, unlinks the head, and `udp_skb_destructor()` →
    /// `udp_rmem_release(sk, truesize, 1, ...)`: `forward_deficit += size`; `if (size <
    /// forward_threshold && !skb_queue_empty(&up->reader_queue)) return;` — the bytes stay
    /// charged; otherwise the whole deficit is uncharged, `amt = (size +
    /// sk_forward_alloc - partial) & ~(PAGE_SIZE - 1)` goes back to the protocol, the rest
    /// stays in `sk_forward_alloc`, and `sk_receive_queue` is spliced onto the reader queue.
    ///
    /// Returns `false` (and changes nothing) when nothing is queued.
    pub fn dequeue(&mut self, truesize: u32) -> bool {
        if self.queued == 0 {
            return false;
        }
        self.queued -= 1;
        match self.policy {
            Policy::Classic => {
                self.set_rmem(self.rmem_alloc - truesize);
                self.uncharge_classic(truesize);
            }
            Policy::Modern => {
                if self.reader_len == 0 {
                    self.reader_len = self.queued + 1;
                }
                self.reader_len -= 1;
                self.forward_deficit += truesize;
                let size = self.forward_deficit;
                if size < self.forward_threshold && self.reader_len != 0 {
                    return true;
                }
                self.uncharge_modern(size, 1);
                self.reader_len = self.queued;
            }
        }
        true
    }

    /// Close: everything still queued is freed and uncharged. 3.13:
    /// `udp_destroy_sock()` purges (`sock_rfree()` each), then `inet_sock_destruct()` →
    /// `sk_mem_reclaim()`; 7.3 `udp_destruct_common()`: purge, then `udp_rmem_release(sk,
    /// total, 0, true)` with the deficit. The backlog of a socket closed while owned is
    /// released first (`release_sock()` in `udp_lib_close`). Afterwards nothing is
    /// charged and `forward_alloc` is 0. Returns the number of datagrams freed.
    pub fn close(&mut self) -> u32 {
        let n = self.queued;
        match self.policy {
            Policy::Classic => {
                self.forward_alloc += i64::from(self.rmem_alloc);
                self.set_rmem(0);
                self.reclaim_classic();
            }
            Policy::Modern => {
                let total = self.rmem_alloc;
                self.uncharge_modern(total, 0);
            }
        }
        self.queued = 0;
        self.reader_len = 0;
        n
    }
}
