// SPDX-License-Identifier: GPL-2.0

//! IPv4 protocol handlers (`struct net_protocol`, `inet_add_protocol()`).
//!
//! C header: [`include/net/protocol.h`](srctree/include/net/protocol.h)

use super::{
    bhlock::BhDisabled,
    bindings,
    netns::Net,
    skb::{self, Skb},
};
use core::marker::PhantomData;
use kernel::{prelude::*, types::Opaque};

/// The receive function of an IP protocol, as `udp_rcv` is UDP's.
pub(crate) trait ProtoHandler {
    /// Called by `ip_local_deliver_finish()` for each skb of the protocol, under
    /// `rcu_read_lock()` with bottom halves disabled (`bh`): in softirq, or in process
    /// context after an NFQUEUE verdict (`nf_reinject()`), with `skb->data` at the
    /// transport header.
    fn handle(net: &Net, skb: Skb, bh: &BhDisabled);

    /// Called by `icmp_socket_deliver()` for an ICMP error that quotes a packet of the
    /// protocol (`err_handler`), in softirq context under `rcu_read_lock()`, with the
    /// source port of the quoted datagram (`None` if it cannot be read).
    fn error(net: &Net, quoted_source_port: Option<u16>);
}

/// A handler registered for one IP protocol number.
///
/// # Invariants
///
/// `proto` is registered with `inet_add_protocol(proto, num)` for the whole life of this
/// object.
#[pin_data(PinnedDrop)]
pub(crate) struct ProtoRegistration<H: ProtoHandler> {
    #[pin]
    proto: Opaque<bindings::net_protocol>,
    num: u8,
    _h: PhantomData<H>,
}

// SAFETY: Unregistering from another thread is allowed; `&self` gives no access to anything.
unsafe impl<H: ProtoHandler> Send for ProtoRegistration<H> {}
// SAFETY: `&self` gives no access to anything.
unsafe impl<H: ProtoHandler> Sync for ProtoRegistration<H> {}

impl<H: ProtoHandler> ProtoRegistration<H> {
    /// Registers `H` for IP protocol `num`; `EINVAL` for 0 (`IPPROTO_IP`, no protocol),
    /// `EBUSY` when the number is taken (UDP, TCP, ICMP, ... or another module), each
    /// with a message in the kernel log.
    pub(crate) fn new(num: u8) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            proto <- Opaque::try_ffi_init(move |slot: *mut bindings::net_protocol| {
                if num == 0 {
                    pr_err!("proto=0 is not an IP protocol number; use 253 or 254 (RFC 3692)\n");
                    return Err(EINVAL);
                }
                // `no_policy` = 1, as for `udp_protocol`: the IP layer leaves the xfrm
                // policy check and the conntrack reset to the handler (which does both
                // where `udp_rcv()` does).
                let mut proto = bindings::net_protocol {
                    handler: Some(handler_callback::<H>),
                    err_handler: Some(err_callback::<H>),
                    ..Default::default()
                };
                proto.set_no_policy(1);
                // SAFETY: The initializer may write to `slot`.
                unsafe { slot.write(proto) };
                // SAFETY: `slot` holds a valid, pinned protocol that stays registered until
                // `Drop` unregisters it before the memory goes.
                match unsafe { bindings::inet_add_protocol(slot, num) } {
                    0 => Ok(()),
                    _ => {
                        pr_err!("IP protocol {num} already has a handler; choose another proto=\n");
                        Err(EBUSY)
                    }
                }
            }),
            num,
            _h: PhantomData,
        })
    }
}

#[pinned_drop]
impl<H: ProtoHandler> PinnedDrop for ProtoRegistration<H> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `proto` is registered for `num` (type invariants). `inet_del_protocol()`
        // calls `synchronize_net()`, so no handler runs once it returns.
        unsafe { bindings::inet_del_protocol(self.proto.get(), self.num) };
    }
}

/// `net_protocol.handler`.
///
/// # Safety
///
/// Called by the IP layer only, with a valid skb it hands over.
unsafe extern "C" fn handler_callback<H: ProtoHandler>(
    skb: *mut bindings::sk_buff,
) -> kernel::ffi::c_int {
    // SAFETY: `ip_local_deliver_finish()` hands the handler a valid, unshared skb with its
    // network and transport headers set and a device, and its reference with it.
    let skb = unsafe { Skb::from_raw(skb) };
    // SAFETY: The device the skb arrived on holds its netns alive for the whole call.
    let net = unsafe { Net::from_raw(bindings::udprx_skb_net(skb.as_raw())) };
    // SAFETY: Before any of the handler's code; `bh` stays on this stack.
    let bh = unsafe { BhDisabled::for_callback() };
    H::handle(net, skb, &bh);
    // 0: the skb was consumed (a negative value would resubmit it to another protocol).
    0
}

/// `net_protocol.err_handler`.
///
/// # Safety
///
/// Called by the ICMP layer only, with a valid skb it keeps.
unsafe extern "C" fn err_callback<H: ProtoHandler>(
    skb: *mut bindings::sk_buff,
    _info: u32,
) -> kernel::ffi::c_int {
    // SAFETY: `icmp_socket_deliver()` passes a valid skb with `skb->data` at the quoted IP
    // header and 8 bytes of what follows it linear, and keeps it for the whole call.
    let port = unsafe { skb::icmp_quoted_source_port(skb) };
    // SAFETY: The device the skb arrived on holds its netns alive for the whole call.
    let net = unsafe { Net::from_raw(bindings::udprx_skb_net(skb)) };
    H::error(net, port);
    0
}
