// SPDX-License-Identifier: GPL-2.0

//! Classic BPF socket filters, the same program for a stock socket (`SO_ATTACH_FILTER`)
//! and a udprx socket (`UDPRX_ATTACH_FILTER`).

use anyhow::{Context, Result};
use std::os::fd::AsRawFd;

/// `BPF_LD | BPF_W | BPF_LEN`: A = skb->len.
const LD_LEN: u16 = 0x80;
/// `BPF_JMP | BPF_JGT | BPF_K`.
const JGT_K: u16 = 0x25;
/// `BPF_RET | BPF_K`.
const RET_K: u16 = 0x06;

/// A program that drops every datagram longer than `max` bytes, UDP header included (a
/// UDP socket's filter sees `skb->data` at the UDP header), and keeps the others whole:
/// `ld len; jgt #max, drop; ret #-1; drop: ret #0`.
pub fn max_len(max: u32) -> Vec<libc::sock_filter> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        ins(LD_LEN, 0, 0, 0),
        ins(JGT_K, 1, 0, max),
        ins(RET_K, 0, 0, u32::MAX),
        ins(RET_K, 0, 0, 0),
    ]
}

/// The `struct sock_fprog` of `prog` (borrowing it).
pub fn fprog(prog: &[libc::sock_filter]) -> libc::sock_fprog {
    libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    }
}

/// `setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, prog)` on a stock socket.
pub fn attach_stock(s: &impl AsRawFd, prog: &[libc::sock_filter]) -> Result<()> {
    let f = fprog(prog);
    // SAFETY: `f` points to `prog`, both valid for the call; the kernel copies them.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&f as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("setsockopt(SO_ATTACH_FILTER)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fprog_is_the_size_the_ioctl_number_says() {
        assert_eq!(
            std::mem::size_of::<libc::sock_fprog>(),
            udprx_abi::SOCK_FPROG_SIZE
        );
        let p = super::max_len(108);
        assert_eq!(p.len(), 4);
        assert_eq!((p[1].code, p[1].jt, p[1].jf, p[1].k), (0x25, 1, 0, 108));
    }
}
