//! PNG pictures of the receive queue for `udprx compare --plot`: `sk_rmem_alloc` after each
//! arrival for stock, modern and classic, the `sk_rcvbuf` line, and a cross where an
//! arrival was dropped. Stock memory is the socket's own report (`SO_MEMINFO`), udprx's the
//! module's (`UDPRX_INFO`), not the model's.

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::path::Path;

use super::outcome::Sample;
use crate::font::font;

/// One line of the picture: a side's name and its samples, one per arrival.
pub struct Line<'a> {
    pub name: &'a str,
    pub points: &'a [Sample],
}

/// Draws `lines` and the `rcvbuf` line to `path`.
pub fn draw(path: &Path, title: &str, rcvbuf: u32, lines: &[Line<'_>]) -> Result<()> {
    font()?;
    let n = lines
        .iter()
        .map(|l| l.points.len())
        .max()
        .unwrap_or(0)
        .max(1) as u32;
    let ymax = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.rmem))
        .chain(std::iter::once(rcvbuf))
        .max()
        .unwrap_or(1)
        .saturating_mul(11)
        / 10
        + 1;
    let root = BitMapBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0u32..n + 1, 0u32..ymax)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("arrival")
        .y_desc("sk_rmem_alloc (bytes)")
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(LineSeries::new(
            vec![(0, rcvbuf), (n + 1, rcvbuf)],
            BLACK.stroke_width(2),
        ))
        .map_err(|e| anyhow!("{e}"))?
        .label(format!("sk_rcvbuf {rcvbuf}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    let colors = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
    ];
    for (i, l) in lines.iter().enumerate() {
        let c = colors[i % colors.len()];
        // Offset each line by a pixel's worth so that equal lines stay visible.
        let pts: Vec<(u32, u32)> = l
            .points
            .iter()
            .enumerate()
            .map(|(x, p)| (x as u32 + 1, p.rmem))
            .collect();
        let drops = l.points.iter().filter(|p| p.dropped).count();
        chart
            .draw_series(LineSeries::new(
                pts.clone(),
                c.stroke_width(3 - i.min(2) as u32),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("{} ({drops} dropped)", l.name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart
            .draw_series(
                l.points
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.dropped)
                    .map(|(x, p)| {
                        Cross::new((x as u32 + 1, p.rmem), 4 + 2 * i as i32, c.stroke_width(2))
                    }),
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present()
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::font::FONT;

    #[test]
    fn draws_a_png() {
        if !Path::new(FONT).exists() {
            panic!("{FONT} missing: install fonts-dejavu-core (make setup does)");
        }
        let dir = std::env::temp_dir().join(format!("udprx-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.png");
        let s = |rmem, dropped| Sample {
            rmem,
            backlog: 0,
            dropped,
        };
        let a = [
            s(2304, false),
            s(4608, false),
            s(6912, false),
            s(6912, true),
        ];
        let b = [
            s(2304, false),
            s(4608, false),
            s(6912, false),
            s(9216, false),
        ];
        draw(
            &p,
            "test",
            8192,
            &[
                Line {
                    name: "modern",
                    points: &a,
                },
                Line {
                    name: "classic",
                    points: &b,
                },
            ],
        )
        .unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 5000, "a picture, not an empty file");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
