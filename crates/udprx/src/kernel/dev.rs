//! `/dev/udprx`: open, bind, read, poll.

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::{
    fs::{File, OpenOptions},
    io::Read,
    os::{fd::AsFd, unix::fs::OpenOptionsExt},
    time::Duration,
};
use udprx_abi::{
    BindArgs, Info, RcvbufArgs, DEVICE_PATH, RCVBUF_FORCE, UDPRX_ATTACH_FILTER, UDPRX_BIND,
    UDPRX_DETACH_FILTER, UDPRX_HOLD, UDPRX_INFO, UDPRX_RELEASE, UDPRX_SET_POLICY, UDPRX_SET_RCVBUF,
    UDPRX_SOCKET,
};

nix::ioctl_write_ptr_bad!(ioctl_bind, UDPRX_BIND, BindArgs);
nix::ioctl_write_ptr_bad!(ioctl_set_rcvbuf, UDPRX_SET_RCVBUF, RcvbufArgs);
nix::ioctl_write_ptr_bad!(ioctl_set_policy, UDPRX_SET_POLICY, u32);
nix::ioctl_none_bad!(ioctl_hold, UDPRX_HOLD);
nix::ioctl_none_bad!(ioctl_release, UDPRX_RELEASE);
nix::ioctl_read_bad!(ioctl_info, UDPRX_INFO, Info);
nix::ioctl_write_ptr_bad!(ioctl_attach_filter, UDPRX_ATTACH_FILTER, libc::sock_fprog);
nix::ioctl_none_bad!(ioctl_detach_filter, UDPRX_DETACH_FILTER);
nix::ioctl_none_bad!(ioctl_socket, UDPRX_SOCKET);

fn errno_msg(what: &str, e: nix::errno::Errno) -> anyhow::Error {
    anyhow::anyhow!("{what}: {e}")
}

/// One udprx socket (an open file of `/dev/udprx`).
pub struct Device {
    file: File,
}

impl Device {
    /// Opens a new socket; `nonblock` sets `O_NONBLOCK`.
    pub fn open(nonblock: bool) -> Result<Self> {
        let flags = if nonblock { libc::O_NONBLOCK } else { 0 };
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(DEVICE_PATH)
            .with_context(|| format!("open {DEVICE_PATH} (is udprx loaded?)"))?;
        Ok(Self { file })
    }

    /// The socket open as file descriptor `fd` (inherited, e.g. opened by a shell in
    /// another netns: the socket lives where it was opened).
    pub fn from_fd(fd: i32) -> Result<Self> {
        let path = format!("/proc/self/fd/{fd}");
        let target = std::fs::read_link(&path).with_context(|| format!("fd {fd} is not open"))?;
        if target != std::path::Path::new(DEVICE_PATH) {
            anyhow::bail!("fd {fd} is {}, not {DEVICE_PATH}", target.display());
        }
        // SAFETY: `fd` is open (checked above) and this process gives it to the `File`,
        // which becomes its only owner.
        let file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(Self { file })
    }

    /// `UDPRX_BIND` with the given argument, as it is (for checks of bad arguments too).
    pub fn bind_args(&self, args: &BindArgs) -> nix::Result<()> {
        // SAFETY: `args` points to a valid `BindArgs`, the layout the ioctl reads.
        unsafe { ioctl_bind(std::os::fd::AsRawFd::as_raw_fd(&self.file), args) }.map(drop)
    }

    /// `UDPRX_BIND` with a null argument pointer (the kernel must answer `EFAULT`).
    pub fn bind_null(&self) -> nix::Result<()> {
        // SAFETY: The kernel only reads through the pointer; a null pointer is answered
        // with EFAULT, nothing in this process is touched.
        unsafe {
            ioctl_bind(
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                std::ptr::null(),
            )
        }
        .map(drop)
    }

