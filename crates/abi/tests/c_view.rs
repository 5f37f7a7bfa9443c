// SPDX-License-Identifier: GPL-2.0

//! The C view of the ABI (`include/uapi/udprx.h`) against the Rust one: a C program that
//! includes the header prints every size, offset and ioctl number, compiled with the
//! project's clang (or `cc`), and each must equal the Rust definition.

use std::{collections::BTreeMap, path::PathBuf, process::Command};
use udprx_abi::*;

const PROGRAM: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include "udprx.h"
#define P(name, v) printf("%s %llu\n", name, (unsigned long long)(v))
#define F(s, f) P(#s "." #f, offsetof(struct s, f))
int main(void)
{
	P("sizeof.udprx_bind", sizeof(struct udprx_bind));
	F(udprx_bind, port); F(udprx_bind, flags); F(udprx_bind, reserved);
	P("sizeof.udprx_rcvbuf", sizeof(struct udprx_rcvbuf));
	F(udprx_rcvbuf, val); F(udprx_rcvbuf, flags);
	P("sizeof.udprx_info", sizeof(struct udprx_info));
	F(udprx_info, rcvbuf); F(udprx_info, rmem_alloc); F(udprx_info, backlog_len);
	F(udprx_info, backlog_count); F(udprx_info, queued); F(udprx_info, policy);
	F(udprx_info, held); F(udprx_info, forward_deficit); F(udprx_info, drops);
	F(udprx_info, forward_alloc); F(udprx_info, port); F(udprx_info, reserved);
	P("UDPRX_BIND", UDPRX_BIND); P("UDPRX_SET_RCVBUF", UDPRX_SET_RCVBUF);
	P("UDPRX_SET_POLICY", UDPRX_SET_POLICY); P("UDPRX_HOLD", UDPRX_HOLD);
	P("UDPRX_RELEASE", UDPRX_RELEASE); P("UDPRX_INFO", UDPRX_INFO);
	P("UDPRX_ATTACH_FILTER", UDPRX_ATTACH_FILTER);
	P("UDPRX_DETACH_FILTER", UDPRX_DETACH_FILTER);
	P("UDPRX_SOCKET", UDPRX_SOCKET);
	P("UDPRX_RCVBUF_FORCE", UDPRX_RCVBUF_FORCE);
	P("UDPRX_POLICY_CLASSIC", UDPRX_POLICY_CLASSIC);
	P("UDPRX_POLICY_MODERN", UDPRX_POLICY_MODERN);
	return 0;
}
"#;

/// What the C program prints, by name.
fn c_view() -> BTreeMap<String, u64> {
    let top = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("udprx-c-view-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("view.c");
    let exe = dir.join("view");
    std::fs::write(&src, PROGRAM).unwrap();
    // clang-19 is what `make setup` installs; cc where it is not.
    let compiler = ["clang-19", "cc"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .expect("no C compiler (clang-19 or cc): run make setup");
    let st = Command::new(compiler)
        .arg("-I")
        .arg(top.join("include/uapi"))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "{compiler} failed on include/uapi/udprx.h");
    let out = Command::new(&exe).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_c_header_is_the_rust_abi() {
    use core::mem::{offset_of, size_of};
    let c = c_view();
    let rust: Vec<(&str, u64)> = vec![
        ("sizeof.udprx_bind", size_of::<BindArgs>() as u64),
        ("udprx_bind.port", offset_of!(BindArgs, port) as u64),
        ("udprx_bind.flags", offset_of!(BindArgs, flags) as u64),
        ("udprx_bind.reserved", offset_of!(BindArgs, reserved) as u64),
        ("sizeof.udprx_rcvbuf", size_of::<RcvbufArgs>() as u64),
        ("udprx_rcvbuf.val", offset_of!(RcvbufArgs, val) as u64),
        ("udprx_rcvbuf.flags", offset_of!(RcvbufArgs, flags) as u64),
        ("sizeof.udprx_info", size_of::<Info>() as u64),
        ("udprx_info.rcvbuf", offset_of!(Info, rcvbuf) as u64),
        ("udprx_info.rmem_alloc", offset_of!(Info, rmem_alloc) as u64),
        (
            "udprx_info.backlog_len",
            offset_of!(Info, backlog_len) as u64,
        ),
        (
            "udprx_info.backlog_count",
            offset_of!(Info, backlog_count) as u64,
        ),
        ("udprx_info.queued", offset_of!(Info, queued) as u64),
        ("udprx_info.policy", offset_of!(Info, policy) as u64),
        ("udprx_info.held", offset_of!(Info, held) as u64),
        (
            "udprx_info.forward_deficit",
            offset_of!(Info, forward_deficit) as u64,
        ),
        ("udprx_info.drops", offset_of!(Info, drops) as u64),
        (
            "udprx_info.forward_alloc",
            offset_of!(Info, forward_alloc) as u64,
        ),
        ("udprx_info.port", offset_of!(Info, port) as u64),
        ("udprx_info.reserved", offset_of!(Info, reserved) as u64),
        ("UDPRX_BIND", UDPRX_BIND.into()),
        ("UDPRX_SET_RCVBUF", UDPRX_SET_RCVBUF.into()),
        ("UDPRX_SET_POLICY", UDPRX_SET_POLICY.into()),
        ("UDPRX_HOLD", UDPRX_HOLD.into()),
        ("UDPRX_RELEASE", UDPRX_RELEASE.into()),
        ("UDPRX_INFO", UDPRX_INFO.into()),
        ("UDPRX_ATTACH_FILTER", UDPRX_ATTACH_FILTER.into()),
        ("UDPRX_DETACH_FILTER", UDPRX_DETACH_FILTER.into()),
        ("UDPRX_SOCKET", UDPRX_SOCKET.into()),
        ("UDPRX_RCVBUF_FORCE", RCVBUF_FORCE.into()),
        ("UDPRX_POLICY_CLASSIC", POLICY_CLASSIC.into()),
        ("UDPRX_POLICY_MODERN", POLICY_MODERN.into()),
    ];
    assert_eq!(c.len(), rust.len(), "the C program prints {c:?}");
    for (name, value) in rust {
        assert_eq!(c.get(name), Some(&value), "{name}: C vs Rust");
    }
}
