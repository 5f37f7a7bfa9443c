//! `udprx article`: the article's walk of the receive path, claim by claim, on the running
//! kernel. For every claim: what the article says (Linux 3.13), what 7.3 does and where in
//! the tree, and, where it can be observed, the evidence measured now on the stock path
//! and, for the steps udprx re-walks, on udprx beside it. Prints one line per claim
//! (`PASS`/`FAIL` for a claim whose evidence was taken, `----` for one that cannot be
//! observed) and writes the walk as Markdown.

mod checks;
mod claims;
mod env;
mod report;

use anyhow::{bail, Result};
use report::Walked;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The kernel tree the running kernel was built from (for the source locations).
    #[arg(long, default_value = "/var/cache/udprx/kernel")]
    src: PathBuf,
    /// Write the walk as Markdown to this file.
    #[arg(long)]
    md: Option<PathBuf>,
    /// Only these claims (ids, comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

pub fn run(a: &Args) -> Result<()> {
    if !std::path::Path::new("/proc/net/udprx").exists() {
        bail!("udprx is not loaded (insmod udprx.ko first)");
    }
    let mut cx = checks::Cx::new()?;
    let mut walked = Vec::new();
    let mut failed = 0;
    for c in claims::all()? {
        if !a.only.is_empty() && !a.only.iter().any(|o| o == c.id) {
            continue;
        }
        let at = c.src.iter().map(|s| report::locate(&a.src, s)).collect();
        let result = checks::find(c.id).map(|check| check(&mut cx));
        match &result {
            Some(Ok(o)) => {
                println!("PASS {} {}: {}", c.id, c.status.name(), o.stock);
                if let Some(u) = &o.udprx {
                    let verdict = if u.equal { "equal" } else { "differs" };
                    println!("     udprx ({verdict}): {}", u.seen);
                }
            }
            Some(Err(e)) => {
                failed += 1;
                println!("FAIL {} {}: {e:#}", c.id, c.status.name());
            }
            None => println!(
                "---- {} {}: not observed: {}",
                c.id,
                c.status.name(),
                c.probe
            ),
        }
        walked.push(Walked {
            claim: c,
            at,
            result,
        });
    }
    let counts = report::Counts::of(&walked);
    println!("{}", counts.line());
    if let Some(md) = &a.md {
        std::fs::write(md, report::markdown(&walked, &counts))?;
        println!("wrote {}", md.display());
    }
    if failed > 0 {
        bail!("{failed} claim(s) whose evidence does not match");
    }
    Ok(())
}
