//! Kernel modules: loaded from an open file (`finit_module(2)`) and unloaded by name
//! (`delete_module(2)`), as `insmod` and `rmmod` do.

use anyhow::{Context, Result};
use std::{ffi::CStr, fs::File, os::fd::AsRawFd, path::Path};

/// Whether module `name` is loaded (`/sys/module/NAME` exists).
pub fn loaded(name: &str) -> bool {
    Path::new("/sys/module").join(name).exists()
}

/// `finit_module(2)` of the module file open as `file`, with no parameters: the syscall
/// and nothing else (a fault armed just before it is for the load alone).
pub fn load(file: &File) -> std::io::Result<()> {
    // SAFETY: finit_module with a valid fd and a NUL-terminated empty parameter string.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), c"".as_ptr(), 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `delete_module(2)` of module `name`, `O_NONBLOCK` (as `rmmod` does).
pub fn unload(name: &CStr) -> std::io::Result<()> {
    // SAFETY: delete_module with a NUL-terminated name.
    let rc = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `insmod PATH`.
pub fn insmod(path: &Path) -> Result<()> {
    let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    load(&f).context(format!("insmod {}", path.display()))
}

/// `rmmod NAME`, if it is loaded.
pub fn rmmod(name: &str) -> Result<()> {
    if !loaded(name) {
        return Ok(());
    }
    let c = std::ffi::CString::new(name)?;
    unload(&c).context(format!("rmmod {name}"))
}
