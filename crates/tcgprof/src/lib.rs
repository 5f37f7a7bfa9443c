// SPDX-License-Identifier: GPL-2.0

//! tcgprof: a QEMU TCG plugin (`qemu-system-x86_64 -plugin libtcgprof.so,mark=ADDR,out=DIR`)
//! that counts, for every translation block the guest executes, how often it ran, and
//! writes all counts to `DIR/snap-N` each time the guest executes the block at `ADDR`
//! (N = 0, 1, ...; one more at exit). `make bench` sets `ADDR` to the guest kernel's
//! `__x64_sys_sync`, so a `sync(2)` in the guest marks a phase; two snapshots' difference
//! is what ran between two marks, block by block, which `udprx bench --profile-report`
//! attributes to functions with the guest's `/proc/kallsyms`.
//!
//! A snapshot line is `VADDR INSNS EXECS` (hex, decimal, decimal): a block's start, its
//! guest instructions, and how often it ran; a block translated twice has two lines.
//! Counts are exact under `-icount` (one vCPU at a time) and race-free in any mode.
//!
//! The API is QEMU's `include/qemu/qemu-plugin.h`; the symbols resolve against the qemu
//! binary when it loads the plugin.

use std::{
    ffi::{c_char, c_int, c_uint, c_void, CStr},
    fs::File,
    io::{BufWriter, Write},
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
        Mutex, OnceLock,
    },
};

type PluginId = u64;

/// `struct qemu_plugin_tb`, opaque.
#[repr(C)]
struct Tb {
    _opaque: [u8; 0],
}

/// `QEMU_PLUGIN_CB_NO_REGS`.
const CB_NO_REGS: c_int = 0;

extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: PluginId, cb: extern "C" fn(PluginId, *mut Tb));
    fn qemu_plugin_register_vcpu_tb_exec_cb(
        tb: *mut Tb,
        cb: extern "C" fn(c_uint, *mut c_void),
        flags: c_int,
        userdata: *mut c_void,
    );
    fn qemu_plugin_tb_n_insns(tb: *const Tb) -> usize;
    fn qemu_plugin_tb_vaddr(tb: *const Tb) -> u64;
    fn qemu_plugin_register_atexit_cb(
        id: PluginId,
        cb: extern "C" fn(PluginId, *mut c_void),
        userdata: *mut c_void,
    );
}

/// The plugin API version this plugin is written against (QEMU 9.0 and later accept 4).
#[no_mangle]
pub static qemu_plugin_version: c_int = 4;

/// One translation of a block: where it starts, its instructions, its executions.
struct Block {
    vaddr: u64,
    insns: u64,
    execs: AtomicU64,
}

struct Config {
    mark: u64,
    out: PathBuf,
}

static CONFIG: OnceLock<Config> = OnceLock::new();
/// Every block translated so far; never freed (a block may run until qemu exits).
static BLOCKS: Mutex<Vec<&'static Block>> = Mutex::new(Vec::new());
static SNAPSHOTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_exec(_vcpu: c_uint, userdata: *mut c_void) {
    // SAFETY: `userdata` is the leaked `Block` registered with this callback in `on_trans`.
    let block = unsafe { &*userdata.cast::<Block>() };
    block.execs.fetch_add(1, Relaxed);
}

/// Writes every block that ran to the next `snap-N`.
fn snapshot() {
    let Some(cfg) = CONFIG.get() else { return };
    let n = SNAPSHOTS.fetch_add(1, Relaxed);
    let path = cfg.out.join(format!("snap-{n}"));
    let blocks = BLOCKS.lock().unwrap_or_else(|e| e.into_inner());
    let write = || -> std::io::Result<()> {
        let mut f = BufWriter::new(File::create(&path)?);
        for b in blocks.iter() {
            let execs = b.execs.load(Relaxed);
            if execs != 0 {
                writeln!(f, "{:x} {} {}", b.vaddr, b.insns, execs)?;
            }
        }
        f.flush()
    };
    if let Err(e) = write() {
        eprintln!("tcgprof: {}: {e}", path.display());
    }
}

extern "C" fn on_mark(_vcpu: c_uint, _userdata: *mut c_void) {
    snapshot();
}

extern "C" fn on_exit(_id: PluginId, _userdata: *mut c_void) {
    snapshot();
}

extern "C" fn on_trans(_id: PluginId, tb: *mut Tb) {
    // SAFETY: QEMU passes a block being translated, valid for this callback.
    let (vaddr, insns) = unsafe { (qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_n_insns(tb)) };
    let block: &'static Block = Box::leak(Box::new(Block {
        vaddr,
        insns: insns as u64,
        execs: AtomicU64::new(0),
    }));
    BLOCKS.lock().unwrap_or_else(|e| e.into_inner()).push(block);
    let mark = CONFIG.get().map(|c| c.mark);
    // SAFETY: `tb` is being translated; both callbacks are `extern "C"` with the
    // signature QEMU calls, and `block` lives until qemu exits.
    unsafe {
        if mark == Some(vaddr) {
            qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, CB_NO_REGS, core::ptr::null_mut());
        }
        qemu_plugin_register_vcpu_tb_exec_cb(
            tb,
            on_exec,
            CB_NO_REGS,
            core::ptr::from_ref(block).cast_mut().cast(),
        );
    }
}

/// `mark=HEX` and `out=DIR` from the plugin's arguments.
fn parse(args: &[&str]) -> Result<Config, String> {
    let (mut mark, mut out) = (None, None);
    for a in args {
        match a.split_once('=') {
            Some(("mark", v)) => {
                let v = v.trim_start_matches("0x");
                mark = Some(u64::from_str_radix(v, 16).map_err(|e| format!("mark={v}: {e}"))?);
            }
            Some(("out", v)) => out = Some(PathBuf::from(v)),
            _ => return Err(format!("unknown argument '{a}' (mark=HEX, out=DIR)")),
        }
    }
    Ok(Config {
        mark: mark.ok_or("no mark=HEX")?,
        out: out.ok_or("no out=DIR")?,
    })
}

/// # Safety
///
/// Called by QEMU once, with `argc` valid C strings at `argv`.
#[no_mangle]
pub unsafe extern "C" fn qemu_plugin_install(
    id: PluginId,
    _info: *const c_void,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    let args: Vec<&str> = (0..argc.max(0) as usize)
        // SAFETY: QEMU passes `argc` valid NUL-terminated strings.
        .map(|i| {
            unsafe { CStr::from_ptr(*argv.add(i)) }
                .to_str()
                .unwrap_or("")
        })
        .collect();
    match parse(&args) {
        Ok(cfg) => {
            let _ = CONFIG.set(cfg);
        }
        Err(e) => {
            eprintln!("tcgprof: {e}");
            return -1;
        }
    }
    // SAFETY: `id` is this plugin's; the callbacks have the signatures QEMU calls.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
        qemu_plugin_register_atexit_cb(id, on_exit, core::ptr::null_mut());
    }
    0
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn arguments() {
        let c = parse(&["mark=ffffffff812841a0", "out=/tmp/p"]).unwrap();
        assert_eq!(c.mark, 0xffff_ffff_8128_41a0);
        assert_eq!(c.out.to_str(), Some("/tmp/p"));
        assert!(parse(&["mark=0x10"]).is_err());
        assert!(parse(&["out=/x", "mark=zz"]).is_err());
        assert!(parse(&["mark=1", "out=/x", "other=1"]).is_err());
    }
}
