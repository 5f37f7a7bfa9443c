// SPDX-License-Identifier: GPL-2.0

//! A udprx socket: one open file of `/dev/udprx`, in the opener's netns, bound to one UDP
//! port there; it queues datagrams for `read()` under the accounting model
//! ([`crate::rxqueue`]) and the socket's policy.
//!
//! Each is backed by a kernel UDP socket of its opener ([`UdpSocket`]), bound with
//! `bind(2)`: it owns the port in the stock tables, carries the socket filter, and is
//! what protocol memory and the memory cgroup are charged to. The queue and its books are
//! udprx's; what the stock path queues on the backing socket enters udprx's queue
//! ([`Socket::absorb_strays`]).

use crate::{
    abi,
    counters::{DropReason, UdpMib},
    kapi::{
        bhlock::{new_spinlock_bh, BhDisabled, SpinLockBh},
        miscdev::{in_compat_syscall, DeviceFile, POLL_READABLE},
        netns::Net,
        skb::SkbQueue,
        sock::{Sock, StrayRcv, UdpSocket},
    },
    pernet::{NetState, UdprxNet},
    rxqueue::{self, Policy},
    Udprx,
};
use kernel::{
    fs::File,
    iov::IovIterDest,
    new_mutex, new_poll_condvar,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        barrier::{smp_mb, Full},
        poll::PollCondVar,
        poll::PollTable,
        rcu, Arc, ArcBorrow, Mutex,
    },
    uaccess::{UserPtr, UserSlice},
};

mod read;
mod rx;

use read::ReaderQueue;
use rx::{RxQueue, SockMemory};

/// One udprx socket.
///
/// # Locks
///
/// `reader` (7.3's `up->reader_queue.lock`) comes before `rx` (`sk_receive_queue.lock`):
/// `rx` is taken inside `reader`, never the other way round. Both are taken with bottom
/// halves disabled. Each field is written under one lock only:
///
/// - `reader`: the reader queue and the reader part of the accounting (its length,
///   `forward_deficit`, `forward_threshold`) and `reader_nonempty`; written by `read()`
///   (take a datagram, splice), the buffer's size (the threshold), close.
/// - `rx`: the shared queue, the backlog, the shared part of the accounting
///   (`sk_rmem_alloc`, `sk_forward_alloc`, `sk_rcvbuf`, the policy, the backlog's counts,
///   `sk_drops`, the shared queue's length), `sleepers`, `nonempty`, `rcvbuf_hint`,
///   `policy_hint`; written by arrivals, a modern `read()` when it splices or uncharges,
///   a classic `read()`, drops, hold/release, the policy, the buffer's size, close.
///
/// A `modern` reader holds `reader` for every datagram and takes `rx` inside it only to
/// splice the shared queue onto an empty reader queue or to uncharge the deficit; a
/// `classic` reader takes `rx` alone (see `socket/read.rs`). `port` (a mutex) is never
/// taken under either.
///
/// # Invariants
///
/// `port` is `Some(p)` exactly while the socket is in its netns's port table under `p`.
#[pin_data]
pub(crate) struct Socket {
    /// The netns the socket lives in (that of the task that opened it).
    net: ARef<Net>,
    /// What it shares with its netns's hook and handler: the port table, the counters.
    state: Arc<NetState>,
    /// The kernel UDP socket that owns the port in the stock tables.
    sock: UdpSocket,
    /// The reader queue (`modern`) and its accounting; skbs are freed only after it is
    /// dropped.
    #[pin]
    reader: SpinLockBh<ReaderQueue>,
    /// The shared receive queue, backlog and accounting, which arrivals take in softirq;
    /// skbs are freed only after it is dropped.
    #[pin]
    rx: SpinLockBh<RxQueue>,
    /// Readers and pollers wait here; arrivals wake them (`sk_data_ready()`).
    #[pin]
    wait: PollCondVar,
    /// Set for good by the first `poll()`: from then on every arrival wakes `wait`, before
    /// only when a reader sleeps there (as `sock_def_readable()` tests
    /// `skwq_has_sleeper()`).
    polled: Atomic<bool>,
    /// Whether the shared queue holds a datagram, as last published under `rx`, and
    /// whether the reader queue does, as last published under `reader`: a non-blocking
    /// read tests both first, as `__skb_recv_udp()` tests `skb_queue_empty_lockless()`.
    nonempty: Atomic<bool>,
    reader_nonempty: Atomic<bool>,
    /// `sk_rcvbuf` and the policy as last set under `rx`, read without the lock by an
    /// arrival deciding whether to condense the skb (as 7.3 reads `sk_rcvbuf`).
    rcvbuf_hint: Atomic<u32>,
    policy_hint: Atomic<u32>,
    /// The bound port; binding and closing serialise on it.
    #[pin]
    port: Mutex<Option<u16>>,
}

