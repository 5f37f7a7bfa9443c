//! `splat-scan LOG...`: print every splat line in the given console logs; exit 1 if any.

use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: splat-scan LOG...");
        return ExitCode::from(2);
    }
    let mut found = 0;
    for path in &paths {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("splat-scan: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        for f in splat::scan(&String::from_utf8_lossy(&bytes)) {
            println!("{path}:{}: {}", f.line, f.text);
            found += 1;
        }
    }
    if found > 0 {
        eprintln!("splat-scan: {found} splat line(s)");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
