// SPDX-License-Identifier: GPL-2.0

//! Network namespaces and per-netns state (`struct pernet_operations`).
//!
//! C header: [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h)

use super::bindings;
use core::{cell::UnsafeCell, marker::PhantomData, ptr::NonNull};
use kernel::{
    error::to_result,
    prelude::*,
    sync::{
        aref::{ARef, AlwaysRefCounted},
        atomic::{Acquire, Atomic, Release},
    },
    types::Opaque,
};

/// A network namespace (`struct net`).
///
/// A `&Net` borrows a netns the caller knows to be alive (the hook's and the handler's
/// argument, a pernet callback's); an `ARef<Net>` holds a reference on one
/// (`get_net()` … `put_net()`), as a socket holds the netns it lives in.
///
/// # Invariants
///
/// A `&Net` points to a live `struct net`.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

// SAFETY: A netns may be used and its reference dropped on any CPU; `&Net` gives out only
// what the kernel lets any context read.
unsafe impl Send for Net {}
// SAFETY: See `Send`.
unsafe impl Sync for Net {}

// SAFETY: A `struct net` is always reference counted (`get_net()`/`put_net()`), and a
// shared reference means the count is non-zero.
unsafe impl AlwaysRefCounted for Net {
    fn inc_ref(&self) {
        // SAFETY: The netns is alive (type invariants), so its count is non-zero.
        unsafe { bindings::udprx_get_net(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::udprx_put_net(obj.cast().as_ptr()) };
    }
}

impl Net {
    /// Borrows `ptr` for `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct net` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Self {
        // SAFETY: Guaranteed by the caller; `Net` is `repr(transparent)` over the C struct.
        unsafe { &*ptr.cast() }
    }

    /// The network namespace of the calling task (`current->nsproxy->net_ns`), with a
    /// reference.
    pub(crate) fn current() -> ARef<Self> {
        // SAFETY: In process context `current->nsproxy` is valid (the task is not exiting
        // while it runs a syscall) and its netns is alive for the call.
        let net = unsafe { Self::from_raw(bindings::udprx_current_net()) };
        net.into()
    }

    /// The raw pointer.
    pub(super) fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }

    /// This netns's state of the pernet subsystem `T`, or `None` when `T` is not
    /// registered, or its state here is still being built or already being torn down.
    pub(crate) fn data<T: PernetData>(&self) -> Option<&T> {
        let id = T::net_id().get();
        if id == 0 {
            return None;
        }
        // SAFETY: The netns is valid (type invariants) and `id` is the id of a registered
        // subsystem, so `net_generic()` returns its slot for this netns.
        let slot = unsafe { Slot::<T>::of(self, id) };
        // A netns whose subsystems are still being set up may have no slot yet.
        if slot.is_null() {
            return None;
        }
        // SAFETY: `ready` is initialised before anything can read it (`Slot` invariants).
        let ready = unsafe { &(*slot).ready };
        if !ready.load(Acquire) {
            return None;
        }
        // SAFETY: While `ready` is set, `data` is fully initialised; it is dropped only in
        // `exit`, after `pre_exit` cleared `ready` and every reader of the state that can
        // still run (the proc file) is gone (`Slot` invariants).
        Some(unsafe { &(*slot).data })
    }

    /// Counts a datagram a protocol handler received (`Ip: InDelivers`), as
    /// `ip_protocol_deliver_rcu()` counts each one it hands to one.
    pub(crate) fn count_ip_delivered(&self) {
        // SAFETY: The netns is alive (type invariants); its MIBs live as long as it does.
        unsafe { bindings::udprx_ip_inc_indelivers(self.as_ptr()) };
    }

    /// Counts an ICMP error no socket takes (`Icmp: InErrors`), as `__udp4_lib_err()` does.
    pub(crate) fn count_icmp_in_error(&self) {
        // SAFETY: The netns is alive (type invariants); its MIBs live as long as it does.
        unsafe { bindings::udprx_icmp_inc_inerrors(self.as_ptr()) };
    }

    /// Whether the calling task has `CAP_NET_ADMIN` over this netns (its owning user
    /// namespace), as `ns_capable(net->user_ns, CAP_NET_ADMIN)` in socket option checks.
    pub(crate) fn current_has_net_admin(&self) -> bool {
        // SAFETY: The netns is alive (type invariants) and `user_ns` is set for its life.
        unsafe {
            let user_ns = (*self.as_ptr()).user_ns;
            bindings::ns_capable(user_ns, bindings::CAP_NET_ADMIN as i32)
        }
    }
}

