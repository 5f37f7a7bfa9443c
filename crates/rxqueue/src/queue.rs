// SPDX-License-Identifier: GPL-2.0

//! The accounting rules. Sizes are `skb->truesize` in bytes. Every rule names the kernel
//! function and condition it mirrors; "3.13" is `v3.13` (the article's kernel), "7.3" the
//! running kernel. Both policies use the real skb's truesize as measured by the running
//! kernel.
//!
//! Protocol memory (`net.ipv4.udp_mem`, the owner's memory cgroup) is asked through a
//! [`Memory`]: the kernel module's is the socket's own `struct sock`, so the running kernel
//! judges every page; the host's is [`Unlimited`] or [`Pool`], a model of
//! `__sk_mem_raise_allocated()`. Not modelled: socket filters (they run before the queue)
//! and 7.3's per-NUMA-node producer queues (the model sees one producer at a time, as a
//! single CPU receiving does).
#![forbid(unsafe_code)]

/// `PAGE_SIZE` (x86_64): the quantum of `sk_forward_alloc`.
pub const PAGE_SIZE: u32 = 4096;
/// `INT_MAX`.
const INT_MAX: u32 = i32::MAX as u32;

/// Which kernel's rules a socket follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Linux 3.13: `udp_queue_rcv_skb()` → `sk_rcvqueues_full()` → backlog or
    /// `__udp_queue_rcv_skb()` → `sock_queue_rcv_skb()`.
    Classic,
    /// Linux 7.3: `__udp_queue_rcv_skb()` → `__udp_enqueue_schedule_skb()`, released by
    /// `udp_rmem_release()`.
    Modern,
}

/// Whether an arriving datagram of `truesize` would be condensed by a queue of `policy`
/// holding `rmem_alloc` of `rcvbuf`: [`Queue::wants_condense`] for a caller that keeps
/// those values where it can read them without the queue's lock, as 7.3 reads
/// `sk_rmem_alloc` and `sk_rcvbuf` (`READ_ONCE`) before it locks the receive queue.
pub const fn wants_condense(policy: Policy, rmem_alloc: u32, rcvbuf: u32, truesize: u32) -> bool {
    matches!(policy, Policy::Modern)
        && !rcvbuf_full_modern(rmem_alloc, rcvbuf, truesize)
        && rmem_alloc > rcvbuf >> 1
}

/// Whether `sk_rmem_alloc` would pass `INT_MAX` with `truesize` more.
const fn rmem_overflows(rmem: u32, truesize: u32) -> bool {
    rmem as u64 + truesize as u64 > INT_MAX as u64
}

/// 7.3 `__udp_enqueue_schedule_skb()`'s first test: `if (rmem + size > rcvbuf) { if
/// (rcvbuf > INT_MAX >> 1) goto drop; if (rmem) goto drop; }` — "Accept the packet if
/// queue is empty."
const fn rcvbuf_full_modern(rmem: u32, rcvbuf: u32, truesize: u32) -> bool {
    rmem as u64 + truesize as u64 > rcvbuf as u64 && (rcvbuf > INT_MAX >> 1 || rmem != 0)
}

impl Policy {
    /// The ABI value (`0` classic, `1` modern).
    pub const fn to_raw(self) -> u32 {
        match self {
            Policy::Classic => 0,
            Policy::Modern => 1,
        }
    }

    /// From the ABI value.
    pub const fn from_raw(v: u32) -> Option<Self> {
        match v {
            0 => Some(Policy::Classic),
            1 => Some(Policy::Modern),
            _ => None,
        }
    }
}

/// A UDP MIB counter a drop bumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "the kernel's counter names")]
pub enum Counter {
    /// `UDP_MIB_INERRORS`.
    InErrors,
    /// `UDP_MIB_RCVBUFERRORS`.
    RcvbufErrors,
    /// `UDP_MIB_MEMERRORS`.
    MemErrors,
}

