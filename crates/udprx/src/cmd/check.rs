//! `udprx ioctl-check`: the error answers of `/dev/udprx`, one line each
//! (`ok|FAIL NAME: got ERR, want ERR`); exits 1 if any answer is wrong.

use crate::kernel::dev::Device;
use anyhow::{bail, Result};
use nix::errno::Errno;
use udprx_abi::{ioc, BindArgs, IOC_WRITE};

#[derive(clap::Args)]
pub struct Args {
    /// A UDP port that is free in udprx in this netns (bound, then released).
    #[arg(long)]
    port: u16,
}

fn name(r: nix::Result<()>) -> String {
    match r {
        Ok(()) => "success".into(),
        Err(e) => format!("{e:?}"),
    }
}

pub fn run(a: &Args) -> Result<()> {
    let mut failed = 0;
    let mut expect = |what: &str, got: nix::Result<()>, want: nix::Result<()>| {
        let (g, w) = (name(got), name(want));
        let ok = g == w;
        println!(
            "{} {what}: got {g}, want {w}",
            if ok { "ok" } else { "FAIL" }
        );
        if !ok {
            failed += 1;
        }
    };
    let bind = |port, flags, reserved| BindArgs {
        port,
        flags,
        reserved,
    };

    let errno =
        |r: std::io::Result<()>| r.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
    // bind(2) of a descriptor of `d`'s backing socket to ADDR:port, with an option set
    // first (`Opt`); the descriptor is closed unless it is returned.
    // `reuse`; the descriptor is closed unless it is returned.
    let sock_bind = |d: &Device, addr: [u8; 4], port: u16, opt: Opt| {
        let s = d.socket()?;
        let fd = std::os::fd::AsFd::as_fd(&s);
        use nix::sys::socket::{setsockopt, sockopt};
        match opt {
            Opt::None => {}
            Opt::ReuseAddr => setsockopt(&fd, sockopt::ReuseAddr, &true)?,
            Opt::BindToLo => setsockopt(&fd, sockopt::BindToDevice, &"lo".into())?,
            Opt::RecvErr => setsockopt(&fd, sockopt::Ipv4RecvErr, &true)?,
        }
        let [a, b, c, e] = addr;
        nix::sys::socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            &nix::sys::socket::SockaddrIn::new(a, b, c, e, port),
        )?;
        Ok::<_, Errno>(s)
    };

    let mut s = Device::open(true)?;
    let unknown = ioc(IOC_WRITE, 99, std::mem::size_of::<BindArgs>());
    expect(
        "unknown command",
        s.ioctl_raw(unknown, &bind(a.port, 0, 0)).map(drop),
        Err(Errno::ENOTTY),
    );
    expect(
        "bind, backing socket not bound",
        s.bind_args(&bind(0, 0, 0)),
        Err(Errno::EINVAL),
    );
    expect(
        "bind, flags set",
        s.bind_args(&bind(a.port, 1, 0)),
        Err(Errno::EINVAL),
    );
    expect(
        "bind, reserved set",
        s.bind_args(&bind(a.port, 0, 1)),
        Err(Errno::EINVAL),
    );
    expect("bind, NULL argument", s.bind_null(), Err(Errno::EFAULT));
    let mut buf = [0u8; 16];
    let r = errno(s.read(&mut buf).map(drop));
    expect("O_NONBLOCK read, unbound", r, Err(Errno::EAGAIN));
    let fd = sock_bind(&s, [0; 4], a.port, Opt::None)?;
    expect(
        "bind, a descriptor of the backing socket still open",
        s.bind_args(&bind(0, 0, 0)),
        Err(Errno::EBUSY),
    );
    drop(fd);
    expect(
        "bind, another port than the backing socket's",
        s.bind_args(&bind(a.port.wrapping_add(1), 0, 0)),
        Err(Errno::EADDRNOTAVAIL),
    );
    expect("bind", s.bind_args(&bind(a.port, 0, 0)), Ok(()));
    expect(
        "socket descriptor once bound",
        s.socket().map(drop),
        Err(Errno::EINVAL),
    );
    expect(
        "bind again",
        s.bind_args(&bind(0, 0, 0)),
        Err(Errno::EINVAL),
    );
    let r = errno(s.read(&mut buf).map(drop));
    expect("O_NONBLOCK read, nothing queued", r, Err(Errno::EAGAIN));
    let readable = s.wait_readable(Some(std::time::Duration::ZERO))?;
    expect(
        "poll, nothing queued",
        if readable { Ok(()) } else { Err(Errno::EAGAIN) },
        Err(Errno::EAGAIN),
    );
    let t = Device::open(true)?;
    expect(
        "bind, port taken",
        t.bind_port(a.port),
        Err(Errno::EADDRINUSE),
    );
    // Port ownership, both ways, as between two stock sockets: the udprx socket's backing
    // socket holds the port in the stock UDP tables.
    let stock_bind = |ip: &str, port| errno(std::net::UdpSocket::bind((ip, port)).map(drop));
    expect(
        "stock bind 0.0.0.0, port of a udprx socket",
        stock_bind("0.0.0.0", a.port),
        Err(Errno::EADDRINUSE),
    );
    expect(
        "stock bind 127.0.0.1, port of a udprx socket",
        stock_bind("127.0.0.1", a.port),
        Err(Errno::EADDRINUSE),
    );
    // A port others may share: the hook, which goes by port, would take their datagrams.
    let other = a.port.wrapping_add(2);
    for (what, addr, opt, want) in [
        (
            "bound to a local address",
            [127, 0, 0, 1],
            Opt::None,
            Errno::EADDRNOTAVAIL,
        ),
        (
            "with SO_REUSEADDR",
            [0; 4],
            Opt::ReuseAddr,
            Errno::EADDRNOTAVAIL,
        ),
        (
            "bound to a device (SO_BINDTODEVICE)",
            [0; 4],
            Opt::BindToLo,
            Errno::EADDRNOTAVAIL,
        ),
        ("with IP_RECVERR", [0; 4], Opt::RecvErr, Errno::EINVAL),
    ] {
        let v = Device::open(true)?;
        drop(sock_bind(&v, addr, other, opt)?);
        expect(
            &format!("bind, backing socket {what}"),
            v.bind_args(&bind(other, 0, 0)),
            Err(want),
        );
    }
    let stock = std::net::UdpSocket::bind(("127.0.0.1", other))?;
    let u = Device::open(true)?;
    expect(
        "bind, port of a stock socket",
        u.bind_port(other),
        Err(Errno::EADDRINUSE),
    );
    drop(stock);
    let u = Device::open(true)?;
    expect(
        "bind, port freed by the stock socket's close",
        u.bind_port(other),
        Ok(()),
    );
    // The socket filter ioctls answer as SO_ATTACH_FILTER / SO_DETACH_FILTER do.
    expect(
        "detach filter, none attached",
        u.detach_filter(),
        Err(Errno::ENOENT),
    );
    expect(
        "attach filter, empty program",
        u.attach_filter(&[]),
        Err(Errno::EINVAL),
    );
    expect(
        "attach filter",
        u.attach_filter(&crate::kernel::filter::max_len(100)),
        Ok(()),
    );
    expect("detach filter", u.detach_filter(), Ok(()));
    // A read into a buffer the reader cannot write: EFAULT, and the datagram is gone,
    // counted in the socket's drops, as udp_recvmsg() does it for a stock socket.
    let tx = std::net::UdpSocket::bind(("127.0.0.1", 0))?;
    let stock = std::net::UdpSocket::bind(("127.0.0.1", 0))?;
    stock.set_nonblocking(true)?;
    let sport = stock.local_addr()?.port();
    for (side, fd, port) in [
        ("udprx", u.fd(), other),
        ("stock", std::os::fd::AsRawFd::as_raw_fd(&stock), sport),
    ] {
        let drops = || -> Result<u64> {
            Ok(match side {
                "udprx" => u.info()?.drops,
                _ => crate::kernel::socket::proc_net_udp_drops(port)?,
            })
        };
        let before = drops()?;
        tx.send_to(&[0x5a; 32], ("127.0.0.1", port))?;
        let fds = std::os::fd::BorrowedFd::borrow_raw;
        // SAFETY: `fd` is open for the whole loop (`u` and `stock` outlive it).
        let pfd = nix::poll::PollFd::new(unsafe { fds(fd) }, nix::poll::PollFlags::POLLIN);
        nix::poll::poll(&mut [pfd], 5000u16)?;
        // SAFETY: read(2) to the first page, which no process maps: the kernel's copy
        // faults and answers EFAULT; nothing of this process is written.
        let r = unsafe { libc::read(fd, 16 as *mut libc::c_void, 64) };
        let got = if r < 0 { Err(Errno::last()) } else { Ok(()) };
        expect(
            &format!("{side}: read into an unwritable buffer"),
            got,
            Err(Errno::EFAULT),
        );
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is 64 writable bytes.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        let got = if r < 0 { Err(Errno::last()) } else { Ok(()) };
        expect(
            &format!("{side}: that datagram, read again"),
            got,
            Err(Errno::EAGAIN),
        );
        let counted = drops()? - before == 1;
        expect(
            &format!("{side}: the socket's drops, one more (ERANGE: not one more)"),
            if counted { Ok(()) } else { Err(Errno::ERANGE) },
            Ok(()),
        );
    }
    drop(s);
    let t = Device::open(true)?;
    expect("bind, port freed by close", t.bind_port(a.port), Ok(()));
    if failed > 0 {
        bail!("{failed} wrong answer(s)");
    }
    Ok(())
}

/// An option set on a backing socket before its `bind(2)`.
#[derive(Clone, Copy)]
enum Opt {
    None,
    ReuseAddr,
    BindToLo,
    RecvErr,
}
