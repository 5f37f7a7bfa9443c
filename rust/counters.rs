// SPDX-License-Identifier: GPL-2.0

//! Counters in the format of `/proc/net/snmp`: per group, a line of names and a line of
//! values, both led by the group name.

use kernel::{
    seq_file::SeqFile,
    seq_print,
    sync::atomic::{Atomic, Relaxed},
};

/// A group of counters that can be read at any time without tearing.
///
/// Each counter is a 64-bit atomic, bumped from softirq context and read from `/proc`.
pub(crate) struct MibGroup<const N: usize> {
    name: &'static str,
    fields: [&'static str; N],
    values: [Atomic<u64>; N],
}

impl<const N: usize> MibGroup<N> {
    /// A group called `name` with counters `fields`, all zero.
    pub(crate) const fn new(name: &'static str, fields: [&'static str; N]) -> Self {
        Self {
            name,
            fields,
            values: [const { Atomic::new(0) }; N],
        }
    }

    /// Adds one to counter `i`.
    pub(crate) fn inc(&self, i: usize) {
        self.values[i].add(1, Relaxed);
    }

    /// Writes the group as `/proc/net/snmp` does: `Name: A B C` then `Name: 1 2 3`.
    pub(crate) fn show(&self, m: &SeqFile) {
        seq_print!(m, "{}:", self.name);
        for f in &self.fields {
            seq_print!(m, " {}", f);
        }
        seq_print!(m, "\n{}:", self.name);
        for v in &self.values {
            seq_print!(m, " {}", v.load(Relaxed));
        }
        seq_print!(m, "\n");
    }
}
