//! The commands that are one file each (or, `nfq`, one folder): traffic (`send`, `recv`),
//! counters (`stat`), the model's prediction (`model`), NFQUEUE (`nfq`), Landlock
//! (`landlock`) and the ioctl checks (`ioctl-check`).

pub mod check;
pub mod landlock;
pub mod model;
pub mod nfq;
pub mod recv;
pub mod send;
pub mod stat;
