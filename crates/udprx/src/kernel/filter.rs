// SPDX-License-Identifier: GPL-2.0

//! Classic BPF socket filters, the same program for a stock socket (`SO_ATTACH_FILTER`)
//! and a udprx socket (`UDPRX_ATTACH_FILTER`); and cgroup eBPF programs of hand-written
//! instructions (ingress, bind4), loaded and attached with bpf(2).

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd};

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

/// `bpf(2)` commands, program and attach types used here (`include/uapi/linux/bpf.h`).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
const BPF_CGROUP_INET_INGRESS: u32 = 0;
const BPF_CGROUP_INET4_BIND: u32 = 8;

/// eBPF opcodes (`BPF_CLASS | BPF_SIZE/BPF_OP | BPF_MODE/BPF_SRC`).
/// `BPF_ALU64 | BPF_MOV | BPF_K`: dst = imm.
const MOV64_K: u8 = 0xb7;
/// `BPF_JMP | BPF_EXIT`.
const EXIT: u8 = 0x95;
/// `BPF_JMP | BPF_JNE | BPF_K`: if dst != imm, skip `off` instructions.
const JNE_K: u8 = 0x55;
/// `BPF_LDX | BPF_MEM | BPF_W`: dst = *(u32 *)(src + off).
const LDX_W: u8 = 0x61;
/// `BPF_STX | BPF_MEM | BPF_W`: *(u32 *)(dst + off) = src.
const STX_W: u8 = 0x63;

/// One `struct bpf_insn`: code, dst_reg (low nibble) and src_reg (high nibble), off, imm.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut i = [0u8; 8];
    i[0] = code;
    i[1] = (src << 4) | (dst & 0xf);
    i[2..4].copy_from_slice(&off.to_ne_bytes());
    i[4..8].copy_from_slice(&imm.to_ne_bytes());
    i
}

/// `offsetof(struct bpf_sock_addr, user_port)`: after user_family, user_ip4, user_ip6[4].
const SOCK_ADDR_USER_PORT: i16 = 24;

/// `port` as `bpf_sock_addr.user_port` holds it: network byte order in the low 16 bits of
/// a u32 read in host order.
fn user_port(port: u16) -> i32 {
    i32::from(u16::from_ne_bytes(port.to_be_bytes()))
}

/// The program of [`deny_ingress`]: `r0 = 0; exit` (every packet dropped).
fn deny_all() -> Vec<[u8; 8]> {
    vec![insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
}

/// The program of [`bind4`]: refuse a bind to `deny`, move a bind to `from` to `to`.
fn bind4_prog(from: u16, to: u16, deny: u16) -> Vec<[u8; 8]> {
    vec![
        // r2 = ctx->user_port (r1 is the context, struct bpf_sock_addr)
        insn(LDX_W, 2, 1, SOCK_ADDR_USER_PORT, 0),
        // if r2 != deny goto +2 (the rewrite)
        insn(JNE_K, 2, 0, 2, user_port(deny)),
        // r0 = 0: the bind fails with EPERM
        insn(MOV64_K, 0, 0, 0, 0),
        // exit
        insn(EXIT, 0, 0, 0, 0),
        // if r2 != from goto +2 (r0 = 1)
        insn(JNE_K, 2, 0, 2, user_port(from)),
        // r3 = to (no immediate stores into the context: through a register)
        insn(MOV64_K, 3, 0, 0, user_port(to)),
        // ctx->user_port = r3
        insn(STX_W, 1, 3, SOCK_ADDR_USER_PORT, 0),
        // r0 = 1: the bind goes on (with the port as it is now)
        insn(MOV64_K, 0, 0, 0, 1),
        // exit
        insn(EXIT, 0, 0, 0, 0),
    ]
}

/// `BPF_PROG_LOAD` of `insns` (GPL), then `BPF_PROG_ATTACH` to the cgroup2 directory
/// `cgroup`. The program stays attached to the cgroup after this process exits. On a
/// verifier refusal the load is tried again with the verifier's log, which the error
/// carries.
fn load_attach(
    what: &str,
    prog_type: u32,
    attach_type: u32,
    insns: &[[u8; 8]],
    cgroup: &std::path::Path,
) -> Result<()> {
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let load = |log: Option<&mut [u8]>| {
        // union bpf_attr for BPF_PROG_LOAD: prog_type @0, insn_cnt @4, insns @8,
        // license @16, log_level @24, log_size @28, log_buf @32, expected_attach_type @68;
        // the rest zero.
        let mut attr = [0u8; 128];
        attr[0..4].copy_from_slice(&prog_type.to_ne_bytes());
        attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
        attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
        attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
        if let Some(log) = log {
            attr[24..28].copy_from_slice(&1u32.to_ne_bytes());
            attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
            attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
        }
        attr[68..72].copy_from_slice(&attach_type.to_ne_bytes());
        // SAFETY: `attr` is a valid bpf_attr of the size passed; the instructions, the
        // license and the log it points to live across the call.
        unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) }
    };
    let prog = load(None);
    if prog < 0 {
        let err = std::io::Error::last_os_error();
        load(Some(&mut log));
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        return Err(err).with_context(|| format!("bpf(BPF_PROG_LOAD) {what}: {}", text.trim()));
    }
    // SAFETY: `prog` is a new file descriptor that nothing else owns.
    let prog = unsafe { std::os::fd::OwnedFd::from_raw_fd(prog as i32) };
    let cg = std::fs::File::open(cgroup).with_context(|| format!("open {}", cgroup.display()))?;
    // BPF_PROG_ATTACH: target_fd @0, attach_bpf_fd @4, attach_type @8.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(cg.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&attach_type.to_ne_bytes());
    // SAFETY: As above.
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_ATTACH, attr.as_ptr(), attr.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("bpf(BPF_PROG_ATTACH) {what}"));
    }
    // Closing `prog` now: the cgroup holds the program.
    Ok(())
}