impl Socket {
    /// `UDPRX_SOCKET`: a descriptor of the backing socket, to bind with `bind(2)`.
    fn socket_fd(&self) -> Result<isize> {
        // Serialised with binds: no descriptor is made while the socket is bound to udprx.
        let port = self.port.lock();
        if port.is_some() {
            return Err(EINVAL);
        }
        Ok(self.sock.new_fd()? as isize)
    }

    /// `UDPRX_BIND`: the backing socket, bound with `bind(2)` and its descriptors closed,
    /// enters udprx's port table under the port it got.
    fn bind(this: ArcBorrow<'_, Self>, args: abi::BindArgs) -> Result<isize> {
        if args.flags != 0 || args.reserved != 0 {
            return Err(EINVAL);
        }
        if !this.net.current_has_net_admin() {
            return Err(EPERM);
        }
        let state = &this.state;
        let mut port = this.port.lock();
        if port.is_some() {
            return Err(EINVAL);
        }
        let inserted = state.ports.insert(this.into(), || {
            // SAFETY: `release` detaches the socket and waits for a grace period before
            // this socket (and so the module) can go, and so does a failed insert below;
            // `socket_fd` makes no descriptor while we hold the `port` mutex, and none
            // once the port is set.
            unsafe { this.sock.attach::<Self>() }?;
            let sk = this.sock.sk();
            let p = sk.port();
            if p == 0 || sk.has_encap() || sk.recverr() {
                // Not bound yet, or not a plain UDP socket.
                return Err(EINVAL);
            }
            if (args.port != 0 && args.port != p) || !sk.owns_port_alone() {
                // Another port than the caller asked for (a cgroup `bind4` program may
                // rewrite it), or one other sockets may share (a local address or device,
                // `SO_REUSEADDR` / `SO_REUSEPORT`): the hook, which goes by port alone,
                // would take their datagrams.
                return Err(EADDRNOTAVAIL);
            }
            // What `SO_RCVBUF` set through a descriptor before.
            this.set_rcvbuf_to(this.sock.rcvbuf());
            Ok(p)
        });
        let bound = match inserted {
            Ok(p) => p,
            Err(e) => {
                if this.sock.detach::<Self>() {
                    rcu::synchronize_rcu();
                }
                return Err(e);
            }
        };
        // INVARIANT: In the table under `bound` from now until `release`.
        *port = Some(bound);
        // What the stock path queued before the table had the port; from now on every
        // stray is announced to a socket the table finds (`StrayRcv`). The barrier pairs
        // with the one in `data_ready`: either it finds the table's new entry, or this
        // finds its datagram on the backing socket's queue.
        smp_mb(Full);
        this.absorb_strays(state);
        Ok(0)
    }

    fn set_rcvbuf(&self, args: abi::RcvbufArgs) -> Result<isize> {
        if args.flags & !abi::RCVBUF_FORCE != 0 {
            return Err(EINVAL);
        }
        let force = args.flags & abi::RCVBUF_FORCE != 0;
        // Serialised with other settings (and binds), so that the queue keeps the value
        // the socket got last.
        let _settings = self.port.lock();
        // The backing socket's own option decides (the LSM, cgroup setsockopt programs,
        // `SO_RCVBUFFORCE`'s capability, the clamp and doubling); the queue takes its
        // `sk_rcvbuf`, so the stock path's test on that socket and udprx's agree.
        self.set_rcvbuf_to(self.sock.set_rcvbuf(args.val, force)?);
        Ok(0)
    }
}

