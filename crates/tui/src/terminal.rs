//! Entering and leaving the terminal's app mode (raw mode, alternate
//! screen, mouse, bracketed paste), and a panic hook that restores it
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
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub type Tui = Terminal<CrosstermBackend<std::io::Stdout>>;

/// Puts the terminal in app mode and installs the restoring panic hook.
pub fn enter() -> std::io::Result<Tui> {
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
    execute!(
        stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    terminal.clear()?;
    Ok(terminal)
}

/// Leaves app mode; safe to call more than once.
pub fn restore() {
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
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