/// Where the kernel stores the id it assigns to a pernet subsystem (`pernet_operations.id`).
///
/// # Invariants
///
/// The value is 0 while the subsystem is not registered; it is written only by
/// `register_pernet_subsys()` and by [`PernetRegistration`]'s `Drop`, never while a reader
/// can run.
pub(crate) struct NetId(UnsafeCell<u32>);

// SAFETY: The only writes happen around registration, when no reader runs (type invariants).
unsafe impl Sync for NetId {}

impl NetId {
    /// An id for a subsystem that is not registered yet.
    pub(crate) const fn new() -> Self {
        Self(UnsafeCell::new(0))
    }

    fn get(&self) -> u32 {
        // SAFETY: No write races with this read (type invariants).
        unsafe { *self.0.get() }
    }
}

/// A netns's slot of a pernet subsystem (`net_generic()`): the state, and whether it is
/// there to be read.
///
/// # Invariants
///
/// `ready` is written (false) by `init` before anything else, set once `data` is fully
/// initialised, and cleared by `pre_exit`, before the grace period that precedes `exit`,
/// which drops `data`: a `&T` is handed out only while `ready` is set.
#[repr(C)]
struct Slot<T> {
    ready: Atomic<bool>,
    data: T,
}

impl<T> Slot<T> {
    /// This subsystem's slot in `net`.
    ///
    /// # Safety
    ///
    /// `id` is the id of a registered subsystem whose state is a `T`.
    unsafe fn of(net: &Net, id: u32) -> *mut Self {
        // SAFETY: As the caller guarantees; the netns is alive (type invariants).
        unsafe { bindings::udprx_net_generic(net.as_ptr(), id) }.cast()
    }
}

/// The per-netns state of a pernet subsystem, stored by the kernel in `net_generic()`.
pub(crate) trait PernetData: Sized + Send + Sync + 'static {
    /// Where the kernel keeps this subsystem's id.
    fn net_id() -> &'static NetId;

    /// Initialises the state of `net` in place (the `init` callback).
    fn init(net: &Net) -> impl PinInit<Self, Error>;

    /// The `pre_exit` callback: the netns (or the subsystem) is going; one grace period
    /// follows, for every netns that goes in the same batch, before the state is dropped.
    /// Unregister here what runs under RCU and reads the state.
    fn pre_exit(&self) {}
}

/// A registered pernet subsystem whose per-netns state is `T`.
///
/// # Invariants
///
/// `ops` is registered with `register_pernet_subsys()` for the whole life of this object; the
/// kernel then calls `init` (which initialises a `T` in each netns's slot) for every netns
/// and `exit` (which drops it) before the netns goes or at unregistration.
#[pin_data(PinnedDrop)]
pub(crate) struct PernetRegistration<T: PernetData> {
    #[pin]
    ops: Opaque<bindings::pernet_operations>,
    _t: PhantomData<T>,
}

// SAFETY: Unregistering from another thread is allowed; `&self` gives no access to anything.
unsafe impl<T: PernetData> Send for PernetRegistration<T> {}
// SAFETY: `&self` gives no access to anything.
unsafe impl<T: PernetData> Sync for PernetRegistration<T> {}

