//! The terminal app: a ratatui shell over the engine with two panes (chat,
//! and compare: one question through several prompting methods), one
//! event loop over keys, engine events and ticks, and pure state updates.
//!
//! `state` owns `update(&mut State, Action) -> Vec<Effect>` (no I/O) and
//! dispatches to the panes (`panes::chat`, `panes::compare`, each with its
//! own state, update and view); `ui` draws the screen with the shared
//! `widgets`; `app` runs the loop and `effects` carries out what updates
//! ask for; `terminal` enters and restores the terminal; `keymap`,
//! `settings`, `theme`, `markdown` and `conversation` are the models the
//! panes share.

pub mod app;
pub mod conversation;
pub mod conversations;
mod effects;
mod error;
pub mod graphics;
pub mod keymap;
mod markdown;
pub mod palette;
pub mod panes;
pub mod settings;
pub mod state;
pub mod terminal;
mod text;
pub mod theme;
pub mod ui;
mod widgets;

pub use error::Error;
