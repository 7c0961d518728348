//! Carrying out the effects `update` asks for: requests to the engine,
//! saving, exporting and autosaving the conversation, copying with OSC 52.
//! The only I/O the app does besides drawing; each outcome comes back as a
//! notice.

use std::path::Path;

use crate::conversation::Conversation;
use crate::conversations::Entry;
use crate::error::Error;
use crate::state::{update, Action, Effect, State};
use crate::terminal;
use promptlab_engine::plain::write_atomic;
use promptlab_engine::{Command, EngineHandle, Event, RequestError};

/// Queues a request; one the engine refuses fails at once, as if the
/// engine had answered so.
fn send(state: &mut State, engine: &EngineHandle, command: Command) {
    let id = command.id();
    if let Err(e) = engine.send(command) {
        let error = RequestError::NotSent(e);
        update(state, Action::Engine(Event::Failed { id, error }));
    }
}

/// Carries out one effect; false means quit.
pub(crate) fn apply(effect: Effect, state: &mut State, engine: &EngineHandle) -> bool {
    let notice = |state: &mut State, text: String| {
        update(state, Action::Notice(text));
    };
    let conversation = &state.chat.conversation;
    match effect {
        Effect::Chat(request) => send(state, engine, Command::Chat(request)),
        Effect::Compare(request) => send(state, engine, Command::Compare(request)),
        Effect::Inspect(request) => send(state, engine, Command::Inspect(request)),
        Effect::Readout(request) => send(state, engine, Command::Readout(request)),
        Effect::Eval(request) => send(state, engine, Command::Eval(request)),
        Effect::Images(request) => send(state, engine, Command::Images(request)),
        Effect::ListSuites(dir) => {
            let listed = crate::panes::eval::update::list_suites(&dir);
            update(state, Action::SuitesListed(listed));
        }
        Effect::Cancel(id) => engine.cancel(id),
        Effect::Save(path) => match save(conversation, &path) {
            Ok(()) => notice(state, format!("saved to {}", path.display())),
            Err(e) => notice(state, format!("save failed: {e}")),
        },
        Effect::Export(path) => {
            let result = create_parent(&path)
                .and_then(|_| write_atomic(&path, conversation.to_markdown().as_bytes()));
            match result {
                Ok(()) => notice(state, format!("exported to {}", path.display())),
                Err(e) => notice(state, format!("export failed: {e}")),
            }
        }
        // Each conversation autosaves to its own file.
        Effect::Autosave => {
            let path = state.chat.save_path.clone();
            if !conversation.turns.is_empty() {
                if let Err(e) = save(conversation, &path) {
                    tracing::warn!("autosave to {} failed: {e}", path.display());
                    notice(state, format!("autosave failed: {e}"));
                }
            }
        }
        Effect::ListConversations => {
            let entries = list_conversations(&state.conversations_dir);
            update(state, Action::ConversationsListed(entries));
        }
        Effect::OpenConversation(path) => match Conversation::load(&path) {
            Ok(c) => {
                update(state, Action::ConversationOpened(Box::new(c), path));
            }
            Err(e) => notice(state, e.to_string()),
        },
        Effect::RenameConversation(path, title) => {
            let title = (!title.is_empty()).then_some(title);
            let renamed = Conversation::load(&path).and_then(|mut c| {
                c.title = title.clone();
                c.save(&path)
            });
            match renamed {
                Ok(()) => {
                    if path == state.chat.save_path() {
                        state.chat.conversation.title = title;
                    }
                    let entries = list_conversations(&state.conversations_dir);
                    update(state, Action::ConversationsListed(entries));
                }
                Err(e) => notice(state, format!("rename failed: {e}")),
            }
        }
        Effect::DeleteConversation(path) => match std::fs::remove_file(&path) {
            Ok(()) => {
                let entries = list_conversations(&state.conversations_dir);
                update(state, Action::ConversationsListed(entries));
                notice(state, format!("deleted {}", path.display()));
            }
            Err(e) => notice(state, format!("delete failed: {}: {e}", path.display())),
        },
        Effect::ExportRun { markdown, jsonl } => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let dir = state
                .conversations_dir
                .parent()
                .map_or_else(|| Path::new("runs").to_path_buf(), |p| p.join("runs"));
            let md = dir.join(format!("compare-{ms}.md"));
            let lines = dir.join(format!("compare-{ms}.jsonl"));
            let written = create_parent(&md)
                .and_then(|_| write_atomic(&md, markdown.as_bytes()))
                .and_then(|_| write_atomic(&lines, jsonl.as_bytes()));
            match written {
                Ok(()) => notice(
                    state,
                    format!("exported to {} and {}", md.display(), lines.display()),
                ),
                Err(e) => notice(state, format!("export failed: {e}")),
            }
        }
        Effect::SaveCopy(left, path) => {
            if let Err(e) = save(&left, &path) {
                notice(state, format!("saving the last conversation failed: {e}"));
            }
        }
        Effect::Copy(text) if text.is_empty() => notice(state, "nothing to copy there yet".into()),
        Effect::Copy(text) => match terminal::copy_osc52(&text) {
            Ok(()) => notice(
                state,
                format!("copied {} characters (OSC 52)", text.chars().count()),
            ),
            Err(e) => notice(state, format!("copy failed: {e}")),
        },
        Effect::Mouse(on) => {
            if let Err(e) = terminal::set_mouse(on) {
                notice(state, format!("mouse capture: {e}"));
            }
        }
        Effect::Quit => return false,
    }
    true
}

/// The conversations saved in `dir` (`*.json`), as the list shows them; a
/// file that does not read is listed with why, so it can be deleted.
fn list_conversations(dir: &Path) -> Vec<Entry> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .map(|path| {
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let (label, turns) = match Conversation::load(&path) {
                Ok(c) => (c.label(), c.turns.len()),
                Err(_) => ("(not a readable conversation)".into(), 0),
            };
            Entry {
                path,
                label,
                turns,
                modified,
            }
        })
        .collect()
}

fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

fn save(conversation: &Conversation, path: &Path) -> Result<(), Error> {
    create_parent(path)?;
    conversation.save(path)?;
    Ok(())
}