/// Protocol memory, as `__sk_mem_schedule()` and `__sk_mem_reclaim()` see it: the pages
/// of `udp_memory_allocated` (limited by `net.ipv4.udp_mem`) and of the owner's memory
/// cgroup a socket holds beyond its charges (`sk_forward_alloc`, which the queue keeps).
pub trait Memory {
    /// `sk_rmem_alloc` is now `rmem_alloc` (`__sk_mem_raise_allocated()` reads it).
    fn set_rmem_alloc(&mut self, rmem_alloc: u32);
    /// `__sk_mem_schedule(sk, size, SK_MEM_RECV)`: `sk_mem_pages(size)` more pages;
    /// `false` (`-ENOBUFS`) when refused, and then nothing changed.
    fn schedule(&mut self, size: u32) -> bool;
    /// `__sk_mem_reclaim(sk, bytes)`: `bytes` (a multiple of `PAGE_SIZE`) go back.
    fn reclaim(&mut self, bytes: u32);
}

/// Memory that never runs out: what a socket sees far below `net.ipv4.udp_mem`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unlimited;

impl Memory for Unlimited {
    fn set_rmem_alloc(&mut self, _rmem_alloc: u32) {}
    fn schedule(&mut self, _size: u32) -> bool {
        true
    }
    fn reclaim(&mut self, _bytes: u32) {}
}

/// `udp_memory_allocated` against `net.ipv4.udp_mem`, as 7.3's
/// `__sk_mem_raise_allocated()` judges a receive charge (no memory cgroup), with the
/// per-CPU reserve of `sk_memory_allocated_add()` (`net.core.mem_pcpu_rsv`): pages are
/// added to the CPU's reserve and reach the global counter only when the reserve reaches
/// `pcpu_rsv` (or `-pcpu_rsv` when given back). One CPU, as the tests pin it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pool {
    /// `udp_memory_allocated` (pages), as `sk_memory_allocated()` reads it.
    pub allocated: i64,
    /// This CPU's `per_cpu_fw_alloc` (pages not yet in `allocated`).
    pub pcpu: i64,
    /// `net.core.mem_pcpu_rsv` (pages).
    pub pcpu_rsv: i64,
    /// `net.ipv4.udp_mem`: min, pressure, max (pages).
    pub limits: [i64; 3],
    /// `net.ipv4.udp_rmem_min` (`sk_get_rmem0()`).
    pub rmem0: u32,
    /// The socket's `sk_rmem_alloc`.
    pub rmem_alloc: u32,
}

impl Pool {
    /// `sk_memory_allocated_add()` / `_sub()` with the per-CPU reserve.
    fn add(&mut self, pages: i64) {
        self.pcpu += pages;
        if self.pcpu >= self.pcpu_rsv || self.pcpu <= -self.pcpu_rsv {
            self.allocated += self.pcpu;
            self.pcpu = 0;
        }
    }
}

impl Memory for Pool {
    fn set_rmem_alloc(&mut self, rmem_alloc: u32) {
        self.rmem_alloc = rmem_alloc;
    }

    /// `__sk_mem_raise_allocated(sk, size, amt, SK_MEM_RECV)` for UDP (no memory pressure
    /// flag): `if (!allocated) return 1;`, under `udp_mem[0]` yes, over `udp_mem[2]` no,
    /// in between only while `sk_rmem_alloc < sk_get_rmem0()`.
    fn schedule(&mut self, size: u32) -> bool {
        let amt = mem_pages(size);
        self.add(amt);
        let allocated = self.allocated.max(0);
        let ok = allocated == 0
            || allocated <= self.limits[0]
            || (allocated <= self.limits[2] && self.rmem_alloc < self.rmem0);
        if !ok {
            // `suppress_allocation:` `if (allocated) sk_memory_allocated_sub(sk, amt);`
            self.add(-amt);
        }
        ok
    }

    fn reclaim(&mut self, bytes: u32) {
        self.add(-i64::from(bytes / PAGE_SIZE));
    }
}

