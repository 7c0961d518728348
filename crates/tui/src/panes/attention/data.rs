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
        let spans = spans(&c);
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
    fn a_question_tokenized_differently_aligns_on_its_characters() {
        // A: "Q: What is 2+2?" as ["Q", ":", " What", " is", " 2+2", "?"];
        // B has an exemplar first and splits "2+2" in three.
        let a = capture(&["Q", ":", " What", " is", " 2+2", "?", "A"], 6);
        let b = capture(
            &[
                "Q", ": 1", "\n\n", "Q", ":", " What", " is", " 2", "+", "2", "?", "A",
            ],
            11,
        );
        let tokens = aligned_question([&a, &b], "What is 2+2?", &[0]).unwrap();
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, [" What", " is", " 2+2", "?"]);
        // Every key gets 1/7 of A's answer query and 1/12 of B's.
        let (ka, kb) = (1.0 / 7.0, 1.0 / 12.0);
        assert!((tokens[2].shares[0] - ka).abs() < 1e-6);
        assert!((tokens[2].shares[1] - 3.0 * kb).abs() < 1e-6, "{tokens:?}");
        assert!((tokens[0].shares[1] - kb).abs() < 1e-6);
        assert!(aligned_question([&a, &b], "not there", &[0]).is_none());
    }

    #[test]
    fn labels_are_one_line_and_never_escapes() {
        assert_eq!(label("a\nb\tc\u{1b}[2J"), "a↵b→c?[2J");
        assert_eq!(fit("Paris", 3), "Par");
        assert_eq!(fit("é", 3), "é  ");
    }
}

/// A stretch of the captured text the spans view attributes attention to:
/// positions `start..end`, named by its first words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) name: String,
}

/// Whether a token is a chat template's marker (`<|im_start|>` and kin).
fn is_marker(token: &str) -> bool {
    token.starts_with("<|") && token.ends_with("|>") || token == "<s>" || token == "</s>"
}

/// Splits the capture into spans: a new one at each template marker, after
/// each blank line (so a few-shot prompt's exemplars, its instruction and
/// its question come apart), and where the answer begins. A span of
/// markers and white space alone joins the one after it.
pub(crate) fn spans(capture: &Capture) -> Vec<Span> {
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
    let mut out: Vec<Span> = Vec::new();
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
        out.push(Span {
            start,
            end,
            name: label(&name),
        });
        start = end;
    }
    out
}

/// The queries whose attention the spans view sums: the answer's tokens,
/// or the last position when there is no answer.
pub(crate) fn answer_queries(capture: &Capture) -> std::ops::Range<usize> {
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
pub(crate) fn span_shares(
    maps: &AttentionMaps,
    layer: usize,
    queries: std::ops::Range<usize>,
    spans: &[Span],
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

/// Where each token starts and ends in the concatenated token texts.
fn char_ranges(tokens: &[String]) -> Vec<(usize, usize)> {
    let mut at = 0;
    tokens
        .iter()
        .map(|t| {
            let start = at;
            at += t.chars().count();
            (start, at)
        })
        .collect()
}

/// The question's tokens in a capture's prompt (its last occurrence), with
/// each token's characters relative to the question's start.
pub(crate) fn question_tokens(
    capture: &Capture,
    question: &str,
) -> Option<Vec<(usize, usize, usize)>> {
    let prompt: String = capture.tokens[..capture.prompt_tokens].concat();
    let question = question.trim();
    if question.is_empty() {
        return None;
    }
    let byte = prompt.rfind(question)?;
    let start = prompt[..byte].chars().count();
    let end = start + question.chars().count();
    Some(
        char_ranges(&capture.tokens[..capture.prompt_tokens])
            .into_iter()
            .enumerate()
            .filter(|&(_, (s, e))| e > start && s < end)
            .map(|(pos, (s, e))| (pos, s.saturating_sub(start), e.min(end) - start))
            .collect(),
    )
}

/// The mean (over heads and the answer's tokens) of the weight on `key`
/// in `layers`.
fn key_share(
    maps: &AttentionMaps,
    layers: &[usize],
    queries: std::ops::Range<usize>,
    key: usize,
) -> f32 {
    let mut sum = 0.0;
    for &layer in layers {
        for head in 0..maps.n_heads() {
            for q in queries.clone() {
                sum += maps.prob(layer, head, q, key);
            }
        }
    }
    sum / (layers.len() * maps.n_heads() * queries.len()).max(1) as f32
}

/// One question token of the pair view: its text (from the first
/// capture) and the share of each capture's answer attention it gets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AlignedToken {
    /// Its position in the first capture.
    pub(crate) pos: usize,
    pub(crate) text: String,
    pub(crate) shares: [f32; 2],
}

/// The two captures' attention on the question, aligned on its
/// characters: each of the second capture's question tokens counts for
/// the first capture's token its first character falls in. `None` when
/// the question is not in both prompts.
pub(crate) fn aligned_question(
    pair: [&Capture; 2],
    question: &str,
    layers: &[usize],
) -> Option<Vec<AlignedToken>> {
    let a = question_tokens(pair[0], question)?;
    let b = question_tokens(pair[1], question)?;
    let share = |c: &Capture, key: usize| key_share(&c.maps, layers, answer_queries(c), key);
    let mut out: Vec<AlignedToken> = a
        .iter()
        .map(|&(pos, _, _)| AlignedToken {
            pos,
            text: pair[0].tokens[pos].clone(),
            shares: [share(pair[0], pos), 0.0],
        })
        .collect();
    for &(pos, start, _) in &b {
        let slot = a.iter().rposition(|&(_, s, _)| s <= start).unwrap_or(0);
        if let Some(token) = out.get_mut(slot) {
            token.shares[1] += share(pair[1], pos);
        }
    }
    Some(out)
}
