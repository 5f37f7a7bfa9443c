// SPDX-License-Identifier: GPL-2.0

//! The kernel UDP socket behind a udprx socket ([`UdpSocket`]), and where the datagrams the
//! stock path queues on it go ([`StrayRcv`]).

use super::{bindings, Net, QueuedSkb, Sock};
use core::ptr::NonNull;
use kernel::{
    error::to_result,
    fs::file::{flags::O_CLOEXEC, File, FileDescriptorReservation},
    prelude::*,
    sync::aref::ARef,
    uaccess::UserPtr,
};

/// Where a backing socket's stray datagrams go: each time the stock UDP path has queued a
/// datagram on a [`UdpSocket`] taken over for `T` (it found the socket in the stock tables:
/// while a bind or a close is under way, or after an NFQUEUE verdict that skipped the
/// hooks), its `sk_data_ready()` calls [`StrayRcv::data_ready`], in softirq or in the
/// process context of the verdict, under `rcu_read_lock()`, with no lock held. The
/// implementation takes the datagrams off with [`UdpSocket::recv_stray`].
pub(crate) trait StrayRcv {
    /// The stock path has queued a datagram on `sk`.
    fn data_ready(sk: &Sock);
}

/// The `sk_data_ready` callback of a backing socket taken over for `T`.
///
/// # Safety
///
/// Called by the UDP code only, with a live socket.
unsafe extern "C" fn data_ready_callback<T: StrayRcv>(sk: *mut bindings::sock) {
    // SAFETY: The UDP code calls `sk_data_ready` with a live socket, which stays alive
    // for the call; `Sock` is `repr(transparent)` over the C struct.
    T::data_ready(unsafe { &*sk.cast::<Sock>() });
}

/// `sk_data_ready`.
type DataReady = unsafe extern "C" fn(*mut bindings::sock);

/// A kernel UDP socket (`struct socket`) with its socket file, of which this object holds
/// a reference: the socket is released when the last reference goes.
///
/// # Invariants
///
/// `sock` is a socket created by `__sock_create()`, with its `sk` set; `file` is its socket
/// file (`sock_alloc_file()`). `default_data_ready` is the `sk_data_ready` the socket was
/// created with (`sock_def_readable()`).
pub(crate) struct UdpSocket {
    sock: NonNull<bindings::socket>,
    file: ARef<File>,
    default_data_ready: DataReady,
}

// SAFETY: The socket may be used and released from any task.
unsafe impl Send for UdpSocket {}
// SAFETY: `&UdpSocket` methods are the socket calls the kernel allows concurrently.
unsafe impl Sync for UdpSocket {}

