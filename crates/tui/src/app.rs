//! The event loop: one channel carries keys, mouse, paste and resize
//! events (from an input thread), engine events (from the engine thread)
//! and ticks (a receive timeout). Each wake-up drains the channel, applies
//! every action with `update`, carries out the effects, then draws once.

use std::path::PathBuf;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyEventKind};

use super::compare::CompareFocus;
use super::conversation::Conversation;
use super::keymap::Keymap;
use super::settings::Settings;
use super::state::{update, Action, Effect, Screen, State};
use super::terminal;
use super::theme::{Palette, Theme};
use promptlab_engine::{Command, EngineHandle};
use promptlab_infer::fsutil::write_atomic;
use promptlab_infer::Precision;

pub struct TuiOptions {
    pub model_path: PathBuf,
    pub precision: Precision,
    pub conversation: Conversation,
    pub settings: Settings,
    pub keymap: Keymap,
    /// Where the save key writes (the loaded file, or a new one).
    pub save_path: PathBuf,
    /// Where the session is saved after every answer and on quit.
    pub autosave_path: PathBuf,
    pub prefill: ComparePrefill,
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
            state.notice = Some(e);
        }
        if any {
            state.screen = Screen::Compare;
            if !state.compare.selected.is_empty() {
                state.compare.focus = CompareFocus::Question;
            }
        }
    }
}

const TICK: Duration = Duration::from_millis(250);

pub fn run(options: TuiOptions) -> anyhow::Result<()> {
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
    let mut tui = terminal::enter()?;
    let size = tui.size()?;
    state.size = (size.width, size.height);
    spawn_input_thread(tx);
    let result = (|| -> anyhow::Result<()> {
        loop {
            tui.draw(|frame| super::ui::render(frame, &state, &theme))?;
            let first = match rx.recv_timeout(TICK) {
                Ok(action) => action,
                Err(RecvTimeoutError::Timeout) => Action::Tick,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let mut actions = vec![first];
            actions.extend(rx.try_iter());
            for action in actions {
                for effect in update(&mut state, action) {
                    if !apply(effect, &mut state, &engine, &options.autosave_path) {
                        return Ok(());
                    }
                }
            }
        }
    })();
    terminal::restore();
    drop(engine);
    result
}

/// Carries out one effect; false means quit.
fn apply(
    effect: Effect,
    state: &mut State,
    engine: &EngineHandle,
    autosave: &std::path::Path,
) -> bool {
    let notice = |state: &mut State, text: String| {
        update(state, Action::Notice(text));
    };
    match effect {
        Effect::Chat(request) => {
            engine.send(Command::Chat(request));
        }
        Effect::Compare(request) => {
            engine.send(Command::Compare(request));
        }
        Effect::Cancel(id) => engine.cancel(id),
        Effect::Save(path) => match save(&state.conversation, &path) {
            Ok(()) => notice(state, format!("saved to {}", path.display())),
            Err(e) => notice(state, format!("save failed: {e}")),
        },
        Effect::Export(path) => {
            let result = create_parent(&path)
                .and_then(|_| write_atomic(&path, state.conversation.to_markdown().as_bytes()));
            match result {
                Ok(()) => notice(state, format!("exported to {}", path.display())),
                Err(e) => notice(state, format!("export failed: {e}")),
            }
        }
        Effect::Autosave => {
            if !state.conversation.turns.is_empty() {
                if let Err(e) = save(&state.conversation, autosave) {
                    tracing::warn!("autosave to {} failed: {e}", autosave.display());
                }
            }
        }
        Effect::Copy(text) => match terminal::copy_osc52(&text) {
            Ok(()) => notice(
                state,
                format!("copied {} characters (OSC 52)", text.chars().count()),
            ),
            Err(e) => notice(state, format!("copy failed: {e}")),
        },
        Effect::Quit => return false,
    }
    true
}

fn create_parent(path: &std::path::Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

fn save(conversation: &Conversation, path: &std::path::Path) -> anyhow::Result<()> {
    create_parent(path)?;
    conversation.save(path)?;
    Ok(())
}

/// Reads terminal events on their own thread so the loop never blocks on
/// input; key releases (sent by some terminals) are dropped.
fn spawn_input_thread(tx: Sender<Action>) {
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
        .expect("spawning the input thread");
}
