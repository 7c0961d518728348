//! The event loop: one channel carries keys, mouse, paste and resize
//! events (from an input thread), engine events (from the engine thread)
//! and ticks (a receive timeout). Each wake-up drains the channel, applies
//! every action with `update` and carries out the effects; the screen is
//! drawn only when something on it changed, at most 60 times a second.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyEventKind};

use crate::conversation::Conversation;
use crate::effects;
use crate::error::Error;
use crate::graphics;
use crate::keymap::Keymap;
use crate::panes::compare::CompareFocus;
use crate::settings::Settings;
use crate::state::{update, Action, Effect, Screen, State};
use crate::terminal;
use crate::theme::{Palette, Theme};
use promptlab_engine::plain::Precision;
use promptlab_engine::EngineHandle;

pub struct TuiOptions {
    pub model_path: PathBuf,
    pub precision: Precision,
    pub conversation: Conversation,
    pub settings: Settings,
    pub keymap: Keymap,
    /// The conversation's file: the save key, every answer and the quit
    /// write it (the loaded file, or a new one in the conversations folder;
    /// a new conversation gets a new one there).
    pub save_path: PathBuf,
    /// Start with mouse capture on.
    pub mouse: bool,
    /// The folder of saved conversations (the list shows it).
    pub conversations_dir: PathBuf,
    pub prefill: ComparePrefill,
    /// The model as the command line or config named it (the eval pane's
    /// store key, as `promptlab eval` makes it).
    pub model_spec: String,
    /// The folder the eval pane lists suites from.
    pub suites_dir: PathBuf,
    /// Where the images pane finds the datasets and keeps checkpoints.
    pub images: promptlab_engine::images::LabPaths,
    /// How pictures are drawn: the terminal's graphics protocol or half blocks.
    pub graphics: graphics::Setting,
}

/// What the command line fills in on the compare pane; anything given
/// opens the app on that pane.
#[derive(Debug, Clone, Default)]
pub struct ComparePrefill {
    pub question: Option<String>,
    pub context: Option<String>,
    pub reference: Option<String>,
    pub methods: Vec<String>,
}

impl ComparePrefill {
    pub fn apply(&self, state: &mut State) {
        let c = &mut state.compare;
        let fields = [
            (CompareFocus::Question, &self.question),
            (CompareFocus::Context, &self.context),
            (CompareFocus::Reference, &self.reference),
        ];
        let mut any = !self.methods.is_empty();
        for (focus, text) in fields {
            if let Some(text) = text {
                c.set_field(focus, text);
                any = true;
            }
        }
        if let Err(e) = c.select_ids(&self.methods) {
            state.notice = Some(e.to_string());
        }
        if any {
            state.screen = Screen::Compare;
            if !state.compare.selected.is_empty() {
                state.compare.focus = CompareFocus::Question;
            }
        }
    }
}

/// How long the loop sleeps with nothing to do.
const TICK: Duration = Duration::from_millis(250);
/// The shortest time between two frames (60 a second).
const FRAME: Duration = Duration::from_micros(16_667);

/// Whether the screen may look different after `action`. Nothing on it
/// moves by itself, so a tick changes nothing.
fn changes_screen(action: &Action) -> bool {
    !matches!(action, Action::Tick)
}

