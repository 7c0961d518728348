//! The saved-conversations list's view: the search, then each conversation
//! (its title or first question, its turns, how long ago it changed), the
//! one under the cursor highlighted, a title being typed, the keys.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::overlay;
use crate::conversations::ConversationList;
use crate::text::{clip_end, printable};
use crate::theme::Theme;

const WIDTH: u16 = 76;

/// "3 min", "5 h", "2 d" since `then` (seconds since the epoch).
fn age(then: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = now.saturating_sub(then);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

pub(crate) fn render(frame: &mut Frame, list: &ConversationList, theme: &Theme, area: Rect) {
    let shown = list.shown();
    let room = usize::from(area.height.saturating_sub(6)).max(1);
    let first = list.cursor.saturating_sub(room - 1);
    let label_room = usize::from(WIDTH.min(area.width)).saturating_sub(2 + 20);
    let mut lines = vec![Line::from(vec![
        Span::styled("search> ", theme.title),
        Span::raw(format!("{}▍", printable(&list.filter))),
    ])];
    if shown.is_empty() {
        lines.push(Line::styled("no saved conversation matches", theme.dim));
    }
    for (i, entry) in shown.iter().enumerate().skip(first).take(room) {
        let selected = i == list.cursor;
        let style = if selected {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        let label = match (&list.renaming, selected) {
            (Some(title), true) => format!("title: {}▍", printable(title)),
            _ => printable(&entry.label),
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<label_room$}", clip_end(&label, label_room)),
                style,
            ),
            Span::styled(
                format!("{:>6} turns {:>7}", entry.turns, age(entry.modified)),
                theme.dim,
            ),
        ]));
    }
    let hint = if list.confirm_delete {
        "delete this conversation? y deletes, any other key keeps it"
    } else if list.renaming.is_some() {
        "type a title · Enter keeps it (empty: none) · Esc cancels"
    } else {
        "type to search · Enter opens · ctrl+r renames · ctrl+d deletes · Esc"
    };
    lines.push(Line::styled(hint, theme.dim));
    overlay::draw(frame, area, WIDTH, " conversations ", lines);
}
