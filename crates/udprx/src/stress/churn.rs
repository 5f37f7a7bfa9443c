// SPDX-License-Identifier: GPL-2.0

//! `churn`: sockets opened, bound and closed a few milliseconds later, one after the other,
//! while two senders flood their ports.

use crate::{datagram, kernel::dev::Device};
use anyhow::{bail, Result};
use serde_json::json;
use std::{
    net::{Ipv4Addr, UdpSocket},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

pub(super) fn churn(
    port: u16,
    ports: u16,
    cycles: u32,
    life_ms: u64,
    size: usize,
    rcvbuf: Option<i32>,
    hold: bool,
) -> Result<()> {
    if ports == 0 || port.checked_add(ports - 1).is_none() {
        bail!("--ports: 1 or more, and PORT + PORTS - 1 a port");
    }
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<()> {
        for t in 0..2u16 {
            let (stop, sent) = (&stop, &sent);
            s.spawn(move || {
                let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("sender socket");
                let p = datagram::payload(u64::from(t), size);
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    i = i.wrapping_add(1);
                    if u.send_to(&p, (Ipv4Addr::LOCALHOST, port + i % ports))
                        .is_ok()
                    {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let run = || -> Result<()> {
            for c in 0..cycles {
                let d = Device::open(true)?;
                if hold {
                    d.set_policy(udprx_rxqueue::Policy::Classic.to_raw())?;
                }
                if let Some(v) = rcvbuf {
                    d.set_rcvbuf(v, true)?;
                }
                d.bind(port + (c % u32::from(ports)) as u16)?;
                if hold {
                    d.hold()?;
                }
                std::thread::sleep(Duration::from_millis(life_ms));
            }
            Ok(())
        };
        let r = run();
        stop.store(true, Ordering::Relaxed);
        r
    })?;
    println!(
        "{}",
        json!({ "cycles": cycles, "sent": sent.load(Ordering::Relaxed), "held": hold })
    );
    Ok(())
}
