// SPDX-License-Identifier: GPL-2.0

//! `struct sk_buff` fields read directly, where the kernel has a static inline function:
//! each call through an out-of-line copy in the shim would cost a call and a return per
//! packet.

use super::super::bindings;

/// `skb->head + offset`: where a header starts, for one of the skb's header offsets.
///
/// # Safety
///
/// `skb` points to a valid skb and `offset` is one of its set header offsets.
pub(super) unsafe fn head_at(skb: *const bindings::sk_buff, offset: u16) -> *const u8 {
    // SAFETY: The caller guarantees `skb` is valid and that `head + offset` is inside its
    // head buffer (a set header offset is).
    unsafe { (*skb).head.add(usize::from(offset)) }
}

/// The skb's network and transport header offsets (`skb->network_header`,
/// `skb->transport_header`).
///
/// # Safety
///
/// `skb` points to a valid skb.
pub(super) unsafe fn header_offsets(skb: *const bindings::sk_buff) -> (u16, u16) {
    // SAFETY: The caller guarantees `skb` is valid; the reference is dropped before this
    // returns.
    let h = unsafe { headers(skb) };
    (h.network_header, h.transport_header)
}

/// The skb's `headers` group, where its checksum bitfields are (`ip_summed`,
/// `csum_valid`, `csum_complete_sw`; bindgen's accessors read them).
///
/// # Safety
///
/// `skb` points to a valid skb that stays valid and unchanged for `'a`.
pub(super) unsafe fn headers<'a>(
    skb: *const bindings::sk_buff,
) -> &'a kernel::bindings::sk_buff__bindgen_ty_4__bindgen_ty_2 {
    // SAFETY: The caller guarantees `skb` is valid for `'a`. `headers` is the named member
    // of the `struct_group(headers, ...)` union, laid over the same fields as the anonymous
    // one: reading through it reads the fields.
    unsafe { (*skb).__bindgen_anon_4.headers.as_ref() }
}

/// `skb->next`.
///
/// # Safety
///
/// `skb` points to a valid skb.
pub(super) unsafe fn skb_next(skb: *const bindings::sk_buff) -> *mut bindings::sk_buff {
    // SAFETY: The caller guarantees `skb` is valid; `next` is a plain pointer field of the
    // list-linkage union, whichever member was last written (all start with a pointer).
    unsafe { (*skb).__bindgen_anon_1.__bindgen_anon_1.next }
}

/// `skb->next = next`.
///
/// # Safety
///
/// `skb` points to a valid skb that the caller may change and that is on no other list.
pub(super) unsafe fn skb_set_next(skb: *mut bindings::sk_buff, next: *mut bindings::sk_buff) {
    // SAFETY: As the caller guarantees.
    unsafe { (*skb).__bindgen_anon_1.__bindgen_anon_1.next = next };
}

/// The source port of the UDP datagram an ICMP error quotes, as `__udp4_lib_err()` reads
/// it: `skb->data` is at the quoted IP header; `None` if the port is not in the linear
/// area.
///
/// # Safety
///
/// `skb` is a valid skb, as the ICMP layer passes it to an `err_handler`, that nobody
/// changes during the call.
pub(in crate::kapi) unsafe fn icmp_quoted_source_port(
    skb: *const bindings::sk_buff,
) -> Option<u16> {
    // SAFETY: As the caller guarantees; `icmp_socket_deliver()` pulled the quoted IP header
    // and 8 bytes after it into the linear area, so at least its first byte is there.
    unsafe {
        let headlen = (*skb).len - (*skb).data_len;
        let data = (*skb).data;
        let off = (u32::from(data.read() & 0xf) * 4) as usize;
        (off + 2 <= headlen as usize)
            .then(|| u16::from_be_bytes([data.add(off).read(), data.add(off + 1).read()]))
    }
}
