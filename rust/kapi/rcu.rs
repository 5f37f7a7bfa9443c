// SPDX-License-Identifier: GPL-2.0

//! An RCU-protected, replace-only box: readers in any context see a consistent `T` under
//! `rcu_read_lock()`; a writer publishes a whole new `T` and frees the old one after a grace
//! period (`rcu_assign_pointer()` + `synchronize_rcu()` + free).
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use core::ptr::{null_mut, NonNull};
use kernel::{
    alloc::KBox,
    sync::{
        atomic::{Acquire, Atomic, Full},
        rcu::{self, Guard},
    },
};

/// An RCU-published `Option<KBox<T>>`.
///
/// # Invariants
///
/// `ptr` is null or comes from `KBox::into_raw`; a pointer that was published stays valid
/// until a grace period has elapsed after it was replaced.
pub(crate) struct RcuBox<T> {
    ptr: Atomic<*mut T>,
}

// SAFETY: Readers on any CPU get `&T` (so `T: Sync`); the value is dropped on whichever CPU
// replaces it (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}
// SAFETY: As above: moving the box moves ownership of the `T`.
unsafe impl<T: Send> Send for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// An empty box.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: Atomic::new(null_mut()),
        }
    }

    /// A box holding `value`, published.
    pub(crate) fn with(value: KBox<T>) -> Self {
        // INVARIANT: From `KBox::into_raw`.
        Self {
            ptr: Atomic::new(KBox::into_raw(value)),
        }
    }

    /// Unpublishes the value without waiting (callable under the RCU read lock): readers
    /// from now on see `None`; the value is freed once the returned [`Retired`] is dropped,
    /// after a grace period. `None` when the box was empty.
    pub(crate) fn retire(&self) -> Option<Retired<T>> {
        let old = self.ptr.xchg(null_mut(), Full);
        // INVARIANT: `old` came from `KBox::into_raw` and was unpublished by the swap.
        NonNull::new(old).map(|ptr| Retired { ptr })
    }

    /// The current value (`rcu_dereference()`), valid while the RCU read lock is held.
    pub(crate) fn get<'a>(&'a self, _guard: &'a Guard) -> Option<&'a T> {
        // Acquire pairs with the (full) exchange of `replace` (the `rcu_assign_pointer()`
        // ordering).
        let p = self.ptr.load(Acquire);
        // SAFETY: `p` is null or a published pointer (type invariants); the caller holds the
        // RCU read lock for `'a`, so a concurrent `replace` waits for it before freeing `p`.
        unsafe { p.as_ref() }
    }

    /// Publishes `new` and returns the old value once no reader can see it any more.
    ///
    /// Sleeps (`synchronize_rcu()`); process context only. Writers serialise among
    /// themselves when the new value is derived from the old.
    pub(crate) fn replace(&self, new: Option<KBox<T>>) -> Option<KBox<T>> {
        let new = new.map_or(null_mut(), KBox::into_raw);
        let old = self.ptr.xchg(new, Full);
        if old.is_null() {
            return None;
        }
        rcu::synchronize_rcu();
        // SAFETY: `old` came from `KBox::into_raw` (type invariants), was unpublished by the
        // swap above (so it is returned once) and a grace period has elapsed since, so no
        // reader still holds a reference from `get`.
        Some(unsafe { KBox::from_raw(old) })
    }
}

/// A value unpublished from an [`RcuBox`], freed when this is dropped: after
/// `synchronize_rcu()`, so no reader that found it still holds it.
///
/// # Invariants
///
/// `ptr` came from `KBox::into_raw` and is published nowhere any more.
pub(crate) struct Retired<T> {
    ptr: NonNull<T>,
}

impl<T> Drop for Retired<T> {
    fn drop(&mut self) {
        rcu::synchronize_rcu();
        // SAFETY: `ptr` came from `KBox::into_raw` and is published nowhere (type
        // invariants); a grace period has passed, so no reader holds it.
        drop(unsafe { KBox::from_raw(self.ptr.as_ptr()) });
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw` (type invariants); `&mut self` means no
            // reader borrows the box (`get` ties its result to `&self`).
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}
