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

/// `bpf(2)` commands and types used by [`deny_ingress`] (`include/uapi/linux/bpf.h`).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
const BPF_CGROUP_INET_INGRESS: u32 = 0;

/// Attaches to the cgroup at `cgroup` (a cgroup2 directory) an ingress program that drops
/// every packet (`BPF_PROG_TYPE_CGROUP_SKB`: `r0 = 0; exit`), as systemd's
/// `IPAddressDeny=any` does. It applies to sockets created in that cgroup and stays
/// attached after this process exits.
pub fn deny_ingress(cgroup: &std::path::Path) -> Result<()> {
    // struct bpf_insn: code, dst/src regs, off, imm. BPF_ALU64|BPF_MOV|BPF_K r0 = 0; exit.
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let license = c"GPL";
    // union bpf_attr for BPF_PROG_LOAD: prog_type @0, insn_cnt @4, insns @8, license @16,
    // expected_attach_type @68; the rest zero.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_SKB.to_ne_bytes());
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[68..72].copy_from_slice(&BPF_CGROUP_INET_INGRESS.to_ne_bytes());
    // SAFETY: `attr` is a valid bpf_attr of the size passed; its pointers live across the
    // call.
    let prog = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) };
    if prog < 0 {
        return Err(std::io::Error::last_os_error()).context("bpf(BPF_PROG_LOAD)");
    }
    let cg = std::fs::File::open(cgroup).with_context(|| format!("open {}", cgroup.display()))?;
    // BPF_PROG_ATTACH: target_fd @0, attach_bpf_fd @4, attach_type @8.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(cg.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_INET_INGRESS.to_ne_bytes());
    // SAFETY: As above.
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_ATTACH, attr.as_ptr(), attr.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error()).context("bpf(BPF_PROG_ATTACH)");
    }
    // SAFETY: `prog` is a file descriptor we own; the cgroup holds the program now.
    unsafe { libc::close(prog as i32) };
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
