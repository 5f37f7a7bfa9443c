//! Find kernel splats in a console log, the way netdev CI reads a VM's console: any oops,
//! warning, sanitizer report, lockdep report or kmemleak report fails the run, whether or
//! not the tests passed.

#![forbid(unsafe_code)]

/// Markers that start a splat. The kernel prints each at the start of a report
/// (after the `[timestamp]` and any `CPU: ` / task prefix the console adds).
pub const MARKERS: &[&str] = &[
    "Call Trace:",
    "BUG:",
    "WARNING:",
    "UBSAN:",
    "unreferenced object",
    "Kernel panic",
    "Oops:",
    "general protection fault",
    "kernel BUG at",
    "rcu: INFO:",
    "blocked for more than",
];

/// Written to `/dev/kmsg` around fault injection (tests/stress.sh). Between the two, an
/// allocation failure the kernel reports with a stack (`warn_alloc()`: "page allocation
/// failure", "vmalloc error") is what was asked for, not a splat; every other report
/// still is.
pub const FAULTS_BEGIN: &str = "udprx-fault-injection: begin";
/// See [`FAULTS_BEGIN`].
pub const FAULTS_END: &str = "udprx-fault-injection: end";

/// One splat line found in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number in the log.
    pub line: usize,
    /// The marker that matched.
    pub marker: &'static str,
    /// The whole line, without the trailing newline.
    pub text: String,
}

/// Every line of `log` that carries a splat marker, but for the stacks of injected
/// allocation failures between [`FAULTS_BEGIN`] and [`FAULTS_END`].
pub fn scan(log: &str) -> Vec<Finding> {
    let lines: Vec<&str> = log.lines().collect();
    let mut faults = false;
    let mut found = Vec::new();
    for (i, text) in lines.iter().enumerate() {
        if text.contains(FAULTS_BEGIN) {
            faults = true;
        } else if text.contains(FAULTS_END) {
            faults = false;
        }
        let Some(marker) = MARKERS.iter().find(|m| text.contains(**m)) else {
            continue;
        };
        let injected = faults
            && *marker == "Call Trace:"
            && lines[i + 1..lines.len().min(i + 8)]
                .iter()
                .take_while(|l| !l.contains(FAULTS_END) && !MARKERS.iter().any(|m| l.contains(m)))
                .any(|l| l.contains(" warn_alloc+"));
        if !injected {
            found.push(Finding {
                line: i + 1,
                marker,
                text: text.to_string(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_lines_pass() {
        assert!(scan("[    0.000000] Linux version 7.3.4\n[    1.0] udprx: loaded\n").is_empty());
    }

    #[test]
    fn injected_allocation_failures_pass_only_inside_a_fault_section() {
        let report = "[ 86.8] udprx: vmalloc error: size 4096\n[ 86.9] Call Trace:\n\
                      [ 86.9]  <TASK>\n[ 86.9]  dump_stack_lvl+0x69/0x90\n\
                      [ 86.9]  warn_alloc+0x184/0x280\n";
        assert_eq!(scan(report).len(), 1);
        let inside = format!("[ 1] {FAULTS_BEGIN}\n{report}[ 2] {FAULTS_END}\n");
        assert!(scan(&inside).is_empty());
        // Another report in the section still counts, and so does one after it.
        let other = format!(
            "[ 1] {FAULTS_BEGIN}\n[ 2] WARNING: at foo\n[ 3] Call Trace:\n\
                             [ 3]  foo+0x1/0x2\n[ 4] {FAULTS_END}\n{report}"
        );
        assert_eq!(scan(&other).len(), 3);
    }

    #[test]
    fn every_marker_is_found_mid_line() {
        for m in MARKERS {
            let log = format!("[   12.345678] {m} something\n");
            let f = scan(&log);
            assert_eq!(f.len(), 1, "{m}");
            assert_eq!(f[0].marker, *m);
            assert_eq!(f[0].line, 1);
        }
    }
}
