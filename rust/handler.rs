// SPDX-License-Identifier: GPL-2.0

//! The protocol handler, udprx's `udp_rcv`: what `ip_local_deliver_finish()` calls for
//! packets of the udprx protocol number.

use crate::{
    ffi::{protocol::ProtoHandler, skb::Skb},
    pernet::{proto_mib, UdprxNet},
};

/// The handler registered with `inet_add_protocol()`. It counts what it gets and consumes it.
pub(crate) struct Handler;

impl ProtoHandler for Handler {
    fn handle(skb: Skb) {
        if let Some(state) = skb.net().data::<UdprxNet>() {
            state.proto_mib.inc(proto_mib::IN_PACKETS);
        }
        skb.consume();
    }
}
