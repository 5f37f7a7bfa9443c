//! `udprx landlock`: run a command in a Landlock domain that lets it bind UDP sockets to
//! the given ports only (`LANDLOCK_ACCESS_NET_BIND_UDP`, Landlock ABI 10), as a sandboxed
//! service would be started.

use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;

#[derive(clap::Args)]
pub struct Args {
    /// A port the command may bind UDP sockets to (repeat for more; none: no UDP bind).
    #[arg(long = "bind-udp", value_name = "PORT")]
    ports: Vec<u16>,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, required = true)]
    cmd: Vec<String>,
}

/// `struct landlock_ruleset_attr` as of ABI 4 (the kernel takes a prefix of its struct).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_net_port_attr`.
#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1 << 0;
const LANDLOCK_RULE_NET_PORT: u32 = 2;
const LANDLOCK_ACCESS_NET_BIND_UDP: u64 = 1 << 2;
/// The ABI that brought `LANDLOCK_ACCESS_NET_BIND_UDP`.
const ABI_BIND_UDP: i64 = 10;

fn check(r: libc::c_long, what: &str) -> Result<libc::c_long> {
    if r < 0 {
        Err(std::io::Error::last_os_error()).with_context(|| what.to_string())
    } else {
        Ok(r)
    }
}

pub fn run(a: &Args) -> Result<()> {
    // SAFETY: The version query takes no attribute.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    let abi = check(
        abi,
        "landlock_create_ruleset(VERSION) (is Landlock enabled?)",
    )?;
    if abi < ABI_BIND_UDP {
        bail!("Landlock ABI {abi}: LANDLOCK_ACCESS_NET_BIND_UDP needs {ABI_BIND_UDP}");
    }
    let attr = RulesetAttr {
        handled_access_fs: 0,
        handled_access_net: LANDLOCK_ACCESS_NET_BIND_UDP,
        scoped: 0,
    };
    // SAFETY: `attr` is a valid attribute of the given size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        )
    };
    let fd = check(fd, "landlock_create_ruleset")? as libc::c_int;
    for &port in &a.ports {
        let rule = NetPortAttr {
            allowed_access: LANDLOCK_ACCESS_NET_BIND_UDP,
            port: port.into(),
        };
        // SAFETY: `rule` is a valid `struct landlock_net_port_attr`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                fd,
                LANDLOCK_RULE_NET_PORT,
                &rule as *const NetPortAttr,
                0u32,
            )
        };
        check(r, "landlock_add_rule")?;
    }
    // SAFETY: Plain prctl; no pointers.
    check(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into(),
        "PR_SET_NO_NEW_PRIVS",
    )?;
    // SAFETY: `fd` is the ruleset created above.
    check(
        unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) },
        "landlock_restrict_self",
    )?;
    // SAFETY: Closing our own descriptor.
    unsafe { libc::close(fd) };
    let err = std::process::Command::new(&a.cmd[0])
        .args(&a.cmd[1..])
        .exec();
    Err(err).with_context(|| format!("exec {}", a.cmd[0]))
}