/// Why a datagram was dropped at the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropCause {
    /// 3.13 `udp_queue_rcv_skb()`: `if (sk_rcvqueues_full(sk, skb, sk->sk_rcvbuf)) goto
    /// drop;` with `sk_rcvqueues_full()` = `sk->sk_backlog.len + sk_rmem_alloc > limit`.
    /// The `drop:` label bumps `InErrors` only (and `sk_drops`).
    RcvqueuesFull,
    /// 3.13 `sock_queue_rcv_skb()`: `if (sk_rmem_alloc >= sk->sk_rcvbuf) return -ENOMEM;`,
    /// and 7.3 `__udp_enqueue_schedule_skb()`: `if (rmem + size > rcvbuf)` and then
    /// `rcvbuf > INT_MAX >> 1` or `rmem != 0` → `-ENOMEM`. In both `__udp_queue_rcv_skb()`
    /// charges `-ENOMEM` twice: `RcvbufErrors` and `InErrors` (and `sk_drops`).
    RcvbufFull,
    /// 3.13 `sock_queue_rcv_skb()`: `if (!sk_rmem_schedule(sk, skb, skb->truesize))
    /// return -ENOBUFS;` — protocol memory refused; `__udp_queue_rcv_skb()` bumps
    /// `InErrors` only for anything but `-ENOMEM`.
    RmemSchedule,
    /// 7.3 `__udp_enqueue_schedule_skb()`: `udp_rmem_schedule()` → `-ENOBUFS`, drop
    /// reason `PROTO_MEM`, `MemErrors` and `InErrors`.
    ProtoMem,
    /// Classic only, not a 3.13 rule: protocol memory refused for a datagram going to the
    /// backlog. 3.13 charged a backlogged skb only when the backlog was drained, so a held
    /// socket kept its backlog outside `udp_mem` and the memory cgroup; udprx charges it
    /// on arrival and drops it when refused, counted as 3.13's `sk_add_backlog()` failure
    /// (the `drop:` label: `InErrors` only), with drop reason `PROTO_MEM`.
    BacklogMem,
}

impl DropCause {
    /// The UDP MIB counters this drop bumps, in the kernel's order.
    pub const fn counters(self) -> &'static [Counter] {
        match self {
            DropCause::RcvqueuesFull | DropCause::RmemSchedule | DropCause::BacklogMem => {
                &[Counter::InErrors]
            }
            DropCause::RcvbufFull => &[Counter::RcvbufErrors, Counter::InErrors],
            DropCause::ProtoMem => &[Counter::MemErrors, Counter::InErrors],
        }
    }
}

/// What happened to an arriving datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Charged to `sk_rmem_alloc` and on the receive queue; readers are woken.
    Queued,
    /// On the backlog (the socket is owned by a task), charged to `sk_backlog.len`.
    Backlogged,
    /// Dropped at the socket (`sk_drops` + 1).
    Dropped(DropCause),
}

/// Sysctl values the socket options use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `net.core.rmem_max`.
    pub rmem_max: u32,
    /// `SOCK_MIN_RCVBUF` of the running kernel (`2048 + SKB_DATA_ALIGN(sizeof(struct
    /// sk_buff))`).
    pub min_rcvbuf: u32,
}

/// A snapshot of the accounting, as the info query reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// `sk_rcvbuf`.
    pub rcvbuf: u32,
    /// `sk_rmem_alloc`.
    pub rmem_alloc: u32,
    /// `sk_backlog.len` (bytes on the backlog).
    pub backlog_len: u32,
    /// Datagrams on the backlog.
    pub backlog_count: u32,
    /// Datagrams on the receive queue(s), readable.
    pub queued: u32,
    /// `sk_drops`.
    pub drops: u64,
    /// Whether a task owns the socket (`sock_owned_by_user()`).
    pub owned: bool,
    /// 7.3 `udp_sk(sk)->forward_deficit`: read but not yet uncharged bytes.
    pub forward_deficit: u32,
    /// 7.3 `sk_forward_alloc`.
    pub forward_alloc: i64,
    /// Classic: the truesizes of the backlogged datagrams not yet drained, charged to
    /// protocol memory while they wait.
    pub backlog_charged: u32,
}

