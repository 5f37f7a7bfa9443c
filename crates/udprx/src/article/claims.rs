//! The article's claims, in its order, each with what Linux 7.3 does now (`claims.txt`,
//! read from the article and the 7.3 tree); `checks` holds the evidence each claim is held
//! against.

use anyhow::{bail, Context, Result};

/// What became of a claim in Linux 7.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 7.3 does what the article says.
    Holds,
    /// 7.3 does it differently (`now` says how).
    Changed,
    /// Gone from 7.3.
    Removed,
    /// Still in 7.3, but no longer on the IPv4 UDP receive path.
    OffPath,
}

impl Status {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Holds" => Status::Holds,
            "Changed" => Status::Changed,
            "Removed" => Status::Removed,
            "OffPath" => Status::OffPath,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Changed => "changed",
            Status::Removed => "removed",
            Status::OffPath => "off the UDP path",
        }
    }
}

/// One claim of the article.
pub struct Claim {
    /// `C01`…, in the article's order.
    pub id: &'static str,
    /// The article's section.
    pub section: &'static str,
    /// The article's words (a short quote or a close paraphrase).
    pub quote: &'static str,
    /// The 3.13 function, macro or struct the claim is about.
    pub fn313: &'static str,
    pub status: Status,
    /// What 7.3 does.
    pub now: &'static str,
    /// Where, as `path:symbol` in the kernel tree.
    pub src: Vec<&'static str>,
    /// How it can be observed from userspace (or why it cannot).
    pub probe: &'static str,
    /// Whether udprx re-walks the step.
    pub udprx: bool,
}

const TEXT: &str = include_str!("claims.txt");

/// The claims of `claims.txt`, in order.
pub fn all() -> Result<Vec<Claim>> {
    let mut out = Vec::new();
    for block in TEXT.split("\n\n").filter(|b| b.starts_with("id: ")) {
        let field = |k: &str| -> Result<&'static str> {
            block
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(": "))
                .with_context(|| format!("claims.txt: no {k} in {block:.20}"))
        };
        let status = field("status")?;
        out.push(Claim {
            id: field("id")?,
            section: field("section")?,
            quote: field("quote")?,
            fn313: field("fn313")?,
            status: Status::parse(status).with_context(|| format!("status {status}"))?,
            now: field("now")?,
            src: field("src")?.split_whitespace().collect(),
            probe: field("probe")?,
            udprx: match field("udprx")? {
                "yes" => true,
                "no" => false,
                v => bail!("claims.txt: udprx {v}"),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_claim_parses_in_order() {
        let c = super::all().unwrap();
        assert!(c.len() >= 45);
        for (i, x) in c.iter().enumerate() {
            assert_eq!(x.id, format!("C{:02}", i + 1));
            assert!(!x.src.is_empty() && x.quote.len() <= 200);
        }
    }
}