impl DeviceFile for Socket {
    type Owner = Udprx;

    fn open() -> Result<Arc<Self>> {
        let net = Net::current();
        // There from the end of the netns's `init` to its `pre_exit`, which cannot come while
        // a task of the netns holds a reference to it.
        let state = net.data::<UdprxNet>().ok_or(ENODEV)?.shared();
        let sock = UdpSocket::new(&net)?;
        let rcvbuf = sock.rcvbuf();
        let mem = SockMemory {
            sk: sock.sk_ref(),
            rmem: 0,
        };
        Arc::pin_init(
            pin_init!(Self {
                net,
                state,
                sock,
                reader <- new_spinlock_bh!(ReaderQueue {
                    skbs: SkbQueue::new(),
                    acct: rxqueue::Reader::new(rcvbuf),
                }, "udprx_socket_reader"),
                rx <- new_spinlock_bh!(RxQueue {
                    skbs: SkbQueue::new(),
                    backlog: SkbQueue::new(),
                    acct: rxqueue::Shared::with_memory(Policy::Modern, rcvbuf, mem),
                    sleepers: 0,
                }, "udprx_socket_rx"),
                wait <- new_poll_condvar!("udprx_socket_wait"),
                polled: Atomic::new(false),
                nonempty: Atomic::new(false),
                reader_nonempty: Atomic::new(false),
                rcvbuf_hint: Atomic::new(rcvbuf),
                policy_hint: Atomic::new(Policy::Modern.to_raw()),
                port <- new_mutex!(None, "udprx_socket_port"),
            }),
            GFP_KERNEL,
        )
    }

