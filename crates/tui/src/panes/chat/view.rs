//! The chat pane's view: the messages (Markdown from the turn cache, or
//! tokens coloured by probability), the token popup, the input, the pane's
//! part of the status line and its help. Records the rectangles it drew.

use std::collections::HashMap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::scroll::window;
use super::state::{ChatRects, ChatState, Focus};
use crate::conversation::{Role, Turn, TurnEnd};
use crate::keymap::{ChatAction, ConfigKey, GlobalAction};
use crate::panes::ViewCx;
use crate::text::printable;
use crate::theme::Theme;
use crate::widgets::overlay::{self, help_row};
use crate::widgets::pane_block;
use crate::widgets::text_input::{render_wrapped, wrapped_rows};

/// Where the pane's parts go: the messages and the input (as tall as its
/// text, up to 6 lines); the status line is below the pane.
fn layout(area: Rect, chat: &ChatState, status: Rect) -> ChatRects {
    let rows = wrapped_rows(&chat.input, area.width.saturating_sub(2));
    let input_lines = rows.clamp(1, 6) as u16;
    let [messages, input] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(input_lines + 2)]).areas(area);
    ChatRects {
        messages,
        input,
        status,
    }
}

/// Draws the pane over `area` (the status line is drawn at `status`).
pub(crate) fn render(frame: &mut Frame, chat: &ChatState, v: ViewCx, area: Rect, status: Rect) {
    let rects = layout(area, chat, status);
    chat.rects.set(rects);
    render_messages(frame, chat, v, rects.messages);
    render_input(frame, chat, v.theme, rects.input);
    if chat.show_probs {
        render_token_popup(frame, chat, v.theme, rects.messages);
    }
}

/// Shown in either pane while an answer is generated.
pub(crate) fn busy_span(chat: &ChatState, v: ViewCx) -> Option<Span<'static>> {
    chat.generating.map(|_| {
        Span::styled(
            format!(" generating ({} stops)", v.keymap.key_for(ChatAction::Stop)),
            v.theme.warning,
        )
    })
}

/// The pane's part of the status line: a comparison running elsewhere,
/// the context used and the last answer's figures.
pub(crate) fn status_spans(chat: &ChatState, v: ViewCx) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if v.evaluating {
        spans.push(Span::styled(" evaluating", v.theme.warning));
    } else if v.other_busy {
        spans.push(Span::styled(" comparing", v.theme.warning));
    }
    let context = v.model.info.as_ref().map_or(0, |m| m.context_length);
    let s = &chat.stats;
    let used = chat.tokens_used();
    // Separate spans, so the status line drops the later ones first.
    spans.push(Span::raw(format!(
        " ctx {}/{}",
        used.prompt + used.generated,
        context
    )));
    spans.push(Span::raw(format!(
        " · {}+{} tok",
        used.prompt, used.generated
    )));
    spans.push(Span::raw(format!(
        " · {:.0}/{:.1} tok/s ",
        s.prefill_tok_s, s.decode_tok_s
    )));
    spans
}

