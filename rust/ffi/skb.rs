// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: `struct sk_buff` as an owned [`Skb`].

use super::{bindings, netns::NetNs};
use core::{mem::ManuallyDrop, ptr::NonNull};

/// An skb the caller owns (one reference), as a protocol handler or a netfilter hook that
/// steals it does.
///
/// Dropping an `Skb` frees it as a drop with reason `SKB_DROP_REASON_NOT_SPECIFIED`; use
/// [`Skb::consume`] when it was consumed normally, so `skb:kfree_skb` tracing tells the truth.
///
/// # Invariants
///
/// `ptr` points to a valid `struct sk_buff` that this object owns one reference to, whose
/// network header is set and which arrived on a device (`skb->dev` is valid).
pub(crate) struct Skb {
    ptr: NonNull<bindings::sk_buff>,
}

// SAFETY: An owned skb may be freed or handed on from any context; the kernel does not tie it
// to the CPU it was received on.
unsafe impl Send for Skb {}

impl Skb {
    /// Takes ownership of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid skb in the IPv4 receive path (network header set, `dev`
    /// valid) and the caller must transfer its reference to the returned object.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            // SAFETY: The caller guarantees that `ptr` is a valid, hence non-null, skb.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    /// Gives the reference back to the caller, as a raw pointer.
    pub(crate) fn into_raw(self) -> *mut bindings::sk_buff {
        ManuallyDrop::new(self).ptr.as_ptr()
    }

    /// The protocol field of the IPv4 header.
    pub(crate) fn ip_protocol(&self) -> u8 {
        // SAFETY: By the type invariants the skb is valid and its network header is set, so
        // `ip_hdr()` points to a readable `struct iphdr`.
        unsafe { (*bindings::udprx_ip_hdr(self.ptr.as_ptr())).protocol }
    }

    /// The network namespace the skb arrived in (`dev_net(skb->dev)`).
    pub(crate) fn net(&self) -> NetNs<'_> {
        // SAFETY: By the type invariants `skb->dev` is valid; a device holds its netns alive
        // while it has packets in flight, which covers the borrow of `self`.
        unsafe { NetNs::from_raw(bindings::udprx_skb_net(self.ptr.as_ptr())) }
    }

    /// Frees the skb as consumed (`consume_skb`): it reached its destination.
    pub(crate) fn consume(self) {
        let ptr = self.into_raw();
        // SAFETY: `ptr` is a valid skb whose reference we own (type invariants).
        unsafe { bindings::consume_skb(ptr) };
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own a reference to a valid skb; it is not used
        // again after this.
        unsafe {
            bindings::sk_skb_reason_drop(
                core::ptr::null_mut(),
                self.ptr.as_ptr(),
                bindings::SKB_DROP_REASON_NOT_SPECIFIED,
            )
        };
    }
}
