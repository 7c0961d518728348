//! Fuzz targets: every reader of a file a user or a model hands promptlab,
//! each driven from raw bytes the way a real file would reach it, and then
//! used the way the app uses it (a model that loads also tokenizes and
//! generates; a method that checks also runs, on a scripted backend; a
//! conversation that loads is also drawn and walked). A target may refuse
//! its input, but only with a one-line error of bounded length; anything
//! else — a panic, an abort, a hang, unbounded memory — is a finding.
//!
//! `TARGETS` names them for the two drivers: the coverage-guided libFuzzer
//! binary (`scripts/fuzz`, feature `libfuzzer`) and the replay test
//! (`tests/replay.rs`: the committed corpora and findings, plus
//! deterministic mutations of them, on every `cargo test`). The seed corpora
//! under `corpus/` are written by the `fuzz-seeds` binary.

pub mod mutate;
mod scripted;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use promptlab_infer::generate::{generate, GenerateRequest};
use promptlab_infer::sampling::SamplingParams;
use promptlab_infer::LoadedModel;

/// A target: raw bytes in; it returns normally for any input.
pub type Target = fn(&[u8]);

/// Every target, by name (its corpus is `corpus/<name>/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("gguf", gguf),
    ("hf_config", hf_config),
    ("safetensors", safetensors),
    ("tokenizer", tokenizer),
    ("config_yaml", config_yaml),
    ("method_yaml", method_yaml),
    ("conversation", conversation),
    ("markdown", markdown),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The fuzz crate's folder (corpora, findings, the base HF checkpoint).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where target `name`'s seeds are: its corpus and its findings (inputs
/// that once failed, kept as regressions), and the shipped files of its
/// kind (`surveys/methods/`, `config.yaml`), files or folders of files.
pub fn seed_paths(name: &str) -> Vec<PathBuf> {
    let fuzz = crate_dir();
    let repo = fuzz.join("..");
    let mut paths = vec![
        fuzz.join("corpus").join(name),
        fuzz.join("findings").join(name),
    ];
    match name {
        "method_yaml" => paths.push(repo.join("surveys/methods")),
        "config_yaml" => paths.push(repo.join("config.yaml")),
        _ => {}
    }
    paths
}

/// Every seed file of target `name`, in a fixed order.
pub fn seeds(name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in seed_paths(name) {
        if path.is_file() {
            files.push(path);
        } else if let Ok(listing) = std::fs::read_dir(&path) {
            files.extend(listing.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    files
}

/// The longest error message a refusal may print.
const MAX_ERROR_LEN: usize = 2048;

/// Panics (a finding) unless `error` reads as one bounded line. Control
/// characters other than line breaks are allowed: the CLI escapes them as
/// it prints (`printable`), and the app draws none.
fn one_line(error: impl Display) {
    let text = format!("{error:#}");
    assert!(
        !text.contains('\n') && !text.contains('\r'),
        "a multi-line error: {text:?}"
    );
    let printed = promptlab_infer::printable::printable(&text);
    assert!(
        printed.len() <= MAX_ERROR_LEN,
        "an error of {} bytes: {:?}…",
        printed.len(),
        printed.chars().take(200).collect::<String>()
    );
}

/// Checks a result's error, if any, and hands back the value.
fn accept<T, E: Display>(result: Result<T, E>) -> Option<T> {
    result.map_err(one_line).ok()
}

thread_local! {
    /// One folder per thread for the files the targets write.
    static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// A path in this thread's scratch folder.
fn scratch(name: &str) -> PathBuf {
    SCRATCH.with(|cell| {
        let mut dir = cell.borrow_mut();
        let dir = dir.get_or_insert_with(|| {
            tempfile::Builder::new()
                .prefix("promptlab-fuzz-")
                .tempdir()
                .expect("a scratch folder")
        });
        dir.path().join(name)
    })
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).expect("writing the scratch file");
}

/// What a loaded model is asked to do: describe itself, tokenize, render
/// its chat template and generate two tokens.
fn exercise(model: &LoadedModel) {
    let Some(ids) = accept(model.tokenizer.encode("Hi there, 12 + 30?")) else {
        return;
    };
    let _ = model.tokenizer.decode(&ids);
    let messages = [promptlab_infer::chat_template::Message::new("user", "hi")];
    let prompt = accept(model.render_chat(&messages));
    let prompt_ids = match prompt {
        Some(text) => accept(model.tokenizer.encode(&text)).unwrap_or(ids),
        None => ids,
    };
    let request = GenerateRequest {
        prompt_ids,
        sampling: SamplingParams {
            max_tokens: 2,
            ..SamplingParams::greedy()
        },
        top_logprobs: 3,
        capture_attention: true,
    };
    accept(generate(model, &request, |_| ControlFlow::Continue(())));
}

/// A GGUF file: described (`models info`), loaded, used.
pub fn gguf(data: &[u8]) {
    let path = scratch("model.gguf");
    write(&path, data);
    accept(promptlab_infer::inspect::describe(&path));
    if let Some(model) = accept(LoadedModel::load(&path)) {
        exercise(&model);
    }
}

/// A Hugging Face checkpoint folder: the base one (`base/hf/`) with `file`
/// replaced by `data`, loaded and used.
fn hf_with(file: &str, data: &[u8]) {
    let folder = scratch("hf");
    if !folder.exists() {
        std::fs::create_dir_all(&folder).expect("the scratch checkpoint");
        for entry in std::fs::read_dir(crate_dir().join("base/hf")).expect("base/hf") {
            let entry = entry.expect("base/hf entry");
            std::fs::copy(entry.path(), folder.join(entry.file_name())).expect("copying base/hf");
        }
    }
    let base = crate_dir().join("base/hf").join(file);
    write(&folder.join(file), data);
    if let Some(model) = accept(LoadedModel::load(&folder)) {
        exercise(&model);
    }
    // The next input starts from the base folder again; libFuzzer's timer
    // signal may interrupt the copy, which is then tried again.
    loop {
        match std::fs::copy(&base, folder.join(file)) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => {
                result.expect("restoring the base file");
                break;
            }
        }
    }
}

/// `config.json` of a checkpoint.
pub fn hf_config(data: &[u8]) {
    hf_with("config.json", data);
}

/// `model.safetensors` of a checkpoint.
pub fn safetensors(data: &[u8]) {
    hf_with("model.safetensors", data);
}

/// `tokenizer.json` of a checkpoint (the tokenizer builder).
pub fn tokenizer(data: &[u8]) {
    hf_with("tokenizer.json", data);
}

/// A user `config.yaml` over the shipped one.
pub fn config_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(config) = accept(promptlab::config::Config::from_layers(
        Some(text),
        Path::new("config.yaml"),
    )) {
        accept(promptlab_tui::keymap::Keymap::from_config(&config.keys));
    }
}

/// A method file: parsed and checked, then run on a scripted backend with
/// a question and a context (code execution off).
pub fn method_yaml(data: &[u8]) {
    use promptlab_methods::runner::{run, RunOptions};
    use promptlab_methods::spec::MethodSpec;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(spec) = accept(MethodSpec::parse(text, Path::new("method.yaml"))) else {
        return;
    };
    let _ = spec.calls_per_item();
    let inputs = BTreeMap::from([
        ("question".to_string(), "What is 12 + 30?".to_string()),
        ("context".to_string(), "Twelve and thirty.".to_string()),
    ]);
    let options = RunOptions {
        system: None,
        max_tokens: 32,
        cap: Some(32),
        seed: 7,
        allow_code: false,
    };
    let mut backend = scripted::Scripted::default();
    accept(run(&spec, &inputs, &mut backend, &options, |_| {}));
}

/// A saved conversation: loaded, exported, drawn and walked.
pub fn conversation(data: &[u8]) {
    let path = scratch("conversation.json");
    write(&path, data);
    let Some(conversation) = accept(promptlab_tui::conversation::Conversation::load(&path)) else {
        return;
    };
    let _ = conversation.to_markdown();
    let _ = conversation.messages(None);
    draw_and_walk(conversation);
}

/// Markdown an answer holds, drawn in the chat pane at two widths.
pub fn markdown(data: &[u8]) {
    use promptlab_tui::conversation::{Conversation, Role, TurnEnd};
    let text = String::from_utf8_lossy(data);
    let mut conversation = Conversation::new("", "fuzz");
    conversation.push(Role::User, "Show me.");
    let answer = conversation.push(Role::Assistant, &text);
    conversation.end_turn(answer, TurnEnd::Eos);
    draw_and_walk(conversation);
}

/// Draws `conversation` in the app at 80×24 and 30×8, then walks it with
/// the keys a user would (select, branches, probabilities), drawing again.
fn draw_and_walk(conversation: promptlab_tui::conversation::Conversation) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use promptlab_tui::state::{update, Action, State};
    // The shipped keys, read once: the conversation is what is fuzzed.
    static KEYMAP: std::sync::OnceLock<promptlab_tui::keymap::Keymap> = std::sync::OnceLock::new();
    let keymap = KEYMAP
        .get_or_init(|| {
            let config = promptlab::config::Config::from_layers(None, Path::new("config.yaml"))
                .expect("the shipped config");
            promptlab_tui::keymap::Keymap::from_config(&config.keys).expect("shipped keys")
        })
        .clone();
    let settings = promptlab_tui::settings::Settings::new(
        SamplingParams::greedy(),
        conversation.system.clone(),
        Vec::new(),
    );
    let mut state = State::new(conversation, settings, keymap, scratch("saved.json"));
    let theme = promptlab_tui::theme::Theme::new(promptlab_tui::theme::Palette::Indexed256);
    let draw = |state: &State, w: u16, h: u16| {
        let backend = ratatui::backend::TestBackend::new(w, h);
        let mut terminal = ratatui::Terminal::new(backend).expect("a test terminal");
        terminal
            .draw(|frame| promptlab_tui::ui::render(frame, state, &theme))
            .expect("drawing");
    };
    draw(&state, 80, 24);
    draw(&state, 30, 8);
    let key = |state: &mut State, code: KeyCode, modifiers: KeyModifiers| {
        update(state, Action::Key(KeyEvent::new(code, modifiers)));
    };
    key(&mut state, KeyCode::Char('p'), KeyModifiers::CONTROL);
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    for code in [KeyCode::Up, KeyCode::Left, KeyCode::Right] {
        key(&mut state, code, KeyModifiers::NONE);
        key(&mut state, KeyCode::Left, KeyModifiers::ALT);
        key(&mut state, KeyCode::Right, KeyModifiers::ALT);
    }
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    key(&mut state, KeyCode::PageDown, KeyModifiers::NONE);
    draw(&state, 80, 24);
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    draw(&state, 80, 24);
}