/// The accounting state of one socket.
///
/// # Invariants
///
/// `rmem_alloc` is the sum of the truesizes of the queued datagrams plus
/// `forward_deficit`, and at most `INT_MAX` (it is mirrored in an `int`); `backlog_len` is
/// the sum of the truesizes on the backlog (classic) until the backlog is drained, and
/// `backlog_charged` the sum of those not yet drained; `reader_len <= queued`;
/// `forward_alloc + rmem_alloc + backlog_charged` is what `mem` has scheduled and not
/// reclaimed (a multiple of `PAGE_SIZE`), and `mem` was last told `rmem_alloc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue<M: Memory = Unlimited> {
    mem: M,
    policy: Policy,
    rcvbuf: u32,
    rmem_alloc: u32,
    backlog_len: u32,
    backlog_count: u32,
    backlog_charged: u32,
    owned: bool,
    queued: u32,
    /// 7.3: datagrams already moved to `up->reader_queue` (the rest are on
    /// `sk_receive_queue`).
    reader_len: u32,
    forward_deficit: u32,
    forward_threshold: u32,
    forward_alloc: i64,
    drops: u64,
}

/// `DIV_ROUND_UP(bytes, PAGE_SIZE)` (`sk_mem_pages()`).
const fn mem_pages(bytes: u32) -> i64 {
    (bytes as i64 + PAGE_SIZE as i64 - 1) / PAGE_SIZE as i64
}

impl Queue {
    /// A new socket with [`Unlimited`] memory: see [`Queue::with_memory`].
    pub const fn new(policy: Policy, rmem_default: u32) -> Self {
        Self::with_memory(policy, rmem_default, Unlimited)
    }
}

impl<M: Memory> Queue<M> {
    /// A new socket charging `mem`: `sock_init_data()` sets `sk_rcvbuf =
    /// net.core.rmem_default`; 7.3 `udp_lib_init_sock()` sets `forward_threshold =
    /// sk_rcvbuf >> 2`.
    pub const fn with_memory(policy: Policy, rmem_default: u32, mem: M) -> Self {
        Self {
            mem,
            policy,
            rcvbuf: rmem_default,
            rmem_alloc: 0,
            backlog_len: 0,
            backlog_count: 0,
            backlog_charged: 0,
            owned: false,
            queued: 0,
            reader_len: 0,
            forward_deficit: 0,
            forward_threshold: rmem_default >> 2,
            forward_alloc: 0,
            drops: 0,
        }
    }

    /// The protocol memory this socket charges.
    pub const fn memory(&self) -> &M {
        &self.mem
    }

    /// The protocol memory this socket charges, to change its limits.
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// `sk_rmem_alloc` changed to `rmem_alloc`: tell `mem`.
    fn set_rmem(&mut self, rmem_alloc: u32) {
        self.rmem_alloc = rmem_alloc;
        self.mem.set_rmem_alloc(rmem_alloc);
    }

    /// The policy.
    pub const fn policy(&self) -> Policy {
        self.policy
    }

    /// Changes the policy; only while nothing is charged (`EBUSY` territory otherwise).
    pub fn set_policy(&mut self, policy: Policy) -> bool {
        if self.rmem_alloc != 0 || self.backlog_count != 0 || self.owned {
            return false;
        }
        self.policy = policy;
        true
    }

    /// The state, as the info query reports it.
    pub const fn info(&self) -> Info {
        Info {
            rcvbuf: self.rcvbuf,
            rmem_alloc: self.rmem_alloc,
            backlog_len: self.backlog_len,
            backlog_count: self.backlog_count,
            queued: self.queued,
            drops: self.drops,
            owned: self.owned,
            forward_deficit: self.forward_deficit,
            forward_alloc: self.forward_alloc,
            backlog_charged: self.backlog_charged,
        }
    }

    /// Whether a datagram can be read now.
    pub const fn readable(&self) -> bool {
        self.queued != 0
    }

