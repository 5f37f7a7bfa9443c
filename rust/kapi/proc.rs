// SPDX-License-Identifier: GPL-2.0

//! Per-netns files in `/proc/net` (`proc_create_net_single()`).
//!
//! C header: [`include/linux/proc_fs.h`](srctree/include/linux/proc_fs.h)

use super::{
    bindings,
    netns::{Net, PernetData},
};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{prelude::*, seq_file::SeqFile};

/// What a `/proc/net` file shows: the state of its netns.
pub(crate) trait ProcShow: PernetData {
    /// Writes the file's contents.
    fn show(&self, m: &SeqFile);
}

/// A read-only file `/proc/net/<name>` in one netns, showing `T`.
///
/// It must live in the per-netns state `T` itself, which the kernel drops before the netns.
///
/// # Invariants
///
/// The entry `name` exists in `net`'s `/proc/net` for the whole life of this object, and
/// `net` outlives it.
pub(crate) struct ProcNetEntry<T: ProcShow> {
    net: NonNull<bindings::net>,
    name: &'static CStr,
    _t: PhantomData<T>,
}

// SAFETY: Removing the entry from another thread is allowed; `&self` gives no access.
unsafe impl<T: ProcShow> Send for ProcNetEntry<T> {}
// SAFETY: `&self` gives no access to anything.
unsafe impl<T: ProcShow> Sync for ProcNetEntry<T> {}

impl<T: ProcShow> ProcNetEntry<T> {
    /// Creates `/proc/net/<name>` (mode 0444) in `net`.
    pub(crate) fn new(net: &Net, name: &'static CStr) -> Result<Self> {
        let raw = net.as_ptr();
        // SAFETY: `raw` is a live netns, `name` a NUL-terminated static string and the show
        // callback a valid function for the whole life of the entry.
        let entry = unsafe {
            bindings::proc_create_net_single(
                name.as_char_ptr(),
                0o444,
                (*raw).proc_net,
                Some(show_callback::<T>),
                core::ptr::null_mut(),
            )
        };
        if entry.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: The entry now exists in `net`.
        Ok(Self {
            // SAFETY: `raw` came from a `&Net`, so it is non-null.
            net: unsafe { NonNull::new_unchecked(raw) },
            name,
            _t: PhantomData,
        })
    }
}

impl<T: ProcShow> Drop for ProcNetEntry<T> {
    fn drop(&mut self) {
        // SAFETY: The entry exists in the live `net` (type invariants). `remove_proc_entry()`
        // waits for readers that are inside `show`.
        unsafe {
            bindings::remove_proc_entry(self.name.as_char_ptr(), (*self.net.as_ptr()).proc_net)
        };
    }
}

/// The `show` callback of `proc_create_net_single()`.
///
/// # Safety
///
/// Called by the seq_file code only, with a valid seq_file of a netns file.
unsafe extern "C" fn show_callback<T: ProcShow>(
    seq: *mut bindings::seq_file,
    _v: *mut kernel::ffi::c_void,
) -> kernel::ffi::c_int {
    // SAFETY: The seq_file of a `proc_create_net_single()` file holds a reference on its
    // netns for as long as it is open, which covers this call.
    let net = unsafe { Net::from_raw(bindings::udprx_seq_file_single_net(seq)) };
    // SAFETY: `seq` is valid for the duration of the call.
    let m = unsafe { SeqFile::from_raw(seq.cast()) };
    // The entry lives inside `T`'s state, so while it can be read `T` is registered.
    if let Some(data) = net.data::<T>() {
        data.show(m);
    }
    0
}
