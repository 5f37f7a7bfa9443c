// SPDX-License-Identifier: GPL-2.0

//! `race`: threads racing bind, read, poll, epoll and the socket ioctls on shared udprx
//! sockets, closing and reopening them, while two senders fill them.

use super::rng::Rng;
use crate::{datagram, kernel::dev::Device};
use anyhow::{bail, Result};
use serde_json::json;
use std::{
    net::{Ipv4Addr, UdpSocket},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

pub(super) fn race(port: u16, files: u16, threads: u32, seconds: f64, seed: u64) -> Result<()> {
    if files == 0 || port.checked_add(files - 1).is_none() {
        bail!("--files: 1 or more, and PORT + FILES - 1 a port");
    }
    // Slot i holds the socket of port PORT + i. With more than one file, threads also close
    // a slot's socket and open a new one in its place while the others use it.
    let slots: Vec<std::sync::Mutex<Arc<Device>>> = (0..files)
        .map(|_| Device::open(true).map(|d| std::sync::Mutex::new(Arc::new(d))))
        .collect::<Result<_>>()?;
    let slot = |i: usize| slots[i].lock().unwrap_or_else(|e| e.into_inner()).clone();
    // Everyone binds the first socket at once: exactly one wins, the others get EINVAL.
    let first = slot(0);
    let wins: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let d = first.clone();
                s.spawn(move || d.bind(port).is_ok())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(false)).collect()
    });
    drop(first);
    let won = wins.iter().filter(|w| **w).count();
    if won != 1 {
        bail!("{won} of {threads} racing binds succeeded, want 1");
    }
    for i in 1..files {
        slot(usize::from(i)).bind(port + i)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let read = Arc::new(AtomicU64::new(0));
    let reopened = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (stop, sent) = (stop.clone(), sent.clone());
            s.spawn(move || {
                let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("sender socket");
                let p = datagram::payload(t, 200);
                let mut rng = Rng::new(seed ^ (0x5eed + t));
                while !stop.load(Ordering::Relaxed) {
                    let to = port + rng.below(u64::from(files)) as u16;
                    if u.send_to(&p, (Ipv4Addr::LOCALHOST, to)).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        for t in 0..threads {
            let (read, reopened, slots, slot) = (read.clone(), reopened.clone(), &slots, &slot);
            let mut rng = Rng::new(seed + u64::from(t));
            s.spawn(move || {
                let mut buf = vec![0u8; 2048];
                let prog = crate::kernel::filter::max_len(4000);
                let ops = if files > 1 { 11 } else { 10 };
                while Instant::now() < deadline {
                    let i = rng.below(u64::from(files)) as usize;
                    let dev = slot(i);
                    match rng.below(ops) {
                        0..=2 => {
                            if dev.read_nonblocking(&mut buf) {
                                read.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        3 => {
                            let _ = dev.wait_readable(Some(Duration::ZERO));
                        }
                        4 => {
                            let _ = dev.info();
                        }
                        5 => {
                            let _ = dev.set_rcvbuf(1000 + rng.below(200_000) as i32, false);
                        }
                        6 => {
                            if dev.hold().is_ok() {
                                std::thread::yield_now();
                                let _ = dev.release();
                            }
                        }
                        7 => {
                            let _ = dev.attach_filter(&prog);
                        }
                        8 => {
                            let _ = dev.detach_filter();
                        }
                        9 => {
                            let _ = dev.epoll_readable();
                        }
                        _ => {
                            // Close and reopen: the old socket is closed by whichever
                            // thread drops it last, perhaps in the middle of its read;
                            // the new one binds once the port is free again.
                            drop(dev);
                            let Ok(new) = Device::open(true) else {
                                continue;
                            };
                            let new = Arc::new(new);
                            let old = std::mem::replace(
                                &mut *slots[i].lock().unwrap_or_else(|e| e.into_inner()),
                                new.clone(),
                            );
                            drop(old);
                            reopened.fetch_add(1, Ordering::Relaxed);
                            for _ in 0..100 {
                                if new.bind(port + i as u16).is_ok() {
                                    break;
                                }
                                std::thread::yield_now();
                            }
                        }
                    }
                }
            });
        }
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
    });
    // A socket left held is released by close; what is queued is freed by it.
    let mut queued = 0u64;
    for i in 0..usize::from(files) {
        queued += u64::from(slot(i).info()?.queued);
    }
    println!(
        "{}",
        json!({ "sent": sent.load(Ordering::Relaxed), "read": read.load(Ordering::Relaxed),
                "queued_at_close": queued, "reopened": reopened.load(Ordering::Relaxed),
                "files": files, "threads": threads })
    );
    drop(slots);
    Ok(())
}