    /// `SO_RCVBUF` (`force == false`) or `SO_RCVBUFFORCE` with value `val`, as 7.3's
    /// `sk_setsockopt()` does for both policies (the option is the running kernel's):
    /// `SO_RCVBUF` clamps to `min_t(u32, val, rmem_max)` (a negative `val` is a huge u32,
    /// so it gets `rmem_max`); `SO_RCVBUFFORCE` takes `max(val, 0)`; then
    /// `__sock_set_rcvbuf()`: `val = min(val, INT_MAX / 2)`, `sk_rcvbuf = max(val * 2,
    /// SOCK_MIN_RCVBUF)`. `udp_lib_setsockopt()` then sets `forward_threshold = sk_rcvbuf
    /// >> 2`. (Whether the caller may force is the caller's check.)
    pub fn set_rcvbuf(&mut self, val: i32, force: bool, limits: Limits) {
        let val: i64 = if force {
            i64::from(val.max(0))
        } else {
            i64::from((val as u32).min(limits.rmem_max))
        };
        let val = val.min(i64::from(INT_MAX / 2));
        let rcvbuf = (val * 2).max(i64::from(limits.min_rcvbuf));
        self.set_rcvbuf_to(rcvbuf as u32);
    }

    /// `sk_rcvbuf` is now `rcvbuf` (as a socket option of the running kernel set it);
    /// `udp_lib_setsockopt()` sets `forward_threshold = sk_rcvbuf >> 2`.
    pub fn set_rcvbuf_to(&mut self, rcvbuf: u32) {
        self.rcvbuf = rcvbuf;
        self.forward_threshold = rcvbuf >> 2;
    }

    /// An arriving datagram of `truesize` bytes. `condense` is called when 7.3 would call
    /// `skb_condense()` (under memory pressure) and returns the truesize after it.
    pub fn enqueue(&mut self, truesize: u32, condense: impl FnOnce() -> u32) -> Outcome {
        match self.policy {
            Policy::Classic => self.enqueue_classic(truesize),
            Policy::Modern => self.enqueue_modern(truesize, condense),
        }
    }

    /// Whether an arriving datagram of `truesize` would be condensed now (7.3 only: it
    /// passes the first test and `rmem > rcvbuf >> 1`). The kernel reads `sk_rmem_alloc`
    /// without the queue's lock for this; a caller that condenses outside its lock asks
    /// here first and then calls [`Queue::enqueue_condensed`].
    pub fn wants_condense(&self, truesize: u32) -> bool {
        wants_condense(self.policy, self.rmem_alloc, self.rcvbuf, truesize)
    }

    const fn rcvbuf_full_modern(&self, truesize: u32) -> bool {
        rcvbuf_full_modern(self.rmem_alloc, self.rcvbuf, truesize)
    }

    /// An arriving datagram of `truesize` that the caller already condensed to
    /// `condensed` (after [`Queue::wants_condense`]): tested with `truesize`, as 7.3 tests
    /// before condensing, and charged `condensed`, what the skb now is. With `condensed ==
    /// truesize` this is [`Queue::enqueue`] without a condense.
    pub fn enqueue_condensed(&mut self, truesize: u32, condensed: u32) -> Outcome {
        match self.policy {
            Policy::Classic => self.enqueue_classic(truesize),
            Policy::Modern => self.enqueue_modern_sized(truesize, Some(condensed), || condensed),
        }
    }

    fn drop(&mut self, d: DropCause) -> Outcome {
        self.drops += 1;
        Outcome::Dropped(d)
    }

    /// 3.13 `udp_queue_rcv_skb()`, after the encapsulation, UDP-Lite and checksum steps.
    fn enqueue_classic(&mut self, truesize: u32) -> Outcome {
        // `if (sk_rcvqueues_full(sk, skb, sk->sk_rcvbuf)) goto drop;`
        // `qsize = sk->sk_backlog.len + atomic_read(&sk->sk_rmem_alloc); return qsize >
        // limit;` ("Do not take into account this skb truesize, to allow even a single big
        // packet to come.")
        let qsize = u64::from(self.backlog_len) + u64::from(self.rmem_alloc);
        if qsize > u64::from(self.rcvbuf) {
            return self.drop(DropCause::RcvqueuesFull);
        }
        // `if (!sock_owned_by_user(sk)) rc = __udp_queue_rcv_skb(sk, skb); else if
        // (sk_add_backlog(sk, skb, sk->sk_rcvbuf)) goto drop;` — `sk_add_backlog()` tests
        // `sk_rcvqueues_full()` again with the same state, which just passed.
        if self.owned {
            // Not 3.13: the datagram is charged while it waits (see `BacklogMem`).
            if !self.charge_classic(truesize) {
                return self.drop(DropCause::BacklogMem);
            }
            self.backlog_charged += truesize;
            self.backlog_len += truesize;
            self.backlog_count += 1;
            return Outcome::Backlogged;
        }
        self.queue_rcv_classic(truesize, false)
    }

