//! The `two-cpus` runs: two pktgen threads, one on each CPU, at once.

use super::{
    pktgen::{pktgen, span_secs},
    runs::{Bench, ROOM_FOR_ALL},
    rx::{Side, RX_PORT},
};
use anyhow::Result;
use serde_json::json;

/// Where the two threads send.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sockets {
    /// Both into one socket: the two CPUs share its queue and its lock.
    One,
    /// Each into its own socket (`RX_PORT`, `RX_PORT + 1`): nothing of the socket is
    /// shared.
    Two,
}

impl Sockets {
    /// The run's name, and its metric's prefix.
    pub(super) fn kind(self) -> &'static str {
        match self {
            Sockets::One => "two-cpus-one-socket",
            Sockets::Two => "two-cpus-two-sockets",
        }
    }
}

impl Bench<'_> {
    /// pktgen on CPU 0 and CPU 1, `count / 2` datagrams each (a span of a few tenths of a
    /// second: `fill`'s would be too short for the host clock's noise), into `sockets` with
    /// room for all, then every datagram read back: datagrams delivered (queued, read back, and
    /// conserved) per second of the run's wall time, from the first thread's start to
    /// the later one's stop.
    ///
    /// Wall time, not pktgen's busy time: busy time is each thread's own CPU time (its
    /// elapsed time less what it spent scheduled out), so the sum of both would be a cost
    /// per packet, not a rate, and either one alone leaves out the other thread's share of
    /// the run and whatever start skew between them. The span is what two CPUs take to
    /// deliver them all, waits on the shared socket's lock included: that is what scales,
    /// or does not, from one socket to two. It means something only on `--clock wall`:
    /// under icount qemu runs the vCPUs in turns.
    pub(super) fn two_cpus(&mut self, side: Side, sockets: Sockets) -> Result<()> {
        let ports: &[u16] = match sockets {
            Sockets::One => &[RX_PORT],
            Sockets::Two => &[RX_PORT, RX_PORT + 1],
        };
        let (rxs, before) = self.sockets(side, ports, Some(ROOM_FOR_ALL))?;
        let streams = [(0, ports[0]), (1, *ports.last().unwrap_or(&RX_PORT))];
        let rs = pktgen(&streams, self.a.count / 2, self.a.pkt_size, &self.mac)?;
        let span = span_secs(&rs);
        let mut ok = true;
        let mut per_socket = Vec::new();
        let mut read = 0;
        for (rx, &port) in rxs.iter().zip(ports) {
            let sent: u64 = rs
                .iter()
                .zip(&streams)
                .filter(|(_, s)| s.1 == port)
                .map(|(r, _)| r.sent)
                .sum();
            let (n, drops) = (rx.drain(), rx.drops()?);
            ok &= sent == n + drops;
            read += n;
            per_socket.push(json!({ "port": port, "sent": sent, "read": n, "drops": drops }));
        }
        let sent = rs.iter().map(|r| r.sent).sum();
        self.record(
            &format!("{}/{}", sockets.kind(), side.name()),
            read as f64 / span,
        );
        self.conserve_also(
            sockets.kind(),
            side,
            sent,
            read,
            &before,
            (ok, json!({ "per_socket": per_socket, "seconds": span })),
        )
    }

    /// Two pktgen threads (CPU 0 and CPU 1), `count / 2` packets each, into one socket with
    /// its default buffer and no reader: most are dropped, by both CPUs at once. Only its
    /// conservation check: nothing reads while pktgen sends (a reader would take one of the
    /// two CPUs from pktgen), so its rate would be that of drops.
    pub(super) fn two_cpus_full(&mut self, side: Side) -> Result<()> {
        let (rxs, before) = self.sockets(side, &[RX_PORT], None)?;
        let rs = pktgen(
            &[(0, RX_PORT), (1, RX_PORT)],
            self.a.count / 2,
            self.a.pkt_size,
            &self.mac,
        )?;
        let read = rxs.iter().map(|rx| rx.drain()).sum();
        let sent = rs.iter().map(|r| r.sent).sum();
        self.conserve_also(
            "two-cpus-full",
            side,
            sent,
            read,
            &before,
            (true, json!({})),
        )
    }
}
