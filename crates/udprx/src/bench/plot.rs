//! `udprx bench`'s picture of its ratios (bench.png).

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::path::Path;

use super::stats::Ratio;
use crate::font::font;

/// One bar of the picture ([`ratios`]).
pub struct RatioBar {
    pub name: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl From<&Ratio> for RatioBar {
    fn from(r: &Ratio) -> Self {
        let j = r.json();
        RatioBar {
            name: r.name.clone(),
            median: j["median"].as_f64().unwrap_or(f64::NAN),
            min: j["min"].as_f64().unwrap_or(f64::NAN),
            max: j["max"].as_f64().unwrap_or(f64::NAN),
        }
    }
}

/// `udprx bench`'s picture: each ratio's median as a bar, its spread over the rounds as a
/// whisker, and the line at 1 (no difference); the first ratio on top.
pub fn ratios(path: &Path, title: &str, bars: &[RatioBar]) -> Result<()> {
    font()?;
    let n = bars.len().max(1);
    let xmax = bars
        .iter()
        .map(|b| b.max.max(b.median))
        .filter(|x| x.is_finite())
        .fold(1.2f64, f64::max)
        * 1.05;
    let root = BitMapBackend::new(path, (1100, 90 + 34 * n as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(430)
        .build_cartesian_2d(0f64..xmax, 0f64..n as f64)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("ratio (median of the per-round ratios; whisker: min to max)")
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    // Bar i is drawn at height n - 1 - i, so that the list reads top down.
    let y = |i: usize| (n - 1 - i) as f64;
    let blue = RGBColor(0x1f, 0x77, 0xb4);
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Rectangle::new(
                [(0.0, y(i) + 0.2), (b.median, y(i) + 0.8)],
                blue.mix(0.6).filled(),
            )
        }))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            PathElement::new(
                vec![(b.min, y(i) + 0.5), (b.max, y(i) + 0.5)],
                BLACK.stroke_width(2),
            )
        }))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            RED.stroke_width(1),
        )))
        .map_err(|e| anyhow!("{e}"))?;
    let style = TextStyle::from(("sans-serif", 14).into_font()).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        ),
    );
    for (i, b) in bars.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(0.0, y(i) + 0.5));
        root.draw(&Text::new(
            format!("{}  {:.3}", b.name, b.median),
            (px - 8, py),
            style.clone(),
        ))
        .map_err(|e| anyhow!("{e}"))?;
    }
    root.present()
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_ratio_bars() {
        let dir = std::env::temp_dir().join(format!("udprx-bars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("b.png");
        let bar = |name: &str, median| RatioBar {
            name: name.into(),
            median,
            min: median * 0.9,
            max: median * 1.1,
        };
        ratios(&p, "test", &[bar("a / b", 1.02), bar("c / d", 2.3)]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 5000, "a picture, not an empty file");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
