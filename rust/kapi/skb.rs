// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: an skb in the receive path ([`Skb`]), an skb parked on a socket's
//! receive queue ([`QueuedSkb`]) and that queue ([`SkbQueue`]).
//!
//! C header: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h)

use super::bindings;
use core::{mem::ManuallyDrop, ptr::NonNull};

mod queue;
mod raw;

pub(crate) use queue::{QueuedSkb, SegmentList, SkbQueue};
pub(super) use raw::icmp_quoted_source_port;
use raw::*;

/// Why an skb is freed as dropped: the `enum skb_drop_reason` values udprx uses. Every
/// drop goes through `sk_skb_reason_drop()` with one, so `skb:kfree_skb` names the reason
/// the stock UDP path would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum DropReason {
    NotSpecified = bindings::SKB_DROP_REASON_NOT_SPECIFIED,
    NoSocket = bindings::SKB_DROP_REASON_NO_SOCKET,
    PktTooSmall = bindings::SKB_DROP_REASON_PKT_TOO_SMALL,
    UdpCsum = bindings::SKB_DROP_REASON_UDP_CSUM,
    XfrmPolicy = bindings::SKB_DROP_REASON_XFRM_POLICY,
    SocketRcvbuff = bindings::SKB_DROP_REASON_SOCKET_RCVBUFF,
    SocketClose = bindings::SKB_DROP_REASON_SOCKET_CLOSE,
    SocketFilter = bindings::SKB_DROP_REASON_SOCKET_FILTER,
    Pfmemalloc = bindings::SKB_DROP_REASON_PFMEMALLOC,
    SecurityHook = bindings::SKB_DROP_REASON_SECURITY_HOOK,
    ProtoMem = bindings::SKB_DROP_REASON_PROTO_MEM,
}

/// Frees `ptr` as dropped for `reason`.
///
/// # Safety
///
/// `ptr` is a valid skb whose reference the caller owns and gives up.
unsafe fn drop_raw(ptr: *mut bindings::sk_buff, reason: DropReason) {
    // SAFETY: The caller owns a reference to the valid skb `ptr` and gives it up; no socket
    // is involved (udprx sockets are not `struct sock`).
    unsafe { bindings::sk_skb_reason_drop(core::ptr::null_mut(), ptr, reason as u32) };
}

/// The fields of a UDP header, in host byte order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UdpHeader {
    /// Destination port.
    pub(crate) dest: u16,
    /// Length of header and payload, as the header says.
    pub(crate) len: u16,
    /// Checksum, as on the wire (0: none).
    pub(crate) check: u16,
}

/// The `ip_summed` states of an skb (`CHECKSUM_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpSummed {
    /// `CHECKSUM_NONE`: nothing is known; software must verify.
    None,
    /// `CHECKSUM_UNNECESSARY`: the device verified it.
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: `skb->csum` holds the device's sum over the packet.
    Complete,
    /// `CHECKSUM_PARTIAL`: locally generated (loopback); valid by construction.
    Partial,
}

