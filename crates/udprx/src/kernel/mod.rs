//! What the tools say to the udprx module and to the kernel, each in one place: the
//! sockets of `/dev/udprx` ([`dev`]), the counters of `/proc/net` ([`counters`]), options
//! of stock sockets ([`socket`]), interfaces and veth pairs ([`link`]), network namespaces
//! ([`netns`]), socket and cgroup BPF programs ([`filter`]), kernel modules ([`module`]),
//! and the signals that end a run ([`signal`]). Nothing here uses the commands.

pub mod counters;
pub mod dev;
pub mod filter;
pub mod link;
pub mod module;
pub mod netns;
pub mod signal;
pub mod socket;
