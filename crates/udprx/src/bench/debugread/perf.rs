//! `perf record` of CPU 0 while a reader drains a socket, driven through its control FIFOs.

use anyhow::{bail, Context, Result};
use nix::{
    fcntl::OFlag,
    poll::{poll, PollFd, PollFlags, PollTimeout},
    sys::{signal, stat::Mode},
    unistd::Pid,
};
use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Write},
    os::{fd::AsFd, unix::fs::OpenOptionsExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

/// Instructions (icount) or nanoseconds between samples; not a round number, so that it
/// does not beat with a loop's period.
pub(super) const PERIOD: u64 = 10_007;

/// `perf record` of CPU 0, started with its events disabled, driven through its control
/// FIFOs.
pub(super) struct Perf {
    child: Child,
    ctl: File,
    ack: File,
    data: PathBuf,
    /// Removed when perf is done with them.
    fifos: [PathBuf; 2],
}

impl Perf {
    pub(super) fn start(name: &str) -> Result<Self> {
        // The FIFOs in the guest's own /tmp, not in a directory shared with the host.
        let tmp = std::env::temp_dir();
        let (ctl_path, ack_path) = (
            tmp.join(format!("udprx-perf-{name}.ctl")),
            tmp.join(format!("udprx-perf-{name}.ack")),
        );
        for p in [&ctl_path, &ack_path] {
            let _ = fs::remove_file(p);
            nix::unistd::mkfifo(p, Mode::S_IRUSR | Mode::S_IWUSR)
                .with_context(|| format!("mkfifo {}", p.display()))?;
        }
        // perf's writes from its ring buffer fail on a 9p share (EFAULT): the data goes to
        // /tmp too.
        let data = tmp.join(format!("udprx-perf-{name}.data"));
        // Pinned to CPU 1, away from the reader it samples.
        let child = Command::new("taskset")
            .args(["-c", "1", "perf", "record", "-e", "cpu-clock", "-c"])
            .arg(PERIOD.to_string())
            .args(["-g", "-C", "0", "-D", "-1", "--control"])
            .arg(format!(
                "fifo:{},{}",
                ctl_path.display(),
                ack_path.display()
            ))
            .arg("-o")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("run perf record")?;
        // Read-write ends never block on open, whatever perf has opened yet.
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(OFlag::O_CLOEXEC.bits())
                .open(p)
                .with_context(|| format!("open {}", p.display()))
        };
        let (ctl, ack) = (open(&ctl_path)?, open(&ack_path)?);
        Ok(Self {
            child,
            ctl,
            ack,
            data,
            fifos: [ctl_path, ack_path],
        })
    }

    /// Sends a control command and waits for perf's `ack`.
    pub(super) fn command(&mut self, cmd: &str) -> Result<()> {
        self.ctl.write_all(format!("{cmd}\n").as_bytes())?;
        let mut got = Vec::new();
        while !got.ends_with(b"ack\n") {
            let mut fds = [PollFd::new(self.ack.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(30_000u16))? == 0 {
                if let Some(st) = self.child.try_wait()? {
                    bail!("perf record exited ({st}) before acknowledging {cmd}");
                }
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("perf record did not acknowledge {cmd} within 30 s: killed");
            }
            let mut buf = [0u8; 16];
            let n = self.ack.read(&mut buf)?;
            got.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }

    pub(super) fn stop(mut self) -> Result<PathBuf> {
        signal::kill(
            Pid::from_raw(self.child.id() as i32),
            signal::Signal::SIGINT,
        )?;
        // perf writes out what it has and exits; one that does not within 2 minutes is
        // killed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let st = loop {
            if let Some(st) = self.child.try_wait()? {
                break st;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("perf record did not exit within 2 minutes of SIGINT: killed");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        for p in &self.fifos {
            let _ = fs::remove_file(p);
        }
        if !st.success() && st.code() != Some(130) {
            bail!("perf record: {st}");
        }
        Ok(self.data)
    }
}