/// An skb the caller owns (one reference), as a protocol handler or a netfilter hook that
/// steals it does.
///
/// Dropping an `Skb` frees it as a drop with reason `SKB_DROP_REASON_NOT_SPECIFIED`; use
/// [`Skb::consume`] when it was consumed normally and [`Skb::drop_reason`] otherwise, so
/// `skb:kfree_skb` tracing tells the truth.
///
/// # Invariants
///
/// `ptr` points to a valid `struct sk_buff` that this object owns one reference to, in the
/// IPv4 receive path: its network header is set (and its transport header, as
/// `ip_rcv_core()` sets it), it arrived on a device (`skb->dev` is valid) and it is not
/// shared (`ip_rcv()` unshares it).
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
    /// `ptr` must point to a valid, unshared skb in the IPv4 receive path (network and
    /// transport headers set, `dev` valid) and the caller must transfer its reference to the
    /// returned object.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            // SAFETY: The caller guarantees that `ptr` is a valid, hence non-null, skb.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    /// Gives the reference back to the caller, as a raw pointer.
    pub(super) fn into_raw(self) -> *mut bindings::sk_buff {
        ManuallyDrop::new(self).ptr.as_ptr()
    }

    fn raw(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    /// The raw pointer. ownership stays with `self`.
    pub(super) fn as_raw(&self) -> *mut bindings::sk_buff {
        self.raw()
    }

    /// Byte `i` (< 20) of the IPv4 header (`ip_hdr()`), read as a byte: the header need
    /// not be 4-byte aligned in the buffer.
    fn iph_byte(&self, i: usize) -> u8 {
        debug_assert!(i < 20);
        // SAFETY: By the type invariants the skb is valid and its network header is set;
        // `ip_rcv_core()` pulled at least the 20 bytes of a minimal IPv4 header into the
        // linear area there, and we own the skb, so nobody changes them.
        unsafe {
            let nh = head_at(self.raw(), header_offsets(self.raw()).0);
            nh.add(i).read()
        }
    }

    /// The protocol field of the IPv4 header.
    pub(crate) fn ip_protocol(&self) -> u8 {
        self.iph_byte(9)
    }

    /// The header length field of the IPv4 header, in 32-bit words (the low nibble of the
    /// first byte, on either byte order).
    fn ip_ihl(&self) -> u8 {
        self.iph_byte(0) & 0xf
    }

    /// `skb_headlen()`: bytes from `skb->data` in the linear area.
    fn headlen(&self) -> u32 {
        // SAFETY: The skb is valid (type invariants); we own it, so nobody changes it.
        unsafe { (*self.raw()).len - (*self.raw()).data_len }
    }

    /// Bytes from `skb->data` to the end of the packet (`skb->len`).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: The skb is valid (type invariants); we own it, so nobody changes it.
        unsafe { (*self.raw()).len }
    }

    /// Whether the route says broadcast or multicast (`RTCF_BROADCAST|RTCF_MULTICAST`).
    pub(crate) fn is_broadcast_or_multicast(&self) -> bool {
        // SAFETY: A locally delivered IPv4 skb has its input route set (`ip_rcv_finish()`),
        // and it is valid while we own the skb.
        let flags = unsafe { bindings::udprx_skb_rt_flags(self.raw()) };
        flags & (bindings::RTCF_BROADCAST | bindings::RTCF_MULTICAST) != 0
    }

    /// The destination port of a UDP datagram while `skb->data` is at the IP header (in the
    /// `LOCAL_IN` hook), or `None` when the packet is too short to hold it.
    pub(crate) fn udp_dest_port_at_ip(&self) -> Option<u16> {
        let mut port = [0u8; 2];
        let off = u32::from(self.ip_ihl()) * 4 + 2;
        if off + 2 <= self.headlen() {
            // `skb_header_pointer()`'s linear case.
            // SAFETY: The skb is valid and ours (type invariants), and the 2 bytes at
            // `skb->data + off` are in its linear area (checked just above).
            let p = unsafe { (*self.raw()).data.add(off as usize) };
            // SAFETY: As above: `p` and `p + 1` are readable.
            port = unsafe { [p.read(), p.add(1).read()] };
            return Some(u16::from_be_bytes(port));
        }
        let off = i32::try_from(off).ok()?;
        // SAFETY: The skb is valid (type invariants) and `port` is writable for 2 bytes.
        let r = unsafe { bindings::skb_copy_bits(self.raw(), off, port.as_mut_ptr().cast(), 2) };
        (r == 0).then(|| u16::from_be_bytes(port))
    }

    /// What `ip_local_deliver_finish()` does before it calls a protocol handler: move
    /// `skb->data` past the IP header and clear the delivery time.
    pub(crate) fn pull_network_header(&mut self) {
        // SAFETY: The skb is valid and ours; its network header length is within the linear
        // area (`ip_rcv_core()` pulled `ihl * 4` bytes), so `__skb_pull` stays in bounds.
        unsafe {
            let (network, transport) = header_offsets(self.raw());
            bindings::udprx___skb_pull(self.raw(), u32::from(transport - network));
            bindings::udprx_skb_clear_delivery_time(self.raw());
        }
    }

    /// `pskb_may_pull()`: makes the first `len` bytes linear; `false` when there are fewer.
    pub(crate) fn may_pull(&mut self, len: u32) -> bool {
        // Its inline first test: already linear.
        if len <= self.headlen() {
            return true;
        }
        // SAFETY: The skb is valid and unshared (type invariants).
        unsafe { bindings::udprx_pskb_may_pull(self.raw(), len) }
    }

    /// The UDP header at `skb->data`.
    ///
    /// Call only after [`Skb::may_pull`] succeeded for 8 bytes; returns `None` otherwise.
    pub(crate) fn udp_header(&self) -> Option<UdpHeader> {
        if self.headlen() < 8 {
            return None;
        }
        // SAFETY: The transport header is at `skb->data` in a protocol handler (it was set by
        // `ip_rcv_core()` and the network header was pulled), and 8 bytes of it are linear;
        // they are read as bytes (the header need not be aligned).
        let b: [u8; 8] = unsafe {
            head_at(self.raw(), header_offsets(self.raw()).1)
                .cast::<[u8; 8]>()
                .read_unaligned()
        };
        Some(UdpHeader {
            dest: u16::from_be_bytes([b[2], b[3]]),
            len: u16::from_be_bytes([b[4], b[5]]),
            check: u16::from_be_bytes([b[6], b[7]]),
        })
    }

    /// `pskb_trim_rcsum()`: trims the packet to `len` bytes, fixing up `skb->csum`.
    /// Returns whether it could (`udp_rcv()` only tests for an error, it never looks at
    /// which, so none is converted: `to_result()` would be a call on this path).
    pub(crate) fn trim_rcsum(&mut self, len: u32) -> bool {
        // SAFETY: The skb is valid and unshared (type invariants).
        unsafe { bindings::udprx_pskb_trim_rcsum(self.raw(), len) == 0 }
    }

    /// `skb->ip_summed`.
    pub(crate) fn ip_summed(&self) -> IpSummed {
        // SAFETY: The skb is valid and ours (type invariants).
        match u32::from(unsafe { headers(self.raw()) }.ip_summed()) {
            bindings::CHECKSUM_UNNECESSARY => IpSummed::Unnecessary,
            bindings::CHECKSUM_COMPLETE => IpSummed::Complete,
            bindings::CHECKSUM_PARTIAL => IpSummed::Partial,
            _ => IpSummed::None,
        }
    }

    /// `skb->csum_valid`.
    pub(crate) fn csum_valid(&self) -> bool {
        // SAFETY: The skb is valid and ours (type invariants).
        unsafe { headers(self.raw()) }.csum_valid() != 0
    }

    /// `skb->csum_complete_sw`: software computed the full sum (so a mismatch is real).
    pub(crate) fn csum_complete_sw(&self) -> bool {
        // SAFETY: The skb is valid and ours (type invariants).
        unsafe { headers(self.raw()) }.csum_complete_sw() != 0
    }

    /// `skb_checksum_init_zero_check(skb, proto, check, inet_compute_pseudo)`: sets up the
    /// checksum state with the pseudo-header for IP protocol `proto` (a zero `check` means
    /// "no checksum"); verifies at once for short packets. `false` means the checksum is
    /// known to be bad.
    pub(crate) fn checksum_init_zero_check(&mut self, proto: u8, check: u16) -> bool {
        // SAFETY: The skb is valid and unshared, the network header is set (the pseudo-header
        // is read from it) and `skb->data` is at the UDP header.
        unsafe {
            bindings::udprx_skb_checksum_init_zero_check(self.raw(), proto, check.to_be()) == 0
        }
    }

    /// `skb_checksum_complete_unset()`: forget a device's `CHECKSUM_COMPLETE` sum.
    pub(crate) fn checksum_complete_unset(&mut self) {
        // SAFETY: The skb is valid and unshared (type invariants).
        unsafe { bindings::udprx_skb_checksum_complete_unset(self.raw()) }
    }

    /// `udp_lib_checksum_complete()`: `true` when the checksum is not already known good
    /// and verifying it over the whole datagram fails.
    pub(crate) fn udp_checksum_bad(&mut self) -> bool {
        // SAFETY: The skb is valid and unshared, its checksum state was set up by
        // `checksum_init_zero_check()`.
        unsafe { bindings::udprx_udp_lib_checksum_complete(self.raw()) }
    }

    /// `xfrm4_policy_check(NULL, XFRM_POLICY_IN, skb)`: whether IPsec input policy lets the
    /// packet in (always, without policies).
    pub(crate) fn xfrm_policy_allows(&mut self) -> bool {
        // SAFETY: The skb is valid and ours, in the IPv4 input path.
        unsafe { bindings::udprx_xfrm4_policy_check_in(self.raw()) }
    }

    /// `nf_reset_ct()`: drop the conntrack reference; the packet leaves netfilter's world.
    pub(crate) fn nf_reset_ct(&mut self) {
        // SAFETY: The skb is valid and ours.
        unsafe { bindings::udprx_nf_reset_ct(self.raw()) }
    }

    /// `nf_conntrack_confirm()`: enters the skb's conntrack entry, if it has a new one, into
    /// the conntrack table, as conntrack's own `LOCAL_IN` hook does last; `false` when
    /// conntrack says to drop the skb. Nothing happens to an skb without one or with a
    /// confirmed one.
    pub(crate) fn conntrack_confirm(&mut self) -> bool {
        // SAFETY: The skb is valid and ours, at an IPv4 `LOCAL_IN` hook, under RCU.
        unsafe { bindings::udprx_nf_conntrack_confirm(self.raw()) == bindings::NF_ACCEPT }
    }

    /// `icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)` (rate limited by ICMP).
    pub(crate) fn icmp_port_unreachable(&self) {
        // SAFETY: The skb is valid, in the IPv4 input path with its route set; `icmp_send`
        // only reads it.
        unsafe {
            bindings::udprx_icmp_send(
                self.raw(),
                bindings::ICMP_DEST_UNREACH as i32,
                bindings::ICMP_PORT_UNREACH as i32,
            )
        }
    }

    /// Frees the skb as dropped for `reason` (`kfree_skb_reason`).
    pub(crate) fn drop_reason(self, reason: DropReason) {
        let ptr = self.into_raw();
        // SAFETY: `ptr` is a valid skb whose reference we own (type invariants).
        unsafe { drop_raw(ptr, reason) };
    }

    /// `skb_orphan()`: lets go of the socket early demux may have attached (`skb->sk`,
    /// with its reference), as the stock path's `inet_steal_sock()` ... `sock_put()` does.
    pub(crate) fn orphan(&mut self) {
        // SAFETY: The skb is valid and ours (type invariants).
        unsafe { bindings::udprx_skb_orphan(self.as_raw()) };
    }

    /// Readies the datagram for a socket's queue, as `udp_queue_rcv_one_skb()` does:
    /// `udp_csum_pull_header()` moves `skb->data` to the payload (keeping the pending
    /// checksum right), and the route, only borrowed under RCU, is dropped.
    ///
    /// Call after the UDP header was validated (`may_pull(8)`).
    pub(crate) fn into_queued(self) -> QueuedSkb {
        let ptr = self.into_raw();
        // SAFETY: `ptr` is valid, unshared and ours, with 8 linear bytes of UDP header at
        // `skb->data` (the caller validated it); after `skb_dst_drop` it holds no reference
        // that is only valid under RCU.
        unsafe {
            bindings::udprx_udp_csum_pull_header(ptr);
            bindings::udprx_skb_dst_drop(ptr);
            skb_set_next(ptr, core::ptr::null_mut());
        }
        // INVARIANT: See above: valid, owned, data at the payload, no dst, not on a list.
        QueuedSkb {
            // SAFETY: `ptr` came from a `NonNull`.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own a reference to a valid skb; it is not used
        // again after this.
        unsafe { drop_raw(self.raw(), DropReason::NotSpecified) };
    }
}