    /// 3.13 `sk_rmem_schedule()` and `sk_mem_charge()`: `size <= sk->sk_forward_alloc ||
    /// __sk_mem_schedule(sk, size, SK_MEM_RECV)`, then `sk_forward_alloc -= size`. `false`
    /// (nothing changed) when protocol memory is refused.
    fn charge_classic(&mut self, size: u32) -> bool {
        if i64::from(size) > self.forward_alloc {
            if !self.mem.schedule(size) {
                return false;
            }
            self.forward_alloc += mem_pages(size) * i64::from(PAGE_SIZE);
        }
        self.forward_alloc -= i64::from(size);
        true
    }

    /// 3.13 `sk_mem_uncharge()` and `sk_mem_reclaim_partial()`: `sk_forward_alloc +=
    /// size`, and `if (sk->sk_forward_alloc > SK_MEM_QUANTUM) __sk_mem_reclaim(sk)`.
    fn uncharge_classic(&mut self, size: u32) {
        self.forward_alloc += i64::from(size);
        if self.forward_alloc > i64::from(PAGE_SIZE) {
            self.reclaim_classic();
        }
    }

    /// 3.13 `__udp_queue_rcv_skb()` → `sock_queue_rcv_skb()`; `charged` when the
    /// datagram was charged on its way to the backlog.
    fn queue_rcv_classic(&mut self, truesize: u32, charged: bool) -> Outcome {
        // `if (atomic_read(&sk->sk_rmem_alloc) >= sk->sk_rcvbuf) { atomic_inc(&sk->sk_drops);
        // return -ENOMEM; }` — and, not in 3.13, whenever `sk_rmem_alloc` would pass
        // `INT_MAX` (a forced `sk_rcvbuf` near it lets one skb past the limit, and 3.13's
        // `int` wrapped).
        if self.rmem_alloc >= self.rcvbuf || rmem_overflows(self.rmem_alloc, truesize) {
            if charged {
                self.uncharge_classic(truesize);
            }
            return self.drop(DropCause::RcvbufFull);
        }
        // `if (!sk_rmem_schedule(sk, skb, skb->truesize)) { atomic_inc(&sk->sk_drops);
        // return -ENOBUFS; }` (a pfmemalloc skb never gets here: the socket filter step
        // drops it), then `skb_set_owner_r()`: `atomic_add(skb->truesize,
        // &sk->sk_rmem_alloc); sk_mem_charge(sk, skb->truesize);`, `__skb_queue_tail()`.
        if !charged && !self.charge_classic(truesize) {
            return self.drop(DropCause::RmemSchedule);
        }
        self.set_rmem(self.rmem_alloc + truesize);
        self.queued += 1;
        Outcome::Queued
    }

    /// 7.3 `__udp_enqueue_schedule_skb()`.
    fn enqueue_modern(&mut self, truesize: u32, condense: impl FnOnce() -> u32) -> Outcome {
        self.enqueue_modern_sized(truesize, None, condense)
    }

