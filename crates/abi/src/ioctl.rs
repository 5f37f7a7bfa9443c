// SPDX-License-Identifier: GPL-2.0

//! `/dev/udprx`: ioctl numbers and argument layouts.
//!
//! Each open file of `/dev/udprx` is one udprx socket. The numbers follow the kernel's
//! `_IOC()` encoding (`include/uapi/asm-generic/ioctl.h`: nr in bits 0–7, type in 8–15,
//! size in 16–29, direction in 30–31), with type `'U'`. Every argument struct is
//! `#[repr(C)]`, has no implicit padding, and carries explicit `reserved`/`flags` fields
//! that must be zero, so that they can be given meaning later without a new number.
//!
//! The argument structs derive their byte layout (`zerocopy`'s `FromBytes`, `IntoBytes`,
//! `KnownLayout`, `Immutable`: the derives refuse a struct with padding or with a field
//! that not every bit pattern is valid for), from the same crates on both sides: the
//! kernel's `rust/zerocopy` in the module, crates.io's in the tools. `include/uapi/udprx.h`
//! is the C view of the same ABI; a host test compiles it and compares.
//!
//! Errors: an unknown command gets `-ENOTTY` (as for any file); a known command with a
//! bad argument (non-zero reserved bits, port 0, ...) gets `-EINVAL`; an unreadable or
//! unwritable argument pointer gets `-EFAULT`; binding without `CAP_NET_ADMIN` in the
//! caller's network namespace gets `-EPERM`.
#![forbid(unsafe_code)]

use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Path of the device node.
pub const DEVICE_PATH: &str = "/dev/udprx";

/// ioctl type byte of udprx (`'U'`).
pub const IOC_TYPE: u32 = b'U' as u32;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
/// `_IOC_WRITE`: userspace writes the argument (the kernel reads it).
pub const IOC_WRITE: u32 = 1;
/// `_IOC_READ`: userspace reads the argument (the kernel writes it).
pub const IOC_READ: u32 = 2;

/// `_IOC(dir, 'U', nr, size)`.
pub const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    assert!(size < (1 << IOC_SIZEBITS));
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | (IOC_TYPE << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
}

/// Argument of [`UDPRX_BIND`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct BindArgs {
    /// The port the backing socket is bound to, host byte order, or 0 for whichever it
    /// got.
    pub port: u16,
    /// Must be zero.
    pub flags: u16,
    /// Must be zero.
    pub reserved: u32,
}

/// Bind this socket to the UDP port its backing socket is bound to (`_IOW('U', 1, struct
/// udprx_bind)`): bind the descriptor [`UDPRX_SOCKET`] gave with `bind(2)` to
/// `0.0.0.0:port`, close it, then call this. Needs `CAP_NET_ADMIN` over the netns
/// (`-EPERM`). `-EINVAL`: flags or reserved set, already bound, or the backing socket is
/// not bound or has `UDP_ENCAP` or `IP_RECVERR` set; `-EBUSY`: a descriptor of the backing socket is still open (or in flight);
/// `-EADDRNOTAVAIL`: it is bound to another port than `port`, to a local address or a
/// device, or with `SO_REUSEADDR` / `SO_REUSEPORT`.
pub const UDPRX_BIND: u32 = ioc(IOC_WRITE, 1, core::mem::size_of::<BindArgs>());

impl BindArgs {
    /// Size of the argument in bytes.
    pub const SIZE: usize = 8;
}

const _: () = assert!(core::mem::size_of::<BindArgs>() == BindArgs::SIZE);

/// Argument of [`UDPRX_SET_RCVBUF`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct RcvbufArgs {
    /// The value, as given to `setsockopt(SO_RCVBUF)` (an `int`).
    pub val: i32,
    /// [`RCVBUF_FORCE`] or 0; other bits must be zero.
    pub flags: u32,
}

/// [`RcvbufArgs::flags`]: `SO_RCVBUFFORCE` semantics (ignores `net.core.rmem_max`, needs
/// `CAP_NET_ADMIN`).
pub const RCVBUF_FORCE: u32 = 1;

impl RcvbufArgs {
    /// Size of the argument in bytes.
    pub const SIZE: usize = 8;
}

const _: () = assert!(core::mem::size_of::<RcvbufArgs>() == RcvbufArgs::SIZE);

/// Set the receive buffer like `SO_RCVBUF` / `SO_RCVBUFFORCE` (`_IOW('U', 2, struct
/// udprx_rcvbuf)`): the value is doubled, clamped to `net.core.rmem_max` (unless forced)
/// and to at least `SOCK_MIN_RCVBUF`. Forcing without `CAP_NET_ADMIN` gets `-EPERM`.
pub const UDPRX_SET_RCVBUF: u32 = ioc(IOC_WRITE, 2, RcvbufArgs::SIZE);

