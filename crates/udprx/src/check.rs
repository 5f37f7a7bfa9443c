//! `udprx ioctl-check`: the error answers of `/dev/udprx`, one line each
//! (`ok|FAIL NAME: got ERR, want ERR`); exits 1 if any answer is wrong.

use crate::dev::Device;
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

    let mut s = Device::open(true)?;
    let unknown = ioc(IOC_WRITE, 99, std::mem::size_of::<BindArgs>());
    expect(
        "unknown command",
        s.ioctl_raw(unknown, &bind(a.port, 0, 0)).map(drop),
        Err(Errno::ENOTTY),
    );
    expect(
        "bind, port 0",
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
    let r = s
        .read(&mut buf)
        .map(drop)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
    expect("O_NONBLOCK read, unbound", r, Err(Errno::EAGAIN));
    expect("bind", s.bind_args(&bind(a.port, 0, 0)), Ok(()));
    expect(
        "bind again",
        s.bind_args(&bind(a.port.wrapping_add(1), 0, 0)),
        Err(Errno::EINVAL),
    );
    let r = s
        .read(&mut buf)
        .map(drop)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
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
        t.bind_args(&bind(a.port, 0, 0)),
        Err(Errno::EADDRINUSE),
    );
    drop(s);
    expect(
        "bind, port freed by close",
        t.bind_args(&bind(a.port, 0, 0)),
        Ok(()),
    );
    if failed > 0 {
        bail!("{failed} wrong answer(s)");
    }
    Ok(())
}
