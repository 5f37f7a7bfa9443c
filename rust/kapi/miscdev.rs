// SPDX-License-Identifier: GPL-2.0

//! A misc character device whose open files are objects of a Rust type: open, release,
//! `read_iter`, `poll` and `unlocked_ioctl`.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)
//!
//! `kernel::miscdevice` has no `poll`, which a socket-like device needs, so udprx brings its
//! own `file_operations` (the same pattern: the file's `private_data` holds an
//! `Arc<T>` from `open` until `release`).

use super::bindings;
use core::marker::PhantomData;
use kernel::{
    ffi::{c_int, c_long, c_uint, c_ulong},
    fs::File,
    iov::IovIterDest,
    module::{this_module, ModuleMetadata},
    prelude::*,
    sync::{poll::PollTable, Arc, ArcBorrow},
    types::{ForeignOwnable, Opaque},
    uaccess::UserPtr,
};

/// What an open file of the device is.
pub(crate) trait DeviceFile: Sized + Send + Sync + 'static {
    /// The module the file operations belong to (pinned while a file is open).
    type Owner: ModuleMetadata;

    /// A new open file.
    fn open() -> Result<Arc<Self>>;

    /// `read()`: at most `to.len()` bytes; `nonblock` for `O_NONBLOCK`.
    fn read(this: ArcBorrow<'_, Self>, to: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize>;

    /// `poll()`: registers with `table` and returns the ready mask (`EPOLL*`).
    fn poll(this: ArcBorrow<'_, Self>, file: &File, table: PollTable<'_>) -> u32;

    /// `ioctl()`.
    fn ioctl(this: ArcBorrow<'_, Self>, cmd: u32, arg: UserPtr) -> Result<isize>;

    /// The last close.
    fn release(this: Arc<Self>);
}

/// `EPOLLIN | EPOLLRDNORM`: readable (the values come from `shim.h`, since bindgen
/// cannot evaluate the `__poll_t` casts of `include/uapi/linux/eventpoll.h`).
pub(crate) const POLL_READABLE: u32 = bindings::UDPRX_EPOLLIN | bindings::UDPRX_EPOLLRDNORM;

/// A registered misc device `/dev/<name>`, mode 0666, whose files are `T`s.
///
/// # Invariants
///
/// `misc` is registered with `misc_register()` for the life of this object, with the file
/// operations of `Vtable<T>`.
#[pin_data(PinnedDrop)]
pub(crate) struct MiscRegistration<T: DeviceFile> {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `&self` gives access to nothing; deregistering from any thread is allowed.
unsafe impl<T: DeviceFile> Sync for MiscRegistration<T> {}
// SAFETY: As above.
unsafe impl<T: DeviceFile> Send for MiscRegistration<T> {}

impl<T: DeviceFile> MiscRegistration<T> {
    /// Registers `/dev/<name>` with a dynamic minor.
    pub(crate) fn register(name: &'static CStr) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                // SAFETY: The initializer may write to `slot`.
                unsafe {
                    slot.write(bindings::miscdevice {
                        minor: bindings::MISC_DYNAMIC_MINOR as i32,
                        name: name.as_char_ptr(),
                        fops: &Vtable::<T>::FOPS,
                        mode: 0o666,
                        ..pin_init::zeroed()
                    })
                };
                // SAFETY: `slot` is pinned and stays registered until `drop` deregisters it.
                kernel::error::to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T: DeviceFile> PinnedDrop for MiscRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered (type invariants). Open files pin the module through the fops
        // owner, so none can be open when the module's registration goes.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

struct Vtable<T>(PhantomData<T>);

impl<T: DeviceFile> Vtable<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: this_module::<T::Owner>().as_ptr(),
        open: Some(Self::open),
        release: Some(Self::release),
        read_iter: Some(Self::read_iter),
        poll: Some(Self::poll),
        unlocked_ioctl: Some(Self::ioctl),
        // As the kernel crate's miscdevice: a 32-bit caller's argument goes through
        // compat_ptr(). The ioctl structs (crates/abi) have one layout on 32 and 64 bits,
        // but for `struct sock_fprog`, whose number differs (see `in_compat_syscall`).
        // None on a kernel without CONFIG_COMPAT.
        compat_ioctl: kernel::bindings::compat_ptr_ioctl,
        ..pin_init::zeroed()
    };

    /// Borrows the `Arc<T>` in `file->private_data`.
    ///
    /// # Safety
    ///
    /// `file` is a file of this device between `open` and `release`.
    unsafe fn private<'a>(file: *mut bindings::file) -> ArcBorrow<'a, T> {
        // SAFETY: Between open and release `private_data` holds `Arc::into_foreign` (see
        // `open`), which stays alive until `release` (the caller's call is within that).
        unsafe { <Arc<T> as ForeignOwnable>::borrow((*file).private_data) }
    }

    /// # Safety
    ///
    /// Called by the VFS for a file of this misc device being opened.
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        match T::open() {
            Ok(obj) => {
                // SAFETY: `open` may set the private data; `misc_open()`'s pointer there is
                // not needed after this (nothing else reads it).
                unsafe { (*file).private_data = obj.into_foreign() };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for the last close of a file whose `open` succeeded.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `release` owns the private data set by `open`; nothing uses it after this.
        let obj = unsafe { <Arc<T> as ForeignOwnable>::from_foreign((*file).private_data) };
        T::release(obj);
        0
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb of a file of this device and a destination iter.
    unsafe extern "C" fn read_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: The kiocb is valid for the call; its file is one of ours, open.
        let file = unsafe { (*kiocb).ki_filp };
        // SAFETY: The file is valid and open for the call.
        let nonblock = unsafe { (*file).f_flags } & bindings::O_NONBLOCK != 0;
        // SAFETY: `file` is ours, between open and release.
        let obj = unsafe { Self::private(file) };
        // SAFETY: The VFS passes a valid destination iterator that outlives the call.
        let to = unsafe { IovIterDest::from_raw(iter) };
        match T::read(obj, to, nonblock) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with an open file of this device and a (possibly null) poll table.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table_struct,
    ) -> c_uint {
        // SAFETY: `file` is ours, between open and release.
        let obj = unsafe { Self::private(file) };
        // SAFETY: The file is valid for the call and no `fdget_pos` region is active here.
        let kfile = unsafe { File::from_raw_file(file) };
        // SAFETY: `table` is null or a valid poll table for the duration of the call.
        let table = unsafe { PollTable::from_raw(table) };
        T::poll(obj, kfile, table)
    }

    /// # Safety
    ///
    /// Called by the VFS with an open file of this device.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: `file` is ours, between open and release.
        let obj = unsafe { Self::private(file) };
        match T::ioctl(obj, cmd, UserPtr::from_addr(arg)) {
            Ok(r) => r as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }
}

/// Whether the calling syscall is a 32-bit one (`in_compat_syscall()`), for an ioctl whose
/// argument has another layout there.
pub(crate) fn in_compat_syscall() -> bool {
    // SAFETY: Reads the current task's syscall state.
    unsafe { bindings::udprx_in_compat_syscall() }
}
