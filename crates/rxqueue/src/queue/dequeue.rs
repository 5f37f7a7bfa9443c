// SPDX-License-Identifier: GPL-2.0

//! A datagram leaving a classic socket's queue, read (or dropped when read), and every
//! datagram of a socket freed at close. 7.3's reader is in `reader.rs`.

use super::{memory::Memory, policy::Policy, reader::Reader, state::Shared};

impl<M: Memory> Shared<M> {
    /// Classic: the oldest datagram of the shared queue, of `truesize`, is read (or
    /// dropped at read time for a bad checksum): it leaves the queue and is uncharged.
    /// 3.13: `skb_free_datagram_locked()` → `sock_rfree()`: `sk_rmem_alloc -= truesize`,
    /// `sk_mem_uncharge()`: `sk_forward_alloc += truesize`; then
    /// `sk_mem_reclaim_partial()`: `if (sk->sk_forward_alloc > SK_MEM_QUANTUM)
    /// __sk_mem_reclaim(sk)`, which gives back the whole pages of `sk_forward_alloc`.
    ///
    /// Returns `false` (and changes nothing) when nothing is queued, or for a modern
    /// socket, which reads through its [`Reader`] ([`Reader::take`]).
    pub fn dequeue(&mut self, truesize: u32) -> bool {
        if self.policy != Policy::Classic || self.queued == 0 {
            return false;
        }
        self.queued -= 1;
        self.set_rmem(self.rmem_alloc - truesize);
        self.uncharge_classic(truesize);
        true
    }

    /// Close, with the socket's `reader` part: everything still queued is freed and
    /// uncharged. 3.13: `udp_destroy_sock()` purges (`sock_rfree()` each), then
    /// `inet_sock_destruct()` → `sk_mem_reclaim()`; 7.3 `udp_destruct_common()`: splice,
    /// purge, then `udp_rmem_release(sk, total, 0, true)`, which adds the deficit. The
    /// backlog of a socket closed while owned is released first (`release_sock()` in
    /// `udp_lib_close`). Afterwards nothing is charged and `forward_alloc` is 0. Returns
    /// the number of datagrams freed.
    pub fn close(&mut self, reader: &mut Reader) -> u32 {
        let (on_reader, deficit) = reader.close();
        let n = self.queued + on_reader;
        match self.policy {
            Policy::Classic => {
                self.forward_alloc += i64::from(self.rmem_alloc);
                self.set_rmem(0);
                self.reclaim_classic();
            }
            Policy::Modern => {
                // `total`, the truesizes purged, is what is charged but the deficit.
                let total = self.rmem_alloc - deficit;
                self.uncharge_modern(total + deficit, 0);
            }
        }
        self.queued = 0;
        n
    }
}