    /// 7.3 `__udp_enqueue_schedule_skb()`; `charged` is the size of an skb condensed
    /// before the call.
    fn enqueue_modern_sized(
        &mut self,
        truesize: u32,
        charged: Option<u32>,
        condense: impl FnOnce() -> u32,
    ) -> Outcome {
        let rmem = self.rmem_alloc;
        let rcvbuf = self.rcvbuf;
        if self.rcvbuf_full_modern(truesize) {
            return self.drop(DropCause::RcvbufFull);
        }
        // `if (rmem > (rcvbuf >> 1)) { skb_condense(skb); size = skb->truesize; }`
        let size = match charged {
            Some(c) => c,
            None if rmem > rcvbuf >> 1 => condense(),
            None => truesize,
        };
        // `udp_rmem_schedule()`: `delta = size - sk->sk_forward_alloc; if (delta > 0 &&
        // !__sk_mem_schedule(sk, delta, SK_MEM_RECV)) return -ENOBUFS;` — scheduling
        // raises `sk_forward_alloc` by `sk_mem_pages(delta)` pages.
        // A refused schedule drops the skb with `SKB_DROP_REASON_PROTO_MEM`.
        let delta = i64::from(size) - self.forward_alloc;
        if delta > 0 {
            if !self.mem.schedule(delta as u32) {
                return self.drop(DropCause::ProtoMem);
            }
            self.forward_alloc += mem_pages(delta as u32) * i64::from(PAGE_SIZE);
        }
        // `sk_forward_alloc_add(sk, -size)`, `__skb_queue_tail(list, skb)`,
        // `atomic_add(q_size, &sk->sk_rmem_alloc)`.
        self.forward_alloc -= i64::from(size);
        self.set_rmem(self.rmem_alloc + size);
        self.queued += 1;
        Outcome::Queued
    }

    /// A datagram dropped at the socket for another reason (IPsec policy, a bad checksum
    /// found when read, a failed copy): `sk_drops` + 1, nothing else changes.
    pub fn count_drop(&mut self) {
        self.drops += 1;
    }

    /// A task takes ownership (`lock_sock()`): classic arrivals go to the backlog from now
    /// on. 7.3 UDP never looks at ownership on receive, so for `modern` this changes
    /// nothing but the flag.
    pub fn lock(&mut self) {
        self.owned = true;
    }

    /// One step of `release_sock()` → `__release_sock()`: the oldest backlogged datagram
    /// (of `truesize`) goes through `sk_backlog_rcv()` — 3.13 UDP's `backlog_rcv` is
    /// `__udp_queue_rcv_skb()`, i.e. `sock_queue_rcv_skb()`'s test, not
    /// `sk_rcvqueues_full()`. `sk_backlog.len` keeps counting it until [`Queue::release`]. It was charged when
    /// backlogged, so only the buffer test can drop it; a dropped one is uncharged.
    /// Returns `None` when the backlog is empty.
    pub fn drain_one(&mut self, truesize: u32) -> Option<Outcome> {
        if self.backlog_count == 0 {
            return None;
        }
        self.backlog_count -= 1;
        self.backlog_charged -= truesize;
        Some(self.queue_rcv_classic(truesize, true))
    }

    /// The end of `release_sock()`: after the backlog is drained (see
    /// [`Queue::drain_one`]), `sk->sk_backlog.len = 0` and the task lets go.
    pub fn release(&mut self) {
        self.backlog_len = 0;
        self.owned = false;
    }

    /// All of `release_sock()`: each datagram of `backlog`, oldest first, through
    /// [`Queue::drain_one`] with its `truesize`, then [`Queue::release`]. `each` gets every
    /// datagram with its outcome, [`Outcome::Queued`] or [`Outcome::Dropped`]. A datagram
    /// beyond what the model counts as backlogged (a caller's bug) is reported queued:
    /// kept rather than lost.
    pub fn release_backlog<T>(
        &mut self,
        backlog: impl IntoIterator<Item = T>,
        truesize: impl Fn(&T) -> u32,
        mut each: impl FnMut(T, Outcome),
    ) {
        for item in backlog {
            let outcome = self.drain_one(truesize(&item)).unwrap_or(Outcome::Queued);
            each(item, outcome);
        }
        self.release();
    }

