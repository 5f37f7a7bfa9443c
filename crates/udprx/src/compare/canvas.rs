// SPDX-License-Identifier: GPL-2.0

//! What the pictures of `udprx compare --plot` share: text measured with the font it is
//! drawn in, wrapped or shortened to a width, and drawn from its top left corner.

use anyhow::{anyhow, Result};
use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

/// plotters' errors, which do not cross threads, as text.
pub(super) fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// A text style of the pictures' family: `size` pixels, bold or not, in `color`.
pub(super) fn style(size: u32, bold: bool, color: RGBColor) -> TextStyle<'static> {
    let face = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    ("sans-serif", size, face)
        .into_font()
        .color(&color)
        .pos(Pos::new(HPos::Left, VPos::Top))
}

/// The width of `text` in pixels, as the font lays it out.
pub(super) fn width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> Result<u32> {
    Ok(area.estimate_text_size(text, style).map_err(err)?.0)
}

/// `text` cut to `max` pixels: as long a head of it as fits with "…" after it.
pub(super) fn shorten<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max: u32,
) -> Result<String> {
    if width(area, text, style)? <= max {
        return Ok(text.to_string());
    }
    let mut head: Vec<char> = text.chars().collect();
    while !head.is_empty() {
        head.pop();
        let s = format!("{}…", head.iter().collect::<String>().trim_end());
        if width(area, &s, style)? <= max {
            return Ok(s);
        }
    }
    Ok(String::new())
}

/// `text` broken between words into lines no wider than `max` pixels; a word wider than
/// `max` on its own is shortened.
pub(super) fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max: u32,
) -> Result<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let longer = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(area, &longer, style)? <= max {
            line = longer;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line = shorten(area, word, style, max)?;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Ok(lines)
}

/// `text` in at most `most` lines of at most `max` pixels, in the largest of `sizes`
/// (largest first) that fits; in the last size its last line is shortened. Returns the
/// size and the lines.
pub(super) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    sizes: &[u32],
    color: RGBColor,
    max: u32,
    most: usize,
) -> Result<(u32, Vec<String>)> {
    let mut last = (0, Vec::new());
    for &size in sizes {
        let st = style(size, false, color);
        let lines = wrap(area, text, &st, max)?;
        if lines.len() <= most {
            return Ok((size, lines));
        }
        last = (size, lines);
    }
    let (size, mut lines) = last;
    if lines.len() > most {
        let st = style(size, false, color);
        let rest = lines.split_off(most - 1).join(" ");
        lines.push(shorten(area, &rest, &st, max)?);
    }
    Ok((size, lines))
}

/// Draws `text` with its top left corner at `at`.
pub(super) fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    at: (i32, i32),
) -> Result<()> {
    area.draw_text(text, style, at).map_err(err)
}
