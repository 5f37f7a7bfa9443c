//! The calls left on the per-datagram path, read from the module's object code.
//!
//! `llvm-objdump -dr` of `udprx.ko` gives every function and, under each `call` or tail
//! `jmp`, the relocation naming its target. From the roots — the `LOCAL_IN` hook and the
//! protocol handler (each arrival), the file's `read_iter` (each read) — every call to a
//! function of the module is followed; what is left are the calls out of the module. Each
//! is put in one of these kinds:
//! - `shim` (`udprx_*`, rust/kapi/shim.c) and `rust helper` (`rust_helper_*`, the kernel
//!   crate's rust/helpers/): an inline function or macro of C, called out of line. C would
//!   inline each: the goal is none;
//! - `kernel crate`: a Rust function of the kernel crate (`kernel::`) not inlined into the
//!   module; C has no such layer, so each is a call C would not make either;
//! - `rust core`: Rust's `core` library (an assertion's failure);
//! - `kernel`: an exported function of the kernel (`kfree_skb_reason`, `_raw_spin_lock_bh`,
//!   ...), which C calls out of line as well;
//! - `indirect`: a call through a pointer (an skb destructor, a socket callback), as in C.
//!
//! The walk is static: it follows every path, the error paths included, so a call is on the
//! list if any datagram may make it, not how often one does.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

/// The roots, by a part of their demangled names: what runs for every datagram delivered.
const ROOTS: [(&str, &str); 3] = [
    ("udprx_main::hook", "LOCAL_IN hook"),
    ("udprx_main::handler", "protocol handler"),
    ("read_iter", "read()"),
];

/// Why each call out of the module that the bench kernel's udprx.ko makes is there: what
/// makes the same call on the stock path (7.3's `udp_rcv()`, `udp_recvmsg()`). A symbol not
/// here is reported as unexplained.
const EXPLAINED: [(&str, &str); 34] = [
    ("_raw_spin_lock_bh", "the queue's lock; 7.3 takes sk_receive_queue.lock so (out of line)"),
    ("_raw_spin_unlock_bh", "the queue's lock, released"),
    (
        "_raw_spin_lock",
        "the queue's lock where bottom halves are off, as __udp_enqueue_schedule_skb()",
    ),
    ("_raw_spin_unlock", "that lock, released"),
    ("skb_condense", "past half a full buffer, as __udp_enqueue_schedule_skb()"),
    ("__sk_mem_schedule", "charging a page of udp_mem, as udp_rmem_schedule()"),
    ("__sk_mem_reclaim", "uncharging whole pages, as udp_rmem_release()"),
    ("sk_skb_reason_drop", "freeing an skb (kfree_skb_reason(), consume_skb())"),
    ("skb_copy_datagram_iter", "the copy of a non-linear datagram, as udp_recvmsg()"),
    ("_copy_to_iter", "copy_linear_skb(): a linear datagram's copy, as udp_recvmsg()"),
    ("iov_iter_revert", "copy_to_iter_full() undoing a copy cut short by a fault"),
    ("napi_consume_skb", "freeing a read datagram, as skb_consume_udp()"),
    ("__skb_checksum_complete", "a checksum left to verify, as __udp_lib_checksum_complete()"),
    ("csum_partial", "a checksum over a header pulled or trimmed, as the skb helpers do"),
    ("prepare_to_wait_exclusive", "a blocking read going to sleep, as __skb_wait_for_more_packets()"),
    ("schedule_timeout", "a blocking read asleep"),
    ("finish_wait", "a blocking read woken"),
    ("sk_filter_trim_cap", "the socket filter, as udp_queue_rcv_one_skb()"),
    ("__pskb_pull_tail", "pskb_may_pull() on a non-linear skb"),
    ("pskb_trim_rcsum_slow", "pskb_trim_rcsum() on a datagram shorter than its packet"),
    ("skb_pull_rcsum", "udp_csum_pull_header()'s pull of a GRO datagram's header"),
    ("__skb_gso_segment", "udp_rcv_segment(): a GSO packet the socket does not take whole"),
    ("nf_conntrack_destroy", "nf_reset_ct() dropping the last conntrack reference"),
    ("__nf_conntrack_confirm", "confirming conntrack before the stolen datagram leaves netfilter"),
    ("__icmp_send", "port unreachable, as udp_rcv()'s no-socket path"),
    ("skb_copy_bits", "skb_header_pointer() on a non-linear skb (the hook's header read)"),
    ("__local_bh_enable_ip", "local_bh_enable() with softirqs pending"),
    ("preempt_schedule_thunk", "preempt_enable() with a reschedule pending"),
    ("refcount_warn_saturate", "a refcount over- or underflow warning"),
    ("ktime_get_with_offset", "skb_clear_delivery_time(): a delivery time replaced by now"),
    ("dst_release", "skb_dst_drop() before queueing, as udp_queue_rcv_one_skb()"),
    ("core::panicking::assert_failed_inner", "an assertion's failure (C: BUG/WARN)"),
    (
        "<kernel::sync::condvar::CondVar>::notify",
        "waking a sleeping reader: __wake_up(); stock calls sk_data_ready, then __wake_up_sync_key()",
    ),
    ("indirect", "skb_orphan(): the skb's destructor, when it has one"),
];

