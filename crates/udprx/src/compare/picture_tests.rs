// SPDX-License-Identifier: GPL-2.0

//! The pictures drawn from made-up samples: a scenario's, the overview, and the titles
//! fitted to a width. `UDPRX_TEST_PICTURES=DIR` keeps them in DIR to be looked at.

use super::{
    canvas::{fit, style, width},
    outcome::Sample,
    overview, plot,
    scenario::{scenarios, Side},
};
use crate::font::{font, FONT};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Where a test draws its pictures: `$UDPRX_TEST_PICTURES` when set (they are kept there
/// to be looked at), else a fresh directory under the temporary one.
fn picture_dir(test: &str) -> PathBuf {
    if !Path::new(FONT).exists() {
        panic!("{FONT} missing: install fonts-dejavu-core (make setup does)");
    }
    let dir = match std::env::var_os("UDPRX_TEST_PICTURES") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("udprx-{test}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes a test's pictures unless they are to be kept ([`picture_dir`]).
fn done(dir: &Path) {
    if std::env::var_os("UDPRX_TEST_PICTURES").is_none() {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// The size a PNG's header gives, once its signature is checked.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}: a PNG", path.display());
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

/// A held scenario as it is drawn: stock and modern equal, classic on its backlog.
#[test]
fn draws_a_scenario() {
    let dir = picture_dir("plot");
    let s = |i: u32, held| Sample {
        rmem: if held { 0 } else { 2304 * i.min(3) },
        backlog: if held { 2304 * i.min(4) } else { 0 },
        dropped: if held { i > 4 } else { i > 3 },
    };
    let equal: Vec<Sample> = (1..=20).map(|i| s(i, false)).collect();
    let held: Vec<Sample> = (1..=20).map(|i| s(i, true)).collect();
    let sc = scenarios(None).unwrap();
    let about = &sc.iter().find(|s| s.name == "held").unwrap().about;
    let pic = plot::Picture {
        name: "held",
        link: "veth",
        about,
        rcvbuf: 8192,
        failures: 0,
        sides: vec![
            (Side::Stock, &equal),
            (Side::Modern, &equal),
            (Side::Classic, &held),
        ],
    };
    let p = plot::path(&dir, pic.name, pic.link);
    plot::draw(&p, &pic).unwrap();
    assert_eq!(png_size(&p), plot::SIZE);
    assert!(std::fs::metadata(&p).unwrap().len() > 5000, "a picture");
    // All three sides alike: each stays visible.
    let alike = plot::Picture {
        name: "exact-fit",
        link: "lo",
        sides: vec![
            (Side::Stock, &equal),
            (Side::Modern, &equal),
            (Side::Classic, &equal),
        ],
        ..pic
    };
    let p = plot::path(&dir, alike.name, alike.link);
    plot::draw(&p, &alike).unwrap();
    assert_eq!(png_size(&p), plot::SIZE);
    // Nothing reached a socket, and the scenario failed.
    let none = plot::Picture {
        failures: 2,
        sides: vec![
            (Side::Stock, &[]),
            (Side::Modern, &[]),
            (Side::Classic, &[]),
        ],
        ..pic
    };
    let q = plot::path(&dir, "closed-port", "lo");
    plot::draw(&q, &none).unwrap();
    assert_eq!(png_size(&q), plot::SIZE);
    done(&dir);
}

/// Ten rows, one of them failed, one with nothing delivered or dropped.
#[test]
fn draws_the_overview() {
    let dir = picture_dir("overview");
    let names = ["overflow", "mixed-sizes", "held", "closed-port", "firewall"];
    let mut rows = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for link in ["lo", "veth"] {
            let i = i as i64;
            rows.push(overview::Row {
                name,
                link,
                failures: usize::from(*name == "mixed-sizes" && link == "veth") * 3,
                sides: [(3 * i, 17 - i), (3 * i, 17 - i), (4 * i, 16 - i)],
            });
        }
    }
    rows[6].sides = [(0, 0); 3];
    let p = overview::path(&dir);
    overview::draw(&p, &rows).unwrap();
    assert_eq!(png_size(&p), overview::size(rows.len()));
    assert!(overview::size(30).1 > overview::size(10).1);
    done(&dir);
}

/// Every scenario's traffic fits the picture's width, in at most three lines; what does
/// not fit in the smallest size is cut with "…".
#[test]
fn titles_fit() {
    let dir = picture_dir("fit");
    let p = dir.join("fit.png");
    let root = BitMapBackend::new(&p, (600, 100)).into_drawing_area();
    font().unwrap();
    for s in scenarios(None).unwrap() {
        let (size, lines) = fit(&root, &s.about, &[15, 12], BLACK, 600, 3).unwrap();
        assert!((1..=3).contains(&lines.len()), "{}", s.name);
        for l in &lines {
            assert!(width(&root, l, &style(size, false, BLACK)).unwrap() <= 600);
        }
    }
    let long = "word ".repeat(200);
    let (size, lines) = fit(&root, &long, &[15, 12], BLACK, 600, 2).unwrap();
    assert_eq!((size, lines.len()), (12, 2));
    assert!(lines[1].ends_with('…'));
    drop(root);
    done(&dir);
}
