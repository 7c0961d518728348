//! What the views read off a capture: a token as a one-line label, a
//! query's strongest keys, the later queries that attend to a key, and the
//! model view's thumbnails (each head's map pooled to a few pixels).

use promptlab_engine::plain::{AttentionMaps, Capture};

/// A token as one short line: line breaks and tabs as visible marks,
/// other control characters (terminal escapes included) as `?`.
pub(crate) fn label(token: &str) -> String {
    token
        .chars()
        .map(|c| match c {
            '\n' => '↵',
            '\t' => '→',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// `label`, cut or padded to exactly `width` columns (a character a column).
pub(crate) fn fit(text: &str, width: usize) -> String {
    let mut out: String = text.chars().take(width).collect();
    let n = out.chars().count();
    out.extend(std::iter::repeat_n(' ', width - n));
    out
}

/// The `k` keys query `q` of a head weighs most: (key, weight), largest
/// first, ties to the earlier key.
pub(crate) fn top_keys(
    maps: &AttentionMaps,
    layer: usize,
    head: usize,
    q: usize,
    k: usize,
) -> Vec<(usize, f32)> {
    let mut keys: Vec<(usize, f32)> = maps
        .row(layer, head, q)
        .iter()
        .copied()
        .enumerate()
        .collect();
    keys.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    keys.truncate(k);
    keys
}

/// The `k` later queries (after `key`, up to the end) that weigh `key`
/// most: (query, weight), largest first.
pub(crate) fn top_queries(
    maps: &AttentionMaps,
    layer: usize,
    head: usize,
    key: usize,
    k: usize,
) -> Vec<(usize, f32)> {
    let mut queries: Vec<(usize, f32)> = (key + 1..maps.n_queries())
        .map(|q| (q, maps.prob(layer, head, q, key)))
        .collect();
    queries.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    queries.truncate(k);
    queries
}

/// Each head's map pooled to `rows × cols` pixels (the largest weight in
/// each block), computed once per capture so drawing stays cheap.
#[derive(Debug, Clone)]
pub(crate) struct Thumbnails {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    n_heads: usize,
    /// (layer, head, row, col), flat.
    pixels: Vec<f32>,
}

impl Thumbnails {
    pub(crate) fn new(capture: &Capture, rows: usize, cols: usize) -> Thumbnails {
        let maps = &capture.maps;
        let (layers, heads, n) = (maps.n_layers(), maps.n_heads(), maps.n_queries());
        let mut pixels = vec![0f32; layers * heads * rows * cols];
        // Which pixel a position falls in, along each axis.
        let bin = |pos: usize, bins: usize| (pos * bins / n.max(1)).min(bins - 1);
        for layer in 0..layers {
            for head in 0..heads {
                let base = (layer * heads + head) * rows * cols;
                for q in 0..n {
                    let r = bin(q, rows);
                    for (k, &p) in maps.row(layer, head, q).iter().enumerate() {
                        let px = &mut pixels[base + r * cols + bin(k, cols)];
                        *px = px.max(p);
                    }
                }
            }
        }
        Thumbnails {
            rows,
            cols,
            n_heads: heads,
            pixels,
        }
    }

    /// The pixel at (`row`, `col`) of a head's thumbnail.
    pub(crate) fn pixel(&self, layer: usize, head: usize, row: usize, col: usize) -> f32 {
        self.pixels[((layer * self.n_heads + head) * self.rows + row) * self.cols + col]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_one_line_and_never_escapes() {
        assert_eq!(label("a\nb\tc\u{1b}[2J"), "a↵b→c?[2J");
        assert_eq!(fit("Paris", 3), "Par");
        assert_eq!(fit("é", 3), "é  ");
    }
}
