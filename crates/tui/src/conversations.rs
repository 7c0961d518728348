//! The list of saved conversations inside the app: what the conversations
//! folder holds (read by the effects, never by `update`), searched as one
//! types, opened, renamed and deleted.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One saved conversation as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    /// Its title, else its first question.
    pub label: String,
    pub turns: usize,
    /// Seconds since the Unix epoch of the file's last change.
    pub modified: u64,
}

/// The list overlay's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationList {
    /// Newest first.
    pub(crate) entries: Vec<Entry>,
    pub(crate) filter: String,
    pub(crate) cursor: usize,
    /// A new title being typed for the entry under the cursor.
    pub(crate) renaming: Option<String>,
    /// Delete pressed once: the next `y` deletes.
    pub(crate) confirm_delete: bool,
}

/// What a key in the list asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListOutcome {
    Stay,
    Close,
    Open(PathBuf),
    Rename(PathBuf, String),
    Delete(PathBuf),
}

impl ConversationList {
    pub(crate) fn new(mut entries: Vec<Entry>) -> Self {
        entries.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.path.cmp(&b.path)));
        ConversationList {
            entries,
            ..Self::default()
        }
    }

    /// The entries whose label holds the filter (any case).
    pub(crate) fn shown(&self) -> Vec<&Entry> {
        let filter = self.filter.to_lowercase();
        self.entries
            .iter()
            .filter(|e| e.label.to_lowercase().contains(&filter))
            .collect()
    }

    fn selected(&self) -> Option<PathBuf> {
        self.shown().get(self.cursor).map(|e| e.path.clone())
    }

    pub(crate) fn handle_key(&mut self, key: &KeyEvent) -> ListOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(title) = &mut self.renaming {
            match key.code {
                KeyCode::Esc => self.renaming = None,
                KeyCode::Backspace => {
                    title.pop();
                }
                KeyCode::Enter => {
                    let title = self.renaming.take().unwrap_or_default();
                    if let Some(path) = self.selected() {
                        return ListOutcome::Rename(path, title.trim().to_string());
                    }
                }
                KeyCode::Char(c) if !ctrl => title.push(c),
                _ => {}
            }
            return ListOutcome::Stay;
        }
        if std::mem::take(&mut self.confirm_delete) {
            if key.code == KeyCode::Char('y') {
                if let Some(path) = self.selected() {
                    return ListOutcome::Delete(path);
                }
            }
            return ListOutcome::Stay;
        }
        match key.code {
            KeyCode::Esc => return ListOutcome::Close,
            KeyCode::Enter => {
                if let Some(path) = self.selected() {
                    return ListOutcome::Open(path);
                }
            }
            KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down => {
                self.cursor = (self.cursor + 1).min(self.shown().len().saturating_sub(1))
            }
            // Ctrl+R renames, Ctrl+D deletes (after a `y`); plain keys search.
            KeyCode::Char('r') if ctrl => {
                if let Some(entry) = self.shown().get(self.cursor) {
                    self.renaming = Some(entry.label.clone());
                }
            }
            KeyCode::Char('d') if ctrl => self.confirm_delete = self.selected().is_some(),
            KeyCode::Backspace => {
                self.filter.pop();
                self.cursor = 0;
            }
            KeyCode::Char(c) if !ctrl => {
                self.filter.push(c);
                self.cursor = 0;
            }
            _ => {}
        }
        ListOutcome::Stay
    }
}
