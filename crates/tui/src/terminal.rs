//! Entering and leaving the terminal's app mode (raw mode, alternate
//! screen, mouse, bracketed paste), the backend that lets no control
//! character reach the terminal, and a panic hook that restores it
//! before the panic message is printed — for a panic on the thread that
//! draws. A panic on another thread (the engine catches its own, per
//! request) goes to the log and leaves the screen as it is. Signals from
//! outside go through the event loop (`app`), which saves, then restores.

use std::io::{stdout, Write};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::Terminal;

pub type Tui = Terminal<SafeBackend<CrosstermBackend<std::io::Stdout>>>;

/// A backend that draws every cell holding a control character (ESC, BEL,
/// C1…) as U+FFFD: whatever a file, a model or a bug puts in a string,
/// no escape sequence reaches the terminal through a frame (a title, an
/// OSC 52 clipboard write, a screen clear). The panes make text printable
/// themselves; this is the guarantee under them.
pub struct SafeBackend<B>(pub B);

/// `cell`, or a copy showing U+FFFD if its symbol has a control character.
fn safe_cell(cell: &ratatui::buffer::Cell) -> Option<ratatui::buffer::Cell> {
    cell.symbol().chars().any(char::is_control).then(|| {
        let mut safe = cell.clone();
        safe.set_symbol("\u{FFFD}");
        safe
    })
}

impl<B: Backend> Backend for SafeBackend<B> {
    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        let cells: Vec<(u16, u16, &ratatui::buffer::Cell)> = content.collect();
        let replaced: Vec<Option<ratatui::buffer::Cell>> =
            cells.iter().map(|(_, _, c)| safe_cell(c)).collect();
        self.0.draw(
            cells
                .iter()
                .zip(&replaced)
                .map(|(&(x, y, cell), safe)| (x, y, safe.as_ref().unwrap_or(cell))),
        )
    }
    fn append_lines(&mut self, n: u16) -> std::io::Result<()> {
        self.0.append_lines(n)
    }
    fn hide_cursor(&mut self) -> std::io::Result<()> {
        self.0.hide_cursor()
    }
    fn show_cursor(&mut self) -> std::io::Result<()> {
        self.0.show_cursor()
    }
    fn get_cursor_position(&mut self) -> std::io::Result<ratatui::layout::Position> {
        self.0.get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(
        &mut self,
        position: P,
    ) -> std::io::Result<()> {
        self.0.set_cursor_position(position)
    }
    fn clear(&mut self) -> std::io::Result<()> {
        self.0.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> std::io::Result<()> {
        self.0.clear_region(clear_type)
    }
    fn size(&self) -> std::io::Result<ratatui::layout::Size> {
        self.0.size()
    }
    fn window_size(&mut self) -> std::io::Result<ratatui::backend::WindowSize> {
        self.0.window_size()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Turns mouse capture on or off.
pub(crate) fn set_mouse(on: bool) -> std::io::Result<()> {
    if on {
        execute!(stdout(), EnableMouseCapture)
    } else {
        execute!(stdout(), DisableMouseCapture)
    }
}

/// Puts the terminal in app mode (with mouse capture when `mouse`) and
/// installs the restoring panic hook.
pub fn enter(mouse: bool) -> std::io::Result<Tui> {
    let previous = std::panic::take_hook();
    let ui_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            restore();
            previous(info);
        } else {
            let thread = std::thread::current();
            tracing::error!("thread {:?} panicked: {info}", thread.name());
        }
    }));
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    set_mouse(mouse)?;
    let mut terminal = Terminal::new(SafeBackend(CrosstermBackend::new(stdout())))?;
    terminal.clear()?;
    Ok(terminal)
}

/// Leaves app mode; safe to call more than once.
pub fn restore() {
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        // Blank first: a terminal that resized the alternate screen (tmux,
        // after the window grew) may otherwise keep rows of the app's
        // frame on the shell's screen.
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = stdout().flush();
}

/// Copies text to the clipboard of the terminal (also over SSH) with the
/// OSC 52 escape sequence.
pub(crate) fn copy_osc52(text: &str) -> std::io::Result<()> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = stdout();
    write!(out, "\x1b]52;c;{encoded}\x07")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::widgets::Paragraph;

    #[test]
    fn no_control_character_reaches_the_terminal() {
        let mut terminal = Terminal::new(SafeBackend(TestBackend::new(40, 2))).unwrap();
        let hostile = "a\u{1b}]2;TITLE\u{7}b\u{9b}c\u{1b}[2J";
        terminal
            .draw(|f| f.render_widget(Paragraph::new(hostile), f.area()))
            .unwrap();
        let buffer = terminal.backend().0.buffer();
        let row: String = (0..40)
            .map(|x| buffer[(x, 0)].symbol().to_string())
            .collect();
        assert!(!row.chars().any(char::is_control), "{row:?}");
        assert!(
            row.starts_with("a\u{FFFD}]2;TITLE\u{FFFD}b\u{FFFD}c\u{FFFD}[2J"),
            "{row:?}"
        );
    }
}
