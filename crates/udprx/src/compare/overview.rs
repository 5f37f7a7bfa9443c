// SPDX-License-Identifier: GPL-2.0

//! The overview picture of `udprx compare --plot` (`overview.png`): a row per scenario and
//! link with the verdict (equal or differs) and, for stock, modern and classic, how many
//! datagrams were delivered and dropped, as numbers and as a bar.

use super::{
    canvas::{err, shorten, style, text, width},
    plot::{verdict, GREEN, RED},
    report::Compared,
    scenario::Side,
};
use crate::font::font;
use anyhow::{Context, Result};
use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use std::path::{Path, PathBuf};

/// One row: a scenario over a link.
pub(super) struct Row<'a> {
    pub(super) name: &'a str,
    pub(super) link: &'a str,
    /// How many differences fail the comparison (none: equal).
    pub(super) failures: usize,
    /// (delivered, dropped) of stock, modern and classic, in [`SIDES`] order.
    pub(super) sides: [(i64, i64); 3],
}

/// The sides, in the order of [`Row::sides`].
pub(super) const SIDES: [Side; 3] = [Side::Stock, Side::Modern, Side::Classic];

impl<'a> From<&'a Compared> for Row<'a> {
    fn from(c: &'a Compared) -> Self {
        Row {
            name: c.name,
            link: c.link.name(),
            failures: c.failures.len(),
            sides: c.sides.all().map(|(_, o)| (o.delivered, o.drops)),
        }
    }
}

/// The overview in `dir`.
pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join("overview.png")
}

const W: u32 = 1370;
const PAD: i32 = 16;
const ROW: i32 = 24;
/// Where the rows begin, under the title and the column heads.
const TOP: i32 = 122;
/// The legend's lines under the rows.
const LEGEND: i32 = 4;
/// The columns: link, verdict, the first side; a side's width, its bar's.
const LINK_X: i32 = 150;
const VERDICT_X: i32 = 215;
const SIDE_X: i32 = 350;
const SIDE_W: i32 = 330;
const BAR_W: i32 = 120;
/// The right edge of a side's delivered count, after its bar; the dropped count's width.
const NUM_X: i32 = BAR_W + 70;
const NUM_W: i32 = 62;
const AMBER: RGBColor = RGBColor(0xa0, 0x5a, 0x00);
const DELIVERED: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const DROPPED: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const BAND: RGBColor = RGBColor(0xf2, 0xf4, 0xf7);

/// The size of an overview of `rows` rows.
pub(super) fn size(rows: usize) -> (u32, u32) {
    let h = TOP + rows as i32 * ROW + 16 + LEGEND * 24 + 12;
    (W, h as u32)
}