impl UdpSocket {
    /// `socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)` in `net`, as the calling task: with its
    /// credentials, LSM checks, memory cgroup and cgroup.
    pub(crate) fn new(net: &Net) -> Result<Self> {
        let mut sock: *mut bindings::socket = core::ptr::null_mut();
        // SAFETY: `net` is alive; `sock` is a valid out pointer; `kern = 0` is a socket of
        // the calling task.
        to_result(unsafe {
            bindings::__sock_create(
                net.as_ptr(),
                bindings::AF_INET as i32,
                bindings::SOCK_DGRAM as i32,
                bindings::IPPROTO_UDP as i32,
                &mut sock,
                0,
            )
        })?;
        // SAFETY: `sock` is the socket just created, which the call takes: on failure it
        // releases it, on success the file owns it, and its one reference is returned.
        let file = unsafe { bindings::sock_alloc_file(sock, 0, core::ptr::null()) };
        let file = kernel::error::from_err_ptr(file)?;
        // INVARIANT: `__sock_create()` sets `sk` on success; `file` is its socket file, and
        // its reference is ours. Nothing has changed `sk_data_ready` since creation.
        Ok(Self {
            // SAFETY: Success returns a valid socket.
            sock: unsafe { NonNull::new_unchecked(sock) },
            // SAFETY: `file` is a valid `struct file` whose reference we own; `File` is
            // `repr(transparent)` over it.
            file: unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast::<File>())) },
            // SAFETY: `sk` is set and alive. `sock_init_data()` sets the callback.
            default_data_ready: unsafe { bindings::udprx_sk_data_ready((*sock).sk) }
                .ok_or(EINVAL)?,
        })
    }

    /// A new file descriptor (`O_CLOEXEC`) of the socket in the calling task, for `bind(2)`
    /// and the socket calls the caller may make before [`UdpSocket::attach`].
    pub(crate) fn new_fd(&self) -> Result<u32> {
        let fd = FileDescriptorReservation::get_unused_fd_flags(O_CLOEXEC)?;
        let n = fd.reserved_fd();
        fd.fd_install(self.file.clone());
        Ok(n)
    }

    /// Takes the socket over for `T`: from now on what the stock path queues on it is
    /// announced to `T` ([`StrayRcv`]), and the socket does not busy-poll. Refused with
    /// `EBUSY` while anything else holds its file (a descriptor, one in flight in
    /// `SCM_RIGHTS`, an io_uring table): once none does, nothing else can reach the
    /// socket but through `self`. Also `EBUSY` when its `sk_data_ready` is another's or
    /// its `sk_user_data` is set (a BPF sockmap took it). The socket is claimed as
    /// in-kernel socket users claim one, with `sk_user_data` (no-copy), so that no sockmap
    /// can take it afterwards. Taking it over twice is taking it over once.
    ///
    /// # Safety
    ///
    /// The caller calls [`UdpSocket::detach`] and then waits for a grace period before
    /// `T`'s code can go (before the module can be unloaded), and does not call
    /// [`UdpSocket::new_fd`] while it has the socket.
    pub(crate) unsafe fn attach<T: StrayRcv>(&self) -> Result {
        // SAFETY: We hold a reference to the file.
        if unsafe { bindings::udprx_file_count(self.file.as_ptr()) } != 1 {
            return Err(EBUSY);
        }
        let sk = self.sk().as_ptr();
        let ours: DataReady = data_ready_callback::<T>;
        // SAFETY: The socket is alive; `sk_data_ready` is written under `sk_callback_lock`,
        // as in-kernel socket users write it. `ours` is the module's: the caller detaches
        // it and waits for its calls to end before the module can go.
        unsafe {
            bindings::udprx_sk_callback_lock(sk);
            let cur = bindings::udprx_sk_data_ready(sk).map(|f| f as usize);
            let r = if cur == Some(self.default_data_ready as usize)
                && !bindings::udprx_sk_has_user_data(sk)
            {
                bindings::udprx_sk_set_user_data_nocopy(sk, self.sock.as_ptr().cast());
                bindings::udprx_sk_set_data_ready(sk, Some(ours));
                // The callback takes strays off with `__skb_recv_udp()`, which would
                // busy-poll a device queue (`net.core.busy_read`) from softirq.
                bindings::udprx_sk_busy_poll_off(sk);
                Ok(())
            } else if cur == Some(ours as usize) {
                Ok(())
            } else {
                Err(EBUSY)
            };
            bindings::udprx_sk_callback_unlock(sk);
            r
        }
    }

    /// Gives the socket's `sk_data_ready` back (the one it was created with) and lets go
    /// of its `sk_user_data`, if [`UdpSocket::attach`] took them; whether it had. Calls of
    /// `T`'s callback that started before may still run until a grace period has passed.
    pub(crate) fn detach<T: StrayRcv>(&self) -> bool {
        let sk = self.sk().as_ptr();
        let ours: DataReady = data_ready_callback::<T>;
        // SAFETY: The socket is alive; the fields are written under their lock (see
        // `attach`), which only `attach` made ours.
        unsafe {
            bindings::udprx_sk_callback_lock(sk);
            let had = bindings::udprx_sk_data_ready(sk).map(|f| f as usize) == Some(ours as usize);
            if had {
                bindings::udprx_sk_set_data_ready(sk, Some(self.default_data_ready));
                bindings::udprx_sk_clear_user_data(sk);
            }
            bindings::udprx_sk_callback_unlock(sk);
            had
        }
    }

    /// The `struct sock`.
    pub(crate) fn sk(&self) -> &Sock {
        // SAFETY: `sk` is set and lives as long as the socket (type invariants).
        unsafe { &*(*self.sock.as_ptr()).sk.cast::<Sock>() }
    }

    /// `sk_rcvbuf`: `net.core.rmem_default` for a new socket (`sock_init_data()`).
    pub(crate) fn rcvbuf(&self) -> u32 {
        // SAFETY: The socket is alive (we hold its file); the field is read with `READ_ONCE()`.
        let v = unsafe { bindings::udprx_sk_rcvbuf(self.sk().as_ptr()) };
        v.max(0) as u32
    }

    /// A counted reference to the `struct sock`.
    pub(crate) fn sk_ref(&self) -> ARef<Sock> {
        self.sk().into()
    }

    /// `setsockopt(SOL_SOCKET, SO_RCVBUF, val)`, or `SO_RCVBUFFORCE` (which needs
    /// `CAP_NET_ADMIN`), as the syscall runs it: the LSM, the cgroup's setsockopt programs
    /// (which may change or refuse the value), then the kernel's clamp and doubling.
    /// Returns the `sk_rcvbuf` the socket got.
    pub(crate) fn set_rcvbuf(&self, val: i32, force: bool) -> Result<u32> {
        let opt = if force {
            bindings::SO_RCVBUFFORCE
        } else {
            bindings::SO_RCVBUF
        };
        // SAFETY: The socket is alive (we hold its file); the option's int is read from kernel memory.
        to_result(unsafe {
            bindings::udprx_sock_setsockopt_int(self.sock.as_ptr(), opt as i32, val)
        })?;
        Ok(self.rcvbuf())
    }

    /// `setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, arg, len)` with the caller's `struct
    /// sock_fprog` (native or compat layout, as `copy_bpf_fprog_from_user()` reads it), as
    /// the syscall runs it: the LSM and the cgroup's setsockopt programs first.
    pub(crate) fn attach_filter(&self, arg: UserPtr, len: u32) -> Result {
        // SAFETY: The socket is alive (we hold its file); the option reads `len` bytes from the user pointer
        // with the usual user-copy checks.
        to_result(unsafe {
            bindings::udprx_sock_setsockopt_user(
                self.sock.as_ptr(),
                bindings::SO_ATTACH_FILTER as i32,
                arg.as_mut_ptr(),
                len,
            )
        })
    }

    /// Takes the socket out of the stock UDP lookup tables (`sk->sk_prot->unhash()`), as
    /// close does first: from now on the stock receive path no longer finds it, and the
    /// port is free for a new bind. Idempotent (`sock_release()` unhashes again).
    pub(crate) fn unhash(&self) {
        // SAFETY: The socket is alive (we hold its file) and we call from process context, as
        // `udp_lib_close()` would.
        unsafe { bindings::udprx_sk_unhash(self.sk().as_ptr()) };
    }

    /// Whether `sk` is this socket's `struct sock`.
    pub(crate) fn is(&self, sk: &Sock) -> bool {
        core::ptr::eq(self.sk(), sk)
    }

    /// One datagram the stock receive path queued on this socket, past its socket filter
    /// (`__skb_recv_udp()` with `MSG_DONTWAIT`, which uncharges it from the stock books),
    /// ready for a udprx queue; `None` when nothing is queued. Any context but hard IRQ.
    pub(crate) fn recv_stray(&self) -> Option<QueuedSkb> {
        // A pending socket error is reported (and cleared) before the queue is looked at:
        // then look again.
        for _ in 0..2 {
            let mut err = 0;
            if let Some(skb) = self.recv_one(&mut err) {
                return Some(skb);
            }
            if err == EAGAIN.to_errno() || err == 0 {
                break;
            }
        }
        None
    }

    fn recv_one(&self, err: &mut i32) -> Option<QueuedSkb> {
        let mut off = 0;
        // SAFETY: The socket is alive (we hold its file); `off` and `err` are valid for the call. The returned
        // skb, if any, has been unlinked from the queue and uncharged, and is ours.
        let skb = unsafe {
            bindings::__skb_recv_udp(self.sk().as_ptr(), bindings::MSG_DONTWAIT, &mut off, err)
        };
        // SAFETY: A non-NULL result is an skb we own (above), unlinked, with `skb->data` at
        // the payload, as `udp_queue_rcv_one_skb()` queues it.
        (!skb.is_null()).then(|| unsafe { QueuedSkb::from_udp_queue(skb) })
    }

    /// `setsockopt(SOL_SOCKET, SO_DETACH_FILTER)`: `ENOENT` when none is attached.
    pub(crate) fn detach_filter(&self) -> Result {
        // SAFETY: The socket is alive (we hold its file); the option's int is ignored.
        to_result(unsafe {
            bindings::udprx_sock_setsockopt_int(
                self.sock.as_ptr(),
                bindings::SO_DETACH_FILTER as i32,
                0,
            )
        })
    }
}