pub fn run(options: TuiOptions) -> Result<(), Error> {
    let (tx, rx) = channel::<Action>();
    let engine_tx = tx.clone();
    let engine = EngineHandle::spawn(options.model_path.clone(), options.precision, move |e| {
        let _ = engine_tx.send(Action::Engine(e));
    });
    let mut state = State::new(
        options.conversation,
        options.settings,
        options.keymap,
        options.save_path,
    );
    options.prefill.apply(&mut state);
    let theme = Theme::new(Palette::detect());
    state.mouse = options.mouse;
    state.conversations_dir = options.conversations_dir;
    state.eval.suites_dir = options.suites_dir;
    state.eval.model_spec = options.model_spec;
    state.eval.model_file = options.model_path.clone();
    state.images.paths = Some(options.images);
    let mut tui = terminal::enter(options.mouse)?;
    // Before the input thread: the terminal's replies come in as input.
    let mut pictures = pick_graphics(options.graphics).map(graphics::Overlay::new);
    state.images.graphics = pictures.as_ref().map(|o| o.graphics.protocol);
    let result = (|| -> Result<(), Error> {
        spawn_signal_thread(tx.clone())?;
        spawn_input_thread(tx)?;
        let mut dirty = true;
        let mut last_frame: Option<Instant> = None;
        loop {
            let since = last_frame.map_or(FRAME, |t| t.elapsed());
            if dirty && since >= FRAME {
                tui.draw(|frame| crate::ui::render(frame, &state, &theme))?;
                if let Some(overlay) = pictures.as_mut() {
                    draw_pictures(overlay, &mut tui, &state, &theme)?;
                }
                last_frame = Some(Instant::now());
                dirty = false;
            }
            // With a frame due, wake for it; else sleep until input or a tick.
            let wait = if dirty {
                FRAME.saturating_sub(since)
            } else {
                TICK
            };
            let first = match rx.recv_timeout(wait) {
                Ok(action) => action,
                Err(RecvTimeoutError::Timeout) if dirty => continue,
                Err(RecvTimeoutError::Timeout) => Action::Tick,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let mut actions = vec![first];
            actions.extend(rx.try_iter());
            for action in actions {
                dirty |= changes_screen(&action);
                if let (Action::Resize(..), Some(overlay)) = (&action, pictures.as_mut()) {
                    // The resized frame is drawn from blank.
                    overlay.forget();
                }
                for effect in update(&mut state, action) {
                    if !effects::apply(effect, &mut state, &engine) {
                        return Ok(());
                    }
                }
            }
        }
    })();
    terminal::restore();
    if result.is_err() {
        // The loop failed before a quit could save (the terminal went away
        // mid-frame, say): quit as the quit key does, the answer in flight
        // kept and marked stopped, the conversation saved.
        for effect in update(&mut state, Action::Terminate) {
            if effect != Effect::Quit {
                effects::apply(effect, &mut state, &engine);
            }
        }
    }
    drop(engine);
    let signal = TERMINATED_BY.load(Ordering::SeqCst);
    if signal != 0 {
        // Ended by a signal: say so to whoever sent it, as a shell would.
        std::process::exit(128 + signal);
    }
    result
}

/// The terminal's graphics protocol under `setting`, asking the terminal
/// (raw mode must be on, and nothing else reading its input yet).
fn pick_graphics(setting: graphics::Setting) -> Option<graphics::Graphics> {
    if setting == graphics::Setting::HalfBlocks {
        return None;
    }
    let reply = graphics::query_terminal(&mut std::io::stdout()).unwrap_or_else(|e| {
        tracing::warn!("asking the terminal about graphics: {e}");
        None
    });
    let window_cell = crossterm::terminal::window_size().ok().and_then(|w| {
        (w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0)
            .then(|| (w.width / w.columns, w.height / w.rows))
    });
    let chosen = graphics::choose(
        setting,
        |k| std::env::var(k).ok(),
        reply.as_ref(),
        window_cell,
    );
    tracing::info!("pictures drawn with {chosen:?}");
    chosen
}

/// Draws the pictures the frame placed; when a picture that lives in the
/// cells went away, redraws the frame from blank first.
fn draw_pictures(
    overlay: &mut graphics::Overlay,
    tui: &mut terminal::Tui,
    state: &State,
    theme: &Theme,
) -> Result<(), Error> {
    let mut out = std::io::stdout();
    if overlay.show(&crate::ui::placements(state), &mut out)? == graphics::Shown::NeedsRedraw {
        tui.clear()?;
        tui.draw(|frame| crate::ui::render(frame, state, theme))?;
        overlay.show(&crate::ui::placements(state), &mut out)?;
    }
    Ok(())
}

/// The signal that ended the app, 0 while none has.
static TERMINATED_BY: AtomicI32 = AtomicI32::new(0);

/// How long the app has to save and leave after a terminating signal
/// before the signal thread restores the terminal and exits by itself.
const GRACE: Duration = Duration::from_secs(5);

/// Turns SIGTERM, SIGHUP and SIGINT into [`Action::Terminate`]: the loop
/// quits as on the quit key (cancelling, autosaving the answer in flight,
/// restoring the terminal). A second signal, or a loop that has not left
/// within [`GRACE`], restores the terminal and exits at once with the
/// signal's status (the autosave is atomic: it is whole or not there).
fn spawn_signal_thread(tx: Sender<Action>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    std::thread::Builder::new()
        .name("promptlab-signals".into())
        .spawn(move || {
            let Some(first) = signals.forever().next() else {
                return;
            };
            tracing::info!("signal {first}: saving and quitting");
            TERMINATED_BY.store(first, Ordering::SeqCst);
            let _ = tx.send(Action::Terminate);
            let handle = signals.handle();
            let waiter = std::thread::spawn(move || {
                std::thread::sleep(GRACE);
                handle.close();
            });
            let second = signals.forever().next();
            drop(waiter);
            tracing::warn!("leaving now (signal {second:?})");
            terminal::restore();
            std::process::exit(128 + second.unwrap_or(first));
        })
        .map(drop)
}

/// Reads terminal events on their own thread so the loop never blocks on
/// input; key releases (sent by some terminals) are dropped.
fn spawn_input_thread(tx: Sender<Action>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("promptlab-input".into())
        .spawn(move || loop {
            let action = match crossterm::event::read() {
                Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => Action::Key(key),
                Ok(TermEvent::Paste(text)) => Action::Paste(text),
                Ok(TermEvent::Mouse(mouse)) => Action::Mouse(mouse),
                Ok(TermEvent::Resize(w, h)) => Action::Resize(w, h),
                Ok(_) => continue,
                Err(_) => break,
            };
            if tx.send(action).is_err() {
                break;
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn only_a_tick_leaves_the_screen_as_it_was() {
        assert!(!changes_screen(&Action::Tick));
        assert!(changes_screen(&Action::Resize(80, 24)));
        assert!(changes_screen(&Action::Key(KeyEvent::new(
            KeyCode::Char('a'),
            KeyModifiers::NONE
        ))));
        assert!(changes_screen(&Action::Notice("saved".into())));
    }
}
