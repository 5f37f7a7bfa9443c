// SPDX-License-Identifier: GPL-2.0

//! The `NF_INET_LOCAL_IN` hook, between `ip_local_deliver()` and
//! `ip_local_deliver_finish()`: it sees every datagram delivered locally in its netns.

use crate::{
    ffi::{
        netfilter::{Hook, Verdict},
        netns::NetNs,
        skb::Skb,
        IPPROTO_UDP,
    },
    pernet::{hook_mib, UdprxNet},
};

/// The udprx `LOCAL_IN` hook. It counts the UDP datagrams it sees and accepts everything.
pub(crate) struct LocalIn;

impl Hook for LocalIn {
    fn hook(net: NetNs<'_>, skb: Skb) -> Verdict {
        if skb.ip_protocol() == IPPROTO_UDP {
            if let Some(state) = net.data::<UdprxNet>() {
                state.hook_mib.inc(hook_mib::SEEN);
                state.hook_mib.inc(hook_mib::ACCEPTED);
            }
        }
        Verdict::Accept(skb)
    }
}
