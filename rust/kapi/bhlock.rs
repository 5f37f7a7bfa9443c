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

/// Bottom halves disabled for its life: by `new`, or, for a callback the kernel calls
/// with them disabled, by the kernel ([`BhDisabled::for_callback`]).
///
/// Neither `Send` nor `Sync`: it says something of the CPU it was made on.
///
/// # Invariants
///
/// Bottom halves are disabled on this CPU while it lives. When `disabled` is true, it
/// called `local_bh_disable()` on this CPU (which disabling bottom halves pins the task
/// to) and `drop` undoes it; otherwise whoever disabled them enables them only after it
/// is gone.
pub(crate) struct BhDisabled {
    disabled: bool,
    _not_send: PhantomData<*mut ()>,
}

impl BhDisabled {
    /// Disables bottom halves, in process or softirq context (not in hard interrupt
    /// context, nor with interrupts disabled: `local_bh_enable()` warns there).
    #[inline(always)]
    pub(crate) fn new() -> Self {
        // SAFETY: `local_bh_disable()` may be called in process and softirq context and is
        // undone in `drop`, on this CPU.
        unsafe { bindings::udprx_local_bh_disable() };
        // INVARIANT: Disabled here.
        Self {
            disabled: true,
            _not_send: PhantomData,
        }
    }

    /// In a callback: bottom halves as the kernel left them, disabled here if they are
    /// not (an NFQUEUE verdict resumes the hooks in process context).
    ///
    /// # Safety
    ///
    /// Called by a callback of the kernel while no lock guard and no token of the
    /// module's is alive on this CPU (before any of the callback's own code, say), the
    /// token kept on the callback's stack until it returns: then bottom halves disabled
    /// now were disabled by the softirq or by the callback's caller, who enables them
    /// only after the callback returns.
    #[inline(always)]
    pub(super) unsafe fn for_callback() -> Self {
        // SAFETY: `in_softirq()` reads this CPU's preempt count.
        if unsafe { bindings::udprx_in_softirq() } {
            // INVARIANT: Disabled by the caller of the callback, for all of it (the
            // function's safety requirements).
            Self {
                disabled: false,
                _not_send: PhantomData,
            }
        } else {
            Self::new()
        }
    }
}

impl Drop for BhDisabled {
    #[inline(always)]
    fn drop(&mut self) {
        if self.disabled {
            // SAFETY: Disabled by this token, on this CPU (type invariants).
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
/// Only [`SpinLockBhExt::in_bh`] makes one: its backend cannot be named outside this file,
/// and its guard must not wait on a `CondVar`, which would sleep with bottom halves
/// disabled.
type SpinLockInBh<T> = Lock<T, in_bh::SpinLockInBhBackend>;

// The two lock types have one layout (see `in_bh`); a change to `Lock` that broke it
// breaks the build here.
const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<SpinLockBh<u64>>() == size_of::<SpinLockInBh<u64>>());
    assert!(align_of::<SpinLockBh<u64>>() == align_of::<SpinLockInBh<u64>>());
};

mod in_bh {
    use super::SpinLockBhBackend;
    use kernel::sync::lock::Backend;

    /// The [`Backend`] of [`super::SpinLockInBh`].
    pub(crate) struct SpinLockInBhBackend;

    // SAFETY: `spinlock_t` gives mutual exclusion; `lock` and `unlock` pair `spin_lock()`
    // with `spin_unlock()` on the same lock, and `relock` (the default) takes it the same
    // way. A lock of this backend is only reached through `SpinLockBhExt::in_bh`, with
    // bottom halves disabled for as long as a guard lives, so that no softirq on this CPU
    // spins on a lock its holder holds.
    unsafe impl Backend for SpinLockInBhBackend {
        type State = kernel::bindings::spinlock_t;
        type GuardState = ();

        unsafe fn init(
            ptr: *mut Self::State,
            name: *const kernel::ffi::c_char,
            key: *mut kernel::bindings::lock_class_key,
        ) {
            // SAFETY: The caller's guarantees are those `SpinLockBhBackend::init` asks for.
            unsafe { SpinLockBhBackend::init(ptr, name, key) }
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
            // SAFETY: The caller's guarantee is the one `SpinLockBhBackend` asks for.
            unsafe { SpinLockBhBackend::assert_is_held(ptr) }
        }
    }
}

/// What a [`SpinLockBh`] offers besides the kernel crate's `Lock`.
pub(crate) trait SpinLockBhExt<T> {
    /// The lock, to be taken with `spin_lock()` alone while `bh` shows bottom halves
    /// disabled: a guard of it cannot outlive `bh`.
    fn in_bh<'a>(&'a self, bh: &'a BhDisabled) -> &'a Lock<T, impl Backend>;
}

impl<T> SpinLockBhExt<T> for SpinLockBh<T> {
    #[inline(always)]
    fn in_bh<'a>(&'a self, _bh: &'a BhDisabled) -> &'a Lock<T, impl Backend> {
        // SAFETY: `Lock` is `repr(C)` and depends on its backend only through
        // `B::State`, `spinlock_t` for both: the two types have one layout (checked at
        // build time above), and the lock was initialised by `__spin_lock_init()`. A
        // holder through either backend holds the same `spinlock_t`, so the data is
        // still reached by one holder at a time. The reference lives no longer than
        // `self` or `bh`, and bottom halves stay disabled while `bh` lives.
        unsafe { &*core::ptr::from_ref(self).cast::<SpinLockInBh<T>>() }
    }
}
