// SPDX-License-Identifier: GPL-2.0

//! Which kernel's rules a socket follows, and what becomes of an arriving datagram: its
//! outcome, why it was dropped, and the UDP MIB counters a drop bumps.

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