    /// An ioctl number udprx does not know (the kernel must answer `ENOTTY`).
    pub fn ioctl_raw(&self, cmd: u32, arg: &BindArgs) -> nix::Result<i32> {
        // SAFETY: The argument is a valid readable struct; an unknown command does not use it.
        let r = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                cmd as _,
                arg as *const BindArgs,
            )
        };
        nix::errno::Errno::result(r)
    }

    /// `UDPRX_SOCKET`: a descriptor of the backing UDP socket.
    pub fn socket(&self) -> nix::Result<std::net::UdpSocket> {
        // SAFETY: No argument; the return value is a new descriptor, ours.
        let fd = unsafe { ioctl_socket(self.fd()) }?;
        // SAFETY: `fd` is a new, open descriptor that nothing else owns.
        Ok(unsafe { <std::net::UdpSocket as std::os::fd::FromRawFd>::from_raw_fd(fd) })
    }

    /// Binds to `port` as udprx's ABI says: `bind(2)` of the backing socket to
    /// `0.0.0.0:port` (every check of the syscall applies), close, `UDPRX_BIND`. The error
    /// is that of the step that failed. `UDPRX_BIND` answers `EBUSY` while another thread
    /// binding the same socket holds a descriptor of it (between its `UDPRX_SOCKET` and its
    /// failed `bind(2)`): it is asked again until that descriptor is closed.
    pub fn bind_port(&self, port: u16) -> nix::Result<()> {
        let s = self.socket()?;
        let addr = nix::sys::socket::SockaddrIn::new(0, 0, 0, 0, port);
        nix::sys::socket::bind(std::os::fd::AsRawFd::as_raw_fd(&s), &addr)?;
        drop(s);
        for _ in 0..10_000 {
            match self.bind_args(&BindArgs::default()) {
                Err(nix::errno::Errno::EBUSY) => std::thread::yield_now(),
                r => return r,
            }
        }
        Err(nix::errno::Errno::EBUSY)
    }

    /// Binds to `port` ([`Device::bind_port`]).
    pub fn bind(&self, port: u16) -> Result<()> {
        self.bind_port(port)
            .map_err(|e| anyhow::anyhow!("bind to port {port}: {e}"))
    }

    pub fn fd(&self) -> i32 {
        std::os::fd::AsRawFd::as_raw_fd(&self.file)
    }

    /// `UDPRX_SET_RCVBUF`: like `SO_RCVBUF`, or `SO_RCVBUFFORCE` with `force`.
    pub fn set_rcvbuf(&self, val: i32, force: bool) -> Result<()> {
        let a = RcvbufArgs {
            val,
            flags: if force { RCVBUF_FORCE } else { 0 },
        };
        // SAFETY: `a` is a valid `RcvbufArgs`, the layout the ioctl reads.
        unsafe { ioctl_set_rcvbuf(self.fd(), &a) }
            .map(drop)
            .map_err(|e| errno_msg("set receive buffer", e))
    }

    /// `UDPRX_SET_POLICY`.
    pub fn set_policy(&self, policy: u32) -> Result<()> {
        // SAFETY: The ioctl reads one u32.
        unsafe { ioctl_set_policy(self.fd(), &policy) }
            .map(drop)
            .map_err(|e| errno_msg("set policy", e))
    }

    /// One non-blocking read through a shared reference: whether a datagram was read.
    pub fn read_nonblocking(&self, buf: &mut [u8]) -> bool {
        // SAFETY: `buf` is writable for its length; the file was opened O_NONBLOCK.
        unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) >= 0 }
    }

    /// `UDPRX_ATTACH_FILTER`: the classic BPF program `prog`, as `SO_ATTACH_FILTER`.
    pub fn attach_filter(&self, prog: &[libc::sock_filter]) -> nix::Result<()> {
        let f = crate::kernel::filter::fprog(prog);
        // SAFETY: The ioctl reads one `struct sock_fprog`, which points to `prog`.
        unsafe { ioctl_attach_filter(self.fd(), &f) }.map(drop)
    }

    /// `UDPRX_DETACH_FILTER`.
    pub fn detach_filter(&self) -> nix::Result<()> {
        // SAFETY: No argument.
        unsafe { ioctl_detach_filter(self.fd()) }.map(drop)
    }

    /// `UDPRX_HOLD`.
    pub fn hold(&self) -> Result<()> {
        // SAFETY: No argument.
        unsafe { ioctl_hold(self.fd()) }
            .map(drop)
            .map_err(|e| errno_msg("hold", e))
    }

    /// `UDPRX_RELEASE`.
    pub fn release(&self) -> Result<()> {
        // SAFETY: No argument.
        unsafe { ioctl_release(self.fd()) }
            .map(drop)
            .map_err(|e| errno_msg("release", e))
    }

    /// `UDPRX_INFO`.
    pub fn info(&self) -> Result<Info> {
        let mut i = Info::default();
        // SAFETY: `i` is a writable `Info`, the layout the ioctl writes.
        unsafe { ioctl_info(self.fd(), &mut i) }.map_err(|e| errno_msg("info", e))?;
        Ok(i)
    }

    /// Reads one datagram into `buf` (truncating it to `buf.len()`).
    pub fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }

    /// Whether epoll reports the socket readable right now (a fresh epoll instance, the
    /// file added, waited on with a zero timeout, then closed).
    pub fn epoll_readable(&self) -> Result<bool> {
        use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create")?;
        ep.add(self.file.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0))
            .context("epoll_ctl")?;
        let mut ev = [EpollEvent::empty()];
        Ok(ep.wait(&mut ev, EpollTimeout::ZERO).context("epoll_wait")? > 0)
    }

    /// Waits until a datagram is queued, or `timeout` passes (`None`: forever).
    pub fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, t).context("poll")?;
        Ok(n > 0
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN)))
    }
}
