//! The receiving side of a run: stock or udprx under a policy, its socket, and the CPU the
//! reader runs on and the time it takes.

use crate::kernel::dev::Device;
use anyhow::{anyhow, Result};
use std::net::{Ipv4Addr, UdpSocket};
use udprx_abi::{POLICY_CLASSIC, POLICY_MODERN};

/// The port of the receiving socket (a second one, when a run has two, is the next).
pub(super) const RX_PORT: u16 = 7000;

pub(super) use crate::side::Side;

pub(super) enum Rx {
    Stock(UdpSocket),
    Udprx(Device),
}

impl Rx {
    /// A socket on `port`; `rcvbuf` forced (SO_RCVBUFFORCE / RCVBUF_FORCE) when given.
    pub(super) fn open(side: Side, port: u16, rcvbuf: Option<i32>) -> Result<Self> {
        Ok(match side {
            Side::Stock => {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
                s.set_nonblocking(true)?;
                s.bind(&std::net::SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
                let s: UdpSocket = s.into();
                if let Some(b) = rcvbuf {
                    crate::kernel::socket::set_stock_rcvbuf(&s, b, true)?;
                }
                Rx::Stock(s)
            }
            Side::Modern | Side::Classic => {
                let d = Device::open(true)?;
                d.set_policy(if side == Side::Modern {
                    POLICY_MODERN
                } else {
                    POLICY_CLASSIC
                })?;
                if let Some(b) = rcvbuf {
                    d.set_rcvbuf(b, true)?;
                }
                d.bind(port)?;
                Rx::Udprx(d)
            }
        })
    }

    /// Reads one datagram if one is queued.
    pub(super) fn read(&self, buf: &mut [u8]) -> bool {
        match self {
            Rx::Stock(s) => s.recv(buf).is_ok(),
            Rx::Udprx(d) => d.read_nonblocking(buf),
        }
    }

    /// The socket's own drop count (`sk_drops`): the `drops` column of `/proc/net/udp`
    /// for stock, `UDPRX_INFO` for udprx.
    pub(super) fn drops(&self) -> Result<u64> {
        match self {
            Rx::Stock(s) => crate::kernel::socket::proc_net_udp_drops(s.local_addr()?.port()),
            Rx::Udprx(d) => Ok(d.info()?.drops),
        }
    }

    /// Reads until the queue is empty; the number read.
    pub(super) fn drain(&self) -> u64 {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while self.read(&mut buf) {
            n += 1;
        }
        n
    }

    /// [`Self::drain`] from a thread pinned to `cpu`: the number read and the thread's CPU
    /// time for it, in nanoseconds.
    pub(super) fn drain_on(&self, cpu: usize) -> Result<(u64, u64)> {
        std::thread::scope(|s| {
            s.spawn(|| -> Result<(u64, u64)> {
                pin_to_cpu(cpu)?;
                let t0 = thread_cpu_ns();
                let read = self.drain();
                Ok((read, thread_cpu_ns() - t0))
            })
            .join()
            .map_err(|_| anyhow!("reader panicked"))?
        })
    }
}

/// CPU time of the calling thread, in nanoseconds.
pub(super) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(super) fn pin_to_cpu(cpu: usize) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)?;
    Ok(())
}
