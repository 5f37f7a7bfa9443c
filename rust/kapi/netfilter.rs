// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks (`struct nf_hook_ops`) on IPv4 `NF_INET_LOCAL_IN`.
//!
//! C header: [`include/linux/netfilter.h`](srctree/include/linux/netfilter.h)

use super::{bhlock::BhDisabled, bindings, netns::Net, skb::Skb};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    error::to_result,
    prelude::*,
    sync::{
        atomic::{Atomic, Full},
        rcu, Arc,
    },
    types::Opaque,
};

/// What a hook does with an skb. Ownership makes the verdict honest: a hook hands the
/// [`Skb`] back with its verdict, or on to [`Hook::steal`] with what it found (`T`).
pub(crate) enum Verdict<T> {
    /// `NF_ACCEPT`: the skb goes on through the stack.
    Accept(Skb),
    /// `NF_STOLEN`: [`Hook::steal`] takes the skb, with bottom halves disabled.
    Steal(Skb, T),
    /// `NF_DROP`: netfilter frees the skb (`SKB_DROP_REASON_NETFILTER_DROP`).
    Drop(Skb),
}

/// A netfilter hook function.
pub(crate) trait Hook {
    /// What the hook reads: netfilter hands it over as the hook's `priv`, so the hook
    /// finds its state without looking it up in the netns (`net_generic()`).
    type Data: Send + Sync;

    /// What [`Hook::hook`] found for an skb it steals, for [`Hook::steal`]. `Send`, so
    /// that it holds no lock guard and no [`BhDisabled`]: between the two, none of the
    /// hook's is alive.
    type Found<'a>: Send;

    /// Called for each skb at the hook, inside `rcu`: in softirq, or in the process
    /// context of an NFQUEUE verdict, which resumes the hooks after the queueing one
    /// (`nf_reinject()` → `nf_iterate()`) with bottom halves enabled.
    fn hook<'a>(
        data: &'a Self::Data,
        net: &Net,
        skb: Skb,
        rcu: &'a rcu::Guard,
    ) -> Verdict<Self::Found<'a>>;

    /// Takes an skb [`Hook::hook`] stole, with what it found, bottom halves disabled
    /// (`bh`), as the stock path reaches `udp_rcv()`.
    fn steal(data: &Self::Data, net: &Net, skb: Skb, found: Self::Found<'_>, bh: &BhDisabled);
}

/// An IPv4 `NF_INET_LOCAL_IN` hook registered in one netns.
///
/// It must live in the per-netns state of a [`super::netns::PernetData`], which the kernel
/// drops before the netns goes.
///
/// # Invariants
///
/// `ops` is registered with `nf_register_net_hook(net, ...)` from construction until
/// [`HookRegistration::unregister`] or drop, whichever comes first; `unregistered` says
/// which; `net` outlives the object. `ops.priv` is `Arc::as_ptr(&data)`: the reference in
/// `data` is dropped only after the drop's grace period, or after the one the netns core
/// waits between `pre_exit` and `exit`, so no hook still running can see it go.
#[pin_data(PinnedDrop)]
pub(crate) struct HookRegistration<H: Hook> {
    #[pin]
    ops: Opaque<bindings::nf_hook_ops>,
    net: NonNull<bindings::net>,
    unregistered: Atomic<bool>,
    data: Arc<H::Data>,
    _h: PhantomData<H>,
}

// SAFETY: Unregistering from another thread is allowed; `&self` gives no access to anything.
unsafe impl<H: Hook> Send for HookRegistration<H> {}
// SAFETY: `&self` gives no access to anything.
unsafe impl<H: Hook> Sync for HookRegistration<H> {}

