// SPDX-License-Identifier: GPL-2.0

//! An skb parked on a socket's receive queue ([`QueuedSkb`]), that queue ([`SkbQueue`]) and
//! the datagrams a GSO skb is split into ([`SegmentList`]).

use super::{super::bhlock::BhDisabled, bindings, drop_raw, raw::*, DropReason, Skb};
use core::{mem::ManuallyDrop, ptr::NonNull};
use kernel::{iov::IovIterDest, prelude::*};

/// A datagram waiting on a socket's receive queue: `skb->data` is at the UDP payload, it has
/// no route and it may outlive the device it came from (so it gives no access to either).
///
/// # Invariants
///
/// `ptr` is a valid skb this object owns one reference to, with `skb->data` at the UDP
/// payload, no dst, and `skb->next` null unless it is linked in an [`SkbQueue`].
pub(crate) struct QueuedSkb {
    pub(super) ptr: NonNull<bindings::sk_buff>,
}

// SAFETY: As for `Skb`: an owned skb can be handled on any CPU.
unsafe impl Send for QueuedSkb {}

impl QueuedSkb {
    /// Takes over an skb taken off a stock UDP socket's receive queue, where
    /// `udp_queue_rcv_one_skb()` left it with `skb->data` at the payload; its route, kept
    /// only for a datagram with IP options (`ipv4_pktinfo_prepare()`), is dropped.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid skb the caller owns, unlinked, with `skb->data` at the UDP payload.
    pub(in crate::kapi) unsafe fn from_udp_queue(ptr: *mut bindings::sk_buff) -> Self {
        // SAFETY: The caller gives us a valid, unlinked skb it owns.
        unsafe {
            bindings::udprx_skb_dst_drop(ptr);
            skb_set_next(ptr, core::ptr::null_mut());
        }
        // INVARIANT: Owned, data at the payload (the caller), no dst, not on a list.
        Self {
            // SAFETY: A valid skb pointer is not null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    fn raw(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    /// Payload bytes (`skb->len`).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: The skb is valid (type invariants).
        unsafe { (*self.raw()).len }
    }

    /// The memory the skb holds (`skb->truesize`), what socket accounting charges.
    pub(crate) fn truesize(&self) -> u32 {
        // SAFETY: The skb is valid (type invariants).
        unsafe { (*self.raw()).truesize }
    }

    /// `skb_condense()`: frees page fragments that fit in the head and recomputes
    /// `truesize`, as 7.3 does for datagrams arriving at a busy socket. Returns the new
    /// truesize.
    pub(crate) fn condense(&mut self) -> u32 {
        // SAFETY: The skb is valid and ours, not on a list while this runs (callers hold it).
        unsafe { bindings::skb_condense(self.raw()) };
        self.truesize()
    }

    /// `skb_csum_unnecessary()`: the checksum is known good (or was absent).
    pub(crate) fn csum_unnecessary(&self) -> bool {
        // SAFETY: The skb is valid (type invariants).
        unsafe { bindings::udprx_skb_csum_unnecessary(self.raw()) }
    }

    /// `__udp_lib_checksum_complete()` (`__skb_checksum_complete()`): verifies the pending
    /// checksum over the whole payload; `true` when it is bad.
    pub(crate) fn checksum_complete_bad(&mut self) -> bool {
        // SAFETY: The skb is valid and ours (type invariants).
        unsafe { bindings::__skb_checksum_complete(self.raw()) != 0 }
    }

    /// Copies the first `len` payload bytes to `to`, as `udp_recvmsg()` does: a linear
    /// skb with `copy_linear_skb()` (`copy_to_iter_full()`, inline), any other with
    /// `skb_copy_datagram_iter()`. `EINVAL` for more than the datagram's `len()` bytes.
    pub(crate) fn copy_to(&self, to: &mut IovIterDest<'_>, len: usize) -> Result {
        if len > self.len() as usize {
            return Err(EINVAL);
        }
        let skb = self.raw();
        // SAFETY: The skb is valid (type invariants).
        let linear = unsafe { (*skb).data_len } == 0;
        let copied = if linear {
            // SAFETY: A linear skb's `len()` bytes are all at `data`, and `len` is at most
            // that (checked above); `to` is a valid destination iterator. On a fault the
            // iterator is reverted.
            unsafe { bindings::udprx_copy_to_iter_full((*skb).data.cast(), len, to.as_raw()) }
        } else {
            let len = i32::try_from(len).map_err(|_| EINVAL)?;
            // SAFETY: The skb is valid (type invariants) with at least `len` bytes (checked
            // above); `to` is a valid destination iterator.
            unsafe { bindings::skb_copy_datagram_iter(skb, 0, to.as_raw(), len) == 0 }
        };
        // The only error of either is `-EFAULT` (a fault copying to the user's buffer):
        // named here rather than converted by `to_result()`, an out-of-line call of the
        // kernel crate on the read path.
        if copied {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Frees a datagram that was read, as `skb_consume_udp()` does: on the CPU that
    /// allocated it into that CPU's skb cache, on another CPU handed back to the
    /// allocating one to be freed there (`skb_attempt_defer_free()`, which is not
    /// exported: `napi_consume_skb()` with a budget takes the same two ways), with bottom
    /// halves disabled (`_bh`), as in NAPI.
    pub(crate) fn consume(self, _bh: &BhDisabled) {
        let ptr = ManuallyDrop::new(self).ptr.as_ptr();
        // SAFETY: `ptr` is a valid skb whose reference we own (type invariants), with no
        // dst (type invariants) and `skb->next` null; a non-zero budget with bottom halves
        // disabled (`_bh`) is what `napi_consume_skb()` asks of its caller.
        unsafe { bindings::napi_consume_skb(ptr, 1) };
    }

    /// Frees the skb as dropped for `reason` (`kfree_skb_reason`).
    pub(crate) fn drop_reason(self, reason: DropReason) {
        let ptr = ManuallyDrop::new(self).ptr.as_ptr();
        // SAFETY: `ptr` is a valid skb whose reference we own (type invariants).
        unsafe { drop_raw(ptr, reason) };
    }
}

impl Drop for QueuedSkb {
    fn drop(&mut self) {
        // SAFETY: We own a reference to a valid skb (type invariants), not used after this.
        unsafe { drop_raw(self.raw(), DropReason::NotSpecified) };
    }
}

/// A FIFO of [`QueuedSkb`]s linked through `skb->next`, like an `sk_buff_head` without its
/// own lock (the owner's lock protects it) and without the back link.
///
/// # Invariants
///
/// `head` .. `tail` is a chain of owned skbs linked through `skb->next`, the last one's
/// `next` null; `head` and `tail` are both null when the queue is empty.
pub(crate) struct SkbQueue {
    head: *mut bindings::sk_buff,
    tail: *mut bindings::sk_buff,
}

// SAFETY: The queue owns its skbs, which may be handled on any CPU.
unsafe impl Send for SkbQueue {}

impl Default for SkbQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl SkbQueue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Self {
            head: core::ptr::null_mut(),
            tail: core::ptr::null_mut(),
        }
    }

    /// Moves everything to a new queue, leaving this one empty.
    pub(crate) fn take(&mut self) -> SkbQueue {
        core::mem::take(self)
    }

    /// Appends `skb`.
    pub(crate) fn push_back(&mut self, skb: QueuedSkb) {
        let ptr = ManuallyDrop::new(skb).ptr.as_ptr();
        if self.tail.is_null() {
            self.head = ptr;
        } else {
            // SAFETY: `tail` is a valid skb owned by the queue (type invariants).
            unsafe { skb_set_next(self.tail, ptr) };
        }
        // INVARIANT: `ptr`'s `next` is null (`QueuedSkb` invariants), so it ends the chain.
        self.tail = ptr;
    }

    /// Appends all of `other`, in its order (`skb_queue_splice_tail_init()`).
    pub(crate) fn append(&mut self, other: SkbQueue) {
        let other = ManuallyDrop::new(other);
        if other.head.is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: `tail` is a valid skb owned by the queue (type invariants).
            unsafe { skb_set_next(self.tail, other.head) };
        }
        // INVARIANT: `other`'s chain, whose skbs this queue now owns (`other` is not
        // dropped), ends in its `tail` with `next` null.
        self.tail = other.tail;
    }

