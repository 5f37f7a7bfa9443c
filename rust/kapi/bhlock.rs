// SPDX-License-Identifier: GPL-2.0

//! A `spinlock_t` taken with bottom halves disabled: `spin_lock_bh()` /
//! `spin_unlock_bh()`, the lock the kernel uses for a socket's receive queue
//! (`sk_receive_queue.lock`, 7.3's `reader_queue.lock`). The kernel crate's `SpinLockIrq`
//! disables interrupts, which no lock taken only in process context and in softirq needs.
//! Where bottom halves are disabled already ([`BhDisabled`]), the same lock is taken with
//! `spin_lock()` alone ([`SpinLockBhExt::in_bh`]), as the kernel takes
//! `sk_receive_queue.lock` in softirq (`__udp_enqueue_schedule_skb()`).
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

use super::bindings;
use core::marker::PhantomData;
use kernel::sync::lock::{Backend, Lock};

/// Bottom halves disabled for its life: disabled by `new` when they were enabled.
///
/// Neither `Send` nor `Sync`: it says something of the CPU it was made on.
///
/// # Invariants
///
/// Bottom halves are disabled on this CPU while it lives. When `enabled` is true, `new`
/// called `local_bh_disable()` on this CPU (which disabling bottom halves pins the task
/// to) and `drop` undoes it.
pub(crate) struct BhDisabled {
    enabled: bool,
    _not_send: PhantomData<*mut ()>,
}

impl BhDisabled {
    /// Disables bottom halves unless they are (in softirq, they are).
    #[inline(always)]
    pub(crate) fn new() -> Self {
        // SAFETY: `in_softirq()` reads the preempt count; `local_bh_disable()` may be
        // called in task context and is undone in `drop`.
        unsafe {
            let enabled = !bindings::udprx_in_softirq();
            if enabled {
                bindings::udprx_local_bh_disable();
            }
            // INVARIANT: Disabled here when they were enabled, and by someone up the stack
            // otherwise, who cannot enable them before this returns.
            Self {
                enabled,
                _not_send: PhantomData,
            }
        }
    }
}

impl Drop for BhDisabled {
    #[inline(always)]
    fn drop(&mut self) {
        if self.enabled {
            // SAFETY: Disabled in `new`, on this CPU.
            unsafe { bindings::udprx_local_bh_enable() };
        }
    }
}

/// A spinlock whose holder runs with bottom halves disabled on its CPU: a softirq on that
/// CPU cannot take it while process context holds it, and memory charged under it is
/// charged as in softirq (`gfp_memcg_charge()`: `GFP_ATOMIC`, since `in_softirq()`).
///
/// It must not be taken in hard interrupt context.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Creates a [`SpinLockBh`] initialiser with a name and a new lock class.
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:literal $(,)?) => {
        kernel::sync::lock::Lock::<_, $crate::kapi::bhlock::SpinLockBhBackend>::new(
            $inner,
            kernel::c_str!($name),
            kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_spinlock_bh;

/// The [`Backend`] of [`SpinLockBh`].
pub(crate) struct SpinLockBhBackend;

// SAFETY: `spinlock_t` gives mutual exclusion; `lock` and `unlock` pair `spin_lock_bh()` with
// `spin_unlock_bh()` on the same lock, and `relock` (the default) takes it the same way.
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and `name` and `key` are
        // valid for reads for as long as the lock lives.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` is an initialised lock.
        unsafe { bindings::udprx_spin_lock_bh(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller holds the lock, taken by `lock` on this CPU.
        unsafe { bindings::udprx_spin_unlock_bh(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: As for `lock`.
        (unsafe { bindings::udprx_spin_trylock_bh(ptr) }).then_some(())
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The caller guarantees `ptr` is an initialised lock.
        unsafe { kernel::bindings::spin_assert_is_held(ptr) }
    }
}

/// A [`SpinLockBh`] seen where bottom halves are disabled: taken with `spin_lock()` alone.
pub(crate) type SpinLockInBh<T> = Lock<T, SpinLockInBhBackend>;

/// The [`Backend`] of [`SpinLockInBh`].
pub(crate) struct SpinLockInBhBackend;

// SAFETY: `spinlock_t` gives mutual exclusion; `lock` and `unlock` pair `spin_lock()` with
// `spin_unlock()` on the same lock, and `relock` (the default) takes it the same way. It is
// only reached through `SpinLockBhExt::in_bh`, with bottom halves disabled for as long as
// a guard lives, so that no softirq on this CPU spins on a lock its holder holds.
unsafe impl Backend for SpinLockInBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: As for `SpinLockBhBackend::init`.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    #[inline(always)]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` is an initialised lock.
        unsafe { kernel::bindings::spin_lock(ptr) }
    }

    #[inline(always)]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller holds the lock, taken by `lock` on this CPU.
        unsafe { kernel::bindings::spin_unlock(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: As for `lock`.
        (unsafe { kernel::bindings::spin_trylock(ptr) } != 0).then_some(())
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The caller guarantees `ptr` is an initialised lock.
        unsafe { kernel::bindings::spin_assert_is_held(ptr) }
    }
}

/// What a [`SpinLockBh`] offers besides the kernel crate's `Lock`.
pub(crate) trait SpinLockBhExt<T> {
    /// The lock, to be taken with `spin_lock()` alone while `bh` shows bottom halves
    /// disabled: a guard of it cannot outlive `bh`.
    fn in_bh<'a>(&'a self, bh: &'a BhDisabled) -> &'a SpinLockInBh<T>;
}

impl<T> SpinLockBhExt<T> for SpinLockBh<T> {
    #[inline(always)]
    fn in_bh<'a>(&'a self, _bh: &'a BhDisabled) -> &'a SpinLockInBh<T> {
        // SAFETY: `Lock` is `repr(C)` and depends on its backend only through
        // `B::State`, `spinlock_t` for both: the two types have one layout, and the lock
        // was initialised by `__spin_lock_init()`, as either backend does. The reference
        // lives no longer than `self` or `bh`.
        unsafe { &*core::ptr::from_ref(self).cast::<SpinLockInBh<T>>() }
    }
}
