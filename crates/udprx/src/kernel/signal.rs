//! SIGINT and SIGTERM as the end of a run: blocked from the start, so that one sent at any
//! moment stays pending until the run looks for it, and ends it cleanly.

use anyhow::{Context, Result};

/// Blocks SIGINT and SIGTERM (`sigprocmask`) in the calling thread.
pub fn block() -> Result<()> {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::SIGINT);
    set.add(nix::sys::signal::SIGTERM);
    set.thread_block().context("sigprocmask")?;
    Ok(())
}

/// Waits for SIGINT or SIGTERM (blocked since start-up) or until `timeout`.
pub fn wait(timeout: Option<f64>) -> Result<()> {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::SIGINT);
    set.add(nix::sys::signal::SIGTERM);
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.trunc() as libc::time_t,
        tv_nsec: (t.fract() * 1e9) as libc::c_long,
    });
    loop {
        // SAFETY: `set` is a valid signal set; `ts` is null or a valid timespec.
        let r = unsafe {
            libc::sigtimedwait(
                set.as_ref(),
                std::ptr::null_mut(),
                ts.as_ref().map_or(std::ptr::null(), |t| t),
            )
        };
        if r >= 0 {
            return Ok(());
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => return Ok(()),
            Some(libc::EINTR) => continue,
            _ => return Err(std::io::Error::last_os_error()).context("sigtimedwait"),
        }
    }
}

/// Whether SIGINT or SIGTERM is pending (they are blocked from start-up).
pub fn stop_requested() -> bool {
    // SAFETY: `set` is a plain sigset_t that sigpending fills in.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set) == 0
            && (libc::sigismember(&set, libc::SIGTERM) == 1
                || libc::sigismember(&set, libc::SIGINT) == 1)
    }
}
