// SPDX-License-Identifier: GPL-2.0

//! The kernel UDP socket that backs each udprx socket.
//!
//! A udprx socket owns one ordinary `AF_INET`/`SOCK_DGRAM` socket, created in the opener's
//! context (`__sock_create(..., kern = 0)`: its credentials, its LSM checks, its memory
//! cgroup and its cgroup for BPF programs), with a socket file of its own. The caller
//! binds it with `bind(2)` on a descriptor of that file ([`UdpSocket::new_fd`]), so that
//! every gate of the syscall applies (`security_socket_bind()`: Landlock, SELinux; cgroup
//! bind programs; `CAP_NET_BIND_SERVICE`; `EADDRINUSE` both ways), closes it, and udprx
//! takes the socket over ([`UdpSocket::attach`]). Through it udprx obeys what a stock
//! socket obeys: its socket filter, cgroup ingress programs and `security_sock_rcv_skb()`
//! run through `sk_filter_trim_cap()`, and its receive memory is scheduled against
//! `net.ipv4.udp_mem` and the memory cgroup by `__sk_mem_schedule()`. The queue itself
//! stays udprx's.
//!
//! One owner per field: the stock UDP path keeps its own books on this `struct sock`
//! (`sk_forward_alloc` under `sk_receive_queue.lock`, `sk_rmem_alloc` atomically) for what
//! it queues here. udprx writes `sk_forward_alloc` only under that same lock and leaves
//! it as it found it: the pages it schedules are moved out into its own reserve, and
//! moved back in just before they are reclaimed ([`Sock::mem_schedule`],
//! [`Sock::mem_reclaim`]). What the stock path queues here does not stay: the socket's
//! `sk_data_ready()` hands it to udprx ([`StrayRcv`]).
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/net/sock.h`](srctree/include/net/sock.h),
//! [`include/linux/filter.h`](srctree/include/linux/filter.h)

use super::{
    bindings,
    netns::Net,
    skb::{DropReason, QueuedSkb, Skb},
};
use core::ptr::NonNull;
use kernel::{
    error::to_result,
    fs::file::{flags::O_CLOEXEC, File, FileDescriptorReservation},
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
    uaccess::UserPtr,
};

/// A `struct sock`.
///
/// # Invariants
///
/// A `&Sock` points to a live `struct sock` of a UDP socket.
#[repr(transparent)]
pub(crate) struct Sock(Opaque<bindings::sock>);

// SAFETY: A `struct sock` is used from any CPU; its reference may be dropped on any CPU.
unsafe impl Send for Sock {}
// SAFETY: Every method takes the locks or uses the atomics the kernel requires.
unsafe impl Sync for Sock {}

// SAFETY: A `struct sock` is always reference counted (`sock_hold()`/`sock_put()`).
unsafe impl AlwaysRefCounted for Sock {
    fn inc_ref(&self) {
        // SAFETY: The sock is alive (type invariants), so its count is non-zero.
        unsafe { bindings::udprx_sock_hold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::udprx_sock_put(obj.cast().as_ptr()) };
    }
}

impl Sock {
    fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Runs `f` under `sk_receive_queue.lock`, the lock the UDP code holds whenever it
    /// writes `sk_forward_alloc`. Bottom halves are disabled for `f`.
    fn with_receive_queue_lock<R>(&self, f: impl FnOnce(*mut bindings::sock) -> R) -> R {
        let sk = self.as_ptr();
        // SAFETY: The sock is alive (type invariants), so its receive queue's lock is
        // initialised; it is released below, on the same CPU.
        let lock = unsafe { bindings::udprx_sk_receive_queue_lock(sk) };
        // SAFETY: See above.
        unsafe { bindings::udprx_spin_lock_bh(lock) };
        let r = f(sk);
        // SAFETY: Taken above.
        unsafe { bindings::udprx_spin_unlock_bh(lock) };
        r
    }

    /// `sk_forward_alloc_add(sk, val)`.
    ///
    /// # Safety
    ///
    /// `sk` is alive and the caller holds its `sk_receive_queue.lock`.
    unsafe fn forward_alloc_add(sk: *mut bindings::sock, val: i32) {
        // SAFETY: As the caller guarantees: the field is written under its lock.
        unsafe { bindings::udprx_sk_forward_alloc_add(sk, val) };
    }

    /// Schedules `sk_mem_pages(size)` pages of protocol memory, charged to
    /// `net.ipv4.udp_mem` and to the socket's memory cgroup, for the caller's own reserve;
    /// `false` when refused. `__sk_mem_schedule(sk, size, SK_MEM_RECV)` adds them to
    /// `sk_forward_alloc`, the stock path's reserve; they are taken out again under the
    /// same lock, so the stock path never sees them there.
    ///
    /// In process context call it with bottom halves disabled (under a
    /// [`SpinLockBh`](super::bhlock::SpinLockBh)), as in softirq, so that the memory cgroup
    /// is charged without sleeping.
    pub(crate) fn mem_schedule(&self, size: u32) -> bool {
        let bytes = u64::from(size.div_ceil(PAGE_SIZE)) * u64::from(PAGE_SIZE);
        let (Ok(size), Ok(bytes)) = (i32::try_from(size), i32::try_from(bytes)) else {
            return false;
        };
        self.with_receive_queue_lock(|sk| {
            // SAFETY: The sock is alive and we hold its receive queue's lock.
            unsafe {
                let ok = bindings::__sk_mem_schedule(sk, size, bindings::SK_MEM_RECV as i32) != 0;
                if ok {
                    Self::forward_alloc_add(sk, -bytes);
                }
                ok
            }
        })
    }

    /// Gives back `bytes` (whole pages) that [`Sock::mem_schedule`] scheduled:
    /// `__sk_mem_reclaim(sk, bytes)`, which takes them from `sk_forward_alloc`, where they
    /// are put back first under the same lock.
    pub(crate) fn mem_reclaim(&self, bytes: u32) {
        // In whole pages that fit in an int each.
        const CHUNK: u32 = 1 << 30;
        let mut left = bytes;
        while left != 0 {
            let chunk = left.min(CHUNK);
            left -= chunk;
            self.with_receive_queue_lock(|sk| {
                // SAFETY: The sock is alive and we hold its receive queue's lock; `chunk`
                // fits in an int.
                unsafe {
                    Self::forward_alloc_add(sk, chunk as i32);
                    bindings::__sk_mem_reclaim(sk, chunk as i32);
                }
            });
        }
    }

    /// The local port the socket is bound to (`inet_sk(sk)->inet_num`), 0 when unbound.
    pub(crate) fn port(&self) -> u16 {
        // SAFETY: The sock is alive (type invariants).
        unsafe { bindings::udprx_sk_num(self.as_ptr()) }
    }

    /// Whether the socket is bound to the wildcard address without `SO_REUSEADDR` or
    /// `SO_REUSEPORT`: then it alone has its port, whatever the local address.
    pub(crate) fn owns_port_alone(&self) -> bool {
        // SAFETY: The sock is alive (type invariants).
        unsafe {
            bindings::udprx_sk_rcv_saddr(self.as_ptr()) == 0
                && !bindings::udprx_sk_reuse_any(self.as_ptr())
        }
    }

    /// Whether `UDP_ENCAP` is set: the stock path hands the socket's datagrams to an
    /// encapsulation handler (ESP in UDP) instead of queueing them.
    pub(crate) fn has_encap(&self) -> bool {
        // SAFETY: The sock is alive (type invariants) and a UDP socket.
        unsafe { bindings::udprx_udp_encap_type(self.as_ptr()) != 0 }
    }

    /// The netns the socket lives in (`sock_net()`).
    pub(crate) fn net(&self) -> &Net {
        // SAFETY: A socket holds a reference on its netns for its whole life, which covers
        // the borrow of `self`.
        unsafe { Net::from_raw(bindings::udprx_sock_net(self.as_ptr())) }
    }

    /// `sk_rmem_alloc_get()`: `sk_rmem_alloc`, read without a lock.
    pub(crate) fn rmem_alloc(&self) -> u32 {
        // SAFETY: The sock is alive (type invariants); the field is an atomic.
        let v = unsafe { bindings::udprx_sk_rmem_alloc_get(self.as_ptr()) };
        u32::try_from(v).unwrap_or(0)
    }

    /// `atomic_add(delta, &sk->sk_rmem_alloc)`: what udprx has charged, mirrored where
    /// the memory rules (and `ss`) read it.
    pub(crate) fn rmem_add(&self, delta: i32) {
        // SAFETY: The sock is alive (type invariants); the field is an atomic.
        unsafe { bindings::udprx_sk_rmem_add(self.as_ptr(), delta) };
    }

    /// `udp_unexpected_gso()`: whether `skb` is a GRO packet (UDP_L4 or fraglist) this
    /// socket does not accept as one, so that it has to be split again.
    pub(crate) fn unexpected_gso(&self, skb: &Skb) -> bool {
        // SAFETY: Both are alive.
        unsafe { bindings::udprx_udp_unexpected_gso(self.as_ptr(), skb.as_raw()) }
    }

    /// What `udp_queue_rcv_skb()` does with an unexpected GSO skb: splits it into its
    /// datagrams, each with `skb->data` at its UDP header. On failure the skb is freed and
    /// its segments are counted (`sk_drops`, the stock `Udp: InErrors`, as
    /// `udp_rcv_segment()` counts them) and the list is empty.
    pub(crate) fn segment(&self, skb: Skb) -> super::skb::SegmentList {
        let raw = skb.into_raw();
        // SAFETY: We own `raw`; the call consumes it and returns the segments it owns now.
        let segs = unsafe { bindings::udprx_udp_rcv_segment(self.as_ptr(), raw) };
        // SAFETY: `segs` is NULL or a list of skbs we own, linked by `->next`.
        unsafe { super::skb::SegmentList::from_raw(segs) }
    }

    /// Whether a classic BPF filter is attached (`SO_ATTACH_FILTER`).
    pub(crate) fn has_filter(&self) -> bool {
        // SAFETY: The sock is alive; only the pointer is tested.
        unsafe { bindings::udprx_sk_has_filter(self.as_ptr()) }
    }

    /// `sk_filter_trim_cap(sk, skb, sizeof(struct udphdr))`: pfmemalloc skbs, cgroup
    /// ingress programs, the LSM and the socket filter, in that order. `Err` with the drop
    /// reason when the datagram must be dropped; a filter may trim it (to no less than the
    /// UDP header).
    pub(crate) fn filter(&self, skb: &mut Skb) -> core::result::Result<(), DropReason> {
        // SAFETY: Both are alive; `skb->data` is at the UDP header, as the cap assumes.
        let r = unsafe { bindings::sk_filter_trim_cap(self.as_ptr(), skb.as_raw(), 8) };
        match r {
            0 => Ok(()),
            bindings::SKB_DROP_REASON_PFMEMALLOC => Err(DropReason::Pfmemalloc),
            bindings::SKB_DROP_REASON_SECURITY_HOOK => Err(DropReason::SecurityHook),
            _ => Err(DropReason::SocketFilter),
        }
    }
}

/// `PAGE_SIZE`: the quantum of `sk_forward_alloc`.
const PAGE_SIZE: u32 = kernel::page::PAGE_SIZE as u32;

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
    /// socket but through `self`. Also `EBUSY` when its `sk_data_ready` is another's (a
    /// BPF sockmap took it). Taking it over twice is taking it over once.
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
            let r = if cur == Some(self.default_data_ready as usize) {
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

    /// Gives the socket's `sk_data_ready` back (the one it was created with), if
    /// [`UdpSocket::attach`] took it. Calls of `T`'s callback that started before may still
    /// run until a grace period has passed.
    pub(crate) fn detach<T: StrayRcv>(&self) {
        let sk = self.sk().as_ptr();
        let ours: DataReady = data_ready_callback::<T>;
        // SAFETY: The socket is alive; the field is written under its lock (see `attach`).
        unsafe {
            bindings::udprx_sk_callback_lock(sk);
            if bindings::udprx_sk_data_ready(sk).map(|f| f as usize) == Some(ours as usize) {
                bindings::udprx_sk_set_data_ready(sk, Some(self.default_data_ready));
            }
            bindings::udprx_sk_callback_unlock(sk);
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
        let mut off = 0;
        let mut err = 0;
        // SAFETY: The socket is alive (we hold its file); `off` and `err` are valid for the call. The returned
        // skb, if any, has been unlinked from the queue and uncharged, and is ours.
        let skb = unsafe {
            bindings::__skb_recv_udp(
                self.sk().as_ptr(),
                bindings::MSG_DONTWAIT,
                &mut off,
                &mut err,
            )
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
