//! Grey images drawn with half blocks: each character cell is two pixels,
//! the upper in the foreground colour of `▀`, the lower in the background.
//! Greys as the terminal can show them: 24-bit, the 24 greys of the
//! 256-colour cube, four of the basic 16, or shade glyphs without colour.
//! A grid of labelled images at full size (28 × 14 cells each) or, where
//! that does not fit, at half size (each cell the mean of 2 × 2 pixels).
//! Where the terminal has a graphics protocol, each image's cells also get
//! a [`Placement`], drawn over them at full resolution.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use crate::graphics::Placement;
use crate::theme::Palette;
use promptlab_engine::images::{LabelledImages, IMAGE_SIDE};

const HALF: &str = "▀";

/// How a grid of images fits an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GridFit {
    /// 1: full size; 2: half.
    pub(crate) scale: usize,
    pub(crate) cols: usize,
    pub(crate) rows: usize,
}

impl GridFit {
    /// Character cells across one image.
    pub(crate) fn width(self) -> usize {
        IMAGE_SIDE / self.scale
    }

    pub(crate) fn shown(self, n: usize) -> usize {
        (self.cols * self.rows).min(n)
    }
}

/// How many images a grid row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Columns {
    /// As many as fit.
    Any,
    /// A multiple of this (pairs stay side by side).
    MultipleOf(usize),
    /// At most this many (a grid with its own columns, as the latent walk).
    AtMost(usize),
}

/// The largest size at which all `n` images fit in `width` × `height`
/// cells; else half size with as many as fit (none when not one fits).
pub(crate) fn fit(width: usize, height: usize, n: usize, columns: Columns) -> Option<GridFit> {
    let at = |scale: usize| {
        let cell_w = IMAGE_SIDE / scale + 1;
        let cell_h = IMAGE_SIDE / scale / 2 + 1;
        let room = (width + 1) / cell_w;
        let cols = match columns {
            Columns::Any => room,
            Columns::MultipleOf(k) => room / k.max(1) * k.max(1),
            Columns::AtMost(k) => room.min(k),
        };
        GridFit {
            scale,
            cols,
            rows: height / cell_h,
        }
    };
    let full = at(1);
    if full.cols * full.rows >= n {
        return Some(full);
    }
    let half = at(2);
    (half.cols * half.rows > 0).then_some(half)
}

/// The grey of level `v` (0 black … 1 white) on `palette`.
fn grey(v: f32, palette: Palette) -> Option<Color> {
    let v = v.clamp(0.0, 1.0);
    match palette {
        Palette::Mono => None,
        Palette::Basic16 => Some(
            [Color::Black, Color::DarkGray, Color::Gray, Color::White]
                [((v * 3.0).round() as usize).min(3)],
        ),
        // 16 is black and 231 white; 232 … 255 are the greys between.
        Palette::Indexed256 => Some(Color::Indexed(match (v * 25.0).round() as u8 {
            0 => 16,
            25.. => 231,
            k => 231 + k,
        })),
        Palette::TrueColor => {
            let g = (v * 255.0).round() as u8;
            Some(Color::Rgb(g, g, g))
        }
    }
}

fn shade(v: f32) -> &'static str {
    const GLYPHS: [&str; 5] = [" ", "░", "▒", "▓", "█"];
    GLYPHS[((v.clamp(0.0, 1.0) * 4.0).round() as usize).min(4)]
}

/// Pixel (x, y) of a 28 × 28 image at `scale` (the mean of its block).
fn pixel(image: &[f32], x: usize, y: usize, scale: usize) -> f32 {
    let mut sum = 0.0;
    for dy in 0..scale {
        for dx in 0..scale {
            sum += image[(y * scale + dy) * IMAGE_SIDE + x * scale + dx];
        }
    }
    sum / (scale * scale) as f32
}

/// One cell: `top` over `bottom`.
fn cell(top: f32, bottom: f32, palette: Palette) -> Span<'static> {
    match (grey(top, palette), grey(bottom, palette)) {
        (Some(fg), Some(bg)) => Span::styled(HALF, Style::default().fg(fg).bg(bg)),
        _ => Span::raw(shade(top.max(bottom))),
    }
}

/// The label under an image: the class name (cut to fit) and confidence.
pub(crate) fn label(images: &LabelledImages, i: usize, width: usize) -> String {
    let Some(&(class, p)) = images.labels.get(i) else {
        return String::new();
    };
    let name = images.class_name(class);
    let confidence = format!("{:.2}", p).trim_start_matches('0').to_string();
    let room = width.saturating_sub(confidence.len() + 1);
    let name: String = name.chars().take(room.max(1)).collect();
    format!("{name} {confidence}")
}

