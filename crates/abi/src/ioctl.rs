// SPDX-License-Identifier: GPL-2.0

//! `/dev/udprx`: ioctl numbers and argument layouts.
//!
//! Each open file of `/dev/udprx` is one udprx socket. The numbers follow the kernel's
//! `_IOC()` encoding (`include/uapi/asm-generic/ioctl.h`: nr in bits 0–7, type in 8–15,
//! size in 16–29, direction in 30–31), with type `'U'`. Every argument struct is
//! `#[repr(C)]`, has no implicit padding, and carries explicit `reserved`/`flags` fields
//! that must be zero, so that they can be given meaning later without a new number.
//!
//! Errors: an unknown command gets `-ENOTTY` (as for any file); a known command with a
//! bad argument (non-zero reserved bits, port 0, ...) gets `-EINVAL`; an unreadable or
//! unwritable argument pointer gets `-EFAULT`; binding without `CAP_NET_ADMIN` in the
//! caller's network namespace gets `-EPERM`.
#![forbid(unsafe_code)]

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindArgs {
    /// UDP port, host byte order; 1..=65535.
    pub port: u16,
    /// Must be zero.
    pub flags: u16,
    /// Must be zero.
    pub reserved: u32,
}

/// Bind this socket to a UDP port in the caller's network namespace (`_IOW('U', 1,
/// struct udprx_bind)`). One socket per port per netns (`-EADDRINUSE` otherwise); a socket
/// binds once (`-EINVAL` when already bound); needs `CAP_NET_ADMIN` over the netns.
pub const UDPRX_BIND: u32 = ioc(IOC_WRITE, 1, core::mem::size_of::<BindArgs>());

impl BindArgs {
    /// Size of the argument in bytes.
    pub const SIZE: usize = 8;

    /// Decodes the argument as the kernel reads it (native byte order).
    pub const fn from_bytes(b: [u8; Self::SIZE]) -> Self {
        Self {
            port: u16::from_ne_bytes([b[0], b[1]]),
            flags: u16::from_ne_bytes([b[2], b[3]]),
            reserved: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes the argument in the layout of the `#[repr(C)]` struct.
    pub const fn to_bytes(self) -> [u8; Self::SIZE] {
        let p = self.port.to_ne_bytes();
        let f = self.flags.to_ne_bytes();
        let r = self.reserved.to_ne_bytes();
        [p[0], p[1], f[0], f[1], r[0], r[1], r[2], r[3]]
    }
}

const _: () = assert!(core::mem::size_of::<BindArgs>() == BindArgs::SIZE);

/// Argument of [`UDPRX_SET_RCVBUF`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

    /// Decodes the argument (native byte order).
    pub const fn from_bytes(b: [u8; Self::SIZE]) -> Self {
        Self {
            val: i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            flags: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

    /// Encodes the result in the layout of the `#[repr(C)]` struct (native byte order).
    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let words = [
            self.rcvbuf,
            self.rmem_alloc,
            self.backlog_len,
            self.backlog_count,
            self.queued,
            self.policy,
            self.held,
            self.forward_deficit,
        ];
        let mut i = 0;
        while i < words.len() {
            let w = words[i].to_ne_bytes();
            b[i * 4] = w[0];
            b[i * 4 + 1] = w[1];
            b[i * 4 + 2] = w[2];
            b[i * 4 + 3] = w[3];
            i += 1;
        }
        b[32..40].copy_from_slice(&self.drops.to_ne_bytes());
        b[40..48].copy_from_slice(&self.forward_alloc.to_ne_bytes());
        b[48..52].copy_from_slice(&self.port.to_ne_bytes());
        b[52..56].copy_from_slice(&self.reserved.to_ne_bytes());
        b
    }

    /// Decodes the result (native byte order).
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let w = |i: usize| u32::from_ne_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[32..40]);
        let drops = u64::from_ne_bytes(d);
        d.copy_from_slice(&b[40..48]);
        let forward_alloc = i64::from_ne_bytes(d);
        Self {
            rcvbuf: w(0),
            rmem_alloc: w(1),
            backlog_len: w(2),
            backlog_count: w(3),
            queued: w(4),
            policy: w(5),
            held: w(6),
            forward_deficit: w(7),
            drops,
            forward_alloc,
            port: w(12),
            reserved: w(13),
        }
    }
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

/// Detach the socket filter (`_IO('U', 8)`), as `SO_DETACH_FILTER`: `-ENOENT` when none is
/// attached.
pub const UDPRX_DETACH_FILTER: u32 = ioc(0, 8, 0);
