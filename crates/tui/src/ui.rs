//! Rendering the whole screen from [`State`]: the "too small" message, the
//! active pane's view, the shared status line under it, and the overlay on
//! top. Views only read the state, except for what they record for the
//! update (the rectangles drawn) and the next frame (rendered Markdown).

use ratatui::layout::{Constraint, Layout};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::keymap::GlobalAction;
use crate::panes::{attention, chat, compare, eval, images};
use crate::state::{Overlay, Screen, State};
use crate::theme::Theme;
use crate::widgets::status::{self, Status};

/// Below this the app shows a "too small" message instead of panes.
pub(crate) const MIN_WIDTH: u16 = 30;
pub(crate) const MIN_HEIGHT: u16 = 8;

pub fn render(frame: &mut Frame, state: &State, theme: &Theme) {
    state.images.placements.borrow_mut().clear();
    render_screen(frame, state, theme);
    if state.overlay.is_some() {
        // Pictures drawn by the terminal would cover the overlay.
        state.images.placements.borrow_mut().clear();
    }
}

/// The pictures the last frame placed, for the terminal's graphics protocol.
pub fn placements(state: &State) -> Vec<crate::graphics::Placement> {
    state.images.placements.borrow().clone()
}

fn render_screen(frame: &mut Frame, state: &State, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "Terminal too small ({}×{}); need {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let v = state.view_cx(theme);
    let mut spans: Vec<_> = chat::view::busy_span(&state.chat, v).into_iter().collect();
    let other = match state.screen {
        Screen::Chat => {
            spans.extend(chat::view::status_spans(&state.chat, v));
            "compare"
        }
        Screen::Compare => {
            spans.extend(compare::view::status_spans(&state.compare));
            "chat"
        }
        Screen::Attention | Screen::Eval | Screen::Images => "chat",
    };
    let status = Status {
        model: state.model.label(),
        spans,
        notice: state.notice.as_deref(),
        hint: format!(
            "{} help · {} {other}",
            state.keymap.key_for(GlobalAction::Help),
            state.keymap.key_for(GlobalAction::SwitchPane)
        ),
    };
    let [pane, status_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(status.rows(area.width)),
    ])
    .areas(area);
    match state.screen {
        Screen::Chat => chat::view::render(frame, &state.chat, v, pane, status_area),
        Screen::Compare => compare::view::render(frame, &state.compare, v, pane),
        Screen::Attention => attention::view::render(frame, &state.attention, v, pane),
        Screen::Eval => eval::view::render(frame, &state.eval, v, pane),
        Screen::Images => images::view::render(frame, &state.images, v, pane),
    }
    status::render(frame, status, theme, status_area);
    match state.overlay {
        Some(Overlay::Help) if state.screen == Screen::Compare => {
            compare::view::render_help(frame, v, area)
        }
        Some(Overlay::Help) if state.screen == Screen::Attention => {
            attention::view::render_help(frame, v, area)
        }
        Some(Overlay::Help) if state.screen == Screen::Eval => {
            eval::view::render_help(frame, v, area)
        }
        Some(Overlay::Help) if state.screen == Screen::Images => {
            images::view::render_help(frame, &state.images, v, area)
        }
        Some(Overlay::Help) => chat::view::render_help(frame, v, area),
        Some(Overlay::Settings) => {
            let conversation = &state.chat.conversation;
            let shown_seed = conversation
                .path()
                .iter()
                .rev()
                .find_map(|&i| conversation.turn(i).seed);
            let default_system = state
                .model
                .info
                .as_ref()
                .and_then(|m| m.default_system.as_deref());
            crate::widgets::settings::render(
                frame,
                &state.settings,
                (shown_seed, default_system),
                theme,
                area,
            )
        }
        Some(Overlay::Step) => compare::render_detail(frame, &state.compare, theme, area),
        Some(Overlay::Conversations) => {
            crate::widgets::conversations::render(frame, &state.conversations, theme, area)
        }
        Some(Overlay::Palette) => {
            let commands = state.keymap.commands(state.screen);
            crate::widgets::palette::render(frame, &state.palette, &commands, theme, area)
        }
        None => {}
    }
}