/// The chat's keys: every config entry but the compare pane's own.
pub(crate) fn render_help(frame: &mut Frame, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let key = |a: ConfigKey| v.keymap.entry_key(a).unwrap_or_else(|| "?".into());
    // Pairs share a row, so the list fits a 24-row terminal.
    let paired = [
        (
            ConfigKey::Settings,
            ConfigKey::Help,
            "sampling settings and system prompt / this help",
        ),
        (
            ConfigKey::BranchPrev,
            ConfigKey::BranchNext,
            "previous / next branch of the selected message",
        ),
        (
            ConfigKey::HistoryPrev,
            ConfigKey::HistoryNext,
            "earlier / later prompt from history",
        ),
        (
            ConfigKey::Compare,
            ConfigKey::Attention,
            "compare pane / attention pane (inspects this answer)",
        ),
        (
            ConfigKey::NewConversation,
            ConfigKey::Conversations,
            "new conversation / the saved ones (search, open, rename)",
        ),
        (
            ConfigKey::Eval,
            ConfigKey::Images,
            "eval pane (a suite, live A/B) / images pane (image lab)",
        ),
    ];
    let mut lines: Vec<Line> = Vec::new();
    for a in ConfigKey::ALL {
        let elsewhere = matches!(a, ConfigKey::AllowCode | ConfigKey::Palette);
        if elsewhere || paired.iter().any(|&(_, second, _)| second == a) {
            continue;
        }
        match paired.iter().find(|&&(first, _, _)| first == a) {
            Some(&(first, second, what)) => lines.push(help_row(
                &format!("{} {}", key(first), key(second)),
                18,
                theme.title,
                what,
            )),
            None => lines.push(help_row(&key(a), 18, theme.title, a.description())),
        }
    }
    lines.push(Line::styled(
        format!(
            "messages: ↑↓ ←→ PgUp/PgDn · {} every command · any key closes",
            key(ConfigKey::Palette)
        ),
        theme.dim,
    ));
    overlay::draw(
        frame,
        area,
        78,
        " keys: chat (set in config.yaml, keys:) ",
        lines,
    );
}

fn render_messages(frame: &mut Frame, chat: &ChatState, v: ViewCx, area: Rect) {
    let title = if chat.show_probs {
        " chat · probabilities on "
    } else {
        " chat "
    };
    let mut block = pane_block(title, chat.focus == Focus::Messages, v.theme);
    if chat.show_probs {
        // The colour legend: each label drawn as a token of that chance is.
        let mut legend = vec![Span::styled(" token chance: ", v.theme.dim)];
        for (p, label) in [
            (0.9f32, "90%"),
            (0.6, "60%"),
            (0.3, "30%"),
            (0.1, "10%"),
            (0.02, "2%"),
        ] {
            legend.push(Span::styled(label, v.theme.probability(p.ln())));
            legend.push(Span::raw(" "));
        }
        block = block.title_bottom(Line::from(legend));
    }
    let inner = block.inner(area);
    let wrapped_height = |lines: &[Line<'static>]| {
        Paragraph::new(Text::from(lines.to_vec()))
            .wrap(Wrap { trim: false })
            .line_count(inner.width)
    };
    let path = chat.conversation.path();
    let selected = match chat.focus {
        Focus::Messages => chat.selected,
        Focus::Input => None,
    };
    // Only the turns near the screen are laid out (see `scroll`).
    let mut laid_out: HashMap<usize, (Vec<Line<'static>>, usize)> = HashMap::new();
    let (range, top, shown) = window(path.len(), usize::from(inner.height), chat.scroll, |pos| {
        let lines = turn_block(chat, v, path[pos], selected == Some(pos));
        let rows = wrapped_height(&lines);
        laid_out.insert(pos, (lines, rows));
        rows
    });
    chat.shown.set(shown);
    // Where the focused turn starts on screen, for the token popup.
    let focused = chat.focused_turn();
    let mut row = 0usize;
    chat.focused_row.set(None);
    for pos in range.clone() {
        if Some(path[pos]) == focused {
            let on_screen = i64::from(inner.y) + row as i64 - top as i64;
            chat.focused_row.set(i32::try_from(on_screen).ok());
        }
        row += laid_out.get(&pos).map_or(0, |(_, rows)| *rows);
    }
    let mut lines: Vec<Line<'static>> = range
        .flat_map(|pos| laid_out.remove(&pos).map(|(l, _)| l).unwrap_or_default())
        .collect();
    if path.is_empty() {
        let help = v.keymap.key_name(GlobalAction::Help);
        lines.push(Line::styled(
            format!("Ask anything. {help} lists the keys."),
            v.theme.dim,
        ));
    }
    let top = u16::try_from(top).unwrap_or(u16::MAX);
    let paragraph = Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false });
    frame.render_widget(paragraph.scroll((top, 0)).block(block), area);
}

