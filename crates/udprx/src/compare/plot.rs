// SPDX-License-Identifier: GPL-2.0

//! PNG pictures of the receive queue for `udprx compare --plot`, one per scenario and link:
//! `sk_rmem_alloc` after each arrival for stock, modern and classic, the backlog of a held
//! socket (`sk_backlog.len`, which is not in `sk_rmem_alloc`), the `sk_rcvbuf` line, and a
//! cross where an arrival was dropped. Stock memory is the socket's own report
//! (`SO_MEMINFO`), udprx's the module's (`UDPRX_INFO`), not the model's.
//!
//! Equal lines stay visible by nesting: modern is a wide band drawn first, classic a
//! narrower line over it, stock dashes on top.

use super::{
    canvas::{err, fit, shorten, style, text, width},
    outcome::Sample,
    report::Compared,
    scenario::Side,
};
use crate::font::font;
use anyhow::{Context, Result};
use plotters::{coord::Shift, prelude::*};
use std::path::{Path, PathBuf};

/// The size of a scenario's picture in pixels.
pub(super) const SIZE: (u32, u32) = (1000, 620);

/// Space around the picture's text, in pixels.
const PAD: i32 = 14;
const GREY: RGBColor = RGBColor(0x44, 0x44, 0x44);
pub(super) const GREEN: RGBColor = RGBColor(0x1e, 0x7b, 0x1e);
pub(super) const RED: RGBColor = RGBColor(0xb0, 0x1c, 0x1c);
/// The backlog's colour: no side's.
const BACKLOG: RGBColor = RGBColor(0x94, 0x67, 0xbd);

/// How a side's line is drawn.
struct Look {
    color: RGBColor,
    width: u32,
    dashed: bool,
    /// The size of its drop crosses.
    cross: i32,
    /// What the legend says about it.
    how: &'static str,
}

fn look(side: Side) -> Look {
    match side {
        Side::Stock => Look {
            color: RGBColor(0x1f, 0x3f, 0xd0),
            width: 2,
            dashed: true,
            cross: 4,
            how: "blue dashes, drawn last (on top)",
        },
        Side::Modern => Look {
            color: RGBColor(0x7c, 0xcf, 0x7c),
            width: 10,
            dashed: false,
            cross: 9,
            how: "wide green band, drawn first",
        },
        Side::Classic => Look {
            color: RGBColor(0xe0, 0x3a, 0x3a),
            width: 4,
            dashed: false,
            cross: 6,
            how: "red line, over modern",
        },
    }
}

/// The order lines are drawn in: the widest first.
fn layer(side: Side) -> u8 {
    match side {
        Side::Modern => 0,
        Side::Classic => 1,
        Side::Stock => 2,
    }
}

/// What a scenario's picture shows.
pub(super) struct Picture<'a> {
    pub(super) name: &'a str,
    pub(super) link: &'a str,
    pub(super) about: &'a str,
    pub(super) rcvbuf: u32,
    /// How many differences fail the comparison (none: equal).
    pub(super) failures: usize,
    /// Each side's samples, one per arrival.
    pub(super) sides: Vec<(Side, &'a [Sample])>,
}

impl<'a> From<&'a Compared> for Picture<'a> {
    fn from(c: &'a Compared) -> Self {
        Picture {
            name: c.name,
            link: c.link.name(),
            about: &c.about,
            rcvbuf: c.rcvbuf,
            failures: c.failures.len(),
            sides: c
                .sides
                .all()
                .into_iter()
                .map(|(s, o)| (s, o.series.as_slice()))
                .collect(),
        }
    }
}

/// The picture of scenario `name` over `link` in `dir`.
pub(super) fn path(dir: &Path, name: &str, link: &str) -> PathBuf {
    dir.join(format!("{name}-{link}.png"))
}

/// The verdict as the pictures state it, and its colour.
pub(super) fn verdict(failures: usize) -> (String, RGBColor) {
    match failures {
        0 => (
            "equal: modern = stock, each policy = its model".into(),
            GREEN,
        ),
        n => (format!("differs: {n} FAIL line(s) in the table"), RED),
    }
}

