// SPDX-License-Identifier: GPL-2.0

//! The `/dev/udprx` ABI, as a crate for the userspace tools.
//!
//! The definitions live in `ioctl.rs` (ioctl numbers and layouts) and `mib.rs` (the counter
//! groups of `/proc/net/udprx`), which the kernel module compiles as modules of its own
//! crate (`#[path]`), so both sides use the same numbers, layouts and names.
#![no_std]
#![forbid(unsafe_code)]

mod ioctl;
pub mod mib;
pub use ioctl::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(
        clippy::unnecessary_cast,
        reason = "nix's ioctl_num_type is c_ulong on glibc, c_int on musl"
    )]
    fn numbers_match_the_kernel_encoding() {
        // nix implements _IOW() as <asm-generic/ioctl.h> defines it.
        let want = nix::request_code_write!(b'U', 1, core::mem::size_of::<BindArgs>());
        assert_eq!(u64::from(UDPRX_BIND), want as u64);
        assert_eq!(UDPRX_BIND, 0x4008_5501);
        let w = nix::request_code_write!(b'U', 2, RcvbufArgs::SIZE);
        assert_eq!(u64::from(UDPRX_SET_RCVBUF), w as u64);
        let w = nix::request_code_write!(b'U', 3, 4);
        assert_eq!(u64::from(UDPRX_SET_POLICY), w as u64);
        assert_eq!(
            u64::from(UDPRX_HOLD),
            nix::request_code_none!(b'U', 4) as u64
        );
        assert_eq!(
            u64::from(UDPRX_RELEASE),
            nix::request_code_none!(b'U', 5) as u64
        );
        let r = nix::request_code_read!(b'U', 6, core::mem::size_of::<Info>());
        assert_eq!(u64::from(UDPRX_INFO), r as u64);
    }

    #[test]
    fn the_derived_layouts_are_the_documented_ones() {
        use zerocopy::{FromBytes, IntoBytes};
        let i = Info {
            rcvbuf: 1,
            rmem_alloc: 2,
            backlog_len: 3,
            backlog_count: 4,
            queued: 5,
            policy: 6,
            held: 7,
            forward_deficit: 8,
            drops: 9,
            forward_alloc: -10,
            port: 11,
            reserved: 12,
        };
        let b = i.as_bytes();
        assert_eq!(b.len(), Info::SIZE);
        assert_eq!(&b[32..40], &9u64.to_ne_bytes());
        assert_eq!(&b[40..48], &(-10i64).to_ne_bytes());
        assert_eq!(&b[48..52], &11u32.to_ne_bytes());
        assert_eq!(Info::read_from_bytes(b), Ok(i));
        let mut r = [0u8; 8];
        r[..4].copy_from_slice(&(-5i32).to_ne_bytes());
        r[4..].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(
            RcvbufArgs::read_from_bytes(&r[..]),
            Ok(RcvbufArgs {
                val: -5,
                flags: RCVBUF_FORCE
            })
        );
        let a = BindArgs {
            port: 0x1234,
            flags: 7,
            reserved: 0xdead_beef,
        };
        let b = a.as_bytes();
        assert_eq!(&b[..2], &0x1234u16.to_ne_bytes());
        assert_eq!(&b[4..], &0xdead_beefu32.to_ne_bytes());
        assert_eq!(BindArgs::read_from_bytes(b), Ok(a));
        // A short argument is refused, not read past.
        assert!(BindArgs::read_from_bytes(&b[..7]).is_err());
    }

    #[test]
    fn every_counter_has_its_own_name_in_order() {
        use mib::{DropReason, Group, HookMib, ProtoMib, UdpMib};
        fn check<G: Group + core::fmt::Debug>(all: &[G]) {
            assert_eq!(all.len(), G::NAMES.len(), "{}", G::GROUP);
            for (i, c) in all.iter().enumerate() {
                assert_eq!(c.index(), i, "{c:?}");
                assert_eq!(c.name(), G::NAMES[i]);
                assert!(!G::NAMES[..i].contains(&c.name()), "{c:?} named twice");
            }
        }
        check(UdpMib::ALL);
        check(DropReason::ALL);
        check(HookMib::ALL);
        check(ProtoMib::ALL);
        // The names of the stock `Udp:` line and of `enum skb_drop_reason`.
        assert_eq!(UdpMib::MemErrors.name(), "MemErrors");
        assert_eq!(DropReason::SocketRcvbuff.name(), "SOCKET_RCVBUFF");
        assert_eq!(HookMib::GROUP, "UdpRxHook");
    }
}