/// One turn of the visible branch: a header (who, which
/// branch of how many, the selection mark), the content, a blank line.
fn turn_block(chat: &ChatState, v: ViewCx, i: usize, selected: bool) -> Vec<Line<'static>> {
    let theme = v.theme;
    let conversation = &chat.conversation;
    let turn = conversation.turn(i);
    let mut header = vec![match turn.role {
        Role::User => Span::styled("You", theme.user),
        Role::Assistant => Span::styled(
            v.model
                .info
                .as_ref()
                .map_or("Assistant".to_string(), |m| m.name.clone()),
            theme.assistant,
        ),
    }];
    let siblings = conversation.siblings(i);
    if siblings.len() > 1 {
        let at = siblings.iter().position(|&s| s == i).unwrap_or(0) + 1;
        header.push(Span::styled(
            format!("  ‹{at}/{}›", siblings.len()),
            theme.dim,
        ));
    }
    if selected {
        header.insert(0, Span::styled("▶ ", theme.focused_border));
    }
    let mut lines = vec![Line::from(header)];
    let streaming = chat.generating.is_some_and(|g| g.turn == i);
    lines.extend(turn_lines(chat, v, i, turn, streaming));
    lines.push(Line::default());
    lines
}

fn turn_lines(
    chat: &ChatState,
    v: ViewCx,
    index: usize,
    turn: &Turn,
    streaming: bool,
) -> Vec<Line<'static>> {
    let theme = v.theme;
    let mut lines = match turn.role {
        Role::User => printable(&turn.content)
            .split('\n')
            .map(|l| Line::raw(l.to_string()))
            .collect(),
        Role::Assistant if chat.show_probs && !turn.tokens.is_empty() => {
            let cursor = (chat.focused_turn() == Some(index))
                .then_some(chat.token_cursor)
                .flatten();
            probability_lines(turn, cursor, theme)
        }
        // A finished turn's Markdown comes from the cache; a streaming
        // one changes with every token.
        Role::Assistant if streaming => chat
            .cache
            .borrow_mut()
            .render(&turn.content, &theme.markdown),
        Role::Assistant => chat
            .cache
            .borrow_mut()
            .lines(index, &turn.content, &theme.markdown),
    };
    if streaming {
        match lines.last_mut() {
            Some(last) => last.spans.push(Span::styled("▍", theme.dim)),
            None => lines.push(Line::styled("▍", theme.dim)),
        }
    } else if turn.role == Role::Assistant && turn.stop_reason == Some(TurnEnd::Stop) {
        // Complete, but ended by a stop string, not by the model.
        lines.push(Line::styled("[ended at a stop string]", theme.dim));
    } else if turn.role == Role::Assistant && !turn.finished {
        let why = match turn.stop_reason {
            Some(TurnEnd::Length) => "cut off at max tokens",
            Some(TurnEnd::Cancelled) => "stopped",
            Some(TurnEnd::Error) => "failed",
            _ => "unfinished",
        };
        lines.push(Line::styled(
            format!(
                "[{why} — {} continues]",
                v.keymap.key_for(ChatAction::Continue)
            ),
            theme.dim,
        ));
    }
    lines
}

/// Generated tokens coloured by their log-probability; the cursor token is
/// shown reversed.
fn probability_lines(turn: &Turn, cursor: Option<usize>, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::default()];
    for (i, token) in turn.tokens.iter().enumerate() {
        let mut style = theme.probability(token.logprob);
        if cursor == Some(i) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let text = printable(&token.text);
        let mut parts = text.split('\n').peekable();
        while let Some(part) = parts.next() {
            if let Some(line) = lines.last_mut() {
                if !part.is_empty() {
                    line.spans.push(Span::styled(part.to_string(), style));
                }
            }
            if parts.peek().is_some() {
                lines.push(Line::default());
            }
        }
    }
    lines
}

