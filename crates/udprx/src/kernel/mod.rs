//! What the tools say to the udprx module and to the kernel, each in one place: the
//! sockets of `/dev/udprx` ([`dev`]), the counters of `/proc/net` ([`counters`]),
//! interfaces and veth pairs ([`link`]), and socket and cgroup BPF programs ([`filter`]).
//! Nothing here knows the commands that use it.

pub mod counters;
pub mod dev;
pub mod filter;
pub mod link;