/// One entry of the legend.
enum Key {
    Line(RGBColor, u32, bool),
    Area,
    Cross,
}

/// Draws the picture of `p` to `path`.
pub(super) fn draw(path: &Path, p: &Picture<'_>) -> Result<()> {
    font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let w = SIZE.0 as i32;
    // The title: scenario and link in bold, the verdict after them, the traffic below.
    let head = style(20, true, BLACK);
    let name = format!("{} [{}]", p.name, p.link);
    text(&root, &name, &head, (PAD, 10))?;
    let name_w = width(&root, &name, &head)? as i32;
    let (v, vc) = verdict(p.failures);
    let vs = style(15, false, vc);
    let room = (w - 3 * PAD - name_w).max(0) as u32;
    text(
        &root,
        &shorten(&root, &v, &vs, room)?,
        &vs,
        (2 * PAD + name_w, 14),
    )?;
    let (size, lines) = fit(
        &root,
        p.about,
        &[15, 14, 13, 12],
        GREY,
        (w - 2 * PAD) as u32,
        3,
    )?;
    let mut y = 40;
    for l in &lines {
        text(&root, l, &style(size, false, GREY), (PAD, y))?;
        y += size as i32 + 4;
    }
    let keys = keys(p);
    let legend_h = keys.len().div_ceil(2) as i32 * 22 + 34;
    let (_, rest) = root.split_vertically(y + 4);
    let chart_h = SIZE.1 as i32 - (y + 4) - legend_h;
    let (area, legend) = rest.split_vertically(chart_h);
    chart(&area, p)?;
    draw_legend(&legend, &keys)?;
    root.present()
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// The legend's entries: the `sk_rcvbuf` line, each side, each backlog, the crosses.
fn keys(p: &Picture<'_>) -> Vec<(Key, String)> {
    let mut keys = vec![(
        Key::Line(BLACK, 2, false),
        format!("sk_rcvbuf = {} bytes", p.rcvbuf),
    )];
    for &(side, pts) in &p.sides {
        let l = look(side);
        let drops = pts.iter().filter(|s| s.dropped).count();
        keys.push((
            Key::Line(l.color, l.width, l.dashed),
            format!("{}: {}; {drops} dropped", side.name(), l.how),
        ));
    }
    for &(side, pts) in &p.sides {
        if pts.iter().any(|s| s.backlog > 0) {
            keys.push((
                Key::Area,
                format!(
                    "{} backlog (sk_backlog.len): waiting while held",
                    side.name()
                ),
            ));
        }
    }
    keys.push((Key::Cross, "a dropped arrival, in its side's colour".into()));
    keys
}

/// The chart: bytes over arrivals.
fn chart(area: &DrawingArea<BitMapBackend<'_>, Shift>, p: &Picture<'_>) -> Result<()> {
    let n = p.sides.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let backlog = p.sides.iter().any(|(_, s)| s.iter().any(|x| x.backlog > 0));
    let top = p
        .sides
        .iter()
        .flat_map(|(_, s)| s.iter().map(|x| x.rmem.max(x.backlog)))
        .chain(std::iter::once(p.rcvbuf))
        .max()
        .unwrap_or(1);
    let ymax = i64::from(top) * 11 / 10 + 1;
    // A little room below 0, so that lines at 0 stay off the axis.
    let ymin = -(ymax / 40) - 1;
    let mut chart = ChartBuilder::on(area)
        .margin_left(PAD)
        .margin_right(PAD + 8)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(0..n as i64 + 1, ymin..ymax)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("arrival")
        .y_desc(if backlog {
            "bytes (sk_rmem_alloc; backlog: sk_backlog.len)"
        } else {
            "sk_rmem_alloc (bytes)"
        })
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    let at = |i: usize, v: u32| (i as i64 + 1, i64::from(v));
    for &(_, pts) in &p.sides {
        if !pts.iter().any(|s| s.backlog > 0) {
            continue;
        }
        let mut outline: Vec<(i64, i64)> = pts
            .iter()
            .enumerate()
            .map(|(i, s)| at(i, s.backlog))
            .collect();
        let mut shape = outline.clone();
        shape.push((pts.len() as i64, 0));
        shape.insert(0, (1, 0));
        chart
            .draw_series(std::iter::once(Polygon::new(
                shape,
                BACKLOG.mix(0.2).filled(),
            )))
            .map_err(err)?;
        outline.dedup();
        chart
            .draw_series(DashedLineSeries::new(
                outline,
                3,
                3,
                BACKLOG.stroke_width(2),
            ))
            .map_err(err)?;
    }
    chart
        .draw_series(LineSeries::new(
            vec![
                (0, i64::from(p.rcvbuf)),
                (n as i64 + 1, i64::from(p.rcvbuf)),
            ],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?;
    let mut sides = p.sides.clone();
    sides.sort_by_key(|(s, _)| layer(*s));
    for (side, pts) in sides {
        let l = look(side);
        let line: Vec<(i64, i64)> = pts.iter().enumerate().map(|(i, s)| at(i, s.rmem)).collect();
        let st = l.color.stroke_width(l.width);
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(line, 8, 6, st))
                .map_err(err)?;
        } else {
            chart.draw_series(LineSeries::new(line, st)).map_err(err)?;
        }
        let crosses = pts.iter().enumerate().filter(|(_, s)| s.dropped);
        chart
            .draw_series(crosses.map(|(i, s)| {
                Cross::new(at(i, s.rmem), l.cross, l.color.stroke_width(l.width.min(3)))
            }))
            .map_err(err)?;
    }
    if n == 0 {
        let (x, y) = chart.backend_coord(&(0, ymax / 2));
        let st = style(16, false, GREY);
        text(
            area,
            "no datagram reached the socket on any side",
            &st,
            (x + 20, y),
        )?;
    }
    Ok(())
}

/// The legend: two columns of entries under the chart, and how equal lines look.
fn draw_legend(area: &DrawingArea<BitMapBackend<'_>, Shift>, keys: &[(Key, String)]) -> Result<()> {
    let (w, _) = area.dim_in_pixel();
    let col = (w as i32 - 2 * PAD) / 2;
    let st = style(14, false, BLACK);
    for (i, (key, label)) in keys.iter().enumerate() {
        let (x, y) = (PAD + (i % 2) as i32 * col, 4 + (i / 2) as i32 * 22);
        let mid = y + 8;
        match *key {
            Key::Line(c, width, false) => area
                .draw(&PathElement::new(
                    [(x, mid), (x + 36, mid)],
                    c.stroke_width(width),
                ))
                .map_err(err)?,
            Key::Line(c, width, true) => {
                for d in 0..3 {
                    let a = x + d * 14;
                    area.draw(&PathElement::new(
                        [(a, mid), (a + 8, mid)],
                        c.stroke_width(width),
                    ))
                    .map_err(err)?;
                }
            }
            Key::Area => {
                area.draw(&Rectangle::new(
                    [(x, y + 1), (x + 36, y + 15)],
                    BACKLOG.mix(0.2).filled(),
                ))
                .map_err(err)?;
                area.draw(&Rectangle::new(
                    [(x, y + 1), (x + 36, y + 15)],
                    BACKLOG.stroke_width(2),
                ))
                .map_err(err)?;
            }
            Key::Cross => area
                .draw(&Cross::new((x + 18, mid), 6, GREY.stroke_width(2)))
                .map_err(err)?,
        }
        let label = shorten(area, label, &st, (col - 52) as u32)?;
        text(area, &label, &st, (x + 46, y))?;
    }
    let y = 4 + keys.len().div_ceil(2) as i32 * 22;
    let note =
        "Equal lines nest: the green band, the red line inside it, the blue dashes in the middle.";
    let st = style(14, false, GREY);
    text(
        area,
        &shorten(area, note, &st, w - 2 * PAD as u32)?,
        &st,
        (PAD, y),
    )?;
    Ok(())
}