fn render_token_popup(frame: &mut Frame, chat: &ChatState, theme: &Theme, area: Rect) {
    let (Some(turn), Some(cursor)) = (chat.focused_turn(), chat.token_cursor) else {
        return;
    };
    let Some(token) = chat.conversation.turn(turn).tokens.get(cursor) else {
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:?}", token.text), theme.title),
        Span::raw(format!("  p={:.1}%", 100.0 * token.logprob.exp())),
    ])];
    for (text, lp) in &token.top {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>6.1}% ", 100.0 * lp.exp()),
                theme.probability(*lp),
            ),
            Span::raw(format!("{text:?}")),
        ]));
    }
    let width = 30.min(area.width.saturating_sub(2));
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let popup = match token_position(chat, turn, cursor, area) {
        // Under the token if it fits there, else above it; beside its column.
        Some((x, y)) => {
            let below = y + 1;
            let y = if below + height <= area.bottom() {
                below
            } else {
                y.saturating_sub(height).max(area.y)
            };
            let x = x.min(area.right().saturating_sub(width + 1)).max(area.x);
            Rect::new(x, y, width, height)
        }
        None => Rect::new(
            area.right().saturating_sub(width + 1),
            area.y + 1,
            width,
            height,
        ),
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" token {} ", cursor + 1)),
        ),
        popup,
    );
}

/// Where token `cursor` of `turn` is on screen (about: word wrapping may
/// move it a little), from the turn's row in the last frame: the header,
/// then the tokens' text as the probability view lays it out.
fn token_position(chat: &ChatState, turn: usize, cursor: usize, area: Rect) -> Option<(u16, u16)> {
    let start = chat.focused_row.get()?;
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let before: String = chat
        .conversation
        .turn(turn)
        .tokens
        .iter()
        .take(cursor)
        .map(|t| printable(&t.text))
        .collect();
    let mut lines: Vec<usize> = before.split('\n').map(|l| l.chars().count()).collect();
    let column = lines.pop().unwrap_or(0);
    let rows_before: usize = lines.iter().map(|&n| n.div_ceil(width).max(1)).sum();
    let row = i64::from(start) + 1 + rows_before as i64 + (column / width) as i64;
    let inner_top = i64::from(area.y) + 1;
    let inner_bottom = i64::from(area.bottom()) - 1;
    if row < inner_top || row >= inner_bottom {
        return None;
    }
    let x = area.x + 1 + (column % width) as u16;
    Some((x, u16::try_from(row).ok()?))
}

fn render_input(frame: &mut Frame, chat: &ChatState, theme: &Theme, area: Rect) {
    let title = if chat.editing.is_some() {
        " edit (new branch) "
    } else {
        " message "
    };
    let focused = chat.focus == Focus::Input;
    let block = pane_block(title, focused, theme);
    render_wrapped(frame, &chat.input, block, focused, theme.placeholder, area);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::conversation::Conversation;
    use crate::keymap::Keymap;
    use crate::panes::ModelStatus;
    use crate::settings::Settings;
    use crate::theme::Palette;
    use promptlab_engine::plain::SamplingParams;

    #[test]
    fn a_resize_renders_no_finished_turn_again() {
        let mut conversation = Conversation::new("", "");
        let user = conversation.push(Role::User, "Hi");
        conversation.push_child(user, Role::Assistant, "# Hello\n\n**there**");
        let chat = ChatState::new(conversation, PathBuf::from("chat.json"));
        let theme = Theme::new(Palette::Basic16);
        let keymap = Keymap::from_config(&BTreeMap::new()).unwrap();
        let settings = Settings::new(SamplingParams::greedy(), String::new(), Vec::new());
        let model = ModelStatus::default();
        let v = ViewCx {
            theme: &theme,
            keymap: &keymap,
            settings: &settings,
            model: &model,
            other_busy: false,
            evaluating: false,
        };
        for width in [80, 60, 100] {
            let mut terminal = Terminal::new(TestBackend::new(width, 20)).unwrap();
            terminal
                .draw(|f| {
                    render(f, &chat, v, f.area(), Rect::default());
                })
                .unwrap();
        }
        assert_eq!(chat.cache.borrow().renders(), 1);
    }
}
