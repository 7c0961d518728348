//! Heatmaps in text: a colour ramp for attention weights that reads in 16
//! colours, 256 colours and true colour (shade glyphs without colour), and
//! the half-block cell that draws two pixels in one character.

use ratatui::style::{Color, Style};

use crate::theme::Palette;

/// The upper half block: foreground the top pixel, background the bottom.
pub(crate) const HALF: &str = "▀";

/// Weights are drawn through a square root, so the many small weights of a
/// long sequence stay visible beside the one large weight of a sink.
pub(crate) fn level(weight: f32) -> f32 {
    weight.clamp(0.0, 1.0).sqrt()
}

/// Dark to bright, in the 16 basic colours.
const BASIC: [Color; 8] = [
    Color::Black,
    Color::Blue,
    Color::Magenta,
    Color::Red,
    Color::LightRed,
    Color::Yellow,
    Color::LightYellow,
    Color::White,
];

/// Dark to bright in the 256-colour cube (black, purples, reds, oranges,
/// yellow, near white).
const INDEXED: [u8; 12] = [16, 17, 54, 90, 126, 161, 197, 202, 208, 214, 220, 230];

/// Stops of an inferno-like ramp for true colour.
const STOPS: [(f32, [u8; 3]); 6] = [
    (0.0, [0, 0, 4]),
    (0.2, [50, 10, 94]),
    (0.4, [120, 28, 109]),
    (0.6, [188, 55, 84]),
    (0.8, [237, 105, 37]),
    (1.0, [252, 255, 164]),
];

/// The colour of `weight` (a probability) on `palette`; `None` without
/// colour (see [`shade`]).
pub(crate) fn color(weight: f32, palette: Palette) -> Option<Color> {
    let v = level(weight);
    let pick = |n: usize| ((v * (n - 1) as f32).round() as usize).min(n - 1);
    match palette {
        Palette::Mono => None,
        Palette::Basic16 => Some(BASIC[pick(BASIC.len())]),
        Palette::Indexed256 => Some(Color::Indexed(INDEXED[pick(INDEXED.len())])),
        Palette::TrueColor => {
            let [r, g, b] = rgb(weight);
            Some(Color::Rgb(r, g, b))
        }
    }
}

/// The true colour of `weight` on the inferno-like ramp (the attention
/// pictures use it too).
pub fn rgb(weight: f32) -> [u8; 3] {
    let v = level(weight);
    let i = STOPS
        .windows(2)
        .position(|w| v <= w[1].0)
        .unwrap_or(STOPS.len() - 2);
    let ((a, ca), (b, cb)) = (STOPS[i], STOPS[i + 1]);
    let t = ((v - a) / (b - a)).clamp(0.0, 1.0);
    let mix = |k: usize| (f32::from(ca[k]) + t * (f32::from(cb[k]) - f32::from(ca[k]))) as u8;
    [mix(0), mix(1), mix(2)]
}

/// A glyph for `weight` where there is no colour: blank to full block.
pub(crate) fn shade(weight: f32) -> &'static str {
    const GLYPHS: [&str; 5] = [" ", "░", "▒", "▓", "█"];
    let v = level(weight);
    GLYPHS[((v * 4.0).round() as usize).min(4)]
}

/// One character cell showing `top` over `bottom` (either may be absent:
/// past the end of a map). Without colour, the brighter of the two as a
/// shade glyph.
pub(crate) fn cell(
    top: Option<f32>,
    bottom: Option<f32>,
    palette: Palette,
) -> (&'static str, Style) {
    if palette == Palette::Mono {
        let v = top.unwrap_or(0.0).max(bottom.unwrap_or(0.0));
        return (shade(v), Style::default());
    }
    let mut style = Style::default();
    if let Some(c) = top.and_then(|v| color(v, palette)) {
        style = style.fg(c);
    }
    if let Some(c) = bottom.and_then(|v| color(v, palette)) {
        style = style.bg(c);
    }
    match top {
        Some(_) => (HALF, style),
        None => (" ", style),
    }
}

/// One full cell of `weight` (the head view: a query per row).
pub(crate) fn full(weight: f32, palette: Palette) -> (&'static str, Style) {
    match color(weight, palette) {
        Some(c) => (" ", Style::default().bg(c)),
        None => (shade(weight), Style::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::is_basic;

    #[test]
    fn the_ramp_is_monotone_and_keeps_to_each_palette() {
        for palette in [Palette::Basic16, Palette::Indexed256, Palette::TrueColor] {
            let mut last = None;
            for i in 0..=100 {
                let c = color(i as f32 / 100.0, palette).unwrap();
                if palette == Palette::Basic16 {
                    assert!(is_basic(c), "{c:?}");
                }
                if palette == Palette::TrueColor {
                    let Color::Rgb(r, g, b) = c else {
                        panic!("{c:?}")
                    };
                    let sum = u32::from(r) + u32::from(g) + u32::from(b);
                    assert!(last.is_none_or(|l| sum + 2 >= l), "darker at {i}");
                    last = Some(sum);
                }
            }
            assert_ne!(color(0.0, palette), color(1.0, palette));
        }
        assert_eq!(color(0.5, Palette::Mono), None);
        assert_eq!(shade(0.0), " ");
        assert_eq!(shade(1.0), "█");
    }

    #[test]
    fn a_cell_is_two_pixels() {
        let (glyph, style) = cell(Some(1.0), Some(0.0), Palette::Basic16);
        assert_eq!(glyph, HALF);
        assert_eq!(style.fg, Some(Color::White));
        assert_eq!(style.bg, Some(Color::Black));
        assert_eq!(cell(Some(0.0), Some(1.0), Palette::Mono).0, "█");
    }
}
