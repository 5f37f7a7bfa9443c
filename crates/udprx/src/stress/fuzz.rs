// SPDX-License-Identifier: GPL-2.0

//! `ioctl-fuzz`: random ioctls, reads, writes and polls on `/dev/udprx` with bad sizes and
//! pointers, and the answers they got.

use super::rng::Rng;
use crate::kernel::dev::Device;
use anyhow::Result;
use nix::errno::Errno;
use serde_json::json;
use std::collections::BTreeMap;
use udprx_abi::{BindArgs, RcvbufArgs};

pub(super) fn ioctl_fuzz(count: u64, seed: u64, port: u16) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut results: BTreeMap<String, u64> = BTreeMap::new();
    // A page that is mapped but not accessible, and one that is readable garbage.
    // SAFETY: Anonymous mappings with no address hint.
    let none = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    let mut buf = vec![0u8; 65536];
    let cmds = [
        udprx_abi::UDPRX_BIND,
        udprx_abi::UDPRX_SET_RCVBUF,
        udprx_abi::UDPRX_SET_POLICY,
        udprx_abi::UDPRX_HOLD,
        udprx_abi::UDPRX_RELEASE,
        udprx_abi::UDPRX_INFO,
        udprx_abi::UDPRX_ATTACH_FILTER,
        udprx_abi::UDPRX_DETACH_FILTER,
        udprx_abi::UDPRX_SOCKET,
    ];
    let mut dev = Device::open(true)?;
    let mut binds_ok = 0u64;
    for i in 0..count {
        if i % 64 == 63 {
            dev = Device::open(true)?;
        }
        for b in buf.iter_mut().take(64) {
            *b = rng.next() as u8;
        }
        if rng.below(8) == 0 {
            // A well-formed bind of `port`: must fail without CAP_NET_ADMIN.
            let a = BindArgs {
                port,
                flags: 0,
                reserved: 0,
            };
            buf[..8].copy_from_slice(zerocopy::IntoBytes::as_bytes(&a));
        } else if rng.below(8) == 0 {
            let a = RcvbufArgs {
                val: rng.next() as i32,
                flags: (rng.below(3)) as u32,
            };
            buf[..4].copy_from_slice(&a.val.to_ne_bytes());
            buf[4..8].copy_from_slice(&a.flags.to_ne_bytes());
        }
        let arg: u64 = match rng.below(6) {
            0 => 0,
            1 => 1,
            2 => 0xffff_8000_0000_0000 + rng.below(1 << 30),
            3 => none as u64,
            4 => none as u64 + 4090,
            _ => buf.as_ptr() as u64,
        };
        let (what, r) = match rng.below(10) {
            0..=5 => {
                let cmd = if rng.below(5) == 0 {
                    rng.next() as u32
                } else {
                    cmds[rng.below(cmds.len() as u64) as usize]
                        ^ if rng.below(4) == 0 {
                            1 << rng.below(32)
                        } else {
                            0
                        }
                };
                // SAFETY: The kernel checks every pointer; bad ones give EFAULT.
                let r = unsafe { libc::ioctl(dev.fd(), cmd as _, arg) };
                if r == 0 && cmd == udprx_abi::UDPRX_BIND {
                    binds_ok += 1;
                }
                if r > 0 {
                    // A descriptor (`UDPRX_SOCKET`).
                    // SAFETY: It is new and ours.
                    unsafe { libc::close(r) };
                }
                ("ioctl", r as isize)
            }
            6 | 7 => {
                let len = [0usize, 1, 7, 65535, 1 << 20][rng.below(5) as usize];
                let p = if arg == buf.as_ptr() as u64 && len <= buf.len() {
                    buf.as_mut_ptr()
                } else {
                    arg as *mut u8
                };
                // SAFETY: As above: the kernel checks the destination.
                ("read", unsafe { libc::read(dev.fd(), p.cast(), len) })
            }
            8 => {
                // SAFETY: As above.
                ("write", unsafe {
                    libc::write(
                        dev.fd(),
                        arg as *const libc::c_void,
                        rng.below(100) as usize,
                    )
                })
            }
            _ => {
                let mut p = libc::pollfd {
                    fd: dev.fd(),
                    events: (rng.next() as i16) | libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: One valid pollfd, no wait.
                ("poll", unsafe { libc::poll(&mut p, 1, 0) } as isize)
            }
        };
        let key = if r < 0 {
            format!("{what} {:?}", Errno::last())
        } else {
            format!("{what} ok")
        };
        *results.entry(key).or_default() += 1;
    }
    println!(
        "{}",
        json!({ "calls": count, "binds_ok": binds_ok, "results": results })
    );
    Ok(())
}