/// Text anchored at its top right corner.
fn right(st: TextStyle<'static>) -> TextStyle<'static> {
    st.pos(Pos::new(HPos::Right, VPos::Top))
}

/// Draws the overview of `rows` (in the order given) to `path`.
pub(super) fn draw(path: &Path, rows: &[Row<'_>]) -> Result<()> {
    font()?;
    let root = BitMapBackend::new(path, size(rows.len())).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let links: Vec<&str> = rows.iter().fold(Vec::new(), |mut v, r| {
        if !v.contains(&r.link) {
            v.push(r.link);
        }
        v
    });
    let title = format!(
        "udprx compare: every scenario over {}, stock UDP next to udprx's modern and classic",
        links.join(" and ")
    );
    let head = style(21, true, BLACK);
    text(
        &root,
        &shorten(&root, &title, &head, W - 2 * PAD as u32)?,
        &head,
        (PAD, 12),
    )?;
    let bad = rows.iter().filter(|r| r.failures > 0).count();
    let summary = format!(
        "{} of {} equal (modern = stock on every counter, each policy = its model); {bad} differ",
        rows.len() - bad,
        rows.len()
    );
    let color = if bad == 0 { GREEN } else { RED };
    text(&root, &summary, &style(16, bad > 0, color), (PAD, 44))?;
    heads(&root)?;
    let mut band = false;
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + i as i32 * ROW;
        let first = i == 0 || rows[i - 1].name != r.name;
        if first {
            band = !band;
            root.draw(&PathElement::new(
                [(PAD, y), (W as i32 - PAD, y)],
                RGBColor(0xcc, 0xcc, 0xcc),
            ))
            .map_err(err)?;
        }
        if band {
            root.draw(&Rectangle::new(
                [(PAD, y + 1), (W as i32 - PAD, y + ROW)],
                BAND.filled(),
            ))
            .map_err(err)?;
        }
        row(&root, r, y, first)?;
    }
    legend(&root, TOP + rows.len() as i32 * ROW + 16)?;
    root.present()
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// The column heads: names, and under each side what its numbers are.
fn heads(root: &DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()> {
    let st = style(15, true, BLACK);
    let y = 78;
    text(root, "scenario", &st, (PAD, y))?;
    text(root, "link", &st, (LINK_X, y))?;
    text(root, "verdict", &st, (VERDICT_X, y))?;
    for (i, side) in SIDES.iter().enumerate() {
        let x = SIDE_X + i as i32 * SIDE_W;
        text(root, side.name(), &st, (x, y))?;
        let small = |c| right(style(13, false, c));
        text(root, "delivered", &small(DELIVERED), (x + NUM_X, y + 20))?;
        text(
            root,
            "dropped",
            &small(DROPPED),
            (x + NUM_X + NUM_W, y + 20),
        )?;
    }
    Ok(())
}

/// A row: names, verdict badge, and per side a bar and the counts.
fn row(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    r: &Row<'_>,
    y: i32,
    first: bool,
) -> Result<()> {
    let mid = y + ROW / 2;
    let ty = y + 5;
    if first {
        text(root, r.name, &style(15, true, BLACK), (PAD, ty))?;
    }
    text(root, r.link, &style(15, false, BLACK), (LINK_X, ty))?;
    badge(root, r.failures, (VERDICT_X, y + 3))?;
    let most = r.sides.iter().map(|(d, x)| d + x).max().unwrap_or(0).max(1);
    let px = |n: i64| (n * i64::from(BAR_W) / most) as i32;
    for (i, &(delivered, dropped)) in r.sides.iter().enumerate() {
        let x = SIDE_X + i as i32 * SIDE_W;
        let (a, b) = (px(delivered), px(dropped));
        root.draw(&Rectangle::new(
            [(x, mid - 6), (x + BAR_W, mid + 6)],
            RGBColor(0xdd, 0xdd, 0xdd),
        ))
        .map_err(err)?;
        if a > 0 {
            root.draw(&Rectangle::new(
                [(x, mid - 6), (x + a, mid + 6)],
                DELIVERED.filled(),
            ))
            .map_err(err)?;
        }
        if b > 0 {
            root.draw(&Rectangle::new(
                [(x + a, mid - 6), (x + a + b, mid + 6)],
                DROPPED.filled(),
            ))
            .map_err(err)?;
        }
        let n = |c| right(style(15, false, c));
        text(root, &delivered.to_string(), &n(DELIVERED), (x + NUM_X, ty))?;
        text(
            root,
            &dropped.to_string(),
            &n(DROPPED),
            (x + NUM_X + NUM_W, ty),
        )?;
        if i > 0 && r.sides[i] != r.sides[0] {
            let st = style(14, true, AMBER);
            text(root, "≠ stock", &st, (x + NUM_X + NUM_W + 10, ty))?;
        }
    }
    Ok(())
}

/// The verdict as a coloured badge with its word in it.
fn badge(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    failures: usize,
    at: (i32, i32),
) -> Result<()> {
    let (word, fill, ink) = match failures {
        0 => ("✓ equal".to_string(), RGBColor(0xd5, 0xef, 0xd5), GREEN),
        n => (format!("✗ differs ({n})"), RGBColor(0xf8, 0xd3, 0xd3), RED),
    };
    let (x, y) = at;
    let corners = [(x, y), (x + 116, y + ROW - 6)];
    root.draw(&Rectangle::new(corners, fill.filled()))
        .map_err(err)?;
    root.draw(&Rectangle::new(corners, ink.stroke_width(1)))
        .map_err(err)?;
    let st = style(14, true, ink);
    let w = width(root, &word, &st)? as i32;
    text(root, &word, &st, (x + (116 - w) / 2, y + 2))
}

/// What the colours and marks say, under the rows.
fn legend(root: &DrawingArea<BitMapBackend<'_>, Shift>, y: i32) -> Result<()> {
    let at = |i: i32| y + i * 24;
    badge(root, 0, (PAD, at(0)))?;
    note(root, &verdict(0).0, at(0))?;
    badge(root, 2, (PAD, at(1)))?;
    let why = "differs: the table has FAIL lines (their count): modern is not stock, or a policy not its model; compare exits 1";
    note(root, why, at(1))?;
    let mid = at(2) + 9;
    root.draw(&Rectangle::new(
        [(PAD, mid - 6), (PAD + 56, mid + 6)],
        DELIVERED.filled(),
    ))
    .map_err(err)?;
    root.draw(&Rectangle::new(
        [(PAD + 56, mid - 6), (PAD + 116, mid + 6)],
        DROPPED.filled(),
    ))
    .map_err(err)?;
    let bars = "bar and numbers: delivered (green: read by the reader) and dropped (red: the socket's drops), the bars to scale within a row";
    note(root, bars, at(2))?;
    text(
        root,
        "≠ stock",
        &style(14, true, AMBER),
        (PAD + 30, at(3) + 2),
    )?;
    let differs = "this side's counts are not stock's: expected of classic (3.13's rules, the table's *), a failure for modern";
    note(root, differs, at(3))?;
    Ok(())
}

/// A legend line after its key, cut to the picture's width.
fn note(root: &DrawingArea<BitMapBackend<'_>, Shift>, s: &str, y: i32) -> Result<()> {
    let st = style(14, false, BLACK);
    let x = PAD + 130;
    text(
        root,
        &shorten(root, s, &st, W - (x + PAD) as u32)?,
        &st,
        (x, y + 2),
    )
}
