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
];

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

/// Every line of `log` that carries a splat marker.
pub fn scan(log: &str) -> Vec<Finding> {
    log.lines()
        .enumerate()
        .filter_map(|(i, text)| {
            MARKERS
                .iter()
                .find(|m| text.contains(**m))
                .map(|marker| Finding {
                    line: i + 1,
                    marker,
                    text: text.to_string(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_lines_pass() {
        assert!(scan("[    0.000000] Linux version 7.3.4\n[    1.0] udprx: loaded\n").is_empty());
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
