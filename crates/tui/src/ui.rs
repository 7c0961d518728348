//! Rendering: a pure function of [`State`] onto a ratatui frame. Layout,
//! the chat pane, the status line and the overlays.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::conversation::{Role, Turn, TurnEnd};
use super::keymap::KeyAction;
use super::settings::FIELDS;
use super::state::{Focus, Overlay, Screen, State};
use super::theme::Theme;

/// Below this the app shows a "too small" message instead of panes.
pub const MIN_WIDTH: u16 = 30;
pub const MIN_HEIGHT: u16 = 8;

/// Where the chat pane's parts go.
pub struct ChatLayout {
    pub messages: Rect,
    pub input: Rect,
    pub status: Rect,
}

pub fn chat_layout(area: Rect, state: &State) -> ChatLayout {
    let input_lines = state.input.lines().len().clamp(1, 6) as u16;
    let [messages, input, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(input_lines + 2),
        Constraint::Length(1),
    ])
    .areas(area);
    ChatLayout {
        messages,
        input,
        status,
    }
}

pub fn render(frame: &mut Frame, state: &State, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "Terminal too small ({}×{}); need {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    match state.screen {
        Screen::Chat => {
            let layout = chat_layout(area, state);
            render_messages(frame, state, theme, layout.messages);
            render_input(frame, state, theme, layout.input);
            render_status(frame, state, theme, layout.status);
            if state.show_probs {
                render_token_popup(frame, state, theme, layout.messages);
            }
        }
        Screen::Compare => {
            let [pane, status] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
            super::compare_view::render(frame, state, theme, pane);
            render_status(frame, state, theme, status);
        }
    }
    match state.overlay {
        Some(Overlay::Help) if state.screen == Screen::Compare => {
            render_compare_help(frame, state, theme, area)
        }
        Some(Overlay::Help) => render_help(frame, state, theme, area),
        Some(Overlay::Settings) => render_settings(frame, state, theme, area),
        Some(Overlay::Step) => super::compare_view::render_detail(frame, state, theme, area),
        None => {}
    }
}

pub(super) fn pane_block<'a>(title: &'a str, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if focused {
            theme.focused_border
        } else {
            theme.border
        })
}

fn render_messages(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let block = pane_block(" chat ", state.focus == Focus::Messages, theme);
    let inner = block.inner(area);
    let text = Text::from(message_lines(state, theme));
    let paragraph = Paragraph::new(text).wrap(Wrap { trim: false });
    let total = u16::try_from(paragraph.line_count(inner.width)).unwrap_or(u16::MAX);
    let bottom = total.saturating_sub(inner.height);
    let top = bottom.saturating_sub(state.scroll_back);
    frame.render_widget(paragraph.scroll((top, 0)).block(block), area);
}

/// Every visible turn: a header, the content, a blank line.
fn message_lines(state: &State, theme: &Theme) -> Vec<Line<'static>> {
    let conversation = &state.conversation;
    let path = conversation.path();
    let mut lines = Vec::new();
    if path.is_empty() {
        lines.push(Line::styled("Ask anything. F1 lists the keys.", theme.dim));
    }
    let selected = if state.focus == Focus::Messages {
        state.selected
    } else {
        None
    };
    for (pos, &i) in path.iter().enumerate() {
        let turn = conversation.turn(i);
        let siblings = conversation.siblings(i);
        let mut header = vec![match turn.role {
            Role::User => Span::styled("You", theme.user),
            Role::Assistant => Span::styled(
                state
                    .model
                    .as_ref()
                    .map_or("Assistant".to_string(), |m| m.name.clone()),
                theme.assistant,
            ),
        }];
        if siblings.len() > 1 {
            let at = siblings.iter().position(|&s| s == i).unwrap_or(0) + 1;
            header.push(Span::styled(
                format!("  ‹{at}/{}›", siblings.len()),
                theme.dim,
            ));
        }
        if selected == Some(pos) {
            header.insert(0, Span::styled("▶ ", theme.focused_border));
        }
        lines.push(Line::from(header));
        let streaming = state.generating.is_some_and(|g| g.turn == i);
        lines.extend(turn_lines(state, theme, i, turn, streaming));
        lines.push(Line::default());
    }
    lines
}