    /// One datagram per call, as `recv()` on a UDP socket: a short buffer gets the first
    /// bytes and the rest of that datagram is discarded. A bad checksum that could not be
    /// checked on arrival is found here (as in `udp_recvmsg()`): the datagram is counted
    /// (`InCsumErrors`, `InErrors`, socket drops), dropped, and the next one is tried.
    /// Inlined into the file's `read_iter`, which calls nothing else.
    #[inline(always)]
    fn read(this: ArcBorrow<'_, Self>, to: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        loop {
            let mut skb = this.dequeue(nonblock)?;
            let state = &this.state;
            let copied = to.len().min(skb.len() as usize);
            // `udp_recvmsg()` folds the verification into the copy when the whole datagram
            // is copied (`skb_copy_and_csum_datagram_msg()`) and does it first otherwise
            // (`__udp_lib_checksum_complete()`); doing it first always has the same outcome.
            if !skb.csum_unnecessary() && skb.checksum_complete_bad() {
                this.count_drop();
                state.mib.udp.inc(UdpMib::InCsumErrors);
                state.mib.udp.inc(UdpMib::InErrors);
                state.mib.drop_queued(skb, DropReason::UdpCsum);
                continue;
            }
            if let Err(e) = skb.copy_to(to, copied) {
                this.count_drop();
                state.mib.udp.inc(UdpMib::InErrors);
                state.mib.drop_queued(skb, DropReason::NotSpecified);
                return Err(e);
            }
            state.mib.udp.inc(UdpMib::InDatagrams);
            skb.consume(&BhDisabled::new());
            return Ok(copied);
        }
    }

    fn poll(this: ArcBorrow<'_, Self>, file: &File, table: PollTable<'_>) -> u32 {
        this.polled.store(true, Relaxed);
        table.register_wait(file, &this.wait);
        if this.readable() {
            POLL_READABLE
        } else {
            0
        }
    }

    fn ioctl(this: ArcBorrow<'_, Self>, cmd: u32, arg: UserPtr) -> Result<isize> {
        match cmd {
            abi::UDPRX_BIND => {
                let mut raw = [0u8; abi::BindArgs::SIZE];
                UserSlice::new(arg, raw.len())
                    .reader()
                    .read_slice(&mut raw)?;
                Self::bind(
                    this,
                    abi::BindArgs::read_from_bytes(&raw).map_err(|_| EINVAL)?,
                )
            }
            abi::UDPRX_SET_RCVBUF => {
                let mut raw = [0u8; abi::RcvbufArgs::SIZE];
                UserSlice::new(arg, raw.len())
                    .reader()
                    .read_slice(&mut raw)?;
                this.set_rcvbuf(abi::RcvbufArgs::read_from_bytes(&raw).map_err(|_| EINVAL)?)
            }
            abi::UDPRX_SET_POLICY => {
                let mut raw = [0u8; 4];
                UserSlice::new(arg, raw.len())
                    .reader()
                    .read_slice(&mut raw)?;
                let policy = Policy::from_raw(u32::from_ne_bytes(raw)).ok_or(EINVAL)?;
                let mut q = this.rx.lock();
                if q.acct.set_policy(policy) {
                    this.policy_hint.store(policy.to_raw(), Relaxed);
                    Ok(0)
                } else {
                    Err(EBUSY)
                }
            }
            abi::UDPRX_HOLD => {
                let mut q = this.rx.lock();
                if q.acct.owned() {
                    return Err(EBUSY);
                }
                q.acct.lock();
                Ok(0)
            }
            abi::UDPRX_RELEASE => this.release_backlog().map(|()| 0),
            abi::UDPRX_SOCKET => this.socket_fd(),
            abi::UDPRX_ATTACH_FILTER => this
                .sock
                .attach_filter(arg, abi::SOCK_FPROG_SIZE as u32)
                .map(|()| 0),
            abi::UDPRX_ATTACH_FILTER_COMPAT if in_compat_syscall() => this
                .sock
                .attach_filter(arg, abi::COMPAT_SOCK_FPROG_SIZE as u32)
                .map(|()| 0),
            abi::UDPRX_DETACH_FILTER => this.sock.detach_filter().map(|()| 0),
            abi::UDPRX_INFO => {
                let info = this.info();
                let bytes = info.as_bytes();
                UserSlice::new(arg, bytes.len())
                    .writer()
                    .write_slice(bytes)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    /// Close: unbind from udprx's table and from the stock one, wait until no softirq can
    /// reach either socket, release a held socket's backlog, then free what is still
    /// queued (`SKB_DROP_REASON_SOCKET_CLOSE`) and uncharge it: nothing stays charged.
    ///
    /// What the stock path queued on the backing socket after the port left udprx's table
    /// is freed and counted the same way: no datagram that reached the port goes
    /// uncounted.
    fn release(this: Arc<Self>) {
        let state = &this.state;
        if let Some(port) = this.port.lock().take() {
            let retired = state.ports.remove(port);
            this.sock.unhash();
            this.sock.detach::<Self>();
            // One grace period (dropping `retired` waits for it): lookups of either table
            // that found this socket are over, as both receive paths run under
            // `rcu_read_lock()`, and so are calls of its `sk_data_ready`.
            match retired {
                Some(r) => drop(r),
                None => rcu::synchronize_rcu(),
            }
            while let Some(skb) = this.sock.recv_stray() {
                state.mib.drop_queued(skb, DropReason::SocketClose);
            }
        }
        // A socket that never bound to udprx was never taken over: it is the stock
        // path's, and whoever still holds a descriptor of it keeps it.
        this.purge();
    }
}

impl StrayRcv for Socket {
    /// The stock path queued a datagram on a backing socket: the socket the port table
    /// holds for its port takes it, if that is the one it backs. Otherwise the port is
    /// between sockets (a bind that has not reached the table yet absorbs it itself, a
    /// close frees it).
    fn data_ready(sk: &Sock) {
        // Pairs with the barrier in `bind` (the datagram was queued before this call).
        smp_mb(Full);
        let Some(state) = sk.net().data::<UdprxNet>() else {
            return;
        };
        let guard = rcu::read_lock();
        if let Some(socket) = state.ports.lookup(&guard, sk.port()) {
            if socket.sock.is(sk) {
                socket.absorb_strays(state);
            }
        }
    }
}