/// Why the stock path makes the call too, if this version knows.
fn why(sym: &str) -> Option<&'static str> {
    EXPLAINED.iter().find(|e| e.0 == sym).map(|e| e.1)
}

/// A function's body: which functions of the module and which outside symbols it calls.
#[derive(Default)]
struct Body {
    local: BTreeSet<String>,
    out: BTreeSet<String>,
    indirect: bool,
}

/// The kind of a call out of the module (see the module's doc).
pub(super) fn kind(sym: &str) -> &'static str {
    if sym.starts_with("udprx_") && !sym.contains("::") {
        "shim"
    } else if sym.starts_with("rust_helper_") {
        "rust helper"
    } else if sym.starts_with("kernel::") || sym.starts_with("<kernel::") {
        "kernel crate"
    } else if sym.starts_with("core::") || sym.starts_with("<core::") {
        "rust core"
    } else if sym == "indirect" {
        "indirect"
    } else {
        "kernel"
    }
}

/// Whether C would have inlined a call of this kind.
pub(super) fn c_inlines(kind: &str) -> bool {
    matches!(kind, "shim" | "rust helper")
}

/// The symbol a relocation names, without its addend.
fn reloc_target(line: &str) -> Option<String> {
    let mut it = line.split_whitespace();
    let _off = it.next()?.strip_suffix(':')?;
    let ty = it.next()?;
    if !ty.starts_with("R_X86_64_") {
        return None;
    }
    let rest: Vec<&str> = it.collect();
    let sym = rest.join(" ");
    // `name-0x4`, `name+0x10`: the addend follows the last sign.
    let cut = sym
        .rfind("-0x")
        .or_else(|| sym.rfind("+0x"))
        .unwrap_or(sym.len());
    let sym = &sym[..cut];
    Some(sym.strip_prefix(".text.").unwrap_or(sym).to_string())
}

