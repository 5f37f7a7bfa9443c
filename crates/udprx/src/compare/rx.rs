// SPDX-License-Identifier: GPL-2.0

//! The receiving socket of a side, stock or udprx, and what it reports about its memory.

use super::scenario::{Guard, Side, PORT};
use crate::kernel::dev::Device;
use anyhow::{Context, Result};
use std::net::{Ipv4Addr, UdpSocket};

/// The receiver of one side.
pub(super) enum Rx {
    Stock(UdpSocket),
    Udprx(Device),
}

/// What a socket reports about its memory.
pub(super) struct Mem {
    pub(super) rmem: u32,
    pub(super) rcvbuf: u32,
    /// `sk_backlog.len`: bytes waiting while the socket is held.
    pub(super) backlog: u32,
    pub(super) drops: u64,
}

impl Rx {
    pub(super) fn open(side: Side, rcvbuf: Option<(i32, bool)>, guard: Guard) -> Result<Self> {
        let filter = match guard {
            Guard::Filter(max) => Some(crate::kernel::filter::max_len(max)),
            Guard::None | Guard::Firewall | Guard::UdpMem => None,
        };
        Ok(match side {
            Side::Stock => {
                let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
                s.set_nonblocking(true)?;
                if let Some(f) = &filter {
                    crate::kernel::filter::attach_stock(&s, f)?;
                }
                if let Some((v, force)) = rcvbuf {
                    crate::kernel::socket::set_stock_rcvbuf(&s, v, force)?;
                }
                Rx::Stock(s)
            }
            Side::Modern | Side::Classic => {
                let d = Device::open(true)?;
                d.set_policy(if side == Side::Modern {
                    udprx_abi::POLICY_MODERN
                } else {
                    udprx_abi::POLICY_CLASSIC
                })?;
                if let Some((v, force)) = rcvbuf {
                    d.set_rcvbuf(v, force)?;
                }
                if let Some(f) = &filter {
                    d.attach_filter(f)
                        .map_err(|e| anyhow::anyhow!("attach filter: {e}"))?;
                }
                d.bind(PORT)?;
                Rx::Udprx(d)
            }
        })
    }

    pub(super) fn mem(&self) -> Result<Mem> {
        match self {
            Rx::Stock(s) => {
                let m = crate::kernel::socket::meminfo(s)?;
                Ok(Mem {
                    rmem: m[0],
                    rcvbuf: m[1],
                    backlog: m[7],
                    drops: u64::from(m[8]),
                })
            }
            Rx::Udprx(d) => {
                let i = d.info()?;
                Ok(Mem {
                    rmem: i.rmem_alloc,
                    rcvbuf: i.rcvbuf,
                    backlog: i.backlog_len,
                    drops: i.drops,
                })
            }
        }
    }

    /// One non-blocking read; whether a datagram was delivered.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<bool> {
        let r = match self {
            Rx::Stock(s) => s.recv(buf),
            Rx::Udprx(d) => d.read(buf),
        };
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e).context("read"),
        }
    }
}
