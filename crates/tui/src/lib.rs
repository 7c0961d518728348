//! The terminal app: a ratatui shell with two panes (chat, and compare:
//! one question through several prompting methods), one event loop
//! over keys, engine events and ticks, and pure state updates.
//!
//! `state` owns `update(&mut State, Action) -> Vec<Effect>` (no I/O), `ui`
//! renders state, `app` runs the loop and carries out effects, `terminal`
//! enters and restores the terminal.

pub mod app;
pub mod compare;
pub mod compare_view;
pub mod conversation;
pub mod keymap;
pub mod markdown;
pub mod settings;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod ui;