/// [`UDPRX_SET_POLICY`] value: the rules of Linux 3.13.
pub const POLICY_CLASSIC: u32 = 0;
/// [`UDPRX_SET_POLICY`] value: the rules of the running kernel (7.3); the default.
pub const POLICY_MODERN: u32 = 1;

/// Choose the accounting policy (`_IOW('U', 3, __u32)`): [`POLICY_CLASSIC`] or
/// [`POLICY_MODERN`]; `-EINVAL` for anything else, `-EBUSY` while anything is queued or
/// the socket is held.
pub const UDPRX_SET_POLICY: u32 = ioc(IOC_WRITE, 3, 4);

/// Take ownership of the socket, as a syscall holding `lock_sock()` does (`_IO('U', 4)`):
/// until [`UDPRX_RELEASE`], arrivals take the backlog path of the policy. `-EBUSY` if
/// already held.
pub const UDPRX_HOLD: u32 = ioc(0, 4, 0);

/// Let go (`_IO('U', 5)`): the backlog is drained through the queueing rules, as
/// `release_sock()` does. `-EINVAL` if not held.
pub const UDPRX_RELEASE: u32 = ioc(0, 5, 0);

/// Result of [`UDPRX_INFO`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct Info {
    /// `sk_rcvbuf`.
    pub rcvbuf: u32,
    /// `sk_rmem_alloc`.
    pub rmem_alloc: u32,
    /// `sk_backlog.len`: bytes on the backlog.
    pub backlog_len: u32,
    /// Datagrams on the backlog.
    pub backlog_count: u32,
    /// Datagrams on the receive queue.
    pub queued: u32,
    /// [`POLICY_CLASSIC`] or [`POLICY_MODERN`].
    pub policy: u32,
    /// 1 while held.
    pub held: u32,
    /// 7.3 `forward_deficit`: bytes read but still charged.
    pub forward_deficit: u32,
    /// `sk_drops`.
    pub drops: u64,
    /// 7.3 `sk_forward_alloc`.
    pub forward_alloc: i64,
    /// Bound port, 0 if none.
    pub port: u32,
    /// Zero.
    pub reserved: u32,
}

impl Info {
    /// Size of the result in bytes.
    pub const SIZE: usize = 56;
}

const _: () = assert!(core::mem::size_of::<Info>() == Info::SIZE);

/// Read the accounting state (`_IOR('U', 6, struct udprx_info)`).
pub const UDPRX_INFO: u32 = ioc(IOC_READ, 6, Info::SIZE);

/// Size of `struct sock_fprog` on 64-bit Linux (`unsigned short len`, padding, `struct
/// sock_filter *filter`).
pub const SOCK_FPROG_SIZE: usize = 16;

/// Attach a classic BPF socket filter (`_IOW('U', 7, struct sock_fprog)`): the argument is
/// the `struct sock_fprog` that `setsockopt(SOL_SOCKET, SO_ATTACH_FILTER)` takes, and the
/// kernel checks and attaches it exactly as for a stock socket (errors included:
/// `-EINVAL` for a bad program, `-EFAULT`, `-ENOMEM`). It runs on every datagram before
/// the queue, as `sk_filter_trim_cap()` runs it for a stock UDP socket: a datagram it
/// refuses is dropped (`SOCKET_FILTER`, `InErrors`, socket drops); one it shortens is
/// queued shorter.
pub const UDPRX_ATTACH_FILTER: u32 = ioc(IOC_WRITE, 7, SOCK_FPROG_SIZE);

/// Size of `struct sock_fprog` for a 32-bit caller (`struct compat_sock_fprog`: `unsigned
/// short len`, padding, a 32-bit pointer).
pub const COMPAT_SOCK_FPROG_SIZE: usize = 8;

/// [`UDPRX_ATTACH_FILTER`] as a 32-bit caller's `_IOW('U', 7, struct sock_fprog)` encodes
/// it; accepted from 32-bit callers only, with their `struct sock_fprog`.
pub const UDPRX_ATTACH_FILTER_COMPAT: u32 = ioc(IOC_WRITE, 7, COMPAT_SOCK_FPROG_SIZE);

/// Detach the socket filter (`_IO('U', 8)`), as `SO_DETACH_FILTER`: `-ENOENT` when none is
/// attached.
pub const UDPRX_DETACH_FILTER: u32 = ioc(0, 8, 0);

/// A new descriptor (`O_CLOEXEC`) of the socket's backing UDP socket, the return value
/// (`_IO('U', 9)`): bind it with `bind(2)`, so that every check of the syscall applies
/// (LSMs such as Landlock, cgroup bind programs, `CAP_NET_BIND_SERVICE`), then close it and
/// call [`UDPRX_BIND`]. `-EINVAL` once bound.
pub const UDPRX_SOCKET: u32 = ioc(0, 9, 0);
