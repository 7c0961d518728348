//! What the views read off a capture beside its overview: a token as a
//! one-line label, a query's strongest keys, the later queries that attend
//! to a key, and two captures' attention aligned on a question.

pub(crate) use promptlab_engine::overview::answer_queries;
use promptlab_engine::plain::{AttentionMaps, Capture};

/// A token as one short line (see [`promptlab_engine::overview::token_label`]).
pub(crate) fn label(token: &str) -> String {
    promptlab_engine::overview::token_label(token)
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
    fn fit_cuts_and_pads_to_the_width() {
        assert_eq!(fit("Paris", 3), "Par");
        assert_eq!(fit("é", 3), "é  ");
    }
}
