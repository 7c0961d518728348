//! `promptlab attention --png`: the attention of one head as a picture
//! (queries down, keys across, each token's text on both axes), or every
//! selected layer × head as a grid of small maps. Colours are the pane's
//! true-colour ramp (square-root scaled); cells above the diagonal, which a
//! query cannot see, are grey; a white line marks where the answer begins.

mod font;

use std::path::Path;

use promptlab_infer::attention::AttentionMaps;
use promptlab_tui::panes::attention::heat_rgb;

/// The largest side of a picture, in pixels.
const MAX_SIDE: usize = 4096;
/// Characters of a token label.
const LABEL_CHARS: usize = 14;
const ADVANCE: usize = font::WIDTH + 1;
const LINE: usize = font::HEIGHT + 2;
const UNSEEN: [u8; 3] = [48, 48, 48];
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [20, 20, 20];
const MARK: [u8; 3] = [255, 255, 255];

struct Image {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn new(width: usize, height: usize) -> Image {
        Image {
            width,
            height,
            rgb: BACKGROUND.repeat(width * height),
        }
    }

    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// `text` from (`x`, `y`) (its top-left); `upward` turns it a quarter
    /// to read from bottom to top, (`x`, `y`) then its bottom-left.
    fn text(&mut self, x: usize, y: usize, text: &str, upward: bool) {
        for (i, c) in text.chars().enumerate() {
            for gy in 0..font::HEIGHT {
                for gx in 0..font::WIDTH {
                    if !font::pixel(c, gx, gy) {
                        continue;
                    }
                    let along = i * ADVANCE + gx;
                    if upward {
                        if let Some(py) = y.checked_sub(along) {
                            self.set(x + gy, py, INK);
                        }
                    } else {
                        self.set(x + along, y + gy, INK);
                    }
                }
            }
        }
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        let png = promptlab_tui::graphics::png::encode(self.width, self.height, &self.rgb);
        promptlab_infer::fsutil::write_atomic(path, &png)
    }
}

/// A token as a picture's label: printable ASCII (a line break as `\n`,
/// anything else as `?`), at most [`LABEL_CHARS`].
fn label(pos: usize, token: &str) -> String {
    let text: String = token
        .chars()
        .flat_map(|c| match c {
            '\n' => vec!['\\', 'n'],
            ' '..='~' => vec![c],
            _ => vec!['?'],
        })
        .collect();
    format!("{pos} {text}").chars().take(LABEL_CHARS).collect()
}

/// One head: a cell per (query, key), the token labels down the left and
/// up along the top (every one where the cells are tall enough, else every
/// few), and a title.
pub fn write_head(
    path: &Path,
    maps: &AttentionMaps,
    tokens: &[String],
    prompt_tokens: usize,
    layer: usize,
    head: usize,
) -> anyhow::Result<()> {
    let n = maps.n_queries();
    let margin = LABEL_CHARS * ADVANCE + 6;
    let cell = ((MAX_SIDE - margin) / n.max(1)).clamp(1, 12);
    if cell * n + margin > MAX_SIDE || n == 0 {
        anyhow::bail!("--png: {n} positions do not fit a {MAX_SIDE}-pixel picture");
    }
    let top = margin + LINE;
    let side = margin + cell * n;
    let mut img = Image::new(side + 4, top + cell * n + 4);
    img.text(
        2,
        2,
        &format!("L{layer} H{head}  {n} positions ({prompt_tokens} prompt)"),
        false,
    );
    for q in 0..n {
        let row = maps.row(layer, head, q);
        for k in 0..n {
            let c = match row.get(k) {
                Some(&w) => heat_rgb(w),
                None => UNSEEN,
            };
            img.fill(margin + k * cell, top + q * cell, cell, cell, c);
        }
    }
    if prompt_tokens > 0 && prompt_tokens < n {
        let at = prompt_tokens * cell;
        img.fill(margin + at, top, 1, cell * n, MARK);
        img.fill(margin, top + at, cell * n, 1, MARK);
    }
    // Every `step`-th token labelled, so labels never overlap.
    let step = LINE.div_ceil(cell).max(1);
    for (pos, token) in tokens.iter().enumerate().take(n).step_by(step) {
        let text = label(pos, token);
        let mid = (cell.saturating_sub(font::HEIGHT)) / 2;
        img.text(2, top + pos * cell + mid, &text, false);
        img.text(margin + pos * cell + mid, top - 3, &text, true);
    }
    img.write(path)?;
    Ok(())
}

/// Every layer in `layers` (rows) × head in `heads` (columns) as a small
/// map, the largest weight of each block of queries × keys, labelled.
pub fn write_grid(
    path: &Path,
    maps: &AttentionMaps,
    layers: &[usize],
    heads: &[usize],
) -> anyhow::Result<()> {
    let n = maps.n_queries().max(1);
    let most = layers.len().max(heads.len()).max(1);
    let thumb = ((MAX_SIDE - 40) / most - 4).clamp(8, 96).min(n.max(8));
    let (left, top, gap) = (4 * ADVANCE + 4, LINE + 2, 4);
    let mut img = Image::new(
        left + heads.len() * (thumb + gap),
        top + layers.len() * (thumb + gap),
    );
    for (j, &h) in heads.iter().enumerate() {
        img.text(left + j * (thumb + gap), 2, &format!("H{h}"), false);
    }
    let bin = |pos: usize| (pos * thumb / n).min(thumb - 1);
    for (i, &l) in layers.iter().enumerate() {
        let y0 = top + i * (thumb + gap);
        img.text(
            2,
            y0 + thumb / 2 - font::HEIGHT / 2,
            &format!("L{l}"),
            false,
        );
        for (j, &h) in heads.iter().enumerate() {
            let x0 = left + j * (thumb + gap);
            let mut pixels = vec![None::<f32>; thumb * thumb];
            for q in 0..maps.n_queries() {
                for (k, &w) in maps.row(l, h, q).iter().enumerate() {
                    let px = &mut pixels[bin(q) * thumb + bin(k)];
                    *px = Some(px.map_or(w, |p: f32| p.max(w)));
                }
            }
            for (p, value) in pixels.iter().enumerate() {
                let c = value.map_or(UNSEEN, heat_rgb);
                img.set(x0 + p % thumb, y0 + p / thumb, c);
            }
        }
    }
    img.write(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_ascii_and_short() {
        assert_eq!(label(3, " Paris\n"), "3  Paris\\n");
        assert_eq!(label(12, "é"), "12 ?");
        assert_eq!(label(1, &"x".repeat(40)).len(), LABEL_CHARS);
    }
}
