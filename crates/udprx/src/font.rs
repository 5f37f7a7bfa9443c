//! The font the pictures (`udprx compare --plot`, `udprx bench`) are drawn with.

use anyhow::{anyhow, Result};
use plotters::prelude::FontStyle;

/// The font text is drawn with (Debian's fonts-dejavu-core).
pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Its bold face, for titles and headings; where it is missing, text in bold is drawn in
/// [`FONT`].
pub const BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// Registers the fonts once, as family "sans-serif".
pub fn font() -> Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = std::fs::read(FONT).map_err(|e| format!("{FONT}: {e}"))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{FONT}: not a usable font"))?;
        if let Ok(bold) = std::fs::read(BOLD) {
            let bold: &'static [u8] = Box::leak(bold.into_boxed_slice());
            // Not usable: bold text falls back to the normal face.
            let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, bold);
        }
        Ok(())
    })
    .clone()
    .map_err(|e| anyhow!(e))
}
