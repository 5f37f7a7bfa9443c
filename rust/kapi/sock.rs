// SPDX-License-Identifier: GPL-2.0

//! The kernel UDP socket that backs each udprx socket.
//!
//! A udprx socket owns one ordinary `AF_INET`/`SOCK_DGRAM` socket, created in the opener's
//! context (`__sock_create(..., kern = 0)`: its credentials, its LSM checks, its memory
//! cgroup and its cgroup for BPF programs), with a socket file of its own. The caller
//! binds it with `bind(2)` on a descriptor of that file ([`UdpSocket::new_fd`]), so that
//! every gate of the syscall applies (`security_socket_bind()`: Landlock, SELinux; cgroup
//! bind programs; `CAP_NET_BIND_SERVICE`; `EADDRINUSE` both ways), closes it, and udprx
//! takes the socket over ([`UdpSocket::attach`]). Through it udprx obeys what a stock
//! socket obeys: its socket filter, cgroup ingress programs and `security_sock_rcv_skb()`
//! run through `sk_filter_trim_cap()`, and its receive memory is scheduled against
//! `net.ipv4.udp_mem` and the memory cgroup by `__sk_mem_schedule()`. The queue itself
//! stays udprx's.
//!
//! One owner per field: the stock UDP path keeps its own books on this `struct sock`
//! (`sk_forward_alloc` under `sk_receive_queue.lock`, `sk_rmem_alloc` atomically) for what
//! it queues here. udprx writes `sk_forward_alloc` only under that same lock and leaves
//! it as it found it: the pages it schedules are moved out into its own reserve, and
//! moved back in just before they are reclaimed ([`Sock::mem_schedule`],
//! [`Sock::mem_reclaim`]). What the stock path queues here does not stay: the socket's
//! `sk_data_ready()` hands it to udprx ([`StrayRcv`]).
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/net/sock.h`](srctree/include/net/sock.h),
//! [`include/linux/filter.h`](srctree/include/linux/filter.h)

use super::{
    bindings,
    netns::Net,
    skb::{DropReason, QueuedSkb, Skb},
};
use core::ptr::NonNull;
use kernel::{sync::aref::AlwaysRefCounted, types::Opaque};

mod udp;

pub(crate) use udp::{StrayRcv, UdpSocket};

/// A `struct sock`.
///
/// # Invariants
///
/// A `&Sock` points to a live `struct sock` of a UDP socket.
#[repr(transparent)]
pub(crate) struct Sock(Opaque<bindings::sock>);

// SAFETY: A `struct sock` is used from any CPU; its reference may be dropped on any CPU.
unsafe impl Send for Sock {}
// SAFETY: Every method takes the locks or uses the atomics the kernel requires.
unsafe impl Sync for Sock {}

// SAFETY: A `struct sock` is always reference counted (`sock_hold()`/`sock_put()`).
unsafe impl AlwaysRefCounted for Sock {
    fn inc_ref(&self) {
        // SAFETY: The sock is alive (type invariants), so its count is non-zero.
        unsafe { bindings::udprx_sock_hold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::udprx_sock_put(obj.cast().as_ptr()) };
    }
}

impl Sock {
    fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Runs `f` under `sk_receive_queue.lock`, the lock the UDP code holds whenever it
    /// writes `sk_forward_alloc`. Bottom halves are disabled for `f`.
    fn with_receive_queue_lock<R>(&self, f: impl FnOnce(*mut bindings::sock) -> R) -> R {
        let sk = self.as_ptr();
        // SAFETY: The sock is alive (type invariants), so its receive queue's lock is
        // initialised; it is released below, on the same CPU.
        let lock = unsafe { bindings::udprx_sk_receive_queue_lock(sk) };
        // SAFETY: See above.
        unsafe { bindings::udprx_spin_lock_bh(lock) };
        let r = f(sk);
        // SAFETY: Taken above.
        unsafe { bindings::udprx_spin_unlock_bh(lock) };
        r
    }

    /// `sk_forward_alloc_add(sk, val)`.
    ///
    /// # Safety
    ///
    /// `sk` is alive and the caller holds its `sk_receive_queue.lock`.
    unsafe fn forward_alloc_add(sk: *mut bindings::sock, val: i32) {
        // SAFETY: As the caller guarantees: the field is written under its lock.
        unsafe { bindings::udprx_sk_forward_alloc_add(sk, val) };
    }

    /// Schedules `sk_mem_pages(size)` pages of protocol memory, charged to
    /// `net.ipv4.udp_mem` and to the socket's memory cgroup, for the caller's own reserve;
    /// `false` when refused. `__sk_mem_schedule(sk, size, SK_MEM_RECV)` adds them to
    /// `sk_forward_alloc`, the stock path's reserve; they are taken out again under the
    /// same lock, so the stock path never sees them there.
    ///
    /// In process context call it with bottom halves disabled (under a
    /// [`SpinLockBh`](super::bhlock::SpinLockBh)), as in softirq, so that the memory cgroup
    /// is charged without sleeping.
    pub(crate) fn mem_schedule(&self, size: u32) -> bool {
        let bytes = u64::from(size.div_ceil(PAGE_SIZE)) * u64::from(PAGE_SIZE);
        let (Ok(size), Ok(bytes)) = (i32::try_from(size), i32::try_from(bytes)) else {
            return false;
        };
        self.with_receive_queue_lock(|sk| {
            // SAFETY: The sock is alive and we hold its receive queue's lock.
            unsafe {
                let ok = bindings::__sk_mem_schedule(sk, size, bindings::SK_MEM_RECV as i32) != 0;
                if ok {
                    Self::forward_alloc_add(sk, -bytes);
                }
                ok
            }
        })
    }

    /// Gives back `bytes` (whole pages) that [`Sock::mem_schedule`] scheduled:
    /// `__sk_mem_reclaim(sk, bytes)`, which takes them from `sk_forward_alloc`, where they
    /// are put back first under the same lock.
    pub(crate) fn mem_reclaim(&self, bytes: u32) {
        // In whole pages that fit in an int each.
        const CHUNK: u32 = 1 << 30;
        let mut left = bytes;
        while left != 0 {
            let chunk = left.min(CHUNK);
            left -= chunk;
            self.with_receive_queue_lock(|sk| {
                // SAFETY: The sock is alive and we hold its receive queue's lock; `chunk`
                // fits in an int.
                unsafe {
                    Self::forward_alloc_add(sk, chunk as i32);
                    bindings::__sk_mem_reclaim(sk, chunk as i32);
                }
            });
        }
    }

    /// The local port the socket is bound to (`inet_sk(sk)->inet_num`), 0 when unbound.
    pub(crate) fn port(&self) -> u16 {
        // SAFETY: The sock is alive (type invariants).
        unsafe { bindings::udprx_sk_num(self.as_ptr()) }
    }

    /// Whether the socket is bound to the wildcard address and no device, without
    /// `SO_REUSEADDR` or `SO_REUSEPORT`: then it alone has its port, whatever the local
    /// address and device (`udp_lib_lport_inuse()`).
    pub(crate) fn owns_port_alone(&self) -> bool {
        // SAFETY: The sock is alive (type invariants).
        unsafe {
            bindings::udprx_sk_rcv_saddr(self.as_ptr()) == 0
                && bindings::udprx_sk_bound_dev_if(self.as_ptr()) == 0
                && !bindings::udprx_sk_reuse_any(self.as_ptr())
        }
    }

    /// Whether `IP_RECVERR` is set: ICMP errors for the port would be queued on the
    /// socket's error queue and set `sk_err`.
    pub(crate) fn recverr(&self) -> bool {
        // SAFETY: The sock is alive (type invariants).
        unsafe { bindings::udprx_sk_recverr(self.as_ptr()) }
    }

    /// Whether `UDP_ENCAP` is set: the stock path hands the socket's datagrams to an
    /// encapsulation handler (ESP in UDP) instead of queueing them.
    pub(crate) fn has_encap(&self) -> bool {
        // SAFETY: The sock is alive (type invariants) and a UDP socket.
        unsafe { bindings::udprx_udp_encap_type(self.as_ptr()) != 0 }
    }

    /// The netns the socket lives in (`sock_net()`).
    pub(crate) fn net(&self) -> &Net {
        // SAFETY: A socket holds a reference on its netns for its whole life, which covers
        // the borrow of `self`.
        unsafe { Net::from_raw(bindings::udprx_sock_net(self.as_ptr())) }
    }

    /// `sk_rmem_alloc_get()`: `sk_rmem_alloc`, read without a lock.
    pub(crate) fn rmem_alloc(&self) -> u32 {
        // SAFETY: The sock is alive (type invariants); the field is an atomic.
        let v = unsafe { bindings::udprx_sk_rmem_alloc_get(self.as_ptr()) };
        u32::try_from(v).unwrap_or(0)
    }

    /// `atomic_add(delta, &sk->sk_rmem_alloc)`: what udprx has charged, mirrored where
    /// the memory rules (and `ss`) read it.
    pub(crate) fn rmem_add(&self, delta: i32) {
        // SAFETY: The sock is alive (type invariants); the field is an atomic.
        unsafe { bindings::udprx_sk_rmem_add(self.as_ptr(), delta) };
    }

    /// `udp_unexpected_gso()`: whether `skb` is a GRO packet (UDP_L4 or fraglist) this
    /// socket does not accept as one, so that it has to be split again.
    pub(crate) fn unexpected_gso(&self, skb: &Skb) -> bool {
        // SAFETY: Both are alive.
        unsafe { bindings::udprx_udp_unexpected_gso(self.as_ptr(), skb.as_raw()) }
    }

    /// What `udp_queue_rcv_skb()` does with an unexpected GSO skb: splits it into its
    /// datagrams, each with `skb->data` at its UDP header. On failure the skb is freed and
    /// its segments are counted (`sk_drops`, the stock `Udp: InErrors`, as
    /// `udp_rcv_segment()` counts them) and the list is empty.
    pub(crate) fn segment(&self, skb: Skb) -> super::skb::SegmentList {
        let raw = skb.into_raw();
        // SAFETY: We own `raw`; the call consumes it and returns the segments it owns now.
        let segs = unsafe { bindings::udprx_udp_rcv_segment(self.as_ptr(), raw) };
        // SAFETY: `segs` is NULL or a list of skbs we own, linked by `->next`.
        unsafe { super::skb::SegmentList::from_raw(segs) }
    }

    /// Whether a classic BPF filter is attached (`SO_ATTACH_FILTER`).
    pub(crate) fn has_filter(&self) -> bool {
        // SAFETY: The sock is alive; only the pointer is tested.
        unsafe { bindings::udprx_sk_has_filter(self.as_ptr()) }
    }

    /// `sk_filter_trim_cap(sk, skb, sizeof(struct udphdr))`: pfmemalloc skbs, cgroup
    /// ingress programs, the LSM and the socket filter, in that order. `Err` with the drop
    /// reason when the datagram must be dropped; a filter may trim it (to no less than the
    /// UDP header).
    pub(crate) fn filter(&self, skb: &mut Skb) -> core::result::Result<(), DropReason> {
        // SAFETY: Both are alive; `skb->data` is at the UDP header, as the cap assumes.
        let r = unsafe { bindings::sk_filter_trim_cap(self.as_ptr(), skb.as_raw(), 8) };
        match r {
            0 => Ok(()),
            bindings::SKB_DROP_REASON_PFMEMALLOC => Err(DropReason::Pfmemalloc),
            bindings::SKB_DROP_REASON_SECURITY_HOOK => Err(DropReason::SecurityHook),
            _ => Err(DropReason::SocketFilter),
        }
    }
}

/// `PAGE_SIZE`: the quantum of `sk_forward_alloc`.
const PAGE_SIZE: u32 = kernel::page::PAGE_SIZE as u32;