/// The functions of `objdump`'s output, each with its calls.
fn parse(dump: &str) -> BTreeMap<String, Body> {
    let mut funcs: BTreeMap<String, Body> = BTreeMap::new();
    let mut cur: Option<String> = None;
    // Whether the last instruction was a call or jump whose relocation comes next.
    let mut pending = false;
    for line in dump.lines() {
        if let Some(name) = line
            .strip_suffix(">:")
            .and_then(|l| l.split_once(" <"))
            .map(|(_, n)| n.to_string())
        {
            funcs.entry(name.clone()).or_default();
            cur = Some(name);
            pending = false;
            continue;
        }
        let Some((f, b)) = cur.as_ref().and_then(|f| funcs.get_mut(f).map(|b| (f, b))) else {
            continue;
        };
        let t = line.trim_start();
        if let Some(sym) = reloc_target(t) {
            if pending {
                b.out.insert(sym);
            }
            pending = false;
            continue;
        }
        let mut words = t.split_whitespace().skip(1);
        let op = words.next().unwrap_or("");
        let arg = words.next().unwrap_or("");
        pending = false;
        if op.starts_with("call") || op.starts_with('j') {
            if arg.starts_with('*') {
                b.indirect = true;
            } else if let Some(target) = line
                .rsplit_once(" <")
                .and_then(|(_, n)| n.strip_suffix('>'))
            {
                // A resolved target within the module (`<name+0x..>` is a jump within a
                // function, `<name>` a call or tail call to another one); unresolved ones
                // carry their relocation on the next line.
                if !target.contains("+0x") && target != f {
                    b.local.insert(target.to_string());
                }
                pending = true;
            } else {
                pending = true;
            }
        }
    }
    // A relocation to a function of the module is a local call.
    let names: BTreeSet<String> = funcs.keys().cloned().collect();
    for b in funcs.values_mut() {
        let (local, out): (BTreeSet<_>, BTreeSet<_>) =
            b.out.iter().cloned().partition(|s| names.contains(s));
        b.local.extend(local);
        b.out = out;
    }
    funcs
}

