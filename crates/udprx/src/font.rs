//! The font the pictures (`udprx compare --plot`, `udprx bench`) are drawn with.

use anyhow::{anyhow, Result};
use plotters::prelude::FontStyle;

/// The font text is drawn with (Debian's fonts-dejavu-core).
pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Registers the font once.
pub fn font() -> Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = std::fs::read(FONT).map_err(|e| format!("{FONT}: {e}"))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{FONT}: not a usable font"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}
