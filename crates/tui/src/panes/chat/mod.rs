//! The chat pane: a conversation with branches, streamed answers shown as
//! Markdown or coloured by token probability. `state` holds it, `update`
//! applies keys and engine events, `view` draws it, `cache` keeps finished
//! turns' rendered Markdown between frames.

mod cache;
mod scroll;
mod state;
pub(crate) mod update;
pub(crate) mod view;

pub use state::{ChatState, Focus, Generation};
