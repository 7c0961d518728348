//! The attention pane: what every layer and head attends to over a prompt
//! and its answer, as pictures (a grid of every head, one head full size)
//! and as numbers (the token view, the query·key scores, the logit lens, a
//! head's effect on the logits, how the answer's attention splits over
//! the prompt's spans), and live while a chat answer streams. `state` holds the capture and the
//! selection, `update` keys and engine events, `data` what the views read
//! off a capture, `heat` the colour ramp, `live` the
//! streamed rows, `view` the drawing.

mod data;
mod heat;
mod live;
mod state;
pub(crate) mod update;
pub(crate) mod view;

pub use heat::rgb as heat_rgb;
pub use live::{Live, LiveStep};
pub use state::{AttentionState, View, ANSWER_TOKENS};