/// The calls out of the module reachable from the roots, as JSON: per kind the symbols,
/// each with the module functions that call it, and the counts.
pub(super) fn calls(objdump: &Path, ko: &Path) -> Result<Value> {
    let o = Command::new(objdump)
        .args(["-d", "-r", "-C", "--no-show-raw-insn"])
        .arg(ko)
        .output()
        .with_context(|| format!("run {}", objdump.display()))?;
    if !o.status.success() {
        bail!(
            "{} {}: {}",
            objdump.display(),
            ko.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    let funcs = parse(&String::from_utf8_lossy(&o.stdout));
    let mut roots = Vec::new();
    let mut todo: Vec<String> = Vec::new();
    for (part, what) in ROOTS {
        let found: Vec<&String> = funcs.keys().filter(|n| n.contains(part)).collect();
        if found.is_empty() {
            bail!("{}: no function named like {part} ({what})", ko.display());
        }
        roots.push(json!({ "root": what, "functions": found }));
        todo.extend(found.into_iter().cloned());
    }
    let mut seen = BTreeSet::new();
    // symbol -> callers in the module
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        let Some(b) = funcs.get(&f) else { continue };
        todo.extend(b.local.iter().cloned());
        // The shim is linked into the module as a C object of its own, or, with inline
        // helpers, into the Rust object: a call to it is a call out of Rust either way.
        for s in b.local.iter().filter(|s| kind(s) == "shim") {
            out.entry(s.clone()).or_default().insert(f.clone());
        }
        for s in &b.out {
            out.entry(s.clone()).or_default().insert(f.clone());
        }
        if b.indirect {
            out.entry("indirect".into()).or_default().insert(f.clone());
        }
    }
    let list: Vec<Value> = out
        .iter()
        .map(|(s, by)| json!({ "symbol": s, "kind": kind(s), "callers": by.len(), "why": why(s) }))
        .collect();
    let inlinable = list
        .iter()
        .filter(|c| c["kind"].as_str().is_some_and(c_inlines))
        .count();
    let unexplained = list.iter().filter(|c| c["why"].is_null()).count();
    Ok(json!({
        "module": ko.display().to_string(),
        "roots": roots,
        "functions_walked": seen.len(),
        "calls_out": list,
        "c_would_inline": inlinable,
        "unexplained": unexplained,
    }))
}

/// The part of the table on the calls.
pub(super) fn table(c: &Value) -> String {
    let Some(list) = c["calls_out"].as_array() else {
        return String::new();
    };
    // The reasons are this version's (a saved run is shown with them, as its ratios are
    // computed again), the calls those the object code had.
    fn why_of(x: &Value) -> Option<&str> {
        match x["symbol"].as_str().and_then(why) {
            Some(w) => Some(w),
            None => x["why"].as_str(),
        }
    }
    let unexplained = list.iter().filter(|x| why_of(x).is_none()).count();
    let mut s = format!(
        "# calls out of udprx.ko on the per-datagram path (object code, {} functions walked \
         from the hook, the handler and read()): {} symbols, {} that C would inline, {} \
         unexplained\n",
        c["functions_walked"],
        list.len(),
        c["c_would_inline"],
        unexplained
    );
    // C's inlines first, then by kind.
    let mut rows: Vec<&Value> = list.iter().collect();
    rows.sort_by_key(|x| {
        let k = x["kind"].as_str().unwrap_or("");
        (!c_inlines(k), k.to_string(), x["symbol"].to_string())
    });
    for x in rows {
        s += &format!(
            "#   {:<13} {:<40} {}\n",
            x["kind"].as_str().unwrap_or("?"),
            x["symbol"].as_str().unwrap_or("?"),
            why_of(x).unwrap_or("UNEXPLAINED")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "
0000000000000000 <udprx_main::hook::hook>:
       0:      \tcall\t0x5 <udprx_main::hook::hook+0x5>
\t\t0000000000000001:  R_X86_64_PLT32\tudprx_net_generic-0x4
       5:      \tcall\t0xa <udprx_main::udp::rcv>
       a:      \tjmp\t0xc <udprx_main::hook::hook+0xc>
       c:      \tcall\t*%rax
      10:      \tretq

0000000000000020 <udprx_main::udp::rcv>:
      20:      \tcall\t0x25 <udprx_main::udp::rcv+0x5>
\t\t0000000000000021:  R_X86_64_PLT32\tkfree_skb_reason-0x4
      25:      \tcall\t0x2a <udprx_main::udp::rcv+0xa>
\t\t0000000000000026:  R_X86_64_PLT32\t.text.udprx_main::cold-0x4

0000000000000040 <udprx_main::cold>:
      40:      \tjmp\t0x45 <udprx_main::cold+0x5>
\t\t0000000000000041:  R_X86_64_PLT32\trust_helper_skb_put-0x4
      45:      \tmovq\t0x0(%rip), %rax
\t\t0000000000000048:  R_X86_64_PC32\tsome_data-0x4

0000000000000060 <unreached>:
      60:      \tcall\t0x65 <unreached+0x5>
\t\t0000000000000061:  R_X86_64_PLT32\tudprx_put_net-0x4
";

    #[test]
    fn follows_local_calls_and_relocations() {
        let f = parse(DUMP);
        let hook = &f["udprx_main::hook::hook"];
        assert!(hook.indirect);
        assert_eq!(hook.out, BTreeSet::from(["udprx_net_generic".to_string()]));
        assert!(hook.local.contains("udprx_main::udp::rcv"));
        let rcv = &f["udprx_main::udp::rcv"];
        assert!(rcv.local.contains("udprx_main::cold"));
        assert_eq!(rcv.out, BTreeSet::from(["kfree_skb_reason".to_string()]));
        // A data reference is not a call.
        assert_eq!(
            f["udprx_main::cold"].out,
            BTreeSet::from(["rust_helper_skb_put".to_string()])
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("udprx_net_generic"), "shim");
        assert_eq!(kind("udprx_main::udp::rcv"), "kernel");
        assert_eq!(kind("rust_helper_skb_put"), "rust helper");
        assert_eq!(
            kind("<kernel::sync::poll::PollCondVar>::notify"),
            "kernel crate"
        );
        assert_eq!(kind("kfree_skb_reason"), "kernel");
        assert!(c_inlines("shim") && c_inlines("rust helper") && !c_inlines("kernel"));
    }
}
