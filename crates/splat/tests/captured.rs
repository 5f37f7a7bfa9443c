//! The scanner against console logs captured from udprx test VMs (tests/fixtures/).

use std::path::PathBuf;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn clean_boot_and_test_run_has_no_splat() {
    let f = splat::scan(&fixture("clean.log"));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn backtrace_fails() {
    let f = splat::scan(&fixture("call-trace.log"));
    assert!(f.iter().any(|f| f.marker == "Call Trace:"), "{f:?}");
}

#[test]
fn kmemleak_report_fails() {
    let f = splat::scan(&fixture("kmemleak.log"));
    assert!(f.iter().any(|f| f.marker == "unreferenced object"), "{f:?}");
}

#[test]
fn binary_exit_status() {
    let bin = env!("CARGO_BIN_EXE_splat-scan");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let run = |name: &str| {
        std::process::Command::new(bin)
            .arg(dir.join(name))
            .output()
            .expect("run splat-scan")
            .status
            .code()
    };
    assert_eq!(run("clean.log"), Some(0));
    assert_eq!(run("call-trace.log"), Some(1));
    assert_eq!(run("kmemleak.log"), Some(1));
}
