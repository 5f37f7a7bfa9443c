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
//!
//! A socket's accounting is two parts, as 7.3 keeps it under two locks: [`Shared`], what
//! arrivals change under `sk_receive_queue.lock`, and [`Reader`], what the reader changes
//! under `up->reader_queue.lock` (the reader queue and `forward_deficit`); `reader.rs`
//! says which steps of a read take which. [`Queue`] is both under one lock, one call per
//! datagram read.
#![forbid(unsafe_code)]

// The parts are the files of `queue/`, each named with `#[path]`: the kernel module
// includes this file through `#[path]` as well, and from such a file a plain `mod` looks
// for its parts next to it rather than in `queue/`.
#[path = "queue/backlog.rs"]
mod backlog;
#[path = "queue/charge.rs"]
mod charge;
#[path = "queue/dequeue.rs"]
mod dequeue;
#[path = "queue/enqueue.rs"]
mod enqueue;
#[path = "queue/memory.rs"]
mod memory;
#[path = "queue/policy.rs"]
mod policy;
#[path = "queue/reader.rs"]
mod reader;
#[path = "queue/single.rs"]
mod single;
#[path = "queue/state.rs"]
mod state;

#[allow(
    unused_imports,
    reason = "the kernel module compiles this file too and uses only part of it"
)]
pub use self::{
    enqueue::wants_condense,
    memory::{Memory, Pool, Unlimited, PAGE_SIZE},
    policy::{Counter, DropCause, Outcome, Policy},
    reader::{Reader, Take},
    single::Queue,
    state::{Info, Limits, Shared},
};
