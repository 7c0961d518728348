//! The attention pane's work: capturing a prompt (and an answer) with
//! attention on, and reading a capture through the unembedding (the logit
//! lens at some positions, one head's effect on the logits at one).

use std::ops::ControlFlow;
use std::sync::Arc;

use promptlab_infer::capture::{capture, Capture};
use promptlab_infer::chat_template::Message;
use promptlab_infer::lens::Ranked;
use promptlab_infer::LoadedModel;

use crate::cancel::CancelToken;
use crate::overview::Overview;
use crate::protocol::{Event, RequestError, RequestId};

/// What to capture: a conversation through the model's chat template, an
/// answer already given to it, and greedy tokens after that.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectRequest {
    pub id: RequestId,
    /// System (optional) and turns, oldest first; the last is the user's.
    pub messages: Vec<Message>,
    /// A raw prompt used as it is instead of `messages` (a completion
    /// call of a method).
    pub raw: Option<String>,
    /// Text after the prompt captured too (the answer being inspected).
    pub answer: String,
    /// Greedy tokens to generate after all that and capture (0: none).
    pub generate: usize,
}

/// What to read out of a capture.
#[derive(Debug, Clone)]
pub struct ReadoutRequest {
    pub id: RequestId,
    pub capture: Arc<Capture>,
    /// Positions whose logit lens (every layer) is wanted.
    pub positions: Vec<usize>,
    /// Where `head` of `layer`'s effect on the logits is wanted.
    pub cursor: usize,
    pub layer: usize,
    pub head: usize,
    /// Tokens per list.
    pub k: usize,
}

/// Requests compare by what they ask for; captures by identity.
impl PartialEq for ReadoutRequest {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.capture, &other.capture)
            && (
                self.id,
                &self.positions,
                self.cursor,
                self.layer,
                self.head,
                self.k,
            ) == (
                other.id,
                &other.positions,
                other.cursor,
                other.layer,
                other.head,
                other.k,
            )
    }
}

/// A token as text with a probability (the lens) or a logit change (a
/// head's effect).
pub type TokenValue = (String, f32);

/// What a [`ReadoutRequest`] asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    /// `(position, per layer the top tokens with probabilities)`.
    pub lens: Vec<(usize, Vec<Vec<TokenValue>>)>,
    pub cursor: usize,
    pub layer: usize,
    pub head: usize,
    /// The tokens the head raises most at the cursor, largest first.
    pub promoted: Vec<TokenValue>,
    /// The tokens it lowers most, most negative first.
    pub suppressed: Vec<TokenValue>,
}

/// Captures `request`; each generated token is sent as it comes, the
/// capture at the end. Cancelling stops the answer where it is (what was
/// captured so far is still sent).
pub(crate) fn inspect(
    model: &LoadedModel,
    request: InspectRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let id = request.id;
    let prompt = match request.raw {
        Some(raw) => raw,
        None => model.render_chat(&request.messages)?,
    };
    let prompt_ids = model.tokenizer.encode(&prompt)?;
    let ids = if request.answer.is_empty() {
        prompt_ids.clone()
    } else {
        model.tokenizer.encode(&(prompt + &request.answer))?
    };
    // Where the answer begins: the two encodings agree up to there.
    let prompt_tokens = prompt_ids
        .iter()
        .zip(&ids)
        .take_while(|(a, b)| a == b)
        .count();
    let mut captured = capture(model, ids, request.generate, |text| {
        sink(Event::InspectToken {
            id,
            text: text.to_string(),
        });
        if cancel.is_cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    captured.prompt_tokens = prompt_tokens;
    let overview = Arc::new(Overview::new(&captured));
    sink(Event::Inspected {
        id,
        capture: Arc::new(captured),
        overview,
    });
    Ok(())
}

/// Reads `request`'s lens and head effect out of its capture.
pub(crate) fn read_out(
    model: &LoadedModel,
    request: ReadoutRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let c = &request.capture;
    let maps = &c.maps;
    let no_vectors =
        || RequestError::Unsupported("this model's capture has no residual stream to read".into());
    let named = |list: Vec<Ranked>, exp: bool| -> Vec<TokenValue> {
        list.into_iter()
            .map(|r| {
                let value = if exp { r.value.exp() } else { r.value };
                (model.tokenizer.token_text(r.id), value)
            })
            .collect()
    };
    let mut lens = Vec::new();
    for &pos in request.positions.iter().filter(|&&p| p < c.len()) {
        if cancel.is_cancelled() {
            return Err(RequestError::Cancelled);
        }
        let layers = (0..maps.n_layers())
            .map(|layer| {
                model
                    .logit_lens(maps, layer, pos, request.k)
                    .map(|top| named(top, true))
                    .ok_or_else(no_vectors)
            })
            .collect::<Result<Vec<_>, _>>()?;
        lens.push((pos, layers));
    }
    let effect = model
        .head_effect(maps, request.layer, request.head, request.cursor, request.k)
        .ok_or_else(no_vectors)?;
    sink(Event::ReadOut {
        id: request.id,
        readout: Readout {
            lens,
            cursor: request.cursor,
            layer: request.layer,
            head: request.head,
            promoted: named(effect.promoted, false),
            suppressed: named(effect.suppressed, false),
        },
    });
    Ok(())
}
