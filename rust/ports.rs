// SPDX-License-Identifier: GPL-2.0

//! The port table of a netns: which udprx socket is bound to which UDP port. The table is
//! generic over what it holds (`PortTable<Socket>` in `pernet`), so it does not depend on
//! the socket.
//!
//! Readers (the hook and the handler, in softirq) look a port up under `rcu_read_lock()`
//! without taking any lock, as `__udp4_lib_lookup()` does; writers (bind and close, process
//! context) serialise on a mutex. A bind publishes a new sorted table and frees the old
//! one after a grace period; binds are rare and tables small, so copying on write is the
//! simple choice. An unbind allocates nothing (as the kernel's unhash does not): it empties
//! the entry's own RCU slot in place, and the next bind's copy leaves the empty entry out.

use crate::kapi::rcu::{RcuBox, Retired};
use kernel::{
    alloc::Flags,
    new_mutex,
    prelude::*,
    sync::{rcu, Arc, Mutex},
};

/// One entry: a port and the RCU slot of what is bound to it (empty once unbound).
type Entry<T> = (u16, RcuBox<Arc<T>>);

/// One version of the table, sorted by port. Only the entries' slots change after it is
/// published.
struct Ports<T> {
    entries: KVec<Entry<T>>,
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

    /// The entry of `port` in the current table, valid while `guard` is held.
    fn entry<'a>(&'a self, guard: &'a rcu::Guard, port: u16) -> Option<&'a Entry<T>> {
        let ports = self.current.get(guard)?;
        let i = ports
            .entries
            .binary_search_by_key(&port, |(p, _)| *p)
            .ok()?;
        Some(&ports.entries[i])
    }

    /// What is bound to `port`, valid while `guard` is held.
    pub(crate) fn lookup<'a>(&'a self, guard: &'a rcu::Guard, port: u16) -> Option<&'a T> {
        self.entry(guard, port)?.1.get(guard).map(|a| &**a)
    }

    /// A copy of the bound entries (empty slots left out) with room for one more,
    /// allocated with `flags`.
    ///
    /// Callers hold `writer`, so the table does not change between the read sections. The
    /// references are taken under the RCU read lock, the allocations made outside it.
    fn copy(&self, flags: Flags) -> Result<KVec<Entry<T>>> {
        let len = {
            let guard = rcu::read_lock();
            self.current.get(&guard).map_or(0, |p| p.entries.len())
        };
        let mut bound = KVec::with_capacity(len, flags)?;
        {
            let guard = rcu::read_lock();
            if let Some(old) = self.current.get(&guard) {
                for (p, slot) in old.entries.iter() {
                    if let Some(s) = slot.get(&guard) {
                        bound
                            .push_within_capacity((*p, s.clone()))
                            .map_err(|_| ENOMEM)?;
                    }
                }
            }
        }
        let mut new = KVec::with_capacity(bound.len() + 1, flags)?;
        for (p, s) in bound {
            new.push_within_capacity((p, RcuBox::with(KBox::new(s, flags)?)))
                .map_err(|_| ENOMEM)?;
        }
        Ok(new)
    }

    /// Binds `sock` to the port `commit` returns, and returns it. `commit` runs after every
    /// allocation, under the writer lock, just before the new table is published: its
    /// error leaves the table as it was. `EADDRINUSE` when something else has the port.
    pub(crate) fn insert(&self, sock: Arc<T>, commit: impl FnOnce() -> Result<u16>) -> Result<u16> {
        let _w = self.writer.lock();
        // `copy()` leaves room for one more entry.
        let entries = self.copy(GFP_KERNEL)?;
        let slot = RcuBox::with(KBox::new(sock, GFP_KERNEL)?);
        let mut new = KBox::new(Ports { entries }, GFP_KERNEL)?;
        let port = commit()?;
        let i = match new.entries.binary_search_by_key(&port, |(p, _)| *p) {
            Ok(_) => return Err(EADDRINUSE),
            Err(i) => i,
        };
        new.entries
            .insert_within_capacity(i, (port, slot))
            .map_err(|_| ENOMEM)?;
        drop(self.current.replace(Some(new)));
        Ok(port)
    }

    /// Unbinds whatever is bound to `port`: new lookups no longer find it. Readers that
    /// found it before may hold it until the returned value is dropped, which waits for a
    /// grace period and then drops the reference the table held. Allocates nothing, so it
    /// cannot fail (it is called from `release()`).
    #[must_use = "dropping it waits for the readers"]
    pub(crate) fn remove(&self, port: u16) -> Option<Retired<Arc<T>>> {
        let _w = self.writer.lock();
        let guard = rcu::read_lock();
        self.entry(&guard, port).and_then(|(_, slot)| slot.retire())
    }
}
