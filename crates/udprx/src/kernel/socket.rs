//! Options of stock sockets, set and read with `setsockopt(2)` and `getsockopt(2)`: the
//! receive buffer (`SO_RCVBUF`, `SO_RCVBUFFORCE`), `SO_MEMINFO`, `UDP_SEGMENT`; and a
//! socket's drops as `/proc/net/udp` shows them.

use anyhow::{Context, Result};
use std::{net::UdpSocket, os::fd::AsRawFd};

/// `setsockopt(SO_RCVBUF)` or `SO_RCVBUFFORCE`.
pub fn set_stock_rcvbuf(s: &UdpSocket, val: i32, force: bool) -> Result<()> {
    let opt = if force {
        libc::SO_RCVBUFFORCE
    } else {
        libc::SO_RCVBUF
    };
    // SAFETY: Passes a valid int of the right size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&val as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("setsockopt(SO_RCVBUF)");
    }
    Ok(())
}

/// `getsockopt(SO_MEMINFO)`: rmem_alloc, rcvbuf, wmem_alloc, sndbuf, fwd_alloc,
/// wmem_queued, optmem, backlog, drops.
pub fn meminfo(s: &UdpSocket) -> Result<[u32; 9]> {
    let mut m = [0u32; 9];
    let mut len = std::mem::size_of_val(&m) as libc::socklen_t;
    // SAFETY: `m` is writable for `len` bytes; the kernel writes at most that.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            m.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("getsockopt(SO_MEMINFO)");
    }
    Ok(m)
}

/// `setsockopt(SOL_UDP, UDP_SEGMENT, size)`.
pub fn set_udp_segment(sock: &UdpSocket, size: usize) -> Result<()> {
    let v = i32::try_from(size).context("--size")?;
    // SAFETY: Passes a valid int of the right size.
    let r = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(sock),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("setsockopt(UDP_SEGMENT)");
    }
    Ok(())
}

/// The `drops` column of the `/proc/net/udp` line of local port `port`, in the calling
/// thread's netns.
pub fn proc_net_udp_drops(port: u16) -> Result<u64> {
    let text =
        std::fs::read_to_string("/proc/thread-self/net/udp").context("read /proc/net/udp")?;
    parse_proc_net_udp_drops(&text, port)
        .with_context(|| format!("port {port} not in /proc/net/udp"))
}

pub fn parse_proc_net_udp_drops(text: &str, port: u16) -> Option<u64> {
    let want = format!(":{port:04X}");
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 13 && f[1].ends_with(&want))
            .then(|| f[f.len() - 1].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_udp_drops_column() {
        let t = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                 \x20 12: 00000000:1B59 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 17\n\
                 \x20 13: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 0\n";
        assert_eq!(parse_proc_net_udp_drops(t, 7001), Some(17));
        assert_eq!(parse_proc_net_udp_drops(t, 53), Some(0));
        assert_eq!(parse_proc_net_udp_drops(t, 7000), None);
    }
}
