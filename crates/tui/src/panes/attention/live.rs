//! The live view's data: the chat answer streaming now (or the last one),
//! token by token, each with its alternatives and, when live capture was
//! on, what its position attended to in every layer and head. Rows are
//! kept for the newest [`KEEP_ROWS`] tokens only, so a long answer stays
//! bounded in memory.

use promptlab_engine::plain::QueryAttention;
use promptlab_engine::{RequestId, TokenEvent};

/// How many of the newest tokens keep their attention rows.
pub(crate) const KEEP_ROWS: usize = 64;

#[derive(Debug, Clone)]
pub struct LiveStep {
    pub text: String,
    pub logprob: f32,
    pub top: Vec<(String, f32)>,
    pub row: Option<QueryAttention>,
}

#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The chat request the steps are of.
    pub request: Option<RequestId>,
    /// The text of every key position seen so far.
    pub keys: Vec<String>,
    pub steps: Vec<LiveStep>,
    /// The step shown; `None` follows the newest.
    pub selected: Option<usize>,
}

impl Live {
    /// Adds a token of chat request `id` (a new request starts afresh).
    pub(crate) fn push(&mut self, id: RequestId, token: &TokenEvent) {
        if self.request != Some(id) {
            *self = Live {
                request: Some(id),
                ..Live::default()
            };
        }
        let row = token.attention.as_ref().map(|a| {
            self.keys.extend(a.new_keys.iter().cloned());
            a.row.clone()
        });
        self.steps.push(LiveStep {
            text: token.text.clone(),
            logprob: token.logprob,
            top: token.top.clone(),
            row,
        });
        if let Some(old) = self.steps.len().checked_sub(KEEP_ROWS + 1) {
            self.steps[old].row = None;
        }
    }

    /// The step on screen.
    pub(crate) fn shown(&self) -> Option<usize> {
        self.selected
            .filter(|&s| s < self.steps.len())
            .or(self.steps.len().checked_sub(1))
    }

    /// Moves the shown step by `delta`; past the newest it follows the
    /// stream again.
    pub(crate) fn step(&mut self, delta: isize) {
        let Some(now) = self.shown() else {
            return;
        };
        let last = self.steps.len() - 1;
        let to = (now as isize + delta).clamp(0, last as isize) as usize;
        self.selected = (to < last).then_some(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptlab_engine::LiveAttention;

    fn token(text: &str, query: usize, new_keys: &[&str]) -> TokenEvent {
        TokenEvent {
            text: text.into(),
            logprob: -0.1,
            top: vec![(text.into(), -0.1)],
            attention: Some(LiveAttention {
                row: QueryAttention {
                    query,
                    n_layers: 1,
                    n_heads: 1,
                    weights: vec![1.0 / (query + 1) as f32; query + 1],
                },
                new_keys: new_keys.iter().map(|k| k.to_string()).collect(),
            }),
        }
    }

    #[test]
    fn keys_grow_with_the_answer_and_old_rows_are_dropped() {
        let mut live = Live::default();
        live.push(7, &token("A", 1, &["Q", ":"]));
        live.push(7, &token("B", 2, &["A"]));
        assert_eq!(live.keys, ["Q", ":", "A"]);
        assert_eq!(live.shown(), Some(1));
        live.step(-1);
        assert_eq!(live.shown(), Some(0));
        live.step(5);
        assert_eq!((live.selected, live.shown()), (None, Some(1)));
        for i in 0..KEEP_ROWS + 5 {
            live.push(7, &token("x", 3 + i, &["x"]));
        }
        let kept = live.steps.iter().filter(|s| s.row.is_some()).count();
        assert_eq!(kept, KEEP_ROWS);
        // Another request starts over.
        live.push(8, &token("C", 1, &["Q", ":"]));
        assert_eq!((live.steps.len(), live.keys.len()), (1, 2));
    }
}