impl<H: Hook> HookRegistration<H> {
    /// Registers `H` at `NF_INET_LOCAL_IN` in `net` with `priority`, handing it `data`.
    pub(crate) fn local_in(
        net: &Net,
        priority: i32,
        data: Arc<H::Data>,
    ) -> impl PinInit<Self, Error> {
        let raw = net.as_ptr();
        let priv_ = Arc::as_ptr(&data).cast_mut().cast::<kernel::ffi::c_void>();
        try_pin_init!(Self {
            ops <- Opaque::try_ffi_init(move |slot: *mut bindings::nf_hook_ops| {
                // SAFETY: The initializer may write to `slot`.
                unsafe {
                    slot.write(bindings::nf_hook_ops {
                        hook: Some(hook_callback::<H>),
                        priv_,
                        pf: bindings::NFPROTO_IPV4 as u8,
                        hooknum: bindings::NF_INET_LOCAL_IN,
                        priority,
                        ..Default::default()
                    })
                };
                // SAFETY: `raw` is a live netns and `slot` holds valid, pinned ops that stay
                // registered until `Drop` unregisters them before the memory goes.
                to_result(unsafe { bindings::nf_register_net_hook(raw, slot) })
            }),
            // SAFETY: `raw` came from a `&Net`, so it is non-null.
            net: unsafe { NonNull::new_unchecked(raw) },
            unregistered: Atomic::new(false),
            data,
            _h: PhantomData,
        })
    }

    /// Unregisters the hook now, without waiting for a hook still running on another CPU:
    /// for a netns's `pre_exit`, after which the netns core waits one grace period for all
    /// the namespaces that go together, before `exit` frees what the hook touches.
    pub(crate) fn unregister(&self) {
        if !self.unregistered.xchg(true, Full) {
            // SAFETY: Registered until now (type invariants; the flag makes this once).
            unsafe { bindings::nf_unregister_net_hook(self.net.as_ptr(), self.ops.get()) };
        }
    }
}

#[pinned_drop]
impl<H: Hook> PinnedDrop for HookRegistration<H> {
    fn drop(self: Pin<&mut Self>) {
        if self.unregistered.xchg(true, Full) {
            // Unregistered in `pre_exit`; the grace period after it has passed.
            return;
        }
        // SAFETY: `ops` is registered in `net`, which is still alive (type invariants).
        unsafe { bindings::nf_unregister_net_hook(self.net.as_ptr(), self.ops.get()) };
        // A hook may still run on another CPU; wait for it before anything it touches (the
        // state this registration lives in) is freed.
        // SAFETY: Called from process context.
        unsafe { bindings::synchronize_net() };
    }
}

/// `nf_hook_ops.hook`.
///
/// # Safety
///
/// Called by netfilter only, with the `priv` of a [`HookRegistration<H>`], a valid skb it
/// hands over and a valid hook state.
unsafe extern "C" fn hook_callback<H: Hook>(
    priv_: *mut kernel::ffi::c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> kernel::ffi::c_uint {
    // SAFETY: `priv_` is the registration's `Arc<H::Data>`, alive until a grace period
    // after the hook is unregistered (`HookRegistration` invariants); netfilter calls hooks
    // under `rcu_read_lock()`.
    let data = unsafe { &*priv_.cast_const().cast::<H::Data>() };
    // SAFETY: Netfilter passes a valid state whose `net` is alive for the call.
    let net = unsafe { Net::from_raw((*state).net) };
    // SAFETY: At an IPv4 LOCAL_IN hook the skb is valid, its network header is set and it
    // has a device; the hook owns it until it returns a verdict.
    let skb = unsafe { Skb::from_raw(skb) };
    // Netfilter holds it already; the hook's references are tied to this one.
    let rcu = rcu::read_lock();
    let verdict = match H::hook(data, net, skb, &rcu) {
        Verdict::Accept(skb) => {
            // Netfilter keeps the skb: hand the reference back.
            let _ = skb.into_raw();
            bindings::NF_ACCEPT
        }
        Verdict::Drop(skb) => {
            // Netfilter frees the skb: hand the reference back.
            let _ = skb.into_raw();
            bindings::NF_DROP
        }
        Verdict::Steal(skb, found) => {
            // SAFETY: `bh` stays on this stack. No lock guard and no `BhDisabled` of the
            // hook's is alive: `hook` has returned, `found` is `Send` (neither is) and so is
            // `H::Data` (which `Sync` needs); and none of the module's is alive up the
            // stack, since softirqs run only once bottom halves disabled by the module are
            // enabled again. So bottom halves disabled now were disabled by netfilter's
            // caller, for all of this callback.
            let bh = unsafe { BhDisabled::for_callback() };
            H::steal(data, net, skb, found, &bh);
            bindings::NF_STOLEN
        }
    };
    verdict
}