/// Attaches to the cgroup at `cgroup` (a cgroup2 directory) an ingress program that drops
/// every packet (`BPF_PROG_TYPE_CGROUP_SKB`: `r0 = 0; exit`), as systemd's
/// `IPAddressDeny=any` does. It applies to sockets created in that cgroup and stays
/// attached after this process exits.
pub fn deny_ingress(cgroup: &std::path::Path) -> Result<()> {
    load_attach(
        "deny-ingress",
        BPF_PROG_TYPE_CGROUP_SKB,
        BPF_CGROUP_INET_INGRESS,
        &deny_all(),
        cgroup,
    )
}

/// Attaches to the cgroup at `cgroup` a `BPF_CGROUP_INET4_BIND` program
/// (`BPF_PROG_TYPE_CGROUP_SOCK_ADDR`) that refuses an IPv4 bind to port `deny` (it fails
/// with EPERM), moves a bind to port `from` to port `to`, and lets the others be. It
/// applies to binds by tasks of that cgroup and stays attached after this process exits.
pub fn bind4(cgroup: &std::path::Path, from: u16, to: u16, deny: u16) -> Result<()> {
    load_attach(
        "bind4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        BPF_CGROUP_INET4_BIND,
        &bind4_prog(from, to, deny),
        cgroup,
    )
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

    #[test]
    fn deny_all_bytes() {
        let p: Vec<u8> = super::deny_all().concat();
        assert_eq!(p, [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn bind4_bytes() {
        // 7000 = 0x1b58 (user_port 0x581b), 7001 = 0x1b59, 7002 = 0x1b5a.
        let p = super::bind4_prog(7000, 7001, 7002);
        let want: [[u8; 8]; 9] = [
            [0x61, 0x12, 24, 0, 0, 0, 0, 0],
            [0x55, 0x02, 2, 0, 0x1b, 0x5a, 0, 0],
            [0xb7, 0x00, 0, 0, 0, 0, 0, 0],
            [0x95, 0x00, 0, 0, 0, 0, 0, 0],
            [0x55, 0x02, 2, 0, 0x1b, 0x58, 0, 0],
            [0xb7, 0x03, 0, 0, 0x1b, 0x59, 0, 0],
            [0x63, 0x31, 24, 0, 0, 0, 0, 0],
            [0xb7, 0x00, 0, 0, 1, 0, 0, 0],
            [0x95, 0x00, 0, 0, 0, 0, 0, 0],
        ];
        assert_eq!(p, want);
    }
}