/// The grid's lines: `fit.rows` rows of `fit.cols` images, each with its
/// label under it (the confident in `strong`, the others in `weak`).
pub(crate) fn grid(
    images: &LabelledImages,
    fit: GridFit,
    palette: Palette,
    strong: Style,
    weak: Style,
) -> Vec<Line<'static>> {
    let n = fit.shown(images.len());
    let side = fit.width();
    let mut lines = Vec::new();
    for row in 0..n.div_ceil(fit.cols.max(1)) {
        let first = row * fit.cols;
        let members: Vec<usize> = (first..(first + fit.cols).min(n)).collect();
        for text_row in 0..side / 2 {
            let mut spans = Vec::new();
            for (k, &i) in members.iter().enumerate() {
                if k > 0 {
                    spans.push(Span::raw(" "));
                }
                let image = images.image(i);
                for x in 0..side {
                    let top = pixel(image, x, 2 * text_row, fit.scale);
                    let bottom = pixel(image, x, 2 * text_row + 1, fit.scale);
                    spans.push(cell(top, bottom, palette));
                }
            }
            lines.push(Line::from(spans));
        }
        let mut spans = Vec::new();
        for (k, &i) in members.iter().enumerate() {
            if k > 0 {
                spans.push(Span::raw(" "));
            }
            let text = label(images, i, side);
            let confident = images.labels.get(i).is_some_and(|(_, p)| *p >= 0.9);
            let style = if confident { strong } else { weak };
            spans.push(Span::styled(format!("{text:<side$}"), style));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Where [`grid`] puts each image shown, for the terminal's graphics
/// protocol to draw it there at full resolution.
pub(crate) fn placements(images: &LabelledImages, fit: GridFit, area: Rect) -> Vec<Placement> {
    let side = fit.width();
    (0..fit.shown(images.len()))
        .map(|i| {
            let (row, col) = (i / fit.cols.max(1), i % fit.cols.max(1));
            let x = area.x as usize + col * (side + 1);
            let y = area.y as usize + row * (side / 2 + 1);
            Placement {
                area: Rect::new(x as u16, y as u16, side as u16, (side / 2) as u16),
                width: IMAGE_SIDE,
                height: IMAGE_SIDE,
                grey: images
                    .image(i)
                    .iter()
                    .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greys_rise_from_black_to_white_on_every_palette() {
        assert_eq!(grey(0.0, Palette::Indexed256), Some(Color::Indexed(16)));
        assert_eq!(grey(1.0, Palette::Indexed256), Some(Color::Indexed(231)));
        assert_eq!(grey(0.5, Palette::Indexed256), Some(Color::Indexed(244)));
        assert_eq!(grey(0.0, Palette::Basic16), Some(Color::Black));
        assert_eq!(grey(1.0, Palette::Basic16), Some(Color::White));
        assert_eq!(
            grey(1.0, Palette::TrueColor),
            Some(Color::Rgb(255, 255, 255))
        );
        assert_eq!(grey(0.3, Palette::Mono), None);
        assert_eq!(shade(0.0), " ");
        assert_eq!(shade(1.0), "█");
    }

    #[test]
    fn the_grid_takes_full_size_when_all_fit_and_half_otherwise() {
        // Four full images need 4·29−1 = 115 columns and 15 rows.
        assert_eq!(
            fit(115, 15, 4, Columns::Any),
            Some(GridFit {
                scale: 1,
                cols: 4,
                rows: 1
            })
        );
        // 16 do not fit in 60 × 20: half size, 4 across (15 each), 2 down.
        assert_eq!(
            fit(60, 20, 16, Columns::Any),
            Some(GridFit {
                scale: 2,
                cols: 4,
                rows: 2
            })
        );
        assert_eq!(fit(10, 20, 16, Columns::Any), None);
        // Pairs: 5 would fit across, 4 keep the pairs whole; a walk of 3
        // columns keeps 3 even where 4 fit.
        assert_eq!(
            fit(75, 20, 16, Columns::MultipleOf(2)).map(|f| f.cols),
            Some(4)
        );
        assert_eq!(fit(60, 20, 16, Columns::AtMost(3)).map(|f| f.cols), Some(3));
    }
}
