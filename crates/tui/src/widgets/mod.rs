//! Widgets the panes share: the bordered pane block, the centred overlay
//! box (help uses it), the settings panel, the status line and the keys of
//! text fields.

pub(crate) mod conversations;
pub(crate) mod overlay;
pub(crate) mod palette;
pub(crate) mod settings;
pub(crate) mod status;
pub(crate) mod text_input;

use ratatui::widgets::{Block, Borders};

use crate::theme::Theme;

/// A pane's bordered box, highlighted when it has focus.
pub(crate) fn pane_block<'a>(title: &'a str, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if focused {
            theme.focused_border
        } else {
            theme.border
        })
}
