// SPDX-License-Identifier: GPL-2.0

//! The kernel API room (`kapi`): the only part of udprx that touches raw kernel pointers.
//! (Not `ffi`, which is the kernel crate's module of C types, `kernel::ffi`, used here.)
//!
//! Each kernel object the module uses is wrapped in a small type whose constructor does the
//! registration (or borrows the object) and whose `Drop` undoes it: [`skb::Skb`],
//! [`netns::Net`] (borrowed, or counted as `ARef<Net>`), [`netns::PernetRegistration`], [`netfilter::HookRegistration`],
//! [`protocol::ProtoRegistration`], [`proc::ProcNetEntry`], [`miscdev::MiscRegistration`], [`bhlock::SpinLockBh`],
//! [`rcu::RcuBox`], [`percpu::PerCpuCounters`], [`sock::UdpSocket`], [`sock::Sock`], [`skb::QueuedSkb`], [`skb::SkbQueue`]. The other rooms see only these.
//!
//! The raw declarations come from `bindgen` over `shim.h` (run by Kbuild with the kernel's
//! C flags); `shim.c` holds out-of-line copies of the inline functions and macros we need,
//! and the few lines of kernel C udprx runs as they are (each naming its source).

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unreachable_pub,
    unused_imports,
    improper_ctypes,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_cast_constness
)]
mod bindings {
    include!("bindings_generated.rs");
}

pub(crate) mod bhlock;
pub(crate) mod miscdev;
pub(crate) mod netfilter;
pub(crate) mod netns;
pub(crate) mod percpu;
pub(crate) mod proc;
pub(crate) mod protocol;
pub(crate) mod rcu;
pub(crate) mod skb;
pub(crate) mod sock;

/// IP protocol number of UDP (`IPPROTO_UDP`).
pub(crate) const IPPROTO_UDP: u8 = bindings::IPPROTO_UDP as u8;