    /// Removes and returns the oldest skb.
    pub(crate) fn pop_front(&mut self) -> Option<QueuedSkb> {
        let ptr = NonNull::new(self.head)?;
        // SAFETY: `head` is a valid skb owned by the queue (type invariants).
        let next = unsafe { skb_next(ptr.as_ptr()) };
        // SAFETY: As above; unlinking it restores the `QueuedSkb` invariant (`next` null).
        unsafe { skb_set_next(ptr.as_ptr(), core::ptr::null_mut()) };
        self.head = next;
        if next.is_null() {
            self.tail = core::ptr::null_mut();
        }
        // INVARIANT: The queue owned `ptr`'s reference and hands it over, unlinked.
        Some(QueuedSkb { ptr })
    }
}

impl Drop for SkbQueue {
    fn drop(&mut self) {
        while let Some(skb) = self.pop_front() {
            skb.drop_reason(DropReason::SocketClose);
        }
    }
}

/// The datagrams of a GRO packet split again (`udp_rcv_segment()`): owned skbs linked by
/// `skb->next`, handed out one at a time with `skb->data` at the UDP header.
///
/// # Invariants
///
/// `head` is null or the first of a chain of owned skbs linked through `skb->next`.
pub(crate) struct SegmentList {
    head: *mut bindings::sk_buff,
}

impl SegmentList {
    /// Takes over the chain at `head`.
    ///
    /// # Safety
    ///
    /// `head` must be null or the first of a chain of skbs the caller owns, linked by
    /// `skb->next`, each a segment `udp_rcv_segment()` returned.
    pub(crate) unsafe fn from_raw(head: *mut bindings::sk_buff) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self { head }
    }
}

impl Iterator for SegmentList {
    type Item = Skb;

    fn next(&mut self) -> Option<Skb> {
        let ptr = NonNull::new(self.head)?;
        // SAFETY: `head` is an owned skb of the chain (type invariants): unlink it and
        // move `skb->data` from the MAC header to the UDP header, as
        // `udp_queue_rcv_skb()` does to each segment.
        unsafe {
            self.head = skb_next(ptr.as_ptr());
            skb_set_next(ptr.as_ptr(), core::ptr::null_mut());
            bindings::udprx_udp_segment_fixup(ptr.as_ptr());
        }
        // SAFETY: We owned it as part of the chain and hand it over alone.
        Some(unsafe { Skb::from_raw(ptr.as_ptr()) })
    }
}

impl Drop for SegmentList {
    fn drop(&mut self) {
        for skb in self.by_ref() {
            drop(skb);
        }
    }
}
