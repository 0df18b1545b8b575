//! The pages' stylesheet and script, compiled into the binary (nothing comes from a CDN), and the
//! firm's colours as a stylesheet of their own (the Content-Security-Policy allows no inline style).

use sha2::{Digest, Sha256};

pub const PORTAL_CSS: &str = include_str!("../../pages/assets/portal.css");
pub const PORTAL_JS: &str = include_str!("../../pages/assets/portal.js");
pub const CONSOLE_CSS: &str = include_str!("../../pages/assets/console.css");
pub const CONSOLE_JS: &str = include_str!("../../pages/assets/console.js");

/// Changes whenever an asset does, so that browsers may cache them for long.
pub fn version(theme_css: &str) -> String {
    let mut digest = Sha256::new();
    for part in [PORTAL_CSS, PORTAL_JS, CONSOLE_CSS, CONSOLE_JS, theme_css] {
        digest.update(part.as_bytes());
    }
    hex::encode(&digest.finalize()[..6])
}

/// The firm's colour for the header, buttons and links, with text that stays readable on it.
pub fn theme_css(colour: &str) -> Result<String, String> {
    let hex = colour
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| format!("the firm's colour `{colour}` must be #rrggbb, such as #1f5f8b"))?;
    let channel = |i: usize| {
        let value = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if value <= 0.039_28 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        }
    };
    // WCAG relative luminance: white text on dark colours, near-black on light ones.
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    let text = if luminance > 0.179 { "#1a1a1a" } else { "#ffffff" };
    Ok(format!(":root {{ --brand: #{hex}; --brand-text: {text}; }}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_readable_on_the_firms_colour() {
        assert!(theme_css("#1f5f8b").unwrap().contains("--brand-text: #ffffff"));
        assert!(theme_css("#ffd700").unwrap().contains("--brand-text: #1a1a1a"));
        assert!(theme_css("red").unwrap_err().contains("#rrggbb"));
        assert!(theme_css("#12345g").is_err());
    }
}
