//! The attention pane's state: the prompt field, the capture shown and the
//! selection in it (layer, head, token), which view is up, and the
//! requests in flight (a capture, a readout of the lens and a head's
//! effect).

use std::sync::Arc;

use promptlab_engine::overview::Overview;
use promptlab_engine::plain::{Capture, Message};
use promptlab_engine::{Readout, RequestId};
use tui_textarea::TextArea;

use super::live::Live;

/// The model view's thumbnail of one head: characters wide and tall (two
/// pixels a character row).
pub(crate) const THUMB_COLS: usize = promptlab_engine::overview::THUMB_COLS;
pub(crate) const THUMB_ROWS: usize = promptlab_engine::overview::THUMB_ROWS / 2;

/// The greedy tokens a typed prompt gets, answered and captured.
pub const ANSWER_TOKENS: usize = 24;

/// How many positions the lens table asks for around the cursor.
pub(crate) const LENS_COLUMNS: usize = 6;

/// How many tokens each lens cell and effect list holds.
pub(crate) const READOUT_K: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Every layer × head as a small heatmap.
    Model,
    /// One head full size, a query per row.
    Head,
    /// The selected token in every head of a layer, both ways.
    Token,
    /// The query·key products before softmax.
    Neuron,
    /// The logit lens: layers × positions.
    Lens,
    /// What the head's output adds to the logits.
    Effect,
    /// How the answer's attention splits over the prompt's parts.
    Spans,
    /// The chat's answer as it streams, a row per token.
    Live,
    /// Two methods' prompts for one question, side by side on its tokens.
    Pair,
}

impl View {
    pub const ALL_VIEWS: [View; 9] = [
        View::Model,
        View::Head,
        View::Token,
        View::Neuron,
        View::Lens,
        View::Effect,
        View::Spans,
        View::Live,
        View::Pair,
    ];

    /// The key that shows this view, and its name.
    pub(crate) fn key_and_name(self) -> (char, &'static str) {
        match self {
            View::Model => ('m', "model"),
            View::Head => ('h', "head"),
            View::Token => ('t', "token"),
            View::Neuron => ('n', "neuron"),
            View::Lens => ('l', "lens"),
            View::Effect => ('e', "effect"),
            View::Spans => ('s', "spans"),
            View::Live => ('v', "live"),
            View::Pair => ('c', "pair"),
        }
    }

    /// Whether the view reads a readout from the engine.
    pub(crate) fn needs_readout(self) -> bool {
        matches!(self, View::Lens | View::Effect)
    }
}

/// A capture being made.
#[derive(Debug, Clone)]
pub(crate) struct Capturing {
    pub(crate) id: RequestId,
    /// The answer so far, as it streams.
    pub(crate) answer: String,
    pub(crate) stopping: bool,
    /// It is the second capture of a pair.
    pub(crate) second: bool,
}

/// Two methods' calls for one question, captured one after the other: the
/// first is the pane's capture, the second is kept here.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub(crate) names: [String; 2],
    pub(crate) question: String,
    pub(crate) second: Option<Arc<Capture>>,
    /// The second capture's request, sent when the first is in.
    pub(crate) pending: Option<promptlab_engine::InspectRequest>,
}

pub struct AttentionState {
    /// The prompt typed in the pane (sent through the chat template).
    pub prompt: TextArea<'static>,
    /// Keys go to the prompt field.
    pub editing: bool,
    pub view: View,
    pub layer: usize,
    pub head: usize,
    /// The selected position (a query in the head view).
    pub token: usize,
    pub capture: Option<Arc<Capture>>,
    /// Where the capture came from, for the title.
    pub(crate) source: String,
    /// The capture's thumbnails and spans (computed by the engine).
    pub(crate) overview: Option<Arc<Overview>>,
    pub(crate) capturing: Option<Capturing>,
    pub(crate) readout: Option<Readout>,
    pub(crate) readout_in_flight: Option<RequestId>,
    /// The chat messages and answer last captured from the chat, so the
    /// attention key does not capture the same again.
    pub(crate) last_asked: Option<(Vec<Message>, String)>,
    /// Chat answers are captured as they stream (the live view shows them).
    pub live_on: bool,
    pub live: Live,
    pub(crate) pair: Option<Pair>,
}

impl Default for AttentionState {
    fn default() -> Self {
        let mut prompt = TextArea::default();
        prompt.set_placeholder_text("type a prompt, Enter captures it and a greedy answer");
        AttentionState {
            prompt,
            editing: true,
            view: View::Model,
            layer: 0,
            head: 0,
            token: 0,
            capture: None,
            source: String::new(),
            overview: None,
            capturing: None,
            readout: None,
            readout_in_flight: None,
            last_asked: None,
            live_on: false,
            live: Live::default(),
            pair: None,
        }
    }
}

impl AttentionState {
    /// Whether a capture or a readout is in flight.
    pub fn running(&self) -> bool {
        self.capturing.is_some() || self.readout_in_flight.is_some()
    }

    /// The request in flight to stop when the app quits.
    pub fn in_flight(&self) -> Vec<RequestId> {
        self.capturing
            .iter()
            .map(|c| c.id)
            .chain(self.readout_in_flight)
            .collect()
    }

    /// Whether `id` is one of this pane's requests.
    pub fn owns(&self, id: RequestId) -> bool {
        self.in_flight().contains(&id)
    }

    /// A token of chat answer `id`, for the live view.
    pub fn live_token(&mut self, id: RequestId, token: &promptlab_engine::TokenEvent) {
        self.live.push(id, token);
    }

    /// Shows `capture` from `source`, the selection kept where it fits.
    pub fn show(&mut self, capture: Arc<Capture>, overview: Arc<Overview>, source: String) {
        let maps = &capture.maps;
        self.layer = self.layer.min(maps.n_layers().saturating_sub(1));
        self.head = self.head.min(maps.n_heads().saturating_sub(1));
        // The answer's first token, where there is one: what one inspects.
        self.token = if capture.len() > capture.prompt_tokens {
            capture.prompt_tokens
        } else {
            capture.len().saturating_sub(1)
        };
        self.overview = Some(overview);
        self.capture = Some(capture);
        self.source = source;
        self.readout = None;
        self.editing = false;
    }

    /// The positions the lens table shows: up to [`LENS_COLUMNS`] around
    /// the cursor.
    pub(crate) fn lens_positions(&self) -> Vec<usize> {
        let Some(c) = &self.capture else {
            return vec![];
        };
        let n = c.len();
        let start = self
            .token
            .saturating_sub(LENS_COLUMNS / 2)
            .min(n.saturating_sub(LENS_COLUMNS));
        (start..(start + LENS_COLUMNS).min(n)).collect()
    }

    /// Whether the readout shown is for the selection (and the view needs one).
    pub(crate) fn readout_current(&self) -> bool {
        match &self.readout {
            Some(r) => {
                r.cursor == self.token
                    && r.layer == self.layer
                    && r.head == self.head
                    && r.lens.iter().map(|(p, _)| *p).eq(self.lens_positions())
            }
            None => false,
        }
    }
}
