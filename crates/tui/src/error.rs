//! The crate's error type: what running the app or reading its key
//! bindings can fail with (the binary reports it; nothing here uses anyhow).

use crate::conversation::ConversationError;
use crate::keymap::KeysError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The terminal could not be set up, drawn to, or read.
    #[error(transparent)]
    Terminal(#[from] std::io::Error),
    /// A bad entry in config.yaml's `keys:` (the message names it).
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
}
