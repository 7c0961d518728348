//! The command palette: every action of the pane on screen with its key,
//! filtered as one types, run with Enter, so nothing depends on
//! remembering keys. Running an entry is pressing its key.

use crossterm::event::{KeyCode, KeyEvent};

use crate::keymap::{ConfigKeyInfo, Keymap};

/// What the palette shows and where its cursor is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub(crate) filter: String,
    pub(crate) cursor: usize,
}

/// What a key in the palette asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PaletteOutcome {
    /// Still open.
    Open,
    Close,
    /// Close, then press this key.
    Run(KeyEvent),
}

impl Palette {
    /// The entries matching the filter (in a word of the description or
    /// the name, any case), from `available`.
    pub(crate) fn matches(&self, available: &[ConfigKeyInfo]) -> Vec<ConfigKeyInfo> {
        let filter = self.filter.to_lowercase();
        available
            .iter()
            .filter(|e| {
                filter.is_empty()
                    || e.description.to_lowercase().contains(&filter)
                    || e.name.replace('_', " ").contains(&filter)
            })
            .cloned()
            .collect()
    }

    pub(crate) fn handle_key(
        &mut self,
        key: &KeyEvent,
        available: &[ConfigKeyInfo],
        keymap: &Keymap,
    ) -> PaletteOutcome {
        let shown = self.matches(available);
        match key.code {
            KeyCode::Esc => return PaletteOutcome::Close,
            KeyCode::Enter => {
                return match shown
                    .get(self.cursor)
                    .and_then(|e| keymap.entry_event(e.entry))
                {
                    Some(event) => PaletteOutcome::Run(event),
                    None => PaletteOutcome::Open,
                }
            }
            KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down => self.cursor = (self.cursor + 1).min(shown.len().saturating_sub(1)),
            KeyCode::Backspace => {
                self.filter.pop();
                self.cursor = 0;
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL) =>
            {
                self.filter.push(c);
                self.cursor = 0;
            }
            _ => {}
        }
        PaletteOutcome::Open
    }
}
