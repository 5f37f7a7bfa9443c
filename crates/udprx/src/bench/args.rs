//! The command line of `udprx bench`, and what a nanosecond of the guest's clock is.

use serde_json::Value;
use std::path::PathBuf;

#[derive(Clone, clap::Args)]
pub struct Args {
    /// udprx.ko built for the running kernel (loaded and unloaded by the bench).
    #[arg(long, required_unless_present_any = ["report", "profile_report"])]
    pub(super) module: Option<PathBuf>,
    /// udprx_twin.ko, the C twin of the hook; without it that variant is left out.
    #[arg(long)]
    pub(super) twin: Option<PathBuf>,
    /// Rounds of every variant, interleaved (under `--clock icount` the rounds differ by
    /// well under 1 %; on `wall` use 15 or more).
    #[arg(long, default_value_t = 5)]
    pub(super) rounds: u32,
    /// Packets per run (`pass`, `saturation`, every `two-cpus` run).
    #[arg(long, default_value_t = 100_000)]
    pub(super) count: u64,
    /// Datagrams queued, then read, per `enqueue`/`read` run (all must fit in memory).
    #[arg(long, default_value_t = 30_000)]
    pub(super) fill: u64,
    /// pktgen's frame size (Ethernet header included, no FCS).
    #[arg(long, default_value_t = 64)]
    pub(super) pkt_size: u32,
    /// Write bench.json and bench.png here.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// What the guest's clock counts, as the VM was started (scripts/bench.sh): `icount`
    /// when qemu ran with `-icount shift=0`, `wall` otherwise. Recorded, and said in the
    /// table; it does not change what is measured.
    #[arg(long, value_enum, default_value_t = Clock::Wall)]
    pub(super) clock: Clock,
    /// llvm-objdump to read `--module`'s object code with: the report then lists the calls
    /// out of the module on the per-datagram path (see `calls.rs`).
    #[arg(long)]
    pub(super) objdump: Option<PathBuf>,
    /// Measure nothing: only list those calls (needs `--objdump`; runs anywhere).
    #[arg(long, requires = "objdump", conflicts_with_all = ["smoke", "report"])]
    pub(super) calls_only: bool,
    /// Only these runs (comma-separated, or the flag repeated); all by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(super) only: Vec<Run>,
    /// One round of a few packets; checks conservation only and exits 1 on a mismatch.
    #[arg(long)]
    pub(super) smoke: bool,
    /// On the debug test kernel: where a read's time goes, udprx against stock, with the
    /// debug options that have a runtime switch switched off one by one and a `perf`
    /// profile by option (`debugread.rs`); writes debug-read.json.
    #[arg(long, conflicts_with_all = ["calls_only", "report"])]
    pub(super) debug_read: bool,
    /// Under the tcgprof plugin (scripts/bench.sh): `sync(2)` at the start of each enqueue
    /// and read and after it, the guest's symbols and the marks saved to `--out`
    /// (`profile.rs`).
    #[arg(long, requires = "out", conflicts_with_all = ["smoke", "debug_read", "calls_only"])]
    pub(super) profile_marks: bool,
    /// Measure nothing: attribute a profiled run's snapshots in DIR to functions, print
    /// the tables and write DIR/profile.json.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["smoke", "report", "profile_marks"])]
    pub(super) profile_report: Option<PathBuf>,
    /// Measure nothing: print the table of a saved bench.json (and with --out, draw its
    /// picture again).
    #[arg(long, value_name = "BENCH_JSON", conflicts_with = "smoke")]
    pub(super) report: Option<PathBuf>,
}

impl Args {
    /// Whether `run` is to be run (`--only`).
    pub(super) fn runs(&self, run: Run) -> bool {
        self.only.is_empty() || self.only.contains(&run)
    }
}

/// The runs of the bench, as `--only` names them.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Run {
    /// Traffic udprx lets through, against no module, the C twin, an empty nft chain.
    Pass,
    /// A socket with room for all, filled then read back (`enqueue` and `read`).
    Enqueue,
    /// A reader on CPU 1 against pktgen on CPU 0 (only on `--clock wall`).
    Saturation,
    /// pktgen on both CPUs, into one socket and into two (the figures only on `--clock
    /// wall`), and into one full socket.
    TwoCpus,
    /// A userspace sender over `lo`.
    Loopback,
}

/// What one nanosecond of the guest's clock is.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// qemu `-icount shift=0,sleep=off`: the guest's clock advances 1 ns per instruction
    /// executed, so every time the guest measures is a count of instructions: the same on
    /// every run and every host. What it leaves out is what instructions do not show:
    /// cache misses, the price of atomics and of masking interrupts on real hardware.
    Icount,
    /// Host time through TCG: what emulating each instruction cost the host, which depends
    /// on the instruction, the host and whatever else runs there.
    Wall,
}

impl Clock {
    /// Its name on the command line, which the report records.
    pub(super) fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The saved run's clock (runs saved before the clock was recorded ran on `wall`).
    pub(super) fn of(report: &Value) -> Self {
        report["clock"]
            .as_str()
            .and_then(|s| <Self as clap::ValueEnum>::from_str(s, false).ok())
            .unwrap_or(Clock::Wall)
    }

    /// The table's caveat.
    pub(super) fn caveat(self) -> &'static str {
        match self {
            Clock::Icount => concat!(
                "# clock: icount (qemu -icount shift=0): 1 ns of guest time = 1 instruction executed;\n",
                "# the figures are instruction counts, not times: cache misses and the price of\n",
                "# atomics and of masking interrupts on real hardware are not in them;\n",
                "# saturation and two-cpus are not measured (the vCPUs run in turns): BENCH_CLOCK=wall\n",
                "# measures them\n"
            ),
            Clock::Wall => {
                "# clock: wall; absolute figures are TCG-emulated time: compare only the ratios\n"
            }
        }
    }
}
