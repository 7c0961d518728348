//! The status line under the panes: the model, then the notice (when there
//! is one) in full, then what the active pane reports as far as it fits,
//! then (without a notice) the keys for help and the other pane, or just
//! the help key, if room is left. A notice too long for one line
//! takes up to [`MAX_ROWS`] rows and wraps, so a path or an error is never
//! cut.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::theme::Theme;

/// Rows a long notice may take.
pub(crate) const MAX_ROWS: u16 = 3;
/// The model's name is cut to this many characters.
const MODEL_CHARS: usize = 26;

/// What the status line shows.
pub(crate) struct Status<'a> {
    /// The model's name (or that it is loading or missing).
    pub(crate) model: String,
    /// The panes' figures, in order of importance.
    pub(crate) spans: Vec<Span<'static>>,
    pub(crate) notice: Option<&'a str>,
    /// Shown when there is no notice.
    pub(crate) hint: String,
}

impl Status<'_> {
    fn model_label(&self) -> String {
        let model: String = if self.model.chars().count() > MODEL_CHARS {
            self.model
                .chars()
                .take(MODEL_CHARS - 1)
                .chain(['…'])
                .collect()
        } else {
            self.model.clone()
        };
        format!(" {model} ")
    }

    /// Rows the line needs at `width` columns: more than one only for a
    /// notice that does not fit beside the model's name.
    pub(crate) fn rows(&self, width: u16) -> u16 {
        match self.notice {
            None => 1,
            Some(notice) => self.notice_lines(notice, width).len() as u16,
        }
    }

    /// The notice broken into rows of `width` (the first row after the
    /// model's name and a bar), at most [`MAX_ROWS`], the last ending in `…`
    /// if cut.
    fn notice_lines(&self, notice: &str, width: u16) -> Vec<String> {
        let width = usize::from(width.max(1));
        let first = width
            .saturating_sub(self.model_label().chars().count() + 2)
            .max(1);
        let mut lines = wrap(notice, first, width);
        if lines.len() > usize::from(MAX_ROWS) {
            lines.truncate(usize::from(MAX_ROWS));
            if let Some(last) = lines.last_mut() {
                last.pop();
                last.push('…');
            }
        }
        lines
    }
}

/// Greedy word wrap: rows of at most `first` then `width` characters; a word
/// longer than a row is split.
fn wrap(text: &str, first: usize, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    let room = |lines: &Vec<String>| if lines.len() == 1 { first } else { width };
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line_len = lines.last().map_or(0, |l| l.chars().count());
            let gap = usize::from(line_len > 0);
            if line_len + gap + word.len() <= room(&lines) {
                let line = lines.last_mut().expect("one line at least");
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if line_len == 0 {
                // Longer than a whole row: split it.
                let take = room(&lines).min(word.len());
                let rest = word.split_off(take);
                lines
                    .last_mut()
                    .expect("one line at least")
                    .extend(word.iter());
                word = rest;
            }
            lines.push(String::new());
            if word.is_empty() {
                break;
            }
        }
    }
    lines
}

pub(crate) fn render(frame: &mut Frame, status: Status, theme: &Theme, area: Rect) {
    let width = usize::from(area.width);
    let model = status.model_label();
    let notice_lines = status
        .notice
        .map(|n| status.notice_lines(n, area.width))
        .unwrap_or_default();
    let mut lines: Vec<Vec<Span<'static>>> =
        vec![vec![Span::styled(model.clone(), theme.status_model)]];
    let mut used = model.chars().count();
    for (i, text) in notice_lines.iter().enumerate() {
        let text = if i == 0 {
            format!("│ {text} ")
        } else {
            format!("{text} ")
        };
        if i > 0 {
            lines.push(Vec::new());
            used = 0;
        }
        used += text.chars().count();
        if let Some(line) = lines.last_mut() {
            line.push(Span::styled(text, theme.warning));
        }
    }
    // Then the figures, each only if it fits whole, then the hint if it fits.
    let last = lines.len() - 1;
    for span in status.spans {
        let len = span.content.chars().count();
        if used + len <= width {
            used += len;
            lines[last].push(span);
        }
    }
    // The whole hint if it fits, else its first part (the help key).
    if status.notice.is_none() {
        let short = status.hint.split(" · ").next().unwrap_or_default();
        let hint = [status.hint.as_str(), short]
            .into_iter()
            .map(|h| format!("│ {h}"))
            .find(|h| used + h.chars().count() <= width);
        if let Some(hint) = hint {
            lines[last].push(Span::styled(hint, theme.dim));
        }
    }
    let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn words_wrap_and_long_ones_split() {
        assert_eq!(wrap("saved to /a/b", 20, 20), ["saved to /a/b"]);
        assert_eq!(wrap("one two three", 7, 9), ["one two", "three"]);
        assert_eq!(
            wrap("x /0123456789abc", 6, 6),
            ["x", "/01234", "56789a", "bc"]
        );
    }
}
