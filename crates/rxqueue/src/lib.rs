// SPDX-License-Identifier: GPL-2.0

//! Receive-queue accounting of a UDP socket, as a pure model with no kernel types: the
//! rules of Linux 3.13 (`classic`, the ones the article walks through) and of Linux 7.3
//! (`modern`, what the running kernel does), each rule citing the function and condition
//! it comes from.
//!
//! The rules live in `queue.rs` and its parts in `queue/`, which the udprx kernel module
//! compiles as a module of its own crate (`#[path]`), so the module and the host tests run
//! the very same code.
#![no_std]
#![forbid(unsafe_code)]

mod queue;
pub use queue::*;