fn turn_lines(
    state: &State,
    theme: &Theme,
    index: usize,
    turn: &Turn,
    streaming: bool,
) -> Vec<Line<'static>> {
    let mut lines = match turn.role {
        Role::User => printable(&turn.content)
            .split('\n')
            .map(|l| Line::raw(l.to_string()))
            .collect(),
        Role::Assistant if state.show_probs && !turn.tokens.is_empty() => {
            let cursor = (state.focused_turn() == Some(index))
                .then_some(state.token_cursor)
                .flatten();
            probability_lines(turn, cursor, theme)
        }
        Role::Assistant => super::markdown::render(&printable(&turn.content)),
    };
    if streaming {
        match lines.last_mut() {
            Some(last) => last.spans.push(Span::styled("▍", theme.dim)),
            None => lines.push(Line::styled("▍", theme.dim)),
        }
    } else if turn.role == Role::Assistant && !turn.finished {
        let why = match turn.stop_reason {
            Some(TurnEnd::Length) => "cut off at max tokens",
            Some(TurnEnd::Cancelled) => "stopped",
            Some(TurnEnd::Error) => "failed",
            _ => "unfinished",
        };
        lines.push(Line::styled(
            format!("[{why} — {} continues]", key(state, KeyAction::Continue)),
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

fn render_token_popup(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let (Some(turn), Some(cursor)) = (state.focused_turn(), state.token_cursor) else {
        return;
    };
    let Some(token) = state.conversation.turn(turn).tokens.get(cursor) else {
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
    let popup = Rect::new(
        area.right().saturating_sub(width + 1),
        area.y + 1,
        width,
        height,
    );
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

fn render_input(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let title = if state.editing.is_some() {
        " edit (new branch) "
    } else {
        " message "
    };
    let mut input = state.input.clone();
    input.set_block(pane_block(title, state.focus == Focus::Input, theme));
    if state.focus != Focus::Input {
        input.set_cursor_style(Style::default());
    }
    frame.render_widget(&input, area);
}

fn render_status(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let model = match (&state.model, &state.model_error) {
        (Some(m), _) => m.name.clone(),
        (None, Some(_)) => "no model".into(),
        (None, None) => "loading model…".into(),
    };
    let model: String = if model.chars().count() > 26 {
        model.chars().take(25).chain(['…']).collect()
    } else {
        model
    };
    let context = state.model.as_ref().map_or(0, |m| m.context_length);
    let s = &state.stats;
    let mut spans = vec![Span::styled(format!(" {model} "), theme.status_model)];
    if state.generating.is_some() {
        spans.push(Span::styled(
            format!(" generating ({} stops)", key(state, KeyAction::Stop)),
            theme.warning,
        ));
    }
    let other = match state.screen {
        Screen::Chat => {
            if state.compare.running() {
                spans.push(Span::styled(" comparing", theme.warning));
            }
            spans.push(Span::raw(format!(
                " ctx {}/{} · {}+{} tok · {:.0}/{:.1} tok/s ",
                state.context_used(),
                context,
                s.prompt_tokens,
                s.generated_tokens,
                s.prefill_tok_s,
                s.decode_tok_s
            )));
            "compare"
        }
        Screen::Compare => {
            let run = state.compare.run.as_ref();
            let (calls, prompt, generated) = run.map_or((0, 0, 0), |r| {
                r.columns
                    .iter()
                    .fold((0, 0, 0), |(c, p, g), col| match &col.result {
                        Some(m) => (c + m.calls, p + m.prompt_tokens, g + m.generated_tokens),
                        None => (c + col.calls, p, g),
                    })
            });
            spans.push(Span::raw(format!(
                " compare · {calls} calls · {prompt}+{generated} tok "
            )));
            "chat"
        }
    };
    match &state.notice {
        Some(notice) => spans.push(Span::styled(format!("│ {notice}"), theme.warning)),
        None => spans.push(Span::styled(
            format!(
                "│ {} help · {} {other}",
                key(state, KeyAction::Help),
                key(state, KeyAction::Compare)
            ),
            theme.dim,
        )),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(super) fn key(state: &State, action: KeyAction) -> String {
    state.keymap.key_for(action).unwrap_or_else(|| "?".into())
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    rect
}

/// A bordered box centred over `area`, sized to its lines.
fn draw_overlay(frame: &mut Frame, area: Rect, width: u16, title: &str, lines: Vec<Line>) {
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

fn render_help(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    // The code switch belongs to the compare pane (its own help lists it).
    let mut lines: Vec<Line> = KeyAction::ALL
        .iter()
        .filter(|&&a| a != KeyAction::AllowCode)
        .map(|&a| {
            Line::from(vec![
                Span::styled(format!("{:>12}  ", key(state, a)), theme.title),
                Span::raw(a.description()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled(
        "messages pane: ↑↓ select · ←→ token (probabilities on) · PgUp/PgDn scroll",
        theme.dim,
    ));
    lines.push(Line::styled(
        "keys are set in config.yaml (keys:) · any key closes",
        theme.dim,
    ));
    draw_overlay(frame, area, 78, " keys: chat ", lines);
}

fn render_compare_help(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let row = |keys: String, what: &str| {
        Line::from(vec![
            Span::styled(format!("{keys:>14}  "), theme.title),
            Span::raw(what.to_string()),
        ])
    };
    let k = |a: KeyAction| key(state, a);
    let mut lines = vec![
        row(k(KeyAction::Compare), "back to the chat"),
        row(
            k(KeyAction::Focus),
            "next part: methods → question → context → reference → columns",
        ),
        row(
            "space".into(),
            "select a method in the list (typing jumps to an id)",
        ),
        row(
            k(KeyAction::Send),
            "run the selected methods (in the columns: open the step)",
        ),
        row(k(KeyAction::Regenerate), "run again"),
        row(k(KeyAction::Stop), "stop the run (the rest is not run)"),
        row(
            k(KeyAction::AllowCode),
            "code execution on/off (off at start; runs sandboxed when on)",
        ),
        row(
            "←→  ↑↓".into(),
            "columns: choose a column, a step or a call",
        ),
        row(
            k(KeyAction::Copy),
            "copy the selected call's output or step's answer",
        ),
        row(
            k(KeyAction::Settings),
            "settings: max tokens caps every model call",
        ),
        row(k(KeyAction::Quit), "quit"),
    ];
    lines.push(Line::default());
    lines.push(Line::styled(
        "step overlay: ↑↓ PgUp/PgDn scroll · ←→ previous/next · Esc closes",
        theme.dim,
    ));
    lines.push(Line::styled(
        "keys are set in config.yaml (keys:) · any key closes",
        theme.dim,
    ));
    draw_overlay(frame, area, 84, " keys: compare ", lines);
}

fn render_settings(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let s = &state.settings;
    let mut lines: Vec<Line> = FIELDS
        .iter()
        .enumerate()
        .map(|(row, &field)| {
            let value = match (&s.editing, row == s.row) {
                (Some(text), true) => format!("{text}▍"),
                _ => s.value(field),
            };
            let style = if row == s.row {
                theme.title.add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{:>15}  ", field.label()), theme.dim),
                Span::styled(value, style),
            ])
        })
        .collect();
    lines.push(Line::default());
    if let Some(error) = &s.error {
        lines.push(Line::styled(error.clone(), theme.warning));
    }
    lines.push(Line::styled(
        "↑↓ choose · ←→ adjust · Enter type a value · Esc close",
        theme.dim,
    ));
    draw_overlay(frame, area, 70, " settings ", lines);
}

/// Text safe to draw: tabs become spaces and other control characters
/// (which would reach the terminal as escape sequences) a visible U+FFFD.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\t' => vec![' '; 4],
            '\n' => vec!['\n'],
            c if c.is_control() => vec!['\u{FFFD}'],
            c => vec![c],
        })
        .collect()
}

/// A colour not in the 16 basic ones must never be used: the app works in
/// 16-colour terminals.
pub fn is_basic(color: Color) -> bool {
    !matches!(color, Color::Rgb(..) | Color::Indexed(_))
}
