//! What the attention pane reads off a whole capture, computed on the
//! engine thread with the capture so the UI never walks hundreds of
//! megabytes: each head's map pooled to a thumbnail, the prompt's spans
//! (system, exemplars, question, answer) and the answer's attention share
//! in each, per layer.

use promptlab_infer::attention::AttentionMaps;
use promptlab_infer::capture::Capture;

/// The thumbnail of one head: pixels down (two a character row) and across.
pub const THUMB_ROWS: usize = 6;
pub const THUMB_COLS: usize = 7;

/// A token as one short line: line breaks and tabs as visible marks,
/// other control characters (terminal escapes included) as `?`.
pub fn token_label(token: &str) -> String {
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

/// Each head's map pooled to `rows × cols` pixels (the largest weight in
/// each block), computed once per capture so drawing stays cheap.
#[derive(Debug, Clone)]
pub struct Thumbnails {
    pub rows: usize,
    pub cols: usize,
    n_heads: usize,
    /// (layer, head, row, col), flat.
    pixels: Vec<f32>,
}

impl Thumbnails {
    pub fn new(capture: &Capture, rows: usize, cols: usize) -> Thumbnails {
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
    pub fn pixel(&self, layer: usize, head: usize, row: usize, col: usize) -> f32 {
        self.pixels[((layer * self.n_heads + head) * self.rows + row) * self.cols + col]
    }
}

/// A stretch of the captured text the spans view attributes attention to:
/// positions `start..end`, named by its first words.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSpan {
    pub start: usize,
    pub end: usize,
    pub name: String,
}

/// Whether a token is a chat template's marker (`<|im_start|>` and kin).
fn is_marker(token: &str) -> bool {
    token.starts_with("<|") && token.ends_with("|>") || token == "<s>" || token == "</s>"
}

/// Splits the capture into spans: a new one at each template marker, after
/// each blank line (so a few-shot prompt's exemplars, its instruction and
/// its question come apart), and where the answer begins. A span of
/// markers and white space alone joins the one after it.
pub fn prompt_spans(capture: &Capture) -> Vec<PromptSpan> {
    let tokens = &capture.tokens;
    let mut cuts = vec![0];
    for (i, token) in tokens.iter().enumerate().skip(1) {
        let before = &tokens[i - 1];
        let blank_line = before.contains("\n\n")
            || (before.ends_with('\n') && i >= 2 && tokens[i - 2].ends_with('\n'));
        if is_marker(token) || blank_line || i == capture.prompt_tokens {
            cuts.push(i);
        }
    }
    cuts.push(tokens.len());
    cuts.dedup();
    let mut out: Vec<PromptSpan> = Vec::new();
    let mut start = 0;
    for &end in &cuts[1..] {
        let text: String = tokens[start..end]
            .iter()
            .filter(|t| !is_marker(t))
            .map(String::as_str)
            .collect();
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // Markers and blanks alone join the next span (the last one stays).
        if words.is_empty() && end < tokens.len() && end != capture.prompt_tokens {
            continue;
        }
        let name = if start >= capture.prompt_tokens && capture.prompt_tokens < tokens.len() {
            format!("answer: {words}")
        } else {
            words
        };
        out.push(PromptSpan {
            start,
            end,
            name: token_label(&name),
        });
        start = end;
    }
    out
}

/// The queries whose attention the spans view sums: the answer's tokens,
/// or the last position when there is no answer.
pub fn answer_queries(capture: &Capture) -> std::ops::Range<usize> {
    let n = capture.len();
    if capture.prompt_tokens < n {
        capture.prompt_tokens..n
    } else {
        n.saturating_sub(1)..n
    }
}

/// The share of `queries`' attention in `layer` that goes to each span,
/// averaged over the queries and the heads (each row sums to 1, so the
/// shares of all spans sum to 1).
pub fn span_shares(
    maps: &AttentionMaps,
    layer: usize,
    queries: std::ops::Range<usize>,
    spans: &[PromptSpan],
) -> Vec<f32> {
    let mut shares = vec![0f32; spans.len()];
    let count = (queries.len() * maps.n_heads()).max(1) as f32;
    for q in queries {
        for head in 0..maps.n_heads() {
            let row = maps.row(layer, head, q);
            for (share, span) in shares.iter_mut().zip(spans) {
                let end = span.end.min(row.len());
                if span.start < end {
                    *share += row[span.start..end].iter().sum::<f32>();
                }
            }
        }
    }
    shares.iter_mut().for_each(|s| *s /= count);
    shares
}

/// A capture's overview: the thumbnails, the spans and, per layer, the
/// answer's share of attention in each span.
#[derive(Debug, Clone)]
pub struct Overview {
    pub thumbnails: Thumbnails,
    pub spans: Vec<PromptSpan>,
    /// `[layer][span]`.
    pub span_shares: Vec<Vec<f32>>,
}

impl Overview {
    pub fn new(capture: &Capture) -> Overview {
        let maps = &capture.maps;
        let spans = prompt_spans(capture);
        let queries = answer_queries(capture);
        let span_shares = (0..maps.n_layers())
            .map(|layer| span_shares(maps, layer, queries.clone(), &spans))
            .collect();
        Overview {
            thumbnails: Thumbnails::new(capture, THUMB_ROWS, THUMB_COLS),
            spans,
            span_shares,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(tokens: &[&str], prompt_tokens: usize) -> Capture {
        let n = tokens.len();
        Capture {
            // Every query spreads its attention evenly over its keys.
            maps: AttentionMaps::from_fn(1, 2, n, |_, _, q, _| 1.0 / (q + 1) as f32),
            ids: (0..n as u32).collect(),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            prompt_tokens,
        }
    }

    #[test]
    fn spans_split_at_markers_blank_lines_and_the_answer() {
        let c = capture(
            &[
                "<|im_start|>",
                "user",
                "\n",
                "Q",
                ":",
                " 1",
                "\n\n",
                "Q",
                ":",
                " 2",
                "<|im_end|>",
                "\n",
                "<|im_start|>",
                "assistant",
                "\n",
                "A",
                " 3",
            ],
            15,
        );
        let spans = prompt_spans(&c);
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["user Q: 1", "Q: 2", "assistant", "answer: A 3"]);
        assert_eq!(
            (spans[2].start, spans[2].end),
            (10, 15),
            "the blank span joins"
        );
        assert_eq!((spans[0].start, spans[0].end), (0, 7));
        assert_eq!((spans[3].start, spans[3].end), (15, 17));
        // The spans cover every position once, so the shares sum to 1.
        let shares = span_shares(&c.maps, 0, answer_queries(&c), &spans);
        assert!(
            (shares.iter().sum::<f32>() - 1.0).abs() < 1e-5,
            "{shares:?}"
        );
        // Query 15 spreads over 16 keys, query 16 over 17: the first span
        // holds 7 keys of each.
        let first = (7.0 / 16.0 + 7.0 / 17.0) / 2.0;
        assert!((shares[0] - first).abs() < 1e-5, "{shares:?}");
    }

    #[test]
    fn labels_are_one_line_and_never_escapes() {
        assert_eq!(token_label("a\nb\tc\u{1b}[2J"), "a↵b→c?[2J");
    }

    #[test]
    fn thumbnails_keep_the_largest_weight_of_each_block() {
        let c = capture(&["a"; 12], 12);
        let t = Thumbnails::new(&c, 6, 7);
        // The first query's only key holds everything.
        assert_eq!(t.pixel(0, 0, 0, 0), 1.0);
        // Above the diagonal nothing is seen.
        assert_eq!(t.pixel(0, 1, 0, 6), 0.0);
    }
}
