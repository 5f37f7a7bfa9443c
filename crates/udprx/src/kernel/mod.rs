//! What the tools say to the udprx module and to the kernel, each in one place: the
//! sockets of `/dev/udprx` ([`dev`]), the counters of `/proc/net` ([`counters`]),
//! interfaces and veth pairs ([`link`]), socket and cgroup BPF programs ([`filter`]), and
//! loading and unloading modules ([`module`]).
//! Nothing here knows the commands that use it.

pub mod counters;
pub mod dev;
pub mod filter;
pub mod link;
pub mod module;
pub mod signal;
pub mod socket;