impl<T: PernetData> PernetRegistration<T> {
    /// Registers the subsystem: `T::init` runs for every existing netns now, and for every
    /// new one later.
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ops <- Opaque::try_ffi_init(move |slot: *mut bindings::pernet_operations| {
                // SAFETY: The initializer may write to `slot`.
                unsafe {
                    slot.write(bindings::pernet_operations {
                        init: Some(init_callback::<T>),
                        pre_exit: Some(pre_exit_callback::<T>),
                        exit: Some(exit_callback::<T>),
                        id: T::net_id().0.get(),
                        size: core::mem::size_of::<Slot<T>>(),
                        ..Default::default()
                    })
                };
                // SAFETY: `slot` holds valid, pinned operations that stay registered until
                // `Drop` unregisters them before the memory goes.
                to_result(unsafe { bindings::register_pernet_subsys(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T: PernetData> PinnedDrop for PernetRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `ops` is registered (type invariants); this runs `exit` for every netns.
        unsafe { bindings::unregister_pernet_subsys(self.ops.get()) };
        // SAFETY: Unregistered: nothing reads the id any more (`NetId` invariants).
        unsafe { *T::net_id().0.get() = 0 };
    }
}

/// `pernet_operations.init`: initialises `T` in the netns's slot.
///
/// # Safety
///
/// Called by the kernel only, with a valid netns, while the subsystem is registered.
unsafe extern "C" fn init_callback<T: PernetData>(net: *mut bindings::net) -> kernel::ffi::c_int {
    const {
        // `net_generic()` slots come from kzalloc(), aligned to ARCH_KMALLOC_MINALIGN (8).
        assert!(core::mem::align_of::<Slot<T>>() <= 8);
    }
    // SAFETY: The kernel calls `init` with a valid netns that outlives the call.
    let net = unsafe { Net::from_raw(net) };
    // SAFETY: During `init` the subsystem is registered, so its id is valid and the slot is a
    // zeroed allocation of `size_of::<Slot<T>>()` bytes owned by this netns.
    let slot = unsafe { Slot::<T>::of(net, T::net_id().get()) };
    // SAFETY: `slot` is valid for writes, suitably aligned (checked above) and never moves
    // until `exit_callback` drops the state in place; `ready` is written first and set only
    // once `data` is initialised (`Slot` invariants).
    unsafe {
        (&raw mut (*slot).ready).write(Atomic::new(false));
        if let Err(e) = T::init(net).__init(&raw mut (*slot).data) {
            return e.to_errno();
        }
        (*slot).ready.store(true, Release);
    }
    0
}

/// `pernet_operations.pre_exit`: [`PernetData::pre_exit`].
///
/// # Safety
///
/// Called by the kernel only, with a valid netns whose `init` succeeded.
unsafe extern "C" fn pre_exit_callback<T: PernetData>(net: *mut bindings::net) {
    // SAFETY: The kernel calls `pre_exit` with a valid netns whose `init` succeeded.
    let net = unsafe { Net::from_raw(net) };
    // SAFETY: The subsystem is registered (the kernel calls its callbacks).
    let slot = unsafe { Slot::<T>::of(net, T::net_id().get()) };
    // SAFETY: `init` succeeded, so `ready` is set and `data` initialised; `data` stays
    // until `exit` (`Slot` invariants).
    unsafe {
        (*slot).ready.store(false, Release);
        (*slot).data.pre_exit();
    }
}

/// `pernet_operations.exit`: drops the `T` of a netns that goes (or of every netns, at
/// unregistration).
///
/// # Safety
///
/// Called by the kernel only, with a valid netns whose `init` succeeded.
unsafe extern "C" fn exit_callback<T: PernetData>(net: *mut bindings::net) {
    // SAFETY: The kernel calls `exit` with a valid netns whose `init` succeeded, so the slot
    // holds an initialised `T` that nothing uses any more: its own registrations are undone by
    // its `Drop`, and every other user was unregistered before the subsystem.
    unsafe {
        let slot = Slot::<T>::of(Net::from_raw(net), T::net_id().get());
        core::ptr::drop_in_place(&raw mut (*slot).data);
    }
}
