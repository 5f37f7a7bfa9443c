// SPDX-License-Identifier: GPL-2.0

//! A `spinlock_t` taken with bottom halves disabled: `spin_lock_bh()` /
//! `spin_unlock_bh()`, the lock the kernel uses for a socket's receive queue
//! (`sk_receive_queue.lock`, 7.3's `reader_queue.lock`). The kernel crate's `SpinLockIrq`
//! disables interrupts, which no lock taken only in process context and in softirq needs.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

use super::bindings;
use kernel::sync::lock::{Backend, Lock};

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