    /// A datagram of `truesize` is read (or dropped at read time for a bad checksum):
    /// it leaves the queue and is uncharged.
    ///
    /// 3.13: `skb_free_datagram_locked()` → `sock_rfree()`: `sk_rmem_alloc -= truesize`,
    /// `sk_mem_uncharge()`: `sk_forward_alloc += truesize`; then `sk_mem_reclaim_partial()`:
    /// `if (sk->sk_forward_alloc > SK_MEM_QUANTUM) __sk_mem_reclaim(sk)`, which gives back
    /// the whole pages of `sk_forward_alloc`.
    /// 7.3: `__skb_recv_udp()` moves all of `sk_receive_queue` to the reader queue when the
    /// reader queue is empty, unlinks the head, and `udp_skb_destructor()` →
    /// `udp_rmem_release(sk, truesize, 1, ...)`: `forward_deficit += size`; `if (size <
    /// forward_threshold && !skb_queue_empty(&up->reader_queue)) return;` — the bytes stay
    /// charged; otherwise the whole deficit is uncharged, `amt = (size +
    /// sk_forward_alloc - partial) & ~(PAGE_SIZE - 1)` goes back to the protocol, the rest
    /// stays in `sk_forward_alloc`, and `sk_receive_queue` is spliced onto the reader queue.
    ///
    /// Returns `false` (and changes nothing) when nothing is queued.
    pub fn dequeue(&mut self, truesize: u32) -> bool {
        if self.queued == 0 {
            return false;
        }
        self.queued -= 1;
        match self.policy {
            Policy::Classic => {
                self.set_rmem(self.rmem_alloc - truesize);
                self.uncharge_classic(truesize);
            }
            Policy::Modern => {
                if self.reader_len == 0 {
                    self.reader_len = self.queued + 1;
                }
                self.reader_len -= 1;
                self.forward_deficit += truesize;
                let size = self.forward_deficit;
                if size < self.forward_threshold && self.reader_len != 0 {
                    return true;
                }
                self.uncharge_modern(size, 1);
                self.reader_len = self.queued;
            }
        }
        true
    }

    /// 7.3 `udp_rmem_release()`'s uncharge of `size` bytes (the deficit included):
    /// `sk_forward_alloc_add(sk, size); amt = (sk->sk_forward_alloc - partial) &
    /// ~(PAGE_SIZE - 1); sk_forward_alloc_add(sk, -amt); if (amt)
    /// __sk_mem_reduce_allocated(sk, amt >> PAGE_SHIFT); atomic_sub(size,
    /// &sk->sk_rmem_alloc);`
    fn uncharge_modern(&mut self, size: u32, partial: i64) {
        self.forward_deficit = 0;
        let amt = (i64::from(size) + self.forward_alloc - partial) & !(i64::from(PAGE_SIZE) - 1);
        self.forward_alloc += i64::from(size) - amt;
        if amt > 0 {
            self.mem.reclaim(amt as u32);
        }
        self.set_rmem(self.rmem_alloc - size);
    }

    /// 3.13 `__sk_mem_reclaim()`: `sk_memory_allocated_sub(sk, sk->sk_forward_alloc >>
    /// SK_MEM_QUANTUM_SHIFT); sk->sk_forward_alloc &= SK_MEM_QUANTUM - 1;`
    fn reclaim_classic(&mut self) {
        let amt = self.forward_alloc & !(i64::from(PAGE_SIZE) - 1);
        if amt > 0 {
            self.mem.reclaim(amt as u32);
            self.forward_alloc -= amt;
        }
    }

    /// Close: everything still queued is freed and uncharged. 3.13:
    /// `udp_destroy_sock()` purges (`sock_rfree()` each), then `inet_sock_destruct()` →
    /// `sk_mem_reclaim()`; 7.3 `udp_destruct_common()`: purge, then `udp_rmem_release(sk,
    /// total, 0, true)` with the deficit. The backlog of a socket closed while owned is
    /// released first (`release_sock()` in `udp_lib_close`). Afterwards nothing is
    /// charged and `forward_alloc` is 0. Returns the number of datagrams freed.
    pub fn close(&mut self) -> u32 {
        let n = self.queued;
        match self.policy {
            Policy::Classic => {
                self.forward_alloc += i64::from(self.rmem_alloc);
                self.set_rmem(0);
                self.reclaim_classic();
            }
            Policy::Modern => {
                let total = self.rmem_alloc;
                self.uncharge_modern(total, 0);
            }
        }
        self.queued = 0;
        self.reader_len = 0;
        n
    }
}
