// SPDX-License-Identifier: GPL-2.0

//! The port table of a netns: which udprx socket is bound to which UDP port. The table is
//! generic over what it holds (`PortTable<Socket>` in `pernet`), so it does not depend on
//! the socket.
//!
//! Readers (the hook and the handler, in softirq) look a port up under `rcu_read_lock()`
//! without taking any lock, as `__udp4_lib_lookup()` does; writers (bind and close, process
//! context) serialise on a mutex, publish a new sorted table and free the old one after a
//! grace period. Binds are rare and tables small, so copying on write is the simple choice.

use crate::kapi::rcu::RcuBox;
use kernel::{
    alloc::Flags,
    new_mutex,
    prelude::*,
    sync::{rcu, Arc, Mutex},
    time::{delay::fsleep, Delta},
};

/// One immutable version of the table, sorted by port.
struct Ports<T> {
    entries: KVec<(u16, Arc<T>)>,
}

/// The bound sockets of one netns.
#[pin_data]
pub(crate) struct PortTable<T> {
    current: RcuBox<Ports<T>>,
    #[pin]
    writer: Mutex<()>,
}

impl<T: Send + Sync> PortTable<T> {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            current: RcuBox::new(),
            writer <- new_mutex!(()),
        })
    }

    /// What is bound to `port`, valid while `guard` is held.
    pub(crate) fn lookup<'a>(&'a self, guard: &'a rcu::Guard, port: u16) -> Option<&'a T> {
        let ports = self.current.get(guard)?;
        let i = ports
            .entries
            .binary_search_by_key(&port, |(p, _)| *p)
            .ok()?;
        Some(&*ports.entries[i].1)
    }

    /// Whether a socket is bound to `port`.
    pub(crate) fn contains(&self, port: u16) -> bool {
        let guard = rcu::read_lock();
        self.lookup(&guard, port).is_some()
    }

    /// A copy of the current entries with room for one more, allocated with `flags`.
    ///
    /// Callers hold `writer`, so the table does not change between the two read sections.
    fn copy(&self, flags: Flags) -> Result<KVec<(u16, Arc<T>)>> {
        let len = {
            let guard = rcu::read_lock();
            self.current.get(&guard).map_or(0, |p| p.entries.len())
        };
        let mut new = KVec::with_capacity(len + 1, flags)?;
        let guard = rcu::read_lock();
        if let Some(old) = self.current.get(&guard) {
            for (p, s) in old.entries.iter() {
                new.push_within_capacity((*p, s.clone()))
                    .map_err(|_| ENOMEM)?;
            }
        }
        Ok(new)
    }

    /// Publishes `entries` and frees the old table (and the socket references it holds)
    /// after a grace period.
    fn publish(&self, entries: KVec<(u16, Arc<T>)>, flags: Flags) -> Result {
        let new = if entries.is_empty() {
            None
        } else {
            Some(KBox::new(Ports { entries }, flags)?)
        };
        drop(self.current.replace(new));
        Ok(())
    }

    /// Binds `sock` to `port`; `EADDRINUSE` when something else has it. `commit` runs
    /// after every allocation, under the writer lock, just before the new table is
    /// published: its error leaves the table as it was.
    pub(crate) fn insert(
        &self,
        port: u16,
        sock: Arc<T>,
        commit: impl FnOnce() -> Result,
    ) -> Result {
        let _w = self.writer.lock();
        let mut entries = self.copy(GFP_KERNEL)?;
        let i = match entries.binary_search_by_key(&port, |(p, _)| *p) {
            Ok(_) => return Err(EADDRINUSE),
            Err(i) => i,
        };
        entries
            .insert_within_capacity(i, (port, sock))
            .map_err(|_| ENOMEM)?;
        let new = KBox::new(Ports { entries }, GFP_KERNEL)?;
        commit()?;
        drop(self.current.replace(Some(new)));
        Ok(())
    }

    /// Unbinds whatever is bound to `port`; returns once no reader can see it any more.
    ///
    /// Called from `release()`, which cannot fail, so a failed allocation is retried after
    /// a short sleep (the `__GFP_NOFAIL` the kernel crate does not offer; allocations this
    /// small do not fail in practice).
    pub(crate) fn remove(&self, port: u16) {
        let _w = self.writer.lock();
        loop {
            let mut entries = match self.copy(GFP_KERNEL) {
                Ok(e) => e,
                Err(_) => {
                    fsleep(Delta::from_millis(1));
                    continue;
                }
            };
            let Ok(i) = entries.binary_search_by_key(&port, |(p, _)| *p) else {
                return;
            };
            drop(entries.remove(i));
            if self.publish(entries, GFP_KERNEL).is_ok() {
                return;
            }
            fsleep(Delta::from_millis(1));
        }
    }
}
