//! The chat pane driven by scripted actions and fake engine events: every
//! behaviour of `update`, and snapshots of the rendered screen (ratatui's
//! TestBackend), with no model and no terminal — except the attention
//! pane's, which need real captures of the default model.

mod common;

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use promptlab::config::Config;
use promptlab_engine::plain::{ModelInfo, SamplingParams};
use promptlab_engine::{Capabilities, Event, FinishedEvent, RequestError, StopReason, TokenEvent};
use promptlab_infer::error::ModelError;
use promptlab_tui::conversation::{Conversation, Role};
use promptlab_tui::keymap::Keymap;
use promptlab_tui::panes::chat::Focus;
use promptlab_tui::settings::Settings;
use promptlab_tui::state::{update, Action, Effect, Overlay, State};
use promptlab_tui::theme::{Palette, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// A stop reason as the tests write it.
fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "eos" => StopReason::Eos,
        "stop" => StopReason::Stop,
        "length" => StopReason::Length,
        "cancelled" => StopReason::Cancelled,
        other => panic!("no stop reason {other:?}"),
    }
}

fn new_state() -> State {
    state_with_config(None)
}

/// What the local model offers: everything.
const ALL_CAPABILITIES: Capabilities = Capabilities {
    logprobs: true,
    attention: true,
    local_tokenizer: true,
};

/// The app with `user_yaml` layered over the shipped config.
fn state_with_config(user_yaml: Option<&str>) -> State {
    state_with(user_yaml, ALL_CAPABILITIES)
}

/// The app with `user_yaml` over the shipped config, on a backend that
/// offers `capabilities`.
fn state_with(user_yaml: Option<&str>, capabilities: Capabilities) -> State {
    let config = Config::from_layers(user_yaml, std::path::Path::new("user.yaml")).unwrap();
    let sampling = SamplingParams {
        seed: 1,
        max_tokens: 64,
        ..SamplingParams::greedy()
    };
    let presets = config.presets.clone().into_iter().collect();
    let settings = Settings::new(sampling, String::new(), presets);
    let mut state = State::new(
        Conversation::new("", ""),
        settings,
        Keymap::from_config(&config.keys).unwrap(),
        PathBuf::from("/tmp/chat.json"),
    );
    update(
        &mut state,
        Action::Engine(Event::Loaded {
            info: ModelInfo {
                path: "model.gguf".into(),
                name: "TinyModel".into(),
                architecture: "llama".into(),
                n_layers: 2,
                n_heads: 2,
                context_length: 2048,
                file_bytes: 1,
                default_system: Some("You are TinyModel.".into()),
            },
            load_ms: 1.0,
            capabilities,
        }),
    );
    state
}

fn key(state: &mut State, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    update(state, Action::Key(KeyEvent::new(code, modifiers)))
}

fn type_text(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c), KeyModifiers::NONE);
    }
}

/// Sends `text` and returns the request id the engine would get.
fn send(state: &mut State, text: &str) -> u64 {
    type_text(state, text);
    let effects = key(state, KeyCode::Enter, KeyModifiers::NONE);
    match effects.as_slice() {
        [Effect::Chat(req)] => req.id,
        other => panic!("expected one chat request, got {other:?}"),
    }
}

/// The engine streams `tokens` for request `id`, then finishes with `reason`.
fn stream(state: &mut State, id: u64, tokens: &[(&str, f32)], reason: &str) {
    update(
        state,
        Action::Engine(Event::Started {
            id,
            prompt_tokens: 12,
            dropped_messages: 0,
        }),
    );
    for (text, logprob) in tokens {
        update(
            state,
            Action::Engine(Event::Token {
                id,
                token: TokenEvent {
                    text: text.to_string(),
                    logprob: *logprob,
                    top: vec![(text.to_string(), *logprob), ("Lyon".into(), -2.5)],
                    attention: None,
                },
            }),
        );
    }
    if !reason.is_empty() {
        update(
            state,
            Action::Engine(Event::Finished {
                id,
                finished: FinishedEvent {
                    stop_reason: stop_reason(reason),
                    tail: String::new(),
                    prompt_tokens: 12,
                    reused_tokens: 0,
                    generated_tokens: tokens.len(),
                    prefill_tok_s: 210.0,
                    decode_tok_s: 48.5,
                },
            }),
        );
    }
}

fn screen(state: &State, w: u16, h: u16, palette: Palette) -> (String, Terminal<TestBackend>) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = Theme::new(palette);
    terminal
        .draw(|f| promptlab_tui::ui::render(f, state, &theme))
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..h {
        for x in 0..w {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    (text, terminal)
}

fn answer(state: &mut State, question: &str, tokens: &[(&str, f32)]) -> u64 {
    let id = send(state, question);
    stream(state, id, tokens, "eos");
    id
}

const PARIS: &[(&str, f32)] = &[
    ("The", -0.1),
    (" capital", -0.05),
    (" is", -0.3),
    (" **Paris**", -0.2),
    (".", -1.5),
];

#[test]
fn a_streamed_answer_renders_with_markdown_and_status() {
    let mut state = new_state();
    answer(&mut state, "What is the capital of France?", PARIS);
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    insta::assert_snapshot!("chat_answered", text);
    assert!(
        text.contains("The capital is Paris."),
        "bold markers are rendered away"
    );
}

#[test]
fn streaming_shows_a_cursor_and_esc_cancels() {
    let mut state = new_state();
    let id = send(&mut state, "Count to ten");
    stream(&mut state, id, &[("One", -0.1), (", two", -0.2)], "");
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert!(text.contains("One, two▍"), "{text}");
    assert!(text.contains("generating (esc stops)"));
    assert_eq!(
        key(&mut state, KeyCode::Esc, KeyModifiers::NONE),
        vec![Effect::Cancel(id)]
    );
    stream(&mut state, id, &[], "cancelled");
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert!(text.contains("[stopped — ctrl+o continues]"), "{text}");
}

#[test]
fn typing_while_streaming_goes_into_the_input() {
    let mut state = new_state();
    let id = send(&mut state, "Tell me a story");
    stream(&mut state, id, &[("Once", -0.1)], "");
    type_text(&mut state, "next question");
    stream(&mut state, id, &[(" upon", -0.1)], "");
    assert_eq!(state.chat.input.lines(), ["next question"]);
    // Sending while generating is refused with a notice, the text kept.
    assert!(key(&mut state, KeyCode::Enter, KeyModifiers::NONE).is_empty());
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("still generating"));
    assert_eq!(state.chat.input.lines(), ["next question"]);
}

#[test]
fn continue_resumes_a_cut_off_answer_with_its_text_so_far() {
    let mut state = new_state();
    let id = send(&mut state, "Write a poem");
    stream(&mut state, id, &[("Roses", -0.1), (" are", -0.1)], "length");
    let effects = key(&mut state, KeyCode::Char('o'), KeyModifiers::CONTROL);
    let [Effect::Chat(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(req.call.assistant_prefix, "Roses are");
    assert_eq!(req.call.messages.last().unwrap().content, "Write a poem");
    stream(&mut state, req.id, &[(" red", -0.1)], "eos");
    let leaf = state.chat.conversation.leaf.unwrap();
    assert_eq!(state.chat.conversation.turn(leaf).content, "Roses are red");
    assert!(state.chat.conversation.turn(leaf).finished);
}

#[test]
fn regenerate_keeps_the_old_answer_as_a_branch() {
    let mut state = new_state();
    answer(&mut state, "Hi", &[("Hello", -0.1)]);
    let effects = key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL);
    let [Effect::Chat(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    stream(&mut state, req.id, &[("Hey there", -0.1)], "eos");
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert!(
        text.contains("Hey there") && text.contains("‹2/2›"),
        "{text}"
    );
    // Back to the first answer.
    key(&mut state, KeyCode::Left, KeyModifiers::ALT);
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert!(text.contains("Hello") && text.contains("‹1/2›"), "{text}");
}

#[test]
fn editing_an_earlier_message_branches_and_the_old_branch_comes_back() {
    let mut state = new_state();
    answer(&mut state, "Capital of France?", &[("Paris.", -0.1)]);
    answer(&mut state, "And of Spain?", &[("Madrid.", -0.1)]);
    // Select the first user message in the messages pane and edit it.
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(state.chat.focus, Focus::Messages);
    for _ in 0..3 {
        key(&mut state, KeyCode::Up, KeyModifiers::NONE);
    }
    key(&mut state, KeyCode::Char('e'), KeyModifiers::CONTROL);
    assert_eq!(state.chat.input.lines(), ["Capital of France?"]);
    for _ in 0.."France?".len() {
        key(&mut state, KeyCode::Backspace, KeyModifiers::NONE);
    }
    let id = send(&mut state, "Italy?");
    stream(&mut state, id, &[("Rome.", -0.1)], "eos");
    let contents: Vec<String> = state
        .chat
        .conversation
        .path()
        .iter()
        .map(|&i| state.chat.conversation.turn(i).content.clone())
        .collect();
    assert_eq!(contents, ["Capital of Italy?", "Rome."]);
    // Switch the first message back to its old branch: the whole old
    // conversation returns.
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::ALT);
    let contents: Vec<String> = state
        .chat
        .conversation
        .path()
        .iter()
        .map(|&i| state.chat.conversation.turn(i).content.clone())
        .collect();
    assert_eq!(
        contents,
        ["Capital of France?", "Paris.", "And of Spain?", "Madrid."]
    );
}

#[test]
fn probabilities_colour_tokens_and_the_cursor_shows_alternatives() {
    let mut state = new_state();
    answer(&mut state, "Capital?", PARIS);
    key(&mut state, KeyCode::Char('p'), KeyModifiers::CONTROL);
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::NONE); // last token
    key(&mut state, KeyCode::Left, KeyModifiers::NONE); // " **Paris**"
    let (text, terminal) = screen(&state, 80, 24, Palette::Basic16);
    insta::assert_snapshot!("chat_probabilities", text);
    assert!(text.contains("token 4"), "{text}");
    assert!(text.contains("Lyon"));
    // In a 16-colour terminal, only the 16 basic colours are used.
    for cell in terminal.backend().buffer().content() {
        assert!(promptlab_tui::theme::is_basic(cell.fg) && promptlab_tui::theme::is_basic(cell.bg));
    }
}

#[test]
fn a_backend_without_probabilities_says_so() {
    let none = Capabilities {
        logprobs: false,
        attention: false,
        local_tokenizer: false,
    };
    let mut state = state_with(None, none);
    answer(&mut state, "Capital?", PARIS);
    key(&mut state, KeyCode::Char('p'), KeyModifiers::CONTROL);
    assert_eq!(
        state.notice.as_deref(),
        Some("this backend gives no token probabilities")
    );
    // The messages stay Markdown (no colouring), with no token cursor.
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::NONE);
    let text = screen(&state, 120, 24, Palette::Basic16).0;
    assert!(text.contains("The capital is Paris."), "{text}");
    assert!(!text.contains("Lyon"), "no token popup: {text}");
    assert!(
        text.contains("this backend gives no token probabilities"),
        "{text}"
    );
    // With them (the local model), the same keys show the probabilities.
    let mut state = new_state();
    answer(&mut state, "Capital?", PARIS);
    key(&mut state, KeyCode::Char('p'), KeyModifiers::CONTROL);
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::NONE);
    assert_eq!(state.notice, None);
    assert!(screen(&state, 120, 24, Palette::Basic16).0.contains("Lyon"));
}

#[test]
fn hints_name_the_keys_as_bound() {
    // The shipped keys.
    let mut state = new_state();
    let first = screen(&state, 80, 24, Palette::Basic16).0;
    assert!(
        first.contains("Ask anything. F1 lists the keys."),
        "{first}"
    );
    send(&mut state, "Hi");
    type_text(&mut state, "again");
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        state.notice.as_deref(),
        Some("still generating: Esc stops it")
    );
    // Rebound: every hint follows the config.
    let mut state = state_with_config(Some(
        "keys:\n  help: f10\n  stop: ctrl+g\n  regenerate: ctrl+t\n  compare: f9\n",
    ));
    let first = screen(&state, 80, 24, Palette::Basic16).0;
    assert!(
        first.contains("Ask anything. F10 lists the keys."),
        "{first}"
    );
    let id = send(&mut state, "Hi");
    type_text(&mut state, "again");
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        state.notice.as_deref(),
        Some("still generating: ctrl+g stops it")
    );
    // The compare pane names the key that leads back and the chat's stop.
    key(&mut state, KeyCode::F(9), KeyModifiers::NONE);
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        state.notice.as_deref(),
        Some("the chat is still generating (F9, then ctrl+g stops it)")
    );
    key(&mut state, KeyCode::F(9), KeyModifiers::NONE);
    stream(&mut state, id, &[("Hello", -0.1)], "eos");
    key(&mut state, KeyCode::Char('o'), KeyModifiers::CONTROL);
    assert_eq!(
        state.notice.as_deref(),
        Some("the last answer is complete; ctrl+t regenerates it")
    );
}

#[test]
fn help_overlay_lists_the_bound_keys() {
    let mut state = new_state();
    key(&mut state, KeyCode::F(1), KeyModifiers::NONE);
    assert_eq!(state.overlay, Some(Overlay::Help));
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    insta::assert_snapshot!("help_overlay", text);
    key(&mut state, KeyCode::Char('x'), KeyModifiers::NONE);
    assert_eq!(state.overlay, None);
}

#[test]
fn settings_changes_apply_to_the_next_request() {
    let mut state = new_state();
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    key(&mut state, KeyCode::Right, KeyModifiers::NONE); // temperature 0 -> 0.05
    key(&mut state, KeyCode::Right, KeyModifiers::NONE);
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    insta::assert_snapshot!("settings_overlay", text);
    // Type a system prompt.
    for _ in 0..8 {
        key(&mut state, KeyCode::Down, KeyModifiers::NONE);
    }
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    type_text(&mut state, "Be brief.");
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(state.overlay, None);
    type_text(&mut state, "Hi");
    let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    let [Effect::Chat(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(req.call.sampling.temperature, 0.1);
    assert_eq!(req.call.messages[0].role, "system");
    assert_eq!(req.call.messages[0].content, "Be brief.");
}

#[test]
fn a_tiny_terminal_shows_a_message_instead_of_panes() {
    let mut state = new_state();
    answer(&mut state, "Hi", PARIS);
    for (w, h) in [(10, 3), (1, 1), (29, 20), (80, 7)] {
        update(&mut state, Action::Resize(w, h));
        let (text, _) = screen(&state, w, h, Palette::Basic16);
        assert!(text.starts_with("Termin") || w < 6, "{w}x{h}: {text}");
    }
    update(&mut state, Action::Resize(30, 8));
    let (text, _) = screen(&state, 30, 8, Palette::Basic16);
    assert!(text.contains("chat"));
}

#[test]
fn multi_line_input_paste_and_history() {
    let mut state = new_state();
    type_text(&mut state, "line one");
    key(&mut state, KeyCode::Enter, KeyModifiers::ALT);
    type_text(&mut state, "line two");
    assert_eq!(state.chat.input.lines(), ["line one", "line two"]);
    let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    let [Effect::Chat(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        req.call.messages.last().unwrap().content,
        "line one\nline two"
    );
    stream(&mut state, req.id, &[("ok", -0.1)], "eos");
    update(&mut state, Action::Paste("pasted\ntext".into()));
    assert_eq!(state.chat.input.lines(), ["pasted", "text"]);
    key(&mut state, KeyCode::Up, KeyModifiers::CONTROL);
    assert_eq!(state.chat.input.lines(), ["line one", "line two"]);
    // Past the newest entry, the draft (the pasted text) comes back.
    key(&mut state, KeyCode::Down, KeyModifiers::CONTROL);
    assert_eq!(state.chat.input.lines(), ["pasted", "text"]);
}

#[test]
fn notices_go_when_what_they_describe_ends() {
    let mut state = new_state();
    let id = send(&mut state, "Capital of France?");
    // Sending again while the answer streams is refused with a notice...
    type_text(&mut state, "again");
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with("still generating")),
        "{:?}",
        state.notice
    );
    // ...which goes when the answer ends.
    stream(&mut state, id, &[("Paris.", -0.1)], "eos");
    assert_eq!(state.notice, None);
    // Editing a message says so; Esc cancels the edit and its notice.
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Up, KeyModifiers::NONE);
    key(&mut state, KeyCode::Up, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char('e'), KeyModifiers::CONTROL);
    assert!(state
        .notice
        .as_deref()
        .is_some_and(|n| n.starts_with("editing")));
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(state.chat.editing_turn(), None);
    assert_eq!(state.notice, None);
}

#[test]
fn a_long_notice_is_shown_in_full_before_the_figures() {
    let mut state = new_state();
    answer(&mut state, "Capital of France?", &[("Paris.", -0.1)]);
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    let last = text.lines().last().unwrap();
    assert!(
        last.contains("tok/s"),
        "the figures fit at 80 columns: {last}"
    );
    let path =
        "/home/someone/.local/share/promptlab/conversations/2026-12-02-a-rather-long-name.json";
    update(&mut state, Action::Notice(format!("saved to {path}")));
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert_eq!(text.lines().count(), 24);
    let bottom: String = text.lines().skip(21).map(str::trim_end).collect();
    assert!(bottom.contains(path), "{text}");
    assert!(
        text.contains("Paris."),
        "the messages are still drawn: {text}"
    );
}

#[test]
fn ctrl_j_adds_a_line_in_the_message_and_loses_no_text() {
    let mut state = new_state();
    type_text(&mut state, "first");
    key(&mut state, KeyCode::Char('j'), KeyModifiers::CONTROL);
    type_text(&mut state, "second");
    key(&mut state, KeyCode::Char('j'), KeyModifiers::CONTROL);
    type_text(&mut state, "third");
    assert_eq!(state.chat.input.lines(), ["first", "second", "third"]);
}

#[test]
fn dropped_turns_and_failures_are_shown() {
    let mut state = new_state();
    let id = send(&mut state, "Hi");
    update(
        &mut state,
        Action::Engine(Event::Started {
            id,
            prompt_tokens: 2000,
            dropped_messages: 4,
        }),
    );
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("4 oldest messages were left out"));
    update(
        &mut state,
        Action::Engine(Event::Failed {
            id,
            error: RequestError::from(ModelError::EmptyPrompt),
        }),
    );
    assert!(state.chat.generating.is_none());
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("generation failed: the prompt is empty"));
}

#[test]
fn quit_cancels_autosaves_and_quits() {
    let mut state = new_state();
    let id = send(&mut state, "Hi");
    let effects = key(&mut state, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        effects,
        vec![Effect::Cancel(id), Effect::Autosave, Effect::Quit]
    );
}

#[test]
fn save_export_and_copy_ask_the_runner() {
    let mut state = new_state();
    answer(&mut state, "Hi", &[("Hello!", -0.1)]);
    assert_eq!(
        key(&mut state, KeyCode::Char('s'), KeyModifiers::CONTROL),
        vec![Effect::Save("/tmp/chat.json".into())]
    );
    assert_eq!(
        key(&mut state, KeyCode::Char('x'), KeyModifiers::CONTROL),
        vec![Effect::Export("/tmp/chat.md".into())]
    );
    assert_eq!(
        key(&mut state, KeyCode::Char('y'), KeyModifiers::CONTROL),
        vec![Effect::Copy("Hello!".into())]
    );
    let leaf = state.chat.conversation.leaf.unwrap();
    assert_eq!(state.chat.conversation.turn(leaf).role, Role::Assistant);
}

#[test]
fn each_answer_gets_its_own_seed_unless_the_user_fixed_one() {
    let mut state = new_state();
    let seed_of = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::Chat(req)] => req.call.sampling.seed,
        other => panic!("{other:?}"),
    };
    type_text(&mut state, "Hi");
    let first = seed_of(key(&mut state, KeyCode::Enter, KeyModifiers::NONE));
    stream(&mut state, 1, &[("Hello", -0.1)], "eos");
    let second = seed_of(key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert_ne!(first, second, "a regenerated answer must be able to differ");
    stream(&mut state, 2, &[("Hey", -0.1)], "eos");
    state.settings.fixed_seed = true;
    let third = seed_of(key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert_eq!(third, state.settings.sampling.seed);
}

#[test]
fn the_held_back_tail_completes_the_answer() {
    let mut state = new_state();
    let id = send(&mut state, "Which language?");
    stream(&mut state, id, &[("use C", -0.1)], "");
    update(
        &mut state,
        Action::Engine(Event::Finished {
            id,
            finished: FinishedEvent {
                stop_reason: StopReason::Eos,
                tail: "#".into(),
                prompt_tokens: 3,
                reused_tokens: 0,
                generated_tokens: 2,
                prefill_tok_s: 1.0,
                decode_tok_s: 1.0,
            },
        }),
    );
    let leaf = state.chat.conversation.leaf.unwrap();
    assert_eq!(state.chat.conversation.turn(leaf).content, "use C#");
}

#[test]
fn history_browsing_keeps_the_draft_and_pasted_cr_becomes_newlines() {
    let mut state = new_state();
    answer(&mut state, "first", &[("ok", -0.1)]);
    type_text(&mut state, "half-typed");
    key(&mut state, KeyCode::Down, KeyModifiers::CONTROL);
    assert_eq!(state.chat.input.lines(), ["half-typed"]);
    key(&mut state, KeyCode::Up, KeyModifiers::CONTROL);
    assert_eq!(state.chat.input.lines(), ["first"]);
    key(&mut state, KeyCode::Down, KeyModifiers::CONTROL);
    assert_eq!(state.chat.input.lines(), ["half-typed"]);
    state.chat.input = tui_textarea::TextArea::default();
    update(&mut state, Action::Paste("a\rb\r\nc".into()));
    assert_eq!(state.chat.input.lines(), ["a", "b", "c"]);
}

#[test]
fn control_characters_are_never_drawn_raw() {
    let mut state = new_state();
    answer(&mut state, "tab\there", &[("esc\u{1b}[2Jcode", -0.1)]);
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert!(text.contains("tab    here"), "{text}");
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("esc\u{FFFD}[2Jcode"), "{text}");
}

#[test]
fn markdown_takes_its_colours_from_the_theme_so_no_color_means_none() {
    let mut state = new_state();
    let reply = "# Heading\n\n- item with `code` and [a link](https://x.io)\n\n```\nfenced\n```\n> quoted\n\n---";
    answer(&mut state, "Show markdown", &[(reply, -0.1)]);
    let (text, terminal) = screen(&state, 80, 24, Palette::Mono);
    assert!(
        text.contains("Heading") && text.contains("fenced"),
        "{text}"
    );
    // Under NO_COLOR nothing on screen has a colour, the Markdown included.
    for cell in terminal.backend().buffer().content() {
        assert_eq!(
            (cell.fg, cell.bg),
            (ratatui::style::Color::Reset, ratatui::style::Color::Reset),
            "{:?} in {text}",
            cell.symbol()
        );
    }
}

#[test]
fn the_settings_panel_closes_on_the_key_it_is_bound_to() {
    // Rebound: F9 opens and closes it; F2 is an ordinary key there.
    let mut state = state_with_config(Some("keys:\n  settings: f9\n"));
    key(&mut state, KeyCode::F(9), KeyModifiers::NONE);
    assert_eq!(state.overlay, Some(Overlay::Settings));
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    assert_eq!(state.overlay, Some(Overlay::Settings), "f2 is not bound");
    key(&mut state, KeyCode::F(9), KeyModifiers::NONE);
    assert_eq!(state.overlay, None, "the bound key closes it");
    // Esc still closes it; so does F2 with the default keys.
    key(&mut state, KeyCode::F(9), KeyModifiers::NONE);
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(state.overlay, None);
    let mut state = new_state();
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    assert_eq!(state.overlay, Some(Overlay::Settings));
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    assert_eq!(state.overlay, None);
}

#[test]
fn a_click_focuses_the_part_the_screen_shows_there() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let click = |row| {
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    let mut state = new_state();
    answer(&mut state, "Hi", PARIS);
    // A three-line draft makes the input taller: its border starts at row 18.
    type_text(&mut state, "one");
    key(&mut state, KeyCode::Enter, KeyModifiers::ALT);
    type_text(&mut state, "two");
    key(&mut state, KeyCode::Enter, KeyModifiers::ALT);
    type_text(&mut state, "three");
    let (text, _) = screen(&state, 80, 24, Palette::Basic16);
    assert!(text.lines().nth(18).unwrap().contains("message"), "{text}");
    update(&mut state, click(17));
    assert_eq!(state.chat.focus, Focus::Messages);
    update(&mut state, click(18));
    assert_eq!(state.chat.focus, Focus::Input);
}

// ---- the compare pane ----------------------------------------------------

mod compare {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::rc::Rc;

    use super::*;
    use common::scripted::Scripted;
    use promptlab_methods::runner::{run, RunOptions};
    use promptlab_methods::spec::MethodSpec;
    use promptlab_methods::MethodError;
    use promptlab_tui::panes::compare::{ColumnStatus, CompareFocus, CompareState, Entry};
    use promptlab_tui::state::Screen;

    const ZERO_SHOT: &str = "\
id: zero-shot
name: Zero-shot
section: '2.1'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: response
    generate:
      prompt: \"Q: {{ question }}\\nA:\"
  - id: number
    extract: {from: response, pattern: last_number}
answer: number
";

    const VOTING: &str = "\
id: voting
name: Self-Consistency (test)
section: '2.3'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: paths
    sample_n:
      prompt: \"Q: {{ question }}\\nA: Let's think step by step.\"
      n: 4
      temperature: 0.7
  - id: path_answers
    extract: {from: paths, pattern: last_number}
  - id: majority
    vote: {from: path_answers}
answer: majority
";

    const READER: &str = "\
id: reader
name: Reads a passage
section: '2.24'
paper: test
tasks: [qa]
inputs: [question, context]
steps:
  - id: response
    generate:
      prompt: \"{{ context }}\\nQ: {{ question }}\\nA:\"
";

    const UNRUNNABLE: &str = "\
id: needs-a-pool
name: Needs a pool
section: '2.5'
paper: test
tasks: [math]
inputs: [question]
not_runnable: Needs a pool of questions the runner does not have.
";

    fn spec(yaml: &str) -> MethodSpec {
        MethodSpec::parse(yaml, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The app on the compare pane over a small fixed catalogue.
    pub(super) fn compare_state() -> State {
        let mut state = new_state();
        state.compare =
            CompareState::new([ZERO_SHOT, UNRUNNABLE, VOTING, READER].map(spec).to_vec());
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        assert_eq!(state.screen, Screen::Compare);
        state
    }

    fn press(state: &mut State, code: KeyCode) -> Vec<Effect> {
        key(state, code, KeyModifiers::NONE)
    }

    /// Selects the methods at `rows` of the list, types the question (and
    /// reference), and runs: returns the request.
    pub(super) fn start(
        state: &mut State,
        rows: &[usize],
        question: &str,
        reference: &str,
    ) -> promptlab_engine::CompareRequest {
        state.compare.focus = CompareFocus::Methods;
        for &row in rows {
            state.compare.cursor = row;
            press(state, KeyCode::Char(' '));
        }
        press(state, KeyCode::Tab);
        assert_eq!(state.compare.focus, CompareFocus::Question);
        type_text(state, question);
        if !reference.is_empty() {
            press(state, KeyCode::Tab);
            press(state, KeyCode::Tab);
            assert_eq!(state.compare.focus, CompareFocus::Reference);
            type_text(state, reference);
        }
        let effects = press(state, KeyCode::Enter);
        match effects.as_slice() {
            [Effect::Compare(request)] => request.clone(),
            other => panic!("expected a comparison, got {other:?}"),
        }
    }

    /// Every event the engine would send for method `method` of `request`
    /// answering with `replies`, ending with its `MethodDone`.
    pub(super) fn events(
        request: &promptlab_engine::CompareRequest,
        method: usize,
        replies: &[&str],
    ) -> Vec<Event> {
        let log = Rc::new(RefCell::new(Vec::new()));
        // The engine announces each call's prompt before its tokens.
        let id = request.id;
        let mut backend = Scripted::new(replies).on_call({
            let log = log.clone();
            move |call| {
                log.borrow_mut().push(Event::MethodPrompt {
                    id,
                    method,
                    prompt: call.prompt.clone(),
                })
            }
        });
        let options = RunOptions {
            system: None,
            max_tokens: 64,
            cap: None,
            seed: 1,
            allow_code: false,
        };
        let result = run(
            &request.methods[method],
            &request.inputs,
            &mut backend,
            &options,
            |event| {
                log.borrow_mut().push(Event::Method {
                    id: request.id,
                    method,
                    event,
                })
            },
        );
        log.borrow_mut().push(Event::MethodDone {
            id: request.id,
            method,
            result,
        });
        log.take()
    }

    pub(super) fn feed(state: &mut State, events: Vec<Event>) {
        for event in events {
            update(state, Action::Engine(event));
        }
    }

    pub(super) fn finish(state: &mut State, id: u64, stopped: bool) {
        update(
            state,
            Action::Engine(Event::CompareFinished { id, stopped }),
        );
    }

    /// Timings fixed, so snapshots do not depend on the machine.
    fn fix_times(state: &mut State) {
        if let Some(run) = &mut state.compare.run {
            for col in &mut run.columns {
                for step in &mut col.steps {
                    if step.seconds.is_some() {
                        step.seconds = Some(0.5);
                    }
                }
                if let Some(result) = &mut col.result {
                    result.seconds = 1.25;
                }
            }
        }
    }

    #[test]
    fn the_compare_key_switches_panes_and_the_catalogue_is_listed() {
        let mut state = new_state();
        assert!(
            state
                .compare
                .methods
                .iter()
                .any(|m| m.id == "basic-zero-shot" && m.runnable()),
            "the shipped catalogue is loaded"
        );
        assert!(state.compare.catalog_error.is_none());
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        assert_eq!(state.screen, Screen::Compare);
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("basic-zero-shot"), "{text}");
        assert!(
            text.contains("synthetic-prompting") && !text.contains("synthetic-prompting ✗"),
            "runnable now: {text}"
        );
        assert!(text.contains("program-of-thoughts ⚙"), "{text}");
        assert!(text.contains("⚙ code ¶ context ✗ can't run"), "{text}");
        assert!(text.contains("code execution: off"), "{text}");
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        assert_eq!(state.screen, Screen::Chat);
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("f3 compare"), "{text}");
    }

    #[test]
    fn a_comparison_finishing_behind_the_chat_tells_the_compare_pane_only() {
        let mut state = compare_state();
        let request = start(&mut state, &[0], "2+2?", "");
        feed(&mut state, events(&request, 0, &["4"]));
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        assert_eq!(state.screen, Screen::Chat);
        finish(&mut state, request.id, false);
        assert_eq!(state.notice, None, "the chat pane shows no compare notice");
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        assert!(
            state
                .notice
                .as_deref()
                .is_some_and(|n| n.starts_with("comparison finished")),
            "{:?}",
            state.notice
        );
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        assert_eq!(state.notice, None, "nor after coming back to the chat");
    }

    #[test]
    fn methods_are_selected_with_space_and_unrunnable_ones_refused() {
        let mut state = compare_state();
        press(&mut state, KeyCode::Char(' '));
        assert_eq!(state.compare.selected, [0]);
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::Char(' '));
        assert_eq!(state.compare.selected, [0], "not runnable: not selectable");
        assert!(
            state.notice.as_deref().unwrap().contains("not runnable"),
            "{:?}",
            state.notice
        );
        // Typing finds a method by id.
        type_text(&mut state, "vot");
        assert_eq!(state.compare.cursor, 2);
        press(&mut state, KeyCode::Char(' '));
        assert_eq!(state.compare.selected, [0, 2]);
        // Space again unselects.
        press(&mut state, KeyCode::Char(' '));
        assert_eq!(state.compare.selected, [0]);
        // Tab goes round the parts; shift+tab back.
        press(&mut state, KeyCode::Tab);
        assert_eq!(state.compare.focus, CompareFocus::Question);
        key(&mut state, KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(state.compare.focus, CompareFocus::Methods);
        key(&mut state, KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(
            state.compare.focus,
            CompareFocus::Reference,
            "no columns before a run"
        );
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("[x] 2.1  zero-shot"), "{text}");
        assert!(text.contains(" –  2.5  needs-a-pool "), "{text}");
        let (text, _) = screen(&state, 120, 24, Palette::Basic16);
        assert!(text.contains(" –  2.5  needs-a-pool ✗"), "{text}");
    }

    #[test]
    fn the_setup_view_renders() {
        let mut state = compare_state();
        press(&mut state, KeyCode::Char(' '));
        press(&mut state, KeyCode::Down);
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        insta::assert_snapshot!("compare_setup", text);
        press(&mut state, KeyCode::Tab);
        type_text(&mut state, "What is 2 + 3?");
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("What is 2 + 3?"), "{text}");
    }

    #[test]
    fn running_asks_the_engine_with_the_selected_methods_and_inputs() {
        let mut state = compare_state();
        // Refused: nothing selected, then no question.
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert!(state.notice.as_deref().unwrap().contains("pick a method"));
        press(&mut state, KeyCode::Char(' '));
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert!(state.notice.as_deref().unwrap().contains("type a question"));
        assert_eq!(state.compare.focus, CompareFocus::Question);
        // A method that reads a passage needs one.
        state.compare.cursor = 3;
        state.compare.focus = CompareFocus::Methods;
        press(&mut state, KeyCode::Char(' '));
        press(&mut state, KeyCode::Tab);
        type_text(&mut state, "Who?");
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert!(
            state
                .notice
                .as_deref()
                .unwrap()
                .contains("reader needs a context"),
            "{:?}",
            state.notice
        );
        assert_eq!(state.compare.focus, CompareFocus::Context);
        type_text(&mut state, "Ada wrote it.");
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Compare(request)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        let ids: Vec<&str> = request.methods.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["zero-shot", "reader"]);
        assert_eq!(
            request.inputs,
            BTreeMap::from([
                ("question".to_string(), "Who?".to_string()),
                ("context".to_string(), "Ada wrote it.".to_string()),
            ])
        );
        // The max tokens setting caps every call; code stays off.
        assert_eq!(request.options.cap, Some(64));
        assert_eq!(request.options.max_tokens, 64);
        assert!(!request.options.allow_code);
        assert_eq!(state.compare.focus, CompareFocus::Columns);
        assert!(state.compare.running());
        // While it runs, neither a second run nor a chat answer starts.
        assert!(key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL).is_empty());
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        type_text(&mut state, "Hi");
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert!(state
            .notice
            .as_deref()
            .unwrap()
            .contains("comparison is running"));
    }

    #[test]
    fn code_execution_is_off_until_allowed_and_the_pane_says_so() {
        let mut state = compare_state();
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(
            text.contains("code execution: off (f4) — model-written code is never run"),
            "{text}"
        );
        key(&mut state, KeyCode::F(4), KeyModifiers::NONE);
        assert!(state.compare.allow_code);
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("code execution: ON (f4)"), "{text}");
        assert!(text.contains("model-written Python runs in a"), "{text}");
        let request = start(&mut state, &[0], "What is 2 + 3?", "");
        assert!(request.options.allow_code);
        // The columns view keeps it in sight.
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("code execution: ON"), "{text}");
    }

    const CODE: &str = "\
id: program
name: Writes a program
section: '2.7'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: program
    generate:
      prompt: \"Write Python for: {{ question }}\"
  - id: execution
    run_code: {from: program, append: 'print(ans)'}
answer: execution
";

    #[test]
    fn a_method_that_runs_code_waits_for_the_user_to_allow_it() {
        let mut state = new_state();
        state.compare = CompareState::new(vec![spec(CODE)]);
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        press(&mut state, KeyCode::Char(' '));
        press(&mut state, KeyCode::Tab);
        type_text(&mut state, "What is 2 + 3?");
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        let notice = state.notice.clone().unwrap();
        assert!(
            notice.contains("program runs model-written Python: f4 allows"),
            "{notice}"
        );
        key(&mut state, KeyCode::F(4), KeyModifiers::NONE);
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Compare(request)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert!(request.options.allow_code);
        // A program's run shows in the column and, whole, in the overlay.
        use promptlab_methods::runner::{Output, RunEvent};
        use promptlab_methods::sandbox::{CodeRun, Status};
        let id = request.id;
        let runs = vec![CodeRun {
            code: "ans = 2 +\nprint(ans)".into(),
            stdout: String::new(),
            stderr: "SyntaxError: invalid syntax".into(),
            status: Status::Exited { code: 1 },
            seconds: 0.04,
        }];
        for event in [
            RunEvent::StepStarted {
                step: "execution".into(),
            },
            RunEvent::StepFinished {
                step: "execution".into(),
                output: Output::Runs { runs },
            },
        ] {
            update(
                &mut state,
                Action::Engine(Event::Method {
                    id,
                    method: 0,
                    event,
                }),
            );
        }
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(
            text.contains("→ failed: exit status 1: SyntaxError: invalid syntax"),
            "{text}"
        );
        // Enter opens the newest step.
        press(&mut state, KeyCode::Enter);
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("step execution"), "{text}");
        assert!(
            text.contains("── program 1 ──") && text.contains("ans = 2 +"),
            "{text}"
        );
        assert!(text.contains("stderr"), "{text}");
    }

    #[test]
    fn earlier_runs_are_kept_and_can_be_shown_again() {
        let mut state = compare_state();
        let first = start(&mut state, &[0], "What is 2 + 3?", "5");
        feed(&mut state, events(&first, 0, &["The answer is 5."]));
        finish(&mut state, first.id, false);
        // A second question (the selection is kept).
        state.compare.focus = CompareFocus::Question;
        for _ in 0.."What is 2 + 3?".len() {
            press(&mut state, KeyCode::Backspace);
        }
        type_text(&mut state, "What is 4 + 4?");
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Compare(second)] = effects.as_slice() else {
            panic!("a second run: {effects:?}")
        };
        let second = second.clone();
        feed(&mut state, events(&second, 0, &["The answer is 8."]));
        finish(&mut state, second.id, false);
        state.compare.focus = CompareFocus::Columns;
        let (text, _) = screen(&state, 100, 30, Palette::Mono);
        assert!(
            text.contains("run 2/2") && text.contains("What is 4 + 4?"),
            "{text}"
        );
        key(&mut state, KeyCode::Left, KeyModifiers::ALT);
        let (text, _) = screen(&state, 100, 30, Palette::Mono);
        assert!(
            text.contains("run 1/2") && text.contains("What is 2 + 3?"),
            "{text}"
        );
        assert!(text.contains("answer: 5"), "{text}");
        key(&mut state, KeyCode::Left, KeyModifiers::ALT);
        assert!(screen(&state, 100, 30, Palette::Mono).0.contains("run 1/2"));
        key(&mut state, KeyCode::Right, KeyModifiers::ALT);
        let (text, _) = screen(&state, 100, 30, Palette::Mono);
        assert!(
            text.contains("run 2/2") && text.contains("answer: 8"),
            "{text}"
        );
    }

    #[test]
    fn a_finished_run_exports_as_markdown_and_json_lines() {
        let mut state = compare_state();
        state.compare.focus = CompareFocus::Methods;
        let effects = key(&mut state, KeyCode::Char('x'), KeyModifiers::CONTROL);
        assert!(effects.is_empty());
        assert!(state
            .notice
            .as_deref()
            .unwrap()
            .contains("run a comparison first"));
        let request = start(&mut state, &[0], "What is 2 + 3?", "5");
        feed(
            &mut state,
            events(&request, 0, &["2 + 3 = 5. The answer is 5."]),
        );
        finish(&mut state, request.id, false);
        let effects = key(&mut state, KeyCode::Char('x'), KeyModifiers::CONTROL);
        let [Effect::ExportRun { markdown, jsonl }] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert!(
            markdown.contains("**Question:** What is 2 + 3?"),
            "{markdown}"
        );
        assert!(markdown.contains("## zero-shot (§2.1)"), "{markdown}");
        assert!(markdown.contains("- answer: 5 ✓"), "{markdown}");
        assert!(markdown.contains("Q: What is 2 + 3?\nA:"), "{markdown}");
        let record: serde_json::Value =
            serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
        assert_eq!(record["method"], "zero-shot");
        assert_eq!(record["answer"], "5");
        assert_eq!(record["correct"], true);
        assert_eq!(jsonl.lines().count(), 1);
    }

    #[test]
    fn code_in_a_column_keeps_its_line_breaks() {
        let mut state = compare_state();
        let request = start(&mut state, &[0], "What is 2 + 3?", "5");
        let program = "```python\na = 2\nb = 3\nprint(a + b)\n```\nThe answer is 5.";
        feed(&mut state, events(&request, 0, &[program]));
        finish(&mut state, request.id, false);
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        for row in ["```python", "a = 2", "b = 3", "print(a + b)"] {
            assert!(
                text.lines()
                    .any(|l| l.contains(row) && !l.contains("a = 2 b")),
                "{row} not on a row of its own:\n{text}"
            );
        }
    }

    #[test]
    fn events_fill_the_column_and_the_summary_row() {
        let mut state = compare_state();
        let request = start(&mut state, &[0], "What is 2 + 3?", "5");
        let events = events(&request, 0, &["2 + 3 = 5. The answer is 5."]);
        // Midway: the prompt is known and the text streams.
        let cut = events
            .iter()
            .position(|e| {
                matches!(
                    e,
                    Event::Method {
                        event: promptlab_methods::runner::RunEvent::Called { .. },
                        ..
                    }
                )
            })
            .unwrap();
        let mut events = events.into_iter();
        feed(&mut state, events.by_ref().take(cut).collect());
        {
            let col = &state.compare.run.as_ref().unwrap().columns[0];
            assert_eq!(col.status, ColumnStatus::Running);
            let call = &col.steps[0].calls[0];
            assert_eq!(call.prompt.as_deref(), Some("Q: What is 2 + 3?\nA:"));
            assert_eq!(call.text, "2 + 3 = 5. The answer is 5.");
            assert!(!call.done);
        }
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("running zero-shot (1/1)"), "{text}");
        assert!(text.contains("answer is 5.▍"), "{text}");
        feed(&mut state, events.collect());
        finish(&mut state, request.id, false);
        let col = &state.compare.run.as_ref().unwrap().columns[0];
        assert_eq!(col.status, ColumnStatus::Done);
        assert_eq!(col.answer(), Some("5"));
        assert_eq!(col.verdict(Some("5")), Some(true));
        fix_times(&mut state);
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("answer: 5 ✓"), "{text}");
        assert!(text.contains("1 call · 1.2 s · 7+9 tok"), "{text}");
        assert!(text.contains("done: 1 method"), "{text}");
        assert!(!state.compare.running());
    }

    #[test]
    fn each_sample_shows_and_the_tally_updates_live() {
        let mut state = compare_state();
        let request = start(&mut state, &[0, 2], "What is 2 + 3?", "5");
        feed(&mut state, events(&request, 0, &["It is 5."]));
        let events = events(
            &request,
            1,
            &[
                "2 plus 3 makes 5. The answer is 5.",
                "Adding gives 6. The answer is 6.",
                "I am not sure.",
                "2 + 3 = 5, so the answer is 5.",
            ],
        );
        let mut tallies = Vec::new();
        let mut snapshot_taken = false;
        for event in events {
            let called = matches!(
                &event,
                Event::Method {
                    event: promptlab_methods::runner::RunEvent::Called { .. },
                    ..
                }
            );
            let is_token = matches!(
                &event,
                Event::Method {
                    event: promptlab_methods::runner::RunEvent::Token { .. },
                    ..
                }
            );
            update(&mut state, Action::Engine(event));
            let col = &state.compare.run.as_ref().unwrap().columns[1];
            if called {
                let tally = col.steps[0].tally().unwrap();
                tallies.push(promptlab_tui::panes::compare::tally_text(&tally));
                // The status line counts the running method's tokens too.
                let (text, _) = screen(&state, 120, 30, Palette::Basic16);
                let status = text.lines().last().unwrap().to_string();
                assert!(!status.contains("+0 tok"), "{status}");
            }
            // Mid-run, with the third sample streaming: a snapshot.
            if is_token && !snapshot_taken && col.steps[0].calls.len() == 3 {
                snapshot_taken = true;
                fix_times(&mut state);
                let (text, _) = screen(&state, 100, 30, Palette::Basic16);
                insta::assert_snapshot!("compare_streaming", text);
                assert!(
                    text.contains("#1 2 plus 3 makes 5. The answer is 5. → 5"),
                    "{text}"
                );
                assert!(
                    text.contains("#2 Adding gives 6. The answer is 6. → 6"),
                    "{text}"
                );
                assert!(text.contains("tally so far: 5 ×1 · 6 ×1"), "{text}");
            }
        }
        assert!(snapshot_taken);
        assert_eq!(
            tallies,
            [
                "5 ×1",
                "5 ×1 · 6 ×1",
                "5 ×1 · 6 ×1 · no answer ×1",
                "5 ×2 · 6 ×1 · no answer ×1"
            ]
        );
        finish(&mut state, request.id, false);
        let col = &state.compare.run.as_ref().unwrap().columns[1];
        assert_eq!(col.steps[0].calls.len(), 4, "each sample is its own call");
        assert_eq!(col.answer(), Some("5"));
        fix_times(&mut state);
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        insta::assert_snapshot!("compare_done", text);
        assert!(text.contains("→ 5 (5 ×2 · 6 ×1 · no answer ×1)"), "{text}");
        // The summary row: both answers on the same line.
        let row = text
            .lines()
            .find(|l| l.contains("answer: 5 ✓"))
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(row.matches("answer: 5 ✓").count(), 2, "{text}");
    }

    #[test]
    fn a_tie_or_no_match_is_shown_as_no_answer() {
        let mut state = compare_state();
        let request = start(&mut state, &[0, 2], "What is 2 + 3?", "5");
        feed(&mut state, events(&request, 0, &["I cannot say."]));
        feed(
            &mut state,
            events(
                &request,
                1,
                &["The answer is 5.", "The answer is 6.", "It is 6.", "So 5."],
            ),
        );
        finish(&mut state, request.id, false);
        let run = state.compare.run.as_ref().unwrap();
        assert_eq!(run.columns[0].answer(), None);
        assert_eq!(run.columns[1].answer(), None);
        assert!(run.columns[1].tie().is_some());
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("answer: no answer ✗"), "{text}");
        assert!(text.contains("answer: no answer (tie) ✗"), "{text}");
        assert!(text.contains("tie, no answer (5 ×2 · 6 ×2)"), "{text}");
    }

    #[test]
    fn stop_cancels_the_run_and_the_rest_is_not_run() {
        let mut state = compare_state();
        let request = start(&mut state, &[0, 2], "What is 2 + 3?", "");
        let mut partial = events(&request, 0, &["It is 5."]);
        partial.truncate(3); // prompt, step started, first token
        feed(&mut state, partial);
        assert_eq!(
            press(&mut state, KeyCode::Esc),
            vec![Effect::Cancel(request.id)]
        );
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("stopping…"), "{text}");
        update(
            &mut state,
            Action::Engine(Event::MethodDone {
                id: request.id,
                method: 0,
                result: Err(MethodError::Cancelled),
            }),
        );
        finish(&mut state, request.id, true);
        let run = state.compare.run.as_ref().unwrap();
        assert_eq!(run.columns[0].status, ColumnStatus::Stopped);
        assert_eq!(run.columns[1].status, ColumnStatus::NotRun);
        assert!(!state.compare.running());
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("stopped: no answer"), "{text}");
        assert!(text.contains(" stopped  ←→ column"), "{text}");
        assert!(text.contains("not run (stopped)"), "{text}");
        assert!(state
            .notice
            .as_deref()
            .unwrap()
            .contains("1 method(s) not run"));
        // Esc with nothing running cancels nothing.
        assert!(press(&mut state, KeyCode::Esc).is_empty());
        // Events of an older run are ignored after a new one starts.
        let again = key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL);
        let [Effect::Compare(second)] = again.as_slice() else {
            panic!("{again:?}")
        };
        assert_ne!(second.id, request.id);
        feed(&mut state, events(&request, 0, &["It is 5."]));
        let col = &state.compare.run.as_ref().unwrap().columns[0];
        assert_eq!(col.status, ColumnStatus::Waiting);
    }

    #[test]
    fn quitting_during_a_comparison_cancels_it() {
        let mut state = compare_state();
        let request = start(&mut state, &[0], "What is 2 + 3?", "");
        let effects = key(&mut state, KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            effects,
            vec![Effect::Cancel(request.id), Effect::Autosave, Effect::Quit]
        );
    }

    #[test]
    fn a_step_opens_with_its_full_prompt_and_output() {
        let mut state = compare_state();
        let request = start(&mut state, &[0, 2], "What is 2 + 3?", "5");
        feed(
            &mut state,
            events(&request, 0, &["2 + 3 = 5. The answer is 5."]),
        );
        feed(
            &mut state,
            events(&request, 1, &["5.", "5.", "6.", "The answer is 5."]),
        );
        finish(&mut state, request.id, false);
        fix_times(&mut state);
        // The second column, its second sample.
        press(&mut state, KeyCode::Left);
        press(&mut state, KeyCode::Right);
        assert_eq!(state.compare.column, 1);
        press(&mut state, KeyCode::Home);
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::Down);
        let col = state.compare.selected_column().unwrap();
        assert_eq!(col.current_entry(), Some(Entry::Call(0, 1)));
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert_eq!(state.overlay, Some(Overlay::Step));
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        insta::assert_snapshot!("compare_step_overlay", text);
        assert!(text.contains("voting · paths · call 2/4"), "{text}");
        assert!(text.contains("Q: What is 2 + 3?"), "{text}");
        assert!(text.contains("A: Let's think step by step."), "{text}");
        assert!(text.contains("answer found: 5"), "{text}");
        // Ctrl+Y copies the whole step the overlay shows, prompt included.
        let copied = key(&mut state, KeyCode::Char('y'), KeyModifiers::CONTROL);
        let [Effect::Copy(copied)] = copied.as_slice() else {
            panic!("{copied:?}")
        };
        assert!(copied.starts_with("voting · paths · call 2/4"), "{copied}");
        for part in [
            "prompt",
            "Q: What is 2 + 3?",
            "A: Let's think step by step.",
            "answer found: 5",
        ] {
            assert!(copied.contains(part), "{part:?} missing from {copied}");
        }
        assert_eq!(state.overlay, Some(Overlay::Step), "copying keeps it open");
        // → moves to the next call; Esc closes without stopping anything.
        press(&mut state, KeyCode::Right);
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(
            text.contains("call 3/4") && text.contains("answer found: 6"),
            "{text}"
        );
        assert!(press(&mut state, KeyCode::Esc).is_empty());
        assert_eq!(state.overlay, None);
        // A step without calls shows its output; copy takes the selection.
        press(&mut state, KeyCode::End);
        press(&mut state, KeyCode::Up);
        press(&mut state, KeyCode::PageDown);
        let col = state.compare.selected_column().unwrap();
        assert_eq!(col.current_entry(), Some(Entry::Step(2)));
        press(&mut state, KeyCode::Enter);
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("step majority"), "{text}");
        assert!(text.contains("5 (5 ×3 · 6 ×1)"), "{text}");
        press(&mut state, KeyCode::Esc);
        assert_eq!(
            key(&mut state, KeyCode::Char('y'), KeyModifiers::CONTROL),
            vec![Effect::Copy("5 (5 ×3 · 6 ×1)".into())]
        );
    }

    #[test]
    fn more_columns_than_fit_show_a_subset_with_an_indicator() {
        let mut state = new_state();
        let specs: Vec<MethodSpec> = (0..5)
            .map(|i| spec(&ZERO_SHOT.replace("id: zero-shot", &format!("id: method-{i}"))))
            .collect();
        state.compare = CompareState::new(specs);
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        let request = start(&mut state, &[0, 1, 2, 3, 4], "What is 2 + 3?", "");
        for i in 0..5 {
            feed(&mut state, events(&request, i, &["The answer is 5."]));
        }
        finish(&mut state, request.id, false);
        state.compare.column = 0;
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("columns 1–3 of 5 ▶"), "{text}");
        assert!(
            text.contains("method-0") && !text.contains("method-3"),
            "{text}"
        );
        for _ in 0..4 {
            press(&mut state, KeyCode::Right);
        }
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("◀ columns 3–5 of 5"), "{text}");
        assert!(
            text.contains("method-4") && !text.contains("method-1"),
            "{text}"
        );
    }

    #[test]
    fn a_gated_step_shows_whether_its_gate_fired() {
        let gated = format!(
            "{}  - id: check\n    when: {{vote: majority, agreement_below: 0.6, otherwise: majority}}\n    generate: {{prompt: \"{{{{ question }}}}\"}}\n",
            VOTING.trim_end_matches("answer: majority\n").replace("id: voting", "id: gated")
        ) + "answer: check\n";
        let mut state = new_state();
        state.compare = CompareState::new(vec![spec(&gated)]);
        key(&mut state, KeyCode::F(3), KeyModifiers::NONE);
        for (replies, shown) in [
            (&["7", "7", "7", "8"][..], "agreement 75% ≥ 60%: skipped"),
            (&["7", "8", "9", "7", "7"][..], "agreement 50% < 60%: ran"),
        ] {
            let request = start(&mut state, &[0], "3+4?", "");
            feed(&mut state, events(&request, 0, replies));
            finish(&mut state, request.id, false);
            let (text, _) = screen(&state, 80, 24, Palette::Mono);
            assert!(text.contains(shown), "{shown}:\n{text}");
            assert!(text.contains("answer: 7"), "{text}");
            state.compare.selected.clear();
        }
    }

    #[test]
    fn the_compare_pane_renders_at_small_sizes() {
        let mut state = compare_state();
        let sizes = [(40, 12), (30, 8), (45, 9), (60, 15), (200, 60)];
        let check = |state: &State, what: &str| {
            for (w, h) in sizes {
                let (text, _) = screen(state, w, h, Palette::Basic16);
                assert!(!text.is_empty(), "{what} at {w}x{h}");
            }
        };
        check(&state, "setup");
        let request = start(&mut state, &[0, 2], "What is 2 + 3?", "5");
        let mut first = events(&request, 0, &["It is 5."]);
        first.truncate(3);
        feed(&mut state, first.clone());
        check(&state, "running");
        feed(&mut state, events(&request, 0, &["It is 5."]));
        feed(&mut state, events(&request, 1, &["5", "6", "5", "5"]));
        finish(&mut state, request.id, false);
        check(&state, "done");
        let (text, _) = screen(&state, 40, 12, Palette::Basic16);
        assert!(
            text.contains("voting") && text.contains("column 2 of 2"),
            "{text}"
        );
        press(&mut state, KeyCode::Enter);
        check(&state, "overlay");
        press(&mut state, KeyCode::Esc);
        key(&mut state, KeyCode::F(1), KeyModifiers::NONE);
        check(&state, "help");
        let (text, _) = screen(&state, 100, 30, Palette::Basic16);
        assert!(text.contains("keys: compare"), "{text}");
        press(&mut state, KeyCode::Esc);
        press(&mut state, KeyCode::Tab);
        check(&state, "setup over columns");
        // In a 16-colour terminal, only the 16 basic colours are used.
        let (_, terminal) = screen(&state, 100, 30, Palette::Basic16);
        for cell in terminal.backend().buffer().content() {
            assert!(
                promptlab_tui::theme::is_basic(cell.fg) && promptlab_tui::theme::is_basic(cell.bg)
            );
        }
    }

    #[test]
    fn pasting_goes_into_the_question() {
        let mut state = compare_state();
        update(&mut state, Action::Paste("What is\r\n2 + 3?".into()));
        assert_eq!(state.compare.focus, CompareFocus::Question);
        assert_eq!(state.compare.question.lines(), ["What is", "2 + 3?"]);
    }

    #[test]
    fn the_command_line_prefills_the_pane() {
        let mut state = new_state();
        promptlab_tui::app::ComparePrefill {
            question: Some("What is 2 + 3?".into()),
            context: None,
            reference: Some("5".into()),
            methods: vec!["basic-zero-shot".into(), "self-consistency".into()],
        }
        .apply(&mut state);
        assert_eq!(state.screen, Screen::Compare);
        assert_eq!(state.compare.selected.len(), 2);
        assert_eq!(state.compare.question.lines(), ["What is 2 + 3?"]);
        assert_eq!(state.compare.reference.lines(), ["5"]);
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Compare(request)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        let ids: Vec<&str> = request.methods.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["basic-zero-shot", "self-consistency"]);
    }
}

/// `pairs` questions and answers, "question N" / "answer N".
fn long_chat(state: &mut State, pairs: usize) {
    let c = &mut state.chat.conversation;
    for n in 0..pairs {
        c.push(Role::User, &format!("question {n}"));
        let a = c.push(Role::Assistant, &format!("answer {n}"));
        c.end_turn(a, promptlab_tui::conversation::TurnEnd::Eos);
    }
}

#[test]
fn selecting_a_message_scrolls_it_into_view_and_scrolling_goes_on_from_there() {
    let mut state = new_state();
    long_chat(&mut state, 30);
    let shown = |state: &State| screen(state, 80, 24, Palette::Mono).0;
    let s = shown(&state);
    assert!(s.contains("answer 29") && !s.contains("question 0 "), "{s}");
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    let s = shown(&state);
    assert!(s.contains("▶ You") && s.contains("question 0"), "{s}");
    assert!(!s.contains("answer 29"), "{s}");
    // Down walks the selection; it stays on screen all the way.
    for n in 1..60 {
        key(&mut state, KeyCode::Down, KeyModifiers::NONE);
        let s = shown(&state);
        assert!(s.contains('▶'), "selection {n} off screen:\n{s}");
        let (question, answer) = (n / 2, n % 2 == 1);
        let expected = if answer {
            format!("answer {question}")
        } else {
            format!("question {question}")
        };
        assert!(s.contains(&expected), "{expected} not shown:\n{s}");
    }
    // PgUp scrolls from what is shown, not from where the stream was.
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    shown(&state);
    key(&mut state, KeyCode::PageDown, KeyModifiers::NONE);
    let s = shown(&state);
    assert!(
        !s.contains("question 0\n") && !s.contains("answer 29"),
        "{s}"
    );
    assert!(s.contains("question 2"), "{s}");
}

#[test]
fn a_conversation_of_200000_turns_renders_and_switches_branches_at_once() {
    let mut state = new_state();
    long_chat(&mut state, 100_000);
    // A second first question: a branch at the very top.
    state.chat.conversation.edit(0, "another first question");
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains("another first question"), "{s}");
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::ALT);
    // Back on the first branch, at its newest turn, 200,000 deep.
    assert_eq!(state.chat.conversation.path().len(), 200_000);
    key(&mut state, KeyCode::End, KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains("answer 99999"), "{s}");
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains("question 0") && s.contains("‹1/2›"), "{s}");
}

/// The seed of the one chat request in `effects`.
fn request_seed(effects: &[Effect]) -> (u64, u64) {
    match effects {
        [Effect::Chat(req)] => (req.id, req.call.sampling.seed),
        other => panic!("expected one chat request, got {other:?}"),
    }
}

#[test]
fn every_answer_records_the_seed_it_used_and_settings_show_it() {
    let mut state = new_state();
    type_text(&mut state, "Pick a number.");
    let (id, first) = request_seed(&key(&mut state, KeyCode::Enter, KeyModifiers::NONE));
    stream(&mut state, id, PARIS, "eos");
    let leaf = state.chat.conversation.leaf.unwrap();
    assert_eq!(state.chat.conversation.turn(leaf).seed, Some(first));
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains(&format!("{first} (last answer")), "{s}");
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    // Regenerating draws a new seed, and that is the one shown.
    let (id, second) = request_seed(&key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert_ne!(first, second);
    stream(&mut state, id, PARIS, "eos");
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains(&format!("{second} (last answer")), "{s}");
    // The saved conversation keeps both.
    let path = std::env::temp_dir().join(format!("promptlab-seed-{}.json", std::process::id()));
    state.chat.conversation.save(&path).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(saved.contains(&format!("\"seed\": {first}")), "{saved}");
    assert!(saved.contains(&format!("\"seed\": {second}")), "{saved}");
}

#[test]
fn a_long_system_prompt_stays_on_its_row_in_the_settings() {
    let mut state = new_state();
    state.chat.conversation.system =
        format!("You are terse.\n{}", "Answer in one word. ".repeat(30));
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    let row = s
        .lines()
        .find(|l| l.contains("system prompt"))
        .expect("the system prompt row");
    assert!(
        row.contains("You are terse.⏎Answer") && row.contains('…'),
        "{s}"
    );
    assert!(s.contains("Esc close"), "the hint line is in the box:\n{s}");
    // Every row of the box keeps its borders: nothing wrapped to column 0.
    let boxed: Vec<&str> = s.lines().filter(|l| l.starts_with("│    │")).collect();
    assert!(boxed.len() >= 12, "{s}");
    assert!(boxed.iter().all(|l| l.matches('│').count() == 4), "{s}");
}

#[test]
fn the_context_figures_are_the_branch_on_screen_after_a_load_and_a_switch() {
    use promptlab_tui::conversation::{TokensUsed, TurnEnd};
    let mut state = new_state();
    let c = &mut state.chat.conversation;
    let q = c.push(Role::User, "A long question.");
    for (generated, text) in [(12, "Short."), (40, "A longer answer.")] {
        let a = c.push_child(q, Role::Assistant, text);
        c.end_turn(a, TurnEnd::Eos);
        c.turn_mut(a).tokens_used = Some(TokensUsed {
            prompt: 630,
            generated,
        });
    }
    let s = screen(&state, 100, 24, Palette::Mono).0;
    assert!(s.contains("ctx 670/2048 · 630+40 tok"), "{s}");
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::ALT);
    let s = screen(&state, 100, 24, Palette::Mono).0;
    assert!(s.contains("ctx 642/2048 · 630+12 tok"), "{s}");
}

#[test]
fn what_would_silently_do_nothing_useful_is_said() {
    // Greedy sampling: a regenerated answer is the same one.
    let mut state = new_state();
    answer(&mut state, "Hi", &[("Hello", -0.1)]);
    key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("will be the same")),
        "{:?}",
        state.notice
    );
    // Sampling with a seed per answer: nothing to say.
    let mut state = new_state();
    state.settings.sampling.temperature = 0.8;
    answer(&mut state, "Hi", &[("Hello", -0.1)]);
    key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(state.notice, None);
    // An answer cut by a stop string is marked as such.
    let mut state = new_state();
    let id = send(&mut state, "Count");
    stream(&mut state, id, &[("1, 2, 3", -0.1)], "stop");
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(text.contains("[ended at a stop string]"), "{text}");
}

#[test]
fn settings_name_the_preset_the_values_match() {
    let mut state = new_state();
    state.settings.sampling.temperature = 0.0;
    state.settings.sampling.repeat_penalty = 1.0;
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains("preset  precise"), "{s}");
    assert!(s.contains("(template's) You are TinyModel."), "{s}");
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    state.settings.sampling.repeat_penalty = 1.2;
    key(&mut state, KeyCode::F(2), KeyModifiers::NONE);
    let s = screen(&state, 80, 24, Palette::Mono).0;
    assert!(s.contains("preset  (custom)"), "{s}");
}

#[test]
fn the_mouse_key_turns_capture_off_and_on_and_says_so() {
    let mut state = new_state();
    assert!(state.mouse);
    let effects = key(&mut state, KeyCode::F(8), KeyModifiers::NONE);
    assert_eq!(effects, vec![Effect::Mouse(false)]);
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("the terminal selects text"));
    let effects = key(&mut state, KeyCode::F(8), KeyModifiers::NONE);
    assert_eq!(effects, vec![Effect::Mouse(true)]);
}

#[test]
fn a_new_conversation_starts_empty_and_the_last_one_is_saved_to_its_file() {
    let mut state = new_state();
    answer(&mut state, "Hi", &[("Hello", -0.1)]);
    let effects = key(&mut state, KeyCode::Char('n'), KeyModifiers::CONTROL);
    let [Effect::SaveCopy(left, path)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(left.turns.len(), 2);
    assert_eq!(path, &PathBuf::from("/tmp/chat.json"));
    assert!(state.chat.conversation.turns.is_empty());
    let new_path = state.chat.save_path().to_path_buf();
    assert_ne!(new_path, PathBuf::from("/tmp/chat.json"));
    assert_eq!(new_path.parent(), Some(std::path::Path::new("/tmp")));
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(
        text.contains("Ask anything") && !text.contains("Hello"),
        "{text}"
    );
    assert!(text.contains("the last one is in /tmp/chat.json"), "{text}");
    // Not while an answer streams.
    type_text(&mut state, "Again");
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    let effects = key(&mut state, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(effects.is_empty());
    assert_eq!(state.chat.conversation.turns.len(), 2);
}

#[test]
fn the_palette_finds_a_command_by_name_and_runs_it() {
    let mut state = new_state();
    key(&mut state, KeyCode::Char('k'), KeyModifiers::CONTROL);
    assert_eq!(state.overlay, Some(Overlay::Palette));
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(
        text.contains("commands") && text.contains("sampling settings"),
        "{text}"
    );
    assert!(text.contains("ctrl+p") && text.contains("f2"), "{text}");
    type_text(&mut state, "settings");
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(text.contains("> settings▍"), "{text}");
    assert!(!text.contains("export the conversation"), "{text}");
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(state.overlay, Some(Overlay::Settings));
    // A chat command: the mouse toggle, found by a word of it.
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char('k'), KeyModifiers::CONTROL);
    type_text(&mut state, "mouse");
    let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(effects, vec![Effect::Mouse(false)]);
    assert_eq!(state.overlay, None);
    // Nothing matches: Enter does nothing, Esc closes.
    key(&mut state, KeyCode::Char('k'), KeyModifiers::CONTROL);
    type_text(&mut state, "zzz");
    assert!(key(&mut state, KeyCode::Enter, KeyModifiers::NONE).is_empty());
    assert_eq!(state.overlay, Some(Overlay::Palette));
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(state.overlay, None);
}

#[test]
fn the_conversation_list_searches_opens_renames_and_deletes() {
    use promptlab_tui::conversations::Entry;
    let mut state = new_state();
    answer(&mut state, "Current question", &[("Yes", -0.1)]);
    let effects = key(&mut state, KeyCode::Char('l'), KeyModifiers::CONTROL);
    assert_eq!(effects, vec![Effect::Autosave, Effect::ListConversations]);
    let entry = |name: &str, label: &str, modified| Entry {
        path: PathBuf::from(format!("/tmp/{name}.json")),
        label: label.into(),
        turns: 4,
        modified,
    };
    let listed = vec![
        entry("chat", "Current question", 30),
        entry("trip", "Plan a trip to Lyon", 20),
        entry("soup", "A soup recipe", 10),
    ];
    update(&mut state, Action::ConversationsListed(listed.clone()));
    assert_eq!(state.overlay, Some(Overlay::Conversations));
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(
        text.contains("Plan a trip to Lyon") && text.contains("A soup recipe"),
        "{text}"
    );
    // Search, then open.
    type_text(&mut state, "lyon");
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(!text.contains("A soup recipe"), "{text}");
    let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        effects,
        vec![Effect::OpenConversation(PathBuf::from("/tmp/trip.json"))]
    );
    let mut trip = Conversation::new("", "m");
    trip.push(Role::User, "Plan a trip to Lyon");
    update(
        &mut state,
        Action::ConversationOpened(Box::new(trip), PathBuf::from("/tmp/trip.json")),
    );
    assert_eq!(state.overlay, None);
    assert_eq!(
        state.chat.save_path(),
        std::path::Path::new("/tmp/trip.json")
    );
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(
        text.contains("Plan a trip to Lyon") && !text.contains("Current question"),
        "{text}"
    );
    // Rename the soup; deleting the one on screen is refused, another is not.
    key(&mut state, KeyCode::Char('l'), KeyModifiers::CONTROL);
    update(&mut state, Action::ConversationsListed(listed));
    key(&mut state, KeyCode::Down, KeyModifiers::NONE);
    key(&mut state, KeyCode::Down, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL);
    for _ in 0.."A soup recipe".len() {
        key(&mut state, KeyCode::Backspace, KeyModifiers::NONE);
    }
    type_text(&mut state, "Soup");
    let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        effects,
        vec![Effect::RenameConversation(
            PathBuf::from("/tmp/soup.json"),
            "Soup".into()
        )]
    );
    key(&mut state, KeyCode::Up, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char('d'), KeyModifiers::CONTROL);
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    assert!(text.contains("y deletes"), "{text}");
    assert!(key(&mut state, KeyCode::Char('y'), KeyModifiers::NONE).is_empty());
    assert!(state.notice.as_deref().unwrap().contains("on screen"));
    key(&mut state, KeyCode::Up, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char('d'), KeyModifiers::CONTROL);
    let effects = key(&mut state, KeyCode::Char('y'), KeyModifiers::NONE);
    assert_eq!(
        effects,
        vec![Effect::DeleteConversation(PathBuf::from("/tmp/chat.json"))]
    );
}

#[test]
fn a_long_message_wraps_in_the_input_instead_of_scrolling_sideways() {
    let mut state = new_state();
    let words: Vec<String> = (0..30).map(|i| format!("word{i}")).collect();
    type_text(&mut state, &words.join(" "));
    let (text, _) = screen(&state, 80, 24, Palette::Mono);
    // Every word is on screen: the first and the last both.
    for w in ["word0 ", "word15", "word29"] {
        assert!(text.contains(w), "{w} not shown:\n{text}");
    }
}

/// The attention pane over real captures: requests the pane asks for are
/// served by the engine on the default model, and what the pane shows is
/// checked against a capture made here in one forward pass.
mod attention {
    use std::sync::mpsc::{channel, Receiver};
    use std::time::Duration;

    use super::*;
    use promptlab_engine::plain::{Message, Precision};
    use promptlab_engine::{Command, EngineHandle};
    use promptlab_infer::arch::Logits;
    use promptlab_infer::attention::AttentionMaps;
    use promptlab_tui::panes::attention::{View, ANSWER_TOKENS};
    use promptlab_tui::state::Screen;

    /// The engine on the default model, its events on a channel.
    fn engine() -> (EngineHandle, Receiver<Event>) {
        let (tx, rx) = channel();
        let handle =
            EngineHandle::spawn(common::default_model_path(), Precision::Stored, move |e| {
                let _ = tx.send(e);
            });
        (handle, rx)
    }

    /// Sends what `effects` ask of the engine and feeds its events to the
    /// app until the request ends (returns every event seen, in order).
    fn serve(
        state: &mut State,
        engine: &(EngineHandle, Receiver<Event>),
        effects: Vec<Effect>,
        mut each: impl FnMut(&State),
    ) -> Vec<Event> {
        serve_then(state, engine, effects, false, &mut each)
    }

    /// As [`serve`]; with `cancel`, a capture is cancelled when its first
    /// token arrives.
    fn serve_then(
        state: &mut State,
        engine: &(EngineHandle, Receiver<Event>),
        effects: Vec<Effect>,
        cancel: bool,
        each: &mut dyn FnMut(&State),
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        let mut pending = effects;
        while let Some(effect) = pending.pop() {
            let command = match effect {
                Effect::Inspect(r) => Command::Inspect(r),
                Effect::Readout(r) => Command::Readout(r),
                Effect::Chat(r) => Command::Chat(r),
                Effect::Autosave => continue,
                other => panic!("unexpected effect {other:?}"),
            };
            let id = command.id();
            engine.0.send(command).unwrap();
            loop {
                let event = engine.1.recv_timeout(Duration::from_secs(120)).unwrap();
                if cancel && matches!(event, Event::InspectToken { .. }) {
                    engine.0.cancel(id);
                }
                let done = match &event {
                    Event::Inspected { id: e, .. }
                    | Event::ReadOut { id: e, .. }
                    | Event::Finished { id: e, .. }
                    | Event::Failed { id: e, .. } => *e == id,
                    _ => false,
                };
                seen.push(event.clone());
                pending.extend(update(state, Action::Engine(event)));
                each(state);
                if done {
                    break;
                }
            }
        }
        seen
    }

    /// The same positions captured here in one forward pass.
    fn reference_maps(messages: &[Message], answer: &str) -> (Vec<u32>, AttentionMaps) {
        let model = common::default_model();
        let text = model.render_chat(messages).unwrap() + answer;
        let ids = model.tokenizer.encode(&text).unwrap();
        let mut maps = model.new_attention_maps();
        model
            .forward(&ids, &mut model.new_cache(), Some(&mut maps), Logits::Last)
            .unwrap();
        (ids, maps)
    }

    fn press(state: &mut State, code: KeyCode) -> Vec<Effect> {
        key(state, code, KeyModifiers::NONE)
    }

    /// The head view's list of the cursor query's strongest keys, as shown:
    /// (key, weight).
    fn shown_top_keys(text: &str) -> Vec<(usize, f32)> {
        let start = text
            .find("attends most to:")
            .expect("the head view's key list");
        text[start..]
            .lines()
            .skip(1)
            .filter_map(|line| {
                // The list is the last 27 columns of an 80-column screen.
                let panel: String = line.chars().skip(80 - 27).collect();
                let words: Vec<&str> = panel.split_whitespace().collect();
                Some((words.first()?.parse().ok()?, words.last()?.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn the_attention_key_in_the_chat_captures_the_answer_and_every_view_shows_the_models_numbers() {
        let engine = engine();
        let mut state = new_state();
        answer(&mut state, "What is the capital of France?", PARIS);
        let effects = press(&mut state, KeyCode::F(5));
        assert_eq!(state.screen, Screen::Attention);
        let [Effect::Inspect(request)] = effects.as_slice() else {
            panic!("expected one capture, got {effects:?}")
        };
        let request = request.clone();
        let messages = vec![Message::new("user", "What is the capital of France?")];
        assert_eq!(request.messages, messages);
        assert_eq!(request.answer, "The capital is **Paris**.");
        assert_eq!(request.generate, 0);
        serve(&mut state, &engine, effects, |_| {});
        let capture = state.attention.capture.clone().expect("captured");
        let (ids, reference) = reference_maps(&messages, &request.answer);
        assert_eq!(capture.ids, ids);
        assert!(capture.prompt_tokens < ids.len(), "the answer is marked");
        assert_eq!(
            capture.tokens[capture.prompt_tokens..].concat(),
            "The capital is **Paris**."
        );
        // The cursor starts on the answer's first token.
        assert_eq!(state.attention.token, capture.prompt_tokens);
        // The model view: nine heads across, six layers down, the
        // selection bracketed. (Snapshots of the views are over fixed data,
        // below: the model's own numbers differ in their last digits
        // between machines.)
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(
            text.contains("H8") && text.contains("L0  [") && text.contains("L5 "),
            "{text}"
        );

        // The head view lists the keys the model weighed most, with the
        // weights of the reference capture.
        for (layer, head) in [(0, 0), (3, 4), (29, 8)] {
            state.attention.layer = layer;
            state.attention.head = head;
            press(&mut state, KeyCode::Char('h'));
            let (text, _) = screen(&state, 80, 24, Palette::Basic16);
            let shown = shown_top_keys(&text);
            assert!(shown.len() >= 8, "{text}");
            let q = state.attention.token;
            let mut row: Vec<(usize, f32)> = (0..=q)
                .map(|k| (k, reference.prob(layer, head, q, k)))
                .collect();
            row.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (i, (k, w)) in shown.iter().enumerate() {
                assert!(
                    (w - reference.prob(layer, head, q, *k)).abs() < 6e-4,
                    "L{layer} H{head}: key {k} shown {w}"
                );
                assert!((w - row[i].1).abs() < 6e-4, "L{layer} H{head}: rank {i}");
            }
        }
        state.attention.layer = 0;
        state.attention.head = 0;
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        let q = state.attention.token;
        assert!(text.contains(&format!("query {q} “The”")), "{text}");
        assert!(
            text.contains(&format!("{q:>4} The ")),
            "the query's row label: {text}"
        );

        // Moving: ↑↓ layer, ←→ head, [ ] and Home/End the token.
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::Right);
        press(&mut state, KeyCode::Char(']'));
        let a = &state.attention;
        assert_eq!(
            (a.layer, a.head, a.token),
            (2, 1, capture.prompt_tokens + 1)
        );
        press(&mut state, KeyCode::End);
        assert_eq!(state.attention.token, capture.len() - 1);
        press(&mut state, KeyCode::Home);
        assert_eq!(state.attention.token, 0);
        press(&mut state, KeyCode::Char('a'));
        press(&mut state, KeyCode::Up);
        press(&mut state, KeyCode::Up);
        press(&mut state, KeyCode::Up);
        press(&mut state, KeyCode::Left);
        press(&mut state, KeyCode::Left);
        let a = &state.attention;
        assert_eq!((a.layer, a.head, a.token), (0, 0, capture.prompt_tokens));

        press(&mut state, KeyCode::Char('t'));
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert_eq!(state.attention.view, View::Token);
        let q = capture.prompt_tokens;
        for head in 0..9 {
            let (k, w) = (0..=q)
                .map(|k| (k, reference.prob(0, head, q, k)))
                .fold((0, -1.0), |best, kw| if kw.1 > best.1 { kw } else { best });
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("H{head} ")))
                .unwrap();
            assert!(
                line.contains(&format!("{k} “")) && line.contains(&format!("{w:.2}")),
                "H{head}'s strongest key {k} ({w:.2}): {line}"
            );
        }
        press(&mut state, KeyCode::Char('n'));
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        let scores = reference.scores(0, 0, capture.prompt_tokens).unwrap();
        let best = (0..scores.values.len())
            .max_by(|&x, &y| scores.values[x].total_cmp(&scores.values[y]))
            .unwrap();
        assert!(
            text.contains(&format!("{best:>5}  "))
                && text.contains(&format!("{:.3}", scores.values[best])),
            "the highest score {} of key {best} is listed:\n{text}",
            scores.values[best]
        );

        // The lens asks the engine; its last layer is the model's own
        // prediction.
        let effects = press(&mut state, KeyCode::Char('l'));
        assert!(
            matches!(effects.as_slice(), [Effect::Readout(_)]),
            "{effects:?}"
        );
        serve(&mut state, &engine, effects, |_| {});
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(
            text.contains(&format!("{} “The”", capture.prompt_tokens)),
            "{text}"
        );
        assert!(text.lines().any(|l| l.starts_with("L17 ")), "{text}");
        let model = common::default_model();
        let p = capture.prompt_tokens;
        let next = model.logit_lens(&capture.maps, 29, p, 1).unwrap();
        let expected = format!(
            "“{}” {:.0}%",
            model.tokenizer.token_text(next[0].id),
            next[0].value.exp() * 100.0
        );
        assert!(
            text.contains(&format!("next after {p}: {expected}")),
            "{expected}:\n{text}"
        );

        // The effect view reads the same readout: nothing more to ask.
        let effects = press(&mut state, KeyCode::Char('e'));
        assert!(effects.is_empty(), "{effects:?}");
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        let effect = model.head_effect(&capture.maps, 0, 0, p, 8).unwrap();
        let top = &effect.promoted[0];
        assert!(
            text.contains(&format!(
                "{:+7.3}  “{}”",
                top.value,
                model.tokenizer.token_text(top.id)
            )),
            "{text}"
        );

        // Every view fits the smallest screen and a wide one.
        for view in [
            View::Model,
            View::Head,
            View::Token,
            View::Neuron,
            View::Lens,
            View::Effect,
        ] {
            state.attention.view = view;
            for (w, h) in [(30, 8), (80, 24), (200, 60)] {
                let (text, _) = screen(&state, w, h, Palette::Mono);
                assert!(!text.contains("too small"), "{view:?} at {w}×{h}");
            }
        }
        // The same key goes back to the chat; again, nothing is captured
        // twice.
        press(&mut state, KeyCode::F(5));
        assert_eq!(state.screen, Screen::Chat);
        assert!(press(&mut state, KeyCode::F(5)).is_empty());
        assert_eq!(state.screen, Screen::Attention);
    }

    #[test]
    fn a_typed_prompt_streams_its_answer_then_shows_it_and_esc_stops_a_capture() {
        let engine = engine();
        let mut state = new_state();
        assert!(
            press(&mut state, KeyCode::F(5)).is_empty(),
            "an empty chat captures nothing"
        );
        assert!(state.attention.editing);
        let (text, _) = screen(&state, 80, 24, Palette::Basic16);
        assert!(text.contains("No capture yet"), "{text}");
        type_text(&mut state, "What is the capital of France?");
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Inspect(request)] = effects.as_slice() else {
            panic!("expected one capture, got {effects:?}")
        };
        let request = request.clone();
        assert_eq!(request.generate, ANSWER_TOKENS);
        assert_eq!(request.answer, "");
        let mut streamed = Vec::new();
        serve(&mut state, &engine, effects, |state| {
            if state.attention.capture.is_none() {
                streamed.push(screen(state, 80, 24, Palette::Mono).0);
            }
        });
        assert!(
            streamed
                .iter()
                .any(|s| s.contains("capturing… The capital of France")),
            "the answer streams in: {:?}",
            streamed.last()
        );
        let capture = state.attention.capture.clone().unwrap();
        let answer = capture.tokens[capture.prompt_tokens..].concat();
        assert!(
            answer.starts_with("The capital of France is Paris"),
            "{answer}"
        );

        // A second capture, stopped at once: what was captured is shown.
        press(&mut state, KeyCode::Char('i'));
        let effects = press(&mut state, KeyCode::Enter);
        let id = match effects.as_slice() {
            [Effect::Inspect(r)] => r.id,
            other => panic!("{other:?}"),
        };
        assert_eq!(press(&mut state, KeyCode::Esc), vec![Effect::Cancel(id)]);
        serve_then(&mut state, &engine, effects, true, &mut |_| {});
        assert!(!state.attention.running());
        let again = state.attention.capture.clone().unwrap();
        assert!(again.len() < capture.len(), "stopped early");
        assert!(state.notice.as_deref().unwrap().starts_with("captured"));
    }

    #[test]
    fn live_on_the_chat_answer_streams_a_row_per_token_that_is_the_models_own() {
        let engine = engine();
        let mut state = new_state();
        press(&mut state, KeyCode::F(5));
        press(&mut state, KeyCode::Esc);
        press(&mut state, KeyCode::Char('v'));
        assert!(state.attention.live_on);
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("no answer yet"), "{text}");
        press(&mut state, KeyCode::F(5));
        assert_eq!(state.screen, Screen::Chat);
        type_text(&mut state, "What is the capital of France?");
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Chat(request)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert!(request.call.capture_attention, "live on: the chat captures");
        let messages = request.call.messages.clone();
        let mut rows_seen = Vec::new();
        serve(&mut state, &engine, effects, |state| {
            rows_seen.push(state.attention.live.steps.len());
        });
        assert!(
            rows_seen.windows(2).any(|w| w[1] == w[0] + 1),
            "one step per token"
        );
        let live = &state.attention.live;
        let answer: String = live.steps.iter().map(|s| s.text.as_str()).collect();
        assert!(answer.contains("Paris"), "{answer}");
        // Every row is what one forward pass over the same tokens gives.
        let (ids, reference) = reference_maps(&messages, &answer);
        let model = common::default_model();
        let texts: Vec<String> = ids
            .iter()
            .map(|&id| model.tokenizer.token_text(id))
            .collect();
        let prompt = live.steps[0].row.as_ref().unwrap().query + 1;
        let mut checked = 0;
        for (i, step) in live.steps.iter().enumerate() {
            let row = step.row.as_ref().expect("every token has its row");
            let q = prompt - 1 + i;
            assert_eq!(row.query, q);
            if live.keys[..=q] != texts[..=q] {
                break; // the answer re-encoded differently from here
            }
            for layer in 0..row.n_layers {
                for head in 0..row.n_heads {
                    for (k, w) in row.row(layer, head).iter().enumerate() {
                        let r = reference.prob(layer, head, q, k);
                        assert!(
                            (w - r).abs() < 1e-4,
                            "token {i} L{layer} H{head} k{k}: {w} vs {r}"
                        );
                    }
                }
            }
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} rows compared");
        // The live view shows the newest token and its strongest keys.
        let n = live.steps.len();
        press(&mut state, KeyCode::F(5));
        assert_eq!(state.attention.view, View::Live);
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains(&format!("token {n} of {n}")), "{text}");
        assert!(text.contains("L0 H0 (position"), "{text}");
        press(&mut state, KeyCode::Home);
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains(&format!("token 1 of {n}")), "{text}");
        // v again turns live off: the next answer does not capture.
        press(&mut state, KeyCode::Char('v'));
        assert!(!state.attention.live_on);
    }

    #[test]
    fn in_the_compare_pane_the_key_captures_two_methods_and_the_pair_view_aligns_them() {
        use super::compare::{compare_state, events, feed, finish, start};
        let engine = engine();
        let mut state = compare_state();
        let request = start(&mut state, &[0, 2], "What is 2 + 3?", "");
        feed(
            &mut state,
            events(&request, 0, &["2 + 3 = 5. The answer is 5."]),
        );
        feed(&mut state, events(&request, 1, &["5", "5", "6"]));
        finish(&mut state, request.id, false);
        // The selected column first, then the next.
        state.compare.column = 0;
        let effects = press(&mut state, KeyCode::F(5));
        assert_eq!(state.screen, Screen::Attention);
        let [Effect::Inspect(first)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert_eq!(
            first.messages,
            [Message::new("user", "Q: What is 2 + 3?\nA:")]
        );
        assert_eq!(first.answer, "2 + 3 = 5. The answer is 5.");
        let first = first.clone();
        let seen = serve(&mut state, &engine, effects, |_| {});
        assert_eq!(
            seen.iter()
                .filter(|e| matches!(e, Event::Inspected { .. }))
                .count(),
            2,
            "the second call is captured after the first"
        );
        assert_eq!(state.attention.view, View::Pair);
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(
            text.contains("A Zero-shot · B Self-Consistency (test)"),
            "{text}"
        );
        assert!(text.contains("(whole question)"), "{text}");
        for token in ["“ What”", "“ is”", "“?”"] {
            assert!(text.contains(token), "{token} aligned:\n{text}");
        }
        // The first capture's column equals the one-pass reference: the
        // whole question's share in layer 0.
        let capture = state.attention.capture.clone().unwrap();
        let (_, reference) = reference_maps(&first.messages, &first.answer);
        let prompt: String = capture.tokens[..capture.prompt_tokens].concat();
        let at = prompt.rfind("What is 2 + 3?").unwrap();
        let mut chars = 0;
        let mut share = 0.0;
        let n = capture.len();
        for (pos, token) in capture.tokens[..capture.prompt_tokens].iter().enumerate() {
            let (s, e) = (chars, chars + token.chars().count());
            chars = e;
            if e > at && s < at + "What is 2 + 3?".len() {
                for head in 0..reference.n_heads() {
                    for q in capture.prompt_tokens..n {
                        share += reference.prob(0, head, q, pos);
                    }
                }
            }
        }
        let share = share / (reference.n_heads() * (n - capture.prompt_tokens)) as f32 * 100.0;
        let row = text
            .lines()
            .find(|l| l.starts_with("(whole question)"))
            .unwrap();
        let shown: f32 = row.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(
            (shown - share).abs() < 0.06,
            "shown {shown}, reference {share:.2}: {row}"
        );
        // Asked again with nothing new: no second capture.
        press(&mut state, KeyCode::F(5));
        assert_eq!(state.screen, Screen::Compare);
        assert!(press(&mut state, KeyCode::F(5)).is_empty());
    }

    #[test]
    fn heatmaps_use_the_colours_the_terminal_has() {
        let engine = engine();
        let mut state = new_state();
        press(&mut state, KeyCode::F(5));
        type_text(&mut state, "Hi");
        let effects = press(&mut state, KeyCode::Enter);
        serve(&mut state, &engine, effects, |_| {});
        for palette in [
            Palette::Basic16,
            Palette::Indexed256,
            Palette::TrueColor,
            Palette::Mono,
        ] {
            for view in [View::Model, View::Head] {
                state.attention.view = view;
                let (text, terminal) = screen(&state, 80, 24, palette);
                let buffer = terminal.backend().buffer();
                let mut colours = std::collections::BTreeSet::new();
                for y in 3..20 {
                    for x in 4..60 {
                        let cell = &buffer[(x, y)];
                        colours.insert(format!("{:?}{:?}", cell.fg, cell.bg));
                        match palette {
                            Palette::Basic16 | Palette::Mono => assert!(
                                promptlab_tui::theme::is_basic(cell.fg)
                                    && promptlab_tui::theme::is_basic(cell.bg)
                            ),
                            _ => {}
                        }
                    }
                }
                match palette {
                    Palette::Mono => assert!(text.contains('░'), "shade glyphs: {text}"),
                    _ => assert!(colours.len() > 3, "{palette:?} {view:?}: {colours:?}"),
                }
            }
        }
    }
}

/// The attention pane's views over fixed attention data (no model): the
/// heatmaps with their colours, and every view's layout.
mod attention_fixed {
    use std::sync::Arc;

    use super::*;
    use promptlab_engine::plain::{AttentionMaps, Capture};
    use promptlab_engine::Readout;
    use promptlab_tui::panes::attention::View;
    use ratatui::style::Color;

    const TOKENS: [&str; 12] = [
        "<s>", "Q", ":", " What", " is", " 2", "+", "2", "?", "\n", "A", ":",
    ];

    /// 2 layers × 3 heads: head 0 looks at the first token, head 1 at
    /// itself (layer 0) or the token before (layer 1), head 2 evenly.
    fn fixed_capture() -> Capture {
        let maps = AttentionMaps::from_fn(2, 3, TOKENS.len(), |l, h, q, k| match (l, h) {
            (_, 0) => f32::from(k == 0),
            (0, 1) => f32::from(k == q),
            (_, 1) => f32::from(k == q.saturating_sub(1)),
            _ => 1.0 / (q + 1) as f32,
        });
        Capture {
            maps,
            ids: (0..TOKENS.len() as u32).collect(),
            tokens: TOKENS.iter().map(|t| t.to_string()).collect(),
            prompt_tokens: 10,
        }
    }

    /// The app on the attention pane showing the fixed capture.
    fn showing_fixed() -> State {
        let mut state = new_state();
        key(&mut state, KeyCode::F(5), KeyModifiers::NONE);
        type_text(&mut state, "What is 2+2?");
        let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
        let [Effect::Inspect(request)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        let id = request.id;
        let capture = fixed_capture();
        let overview = Arc::new(promptlab_engine::overview::Overview::new(&capture));
        update(
            &mut state,
            Action::Engine(Event::Inspected {
                id,
                capture: Arc::new(capture),
                overview,
            }),
        );
        state
    }

    /// One character per cell for a colour of the heat ramp (16 colours).
    fn code(color: Color) -> char {
        match color {
            Color::Black => '0',
            Color::Blue => '1',
            Color::Magenta => '2',
            Color::Red => '3',
            Color::LightRed => '4',
            Color::Yellow => '5',
            Color::LightYellow => '6',
            Color::White => '7',
            Color::Reset => ' ',
            _ => '.',
        }
    }

    /// The screen's symbols, then the foreground and the background of
    /// each cell as [`code`]s, rows `rows`.
    fn styled(state: &State, w: u16, h: u16, rows: std::ops::Range<u16>) -> String {
        let (mut text, terminal) = screen(state, w, h, Palette::Basic16);
        let buffer = terminal.backend().buffer();
        for (name, pick) in [("fg", true), ("bg", false)] {
            text.push_str(&format!("-- {name}\n"));
            for y in rows.clone() {
                for x in 0..w {
                    let cell = &buffer[(x, y)];
                    text.push(code(if pick { cell.fg } else { cell.bg }));
                }
                text.push('\n');
            }
        }
        text
    }

    #[test]
    fn the_model_view_draws_each_head_in_half_blocks_with_its_colours() {
        let state = showing_fixed();
        insta::assert_snapshot!("fixed_model_view", styled(&state, 40, 12, 3..10));
    }

    #[test]
    fn the_head_view_draws_a_query_per_row_with_its_colours() {
        let mut state = showing_fixed();
        key(&mut state, KeyCode::Char('h'), KeyModifiers::NONE);
        key(&mut state, KeyCode::Right, KeyModifiers::NONE);
        key(&mut state, KeyCode::Down, KeyModifiers::NONE);
        // Layer 1, head 1: every query on the token before it.
        let text = styled(&state, 80, 20, 3..15);
        assert!(
            text.contains("9 “↵”          1.000"),
            "the cursor's list: {text}"
        );
        insta::assert_snapshot!("fixed_head_view", text);
    }

    #[test]
    fn the_token_neuron_lens_and_effect_views_over_fixed_data() {
        let mut state = showing_fixed();
        key(&mut state, KeyCode::Char('t'), KeyModifiers::NONE);
        let (text, _) = screen(&state, 80, 12, Palette::Mono);
        insta::assert_snapshot!("fixed_token_view", text);
        key(&mut state, KeyCode::Char('n'), KeyModifiers::NONE);
        let (text, _) = screen(&state, 80, 12, Palette::Mono);
        assert!(text.contains("keeps no query and key vectors"), "{text}");
        // The lens asks for the positions around the cursor; a readout
        // for them fills the table and the effect view.
        let effects = key(&mut state, KeyCode::Char('l'), KeyModifiers::NONE);
        let [Effect::Readout(request)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert_eq!(request.positions, (6..12).collect::<Vec<_>>());
        assert_eq!((request.cursor, request.layer, request.head), (10, 0, 0));
        let (text, _) = screen(&state, 80, 12, Palette::Mono);
        assert!(text.contains("reading the residual stream"), "{text}");
        let tokens = |words: &[&str], p: f32| -> Vec<(String, f32)> {
            words.iter().map(|w| (w.to_string(), p)).collect()
        };
        let readout = Readout {
            lens: request
                .positions
                .iter()
                .map(|&p| {
                    (
                        p,
                        vec![tokens(&[" two"], 0.2), tokens(&[" 4", " four"], 0.9)],
                    )
                })
                .collect(),
            cursor: 10,
            layer: 0,
            head: 0,
            promoted: tokens(&[" 4", " four"], 1.5),
            suppressed: tokens(&[" 5"], -0.75),
        };
        let id = request.id;
        let more = update(&mut state, Action::Engine(Event::ReadOut { id, readout }));
        assert!(more.is_empty(), "the readout is the selection's: {more:?}");
        let (text, _) = screen(&state, 80, 12, Palette::Mono);
        insta::assert_snapshot!("fixed_lens_view", text);
        key(&mut state, KeyCode::Char('e'), KeyModifiers::NONE);
        let (text, _) = screen(&state, 80, 12, Palette::Mono);
        insta::assert_snapshot!("fixed_effect_view", text);
        // The answer's two tokens: head 0 all on <s>, head 1 on itself
        // (layer 0), head 2 evenly — so the prompt's span holds
        // (1 + 0 + 10/11 + 1 + 0 + 10/12) / 6 of layer 0's attention.
        key(&mut state, KeyCode::Char('s'), KeyModifiers::NONE);
        let (text, _) = screen(&state, 80, 12, Palette::Mono);
        let prompt_share = (2.0 + 10.0 / 11.0 + 10.0 / 12.0) / 6.0 * 100.0;
        assert!(
            text.contains(&format!("{prompt_share:.1}%")),
            "{prompt_share}:\n{text}"
        );
        insta::assert_snapshot!("fixed_spans_view", text);
        // Back on the lens (nothing to ask), moving the cursor makes the
        // readout stale: one new request.
        assert!(key(&mut state, KeyCode::Char('l'), KeyModifiers::NONE).is_empty());
        let effects = key(&mut state, KeyCode::Char(']'), KeyModifiers::NONE);
        assert!(matches!(effects.as_slice(), [Effect::Readout(r)] if r.cursor == 11));
        assert!(
            key(&mut state, KeyCode::Char('['), KeyModifiers::NONE).is_empty(),
            "one in flight at a time"
        );
    }

    #[test]
    fn the_live_view_over_fixed_rows_with_its_colours() {
        use promptlab_engine::plain::QueryAttention;
        use promptlab_engine::LiveAttention;
        let mut state = new_state();
        key(&mut state, KeyCode::F(5), KeyModifiers::NONE);
        key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
        key(&mut state, KeyCode::Char('v'), KeyModifiers::NONE);
        key(&mut state, KeyCode::F(5), KeyModifiers::NONE);
        let id = send(&mut state, "What is 2+2?");
        // Three tokens over a 4-token prompt; 1 layer × 2 heads: head 0 on
        // the first key, head 1 spread evenly.
        for (i, text) in [" 4", ".", "\n"].iter().enumerate() {
            let query = 3 + i;
            let keys = query + 1;
            let mut weights = vec![0.0; 2 * keys];
            weights[0] = 1.0;
            weights[keys..]
                .iter_mut()
                .for_each(|w| *w = 1.0 / keys as f32);
            let new_keys = match i {
                0 => ["Q", ":", " 2+2", "?"].map(String::from).to_vec(),
                _ => vec![[" 4", "."][i - 1].to_string()],
            };
            update(
                &mut state,
                Action::Engine(Event::Token {
                    id,
                    token: TokenEvent {
                        text: text.to_string(),
                        logprob: -0.1,
                        top: vec![(text.to_string(), -0.1), (" four".into(), -2.5)],
                        attention: Some(LiveAttention {
                            row: QueryAttention {
                                query,
                                n_layers: 1,
                                n_heads: 2,
                                weights,
                            },
                            new_keys,
                        }),
                    },
                }),
            );
        }
        key(&mut state, KeyCode::F(5), KeyModifiers::NONE);
        key(&mut state, KeyCode::Char('['), KeyModifiers::NONE);
        let text = styled(&state, 80, 12, 6..8);
        assert!(text.contains("token 2 of 3 “.”"), "{text}");
        assert!(
            text.contains("L0 H0 (position 4) attends to: 0 “Q” 1.00"),
            "{text}"
        );
        insta::assert_snapshot!("fixed_live_view", text);
    }

    #[test]
    fn the_panes_help_lists_its_keys_one_a_row_at_80_by_24() {
        let mut state = showing_fixed();
        key(&mut state, KeyCode::F(1), KeyModifiers::NONE);
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        for what in [
            "edit the prompt",
            "pair view",
            "live view",
            "back to the pane before",
        ] {
            let line = text
                .lines()
                .find(|l| l.contains(what))
                .unwrap_or_else(|| panic!("{what}:\n{text}"));
            assert!(line.trim_end().ends_with('│'), "{what} wraps:\n{text}");
        }
        insta::assert_snapshot!("fixed_help", text);
        // Any key closes it.
        key(&mut state, KeyCode::Char('x'), KeyModifiers::NONE);
        assert!(!screen(&state, 80, 24, Palette::Mono)
            .0
            .contains("attention pane keys"));
    }

    #[test]
    fn every_view_renders_from_30_by_8_up() {
        let mut state = showing_fixed();
        for view in View::ALL_VIEWS {
            state.attention.view = view;
            for (w, h) in [(30, 8), (31, 9), (40, 10), (80, 24), (120, 40)] {
                let (text, _) = screen(&state, w, h, Palette::Basic16);
                assert!(text.contains("Attention"), "{view:?} at {w}×{h}:\n{text}");
            }
        }
    }
}

/// The eval pane driven by scripted engine events: suites read from real
/// files, a run's table and trials filling in, the drill-down, stopping,
/// and the other panes refusing while it runs.
mod eval_pane {
    use super::*;
    use promptlab_engine::{EvalEnd, EvalPlan, EvalRequest};
    use promptlab_eval::record::{AssertionResult, CallTranscript, Record, Tokens};
    pub(super) use promptlab_eval::run::Progress;
    use promptlab_eval::summary::Summary;
    use promptlab_tui::panes::eval::update::list_suites;
    use promptlab_tui::panes::eval::Focus as EvalFocus;

    const SUITE: &str = "name: boolean-ab
description: True or False, asked directly and step by step.
system: Answer with True or False.
prompts:
  - id: direct
    template: 'Q: {{input}}'
  - id: steps
    template: 'Q: {{input}} Think step by step.'
cases:
  - vars: {input: not True}
    assert: [{type: equals, value: 'False'}]
  - vars: {input: True and True}
    assert: [{type: equals, value: 'True'}]
";

    /// A folder with the suite above and a broken one.
    pub(super) fn suites_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("boolean-ab.yaml"), SUITE).unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "name: broken\nprompts: 3\n").unwrap();
        dir
    }

    pub(super) fn record(item: usize, variant: &str, answer: &str, expected: &str) -> Record {
        let passed = answer == expected;
        Record {
            item: item.to_string(),
            variant: variant.into(),
            method: "direct".into(),
            sample: 0,
            key: format!("k{item}{variant}"),
            vars: Default::default(),
            system: Some("Answer with True or False.".into()),
            prompt: format!("Q: question {item}"),
            calls: vec![CallTranscript {
                step: "direct".into(),
                prompt: format!("Q: question {item}"),
                output: format!("The answer is {answer}."),
            }],
            output: format!("The answer is {answer}."),
            answer: Some(answer.into()),
            passed,
            score: if passed { 1.0 } else { 0.0 },
            assertions: vec![AssertionResult {
                kind: "equals".into(),
                expected: expected.into(),
                weight: 1.0,
                passed,
                detail: format!("got {answer}"),
            }],
            tokens: Tokens {
                prompt: 20,
                generated: 6,
                reused: 12,
            },
            ms: 500.0,
            error: None,
        }
    }

    /// The four trials of a run, in plan order.
    pub(super) fn trials() -> Vec<Record> {
        vec![
            record(1, "direct", "False", "False"),
            record(1, "steps", "True", "False"),
            record(2, "direct", "True", "True"),
            record(2, "steps", "True", "True"),
        ]
    }

    pub(super) fn press(state: &mut State, code: KeyCode) -> Vec<Effect> {
        key(state, code, KeyModifiers::NONE)
    }

    /// The screen with the suites folder (a temporary one) named SUITES.
    pub(super) fn snapshot_text(state: &State) -> String {
        let (text, _) = screen(state, 80, 24, Palette::Mono);
        let dir = state.eval.suites_dir.display().to_string();
        text.lines()
            .map(|l| l.replace(&dir, "SUITES").trim_end().to_string() + "\n")
            .collect()
    }

    /// The pane open on `dir`'s suites, the limit at 2, the run started.
    pub(super) fn started(dir: &std::path::Path) -> (State, EvalRequest) {
        let mut state = new_state();
        state.eval.suites_dir = dir.to_path_buf();
        state.eval.model_spec = "TinyModel".into();
        state.eval.model_file = "model.gguf".into();
        let effects = press(&mut state, KeyCode::F(7));
        assert_eq!(effects, vec![Effect::ListSuites(dir.to_path_buf())]);
        update(&mut state, Action::SuitesListed(list_suites(dir)));
        press(&mut state, KeyCode::Char('+'));
        press(&mut state, KeyCode::Char('+'));
        let effects = press(&mut state, KeyCode::Enter);
        let [Effect::Eval(request)] = effects.as_slice() else {
            panic!("expected one eval request, got {effects:?}");
        };
        (state, request.clone())
    }

    pub(super) fn planned(state: &mut State, id: u64) {
        update(
            state,
            Action::Engine(Event::EvalPlanned {
                id,
                plan: EvalPlan {
                    suite: "boolean-ab".into(),
                    description: None,
                    cases: 2,
                    arms: vec![
                        ("direct".into(), "direct".into()),
                        ("steps".into(), "direct".into()),
                    ],
                    trials: 4,
                    store: "eval-runs/boolean-ab/store.jsonl".into(),
                },
            }),
        );
    }

    pub(super) fn trial(state: &mut State, id: u64, index: usize, stored: bool) {
        let records = trials();
        let done = index + 1;
        let passed = records[..done].iter().filter(|r| r.passed).count();
        update(
            state,
            Action::Engine(Event::EvalTrial {
                id,
                progress: Progress {
                    done,
                    total: 4,
                    reused: usize::from(stored) * done,
                    passed,
                },
                index,
                record: Box::new(records[index].clone()),
                stored,
            }),
        );
    }

    pub(super) fn finished(state: &mut State, id: u64, interrupted: bool) {
        let records = trials();
        update(
            state,
            Action::Engine(Event::EvalFinished {
                id,
                end: Box::new(EvalEnd {
                    summary: Summary::of(&records),
                    ran: 4,
                    reused: 0,
                    interrupted,
                    written: vec!["eval-runs/boolean-ab/results.jsonl".into()],
                    prompt_tokens: 80,
                    reused_tokens: 48,
                    seconds: 2.0,
                }),
            }),
        );
    }

    #[test]
    fn the_pane_lists_the_suites_and_runs_the_selected_one_with_the_limit() {
        let dir = suites_dir();
        let (state, request) = started(dir.path());
        assert_eq!(request.suite, dir.path().join("boolean-ab.yaml"));
        assert_eq!(request.overrides.limit, Some(2));
        assert_eq!(request.out, std::path::Path::new("eval-runs/boolean-ab"));
        assert_eq!(request.model, "TinyModel");
        assert_eq!(request.formats.len(), 4);
        assert_eq!(state.eval.focus, EvalFocus::Results);
        // The broken file is listed with its one-line error.
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("boolean-ab"), "{text}");
        assert!(text.contains("broken.yaml"), "{text}");
    }

    #[test]
    fn a_broken_suite_is_refused_with_its_error_and_an_empty_folder_says_so() {
        let dir = suites_dir();
        let mut state = new_state();
        state.eval.suites_dir = dir.path().to_path_buf();
        press(&mut state, KeyCode::F(7));
        update(&mut state, Action::SuitesListed(list_suites(dir.path())));
        press(&mut state, KeyCode::Down);
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        let notice = state.notice.clone().unwrap();
        assert!(notice.contains("broken.yaml"), "{notice}");
        let empty = tempfile::tempdir().unwrap();
        update(&mut state, Action::SuitesListed(list_suites(empty.path())));
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        let notice = state.notice.clone().unwrap();
        assert!(notice.contains("no suites"), "{notice}");
        let missing = empty.path().join("nowhere");
        update(&mut state, Action::SuitesListed(list_suites(&missing)));
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("cannot read the folder"), "{text}");
    }

    #[test]
    fn the_table_fills_in_trial_by_trial_and_ends_with_the_summary() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        let id = request.id;
        planned(&mut state, id);
        trial(&mut state, id, 0, true);
        trial(&mut state, id, 1, false);
        let text = snapshot_text(&state);
        insta::assert_snapshot!("eval_running", text);
        assert!(text.contains("2/4 pass 50.0%"), "{text}");
        // One run trial at 500 ms, two left: an ETA of 1 s.
        assert!(text.contains("ETA 1s"), "{text}");
        trial(&mut state, id, 2, false);
        trial(&mut state, id, 3, false);
        finished(&mut state, id, false);
        let text = snapshot_text(&state);
        insta::assert_snapshot!("eval_finished", text);
        // Two of two: the Wilson interval [34.2, 100.0]; one of two:
        // [9.5, 90.5]; steps lost item 1 to direct and tied item 2.
        assert!(text.contains("[34.2, 100.0]"), "{text}");
        assert!(text.contains("[9.5, 90.5]"), "{text}");
        assert!(
            text.contains("steps vs direct: 0 W · 1 L · 1 T on 2"),
            "{text}"
        );
        let notice = state.notice.clone().unwrap();
        assert!(
            notice.contains("4 trials (4 run now, 0 from the store), 75.0% passed"),
            "{notice}"
        );
        assert!(!state.eval.running());
    }

    #[test]
    fn the_filter_and_the_drill_down_show_a_failed_trial_whole() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        planned(&mut state, request.id);
        for i in 0..4 {
            trial(&mut state, request.id, i, false);
        }
        finished(&mut state, request.id, false);
        press(&mut state, KeyCode::Char('f'));
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("filter: failed"), "{text}");
        assert!(text.contains("trials: 1 of 4 shown"), "{text}");
        press(&mut state, KeyCode::Enter);
        let text = snapshot_text(&state);
        insta::assert_snapshot!("eval_drill_down", text);
        assert!(
            text.contains("✗ equals False (weight 1): got True"),
            "{text}"
        );
        assert!(text.contains("The answer is True."), "{text}");
        press(&mut state, KeyCode::Esc);
        assert_eq!(state.eval.detail, None);
        press(&mut state, KeyCode::Esc);
        assert_eq!(state.eval.focus, EvalFocus::Suites);
        for _ in 0..3 {
            press(&mut state, KeyCode::Char('f'));
        }
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("trials: 4 of 4 shown"), "{text}");
    }

    #[test]
    fn esc_stops_a_run_once_and_the_notice_says_how_to_resume() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        planned(&mut state, request.id);
        trial(&mut state, request.id, 0, false);
        assert_eq!(
            press(&mut state, KeyCode::Esc),
            vec![Effect::Cancel(request.id)]
        );
        assert!(press(&mut state, KeyCode::Esc).is_empty());
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("stopping…"), "{text}");
        finished(&mut state, request.id, true);
        let notice = state.notice.clone().unwrap();
        assert!(
            notice.starts_with("stopped: 4 of 4 trials done and stored"),
            "{notice}"
        );
        // A second Enter (on the suites) runs again.
        press(&mut state, KeyCode::Tab);
        let effects = press(&mut state, KeyCode::Enter);
        assert!(
            matches!(effects.as_slice(), [Effect::Eval(_)]),
            "{effects:?}"
        );
    }

    #[test]
    fn other_panes_refuse_while_a_run_goes_on_and_quit_stops_it() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        planned(&mut state, request.id);
        // Enter again: one run at a time.
        press(&mut state, KeyCode::Tab);
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert_eq!(
            state.notice.as_deref(),
            Some("an evaluation is running: Esc stops it")
        );
        // F7 goes back to the chat, which refuses to send.
        press(&mut state, KeyCode::F(7));
        type_text(&mut state, "hello");
        assert!(press(&mut state, KeyCode::Enter).is_empty());
        assert_eq!(
            state.notice.as_deref(),
            Some("an evaluation is running (F7 shows it; Esc there stops it)")
        );
        // Once the notice has gone, the status line says why.
        state.notice = None;
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains(" evaluating ctx"), "{text}");
        let effects = key(&mut state, KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert!(effects.contains(&Effect::Cancel(request.id)), "{effects:?}");
        assert!(effects.contains(&Effect::Quit), "{effects:?}");
    }

    #[test]
    fn a_failed_run_says_why_and_the_next_one_may_start() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        update(
            &mut state,
            Action::Engine(Event::Failed {
                id: request.id,
                error: RequestError::Eval("model.gguf: No such file or directory".into()),
            }),
        );
        let notice = state.notice.clone().unwrap();
        assert!(notice.starts_with("evaluation failed: "), "{notice}");
        assert!(notice.contains("model.gguf"), "{notice}");
        assert!(!state.eval.running());
        press(&mut state, KeyCode::Tab);
        let effects = press(&mut state, KeyCode::Enter);
        assert!(
            matches!(effects.as_slice(), [Effect::Eval(_)]),
            "{effects:?}"
        );
    }
}

/// The eval pane's edges: a resumed run keeps the selection, the
/// drill-down stops at its end, model text cannot reach the terminal as
/// escape sequences, and a run stopped before it began says so.
mod eval_pane_edges {
    use super::eval_pane::*;
    use super::*;

    /// `record` as the first trial of the run, run now.
    fn first_trial_run(state: &mut State, id: u64, record: promptlab_eval::record::Record) {
        let passed = usize::from(record.passed);
        update(
            state,
            Action::Engine(Event::EvalTrial {
                id,
                progress: Progress {
                    done: 1,
                    total: 4,
                    reused: 0,
                    passed,
                },
                index: 0,
                record: Box::new(record),
                stored: false,
            }),
        );
    }

    #[test]
    fn a_resumed_run_keeps_the_selected_trial_as_earlier_ones_fill_in() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        planned(&mut state, request.id);
        // Trials 2 and 3 came from the store; the cursor is on trial 2.
        trial(&mut state, request.id, 2, true);
        trial(&mut state, request.id, 3, true);
        assert_eq!(state.eval.selected_record().unwrap().item, "2");
        trial(&mut state, request.id, 0, false);
        assert_eq!(state.eval.selected_record().unwrap().item, "2");
        assert_eq!(state.eval.result_cursor, 1);
    }

    #[test]
    fn the_drill_down_scrolls_to_its_end_and_no_further() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        planned(&mut state, request.id);
        let mut long = trials()[0].clone();
        long.calls[0].output = (0..60).map(|i| format!("line {i}\n")).collect();
        first_trial_run(&mut state, request.id, long);
        press(&mut state, KeyCode::Enter);
        screen(&state, 80, 24, Palette::Mono);
        press(&mut state, KeyCode::End);
        let end = state.eval.detail.unwrap();
        assert!(end > 40, "{end}");
        press(&mut state, KeyCode::PageDown);
        press(&mut state, KeyCode::Down);
        assert_eq!(state.eval.detail, Some(end));
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("line 59"), "{text}");
        press(&mut state, KeyCode::Home);
        assert_eq!(state.eval.detail, Some(0));
    }

    #[test]
    fn model_text_is_drawn_without_escape_sequences() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        planned(&mut state, request.id);
        let mut hostile = trials()[0].clone();
        hostile.answer = Some("\u{1b}[2J\u{1b}]52;c;aGk=\u{7}".into());
        hostile.error = Some("bad \u{1b}[31m".into());
        first_trial_run(&mut state, request.id, hostile);
        for open in [false, true] {
            if open {
                press(&mut state, KeyCode::Enter);
            }
            let (text, _) = screen(&state, 80, 24, Palette::Mono);
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{text:?}"
            );
            assert!(text.contains('\u{FFFD}'), "{text}");
        }
    }

    #[test]
    fn a_run_stopped_before_it_began_says_so() {
        let dir = suites_dir();
        let (mut state, request) = started(dir.path());
        assert_eq!(
            press(&mut state, KeyCode::Esc),
            vec![Effect::Cancel(request.id)]
        );
        update(
            &mut state,
            Action::Engine(Event::Failed {
                id: request.id,
                error: RequestError::Cancelled,
            }),
        );
        assert_eq!(
            state.notice.as_deref(),
            Some("stopped before the first trial")
        );
        let (text, _) = screen(&state, 80, 24, Palette::Mono);
        assert!(text.contains("stopped before the first trial"), "{text}");
        assert!(!state.eval.running());
    }
}

/// The images pane driven by scripted engine events: the request a key
/// sends, a labelled grid, the frames of a drawing to scrub through, a
/// training run's chart, stopping, and refusals while work runs.
mod images_pane {
    use super::*;
    use promptlab_engine::images::{
        DatasetKind, ImagesRequest, ImagesWork, LabPaths, LabelledImages, ModelKind, TrainReport,
    };
    use promptlab_tui::panes::images::ImagesState;
    use promptlab_tui::state::Screen;

    fn opened() -> State {
        let mut state = new_state();
        state.images = ImagesState::with_paths(LabPaths {
            data: "/lab/data".into(),
            checkpoints: "/lab/checkpoints".into(),
        });
        key(&mut state, KeyCode::F(6), KeyModifiers::NONE);
        state
    }

    fn press(state: &mut State, c: char) -> Vec<Effect> {
        key(state, KeyCode::Char(c), KeyModifiers::NONE)
    }

    /// `n` made-up images: image i a bright bar `i % 8 + 2` pixels wide
    /// down the middle, fading at its edges; labelled class i % 10 with
    /// falling confidence.
    fn images(n: usize, labelled: bool) -> LabelledImages {
        let mut pixels = Vec::with_capacity(n * 784);
        for i in 0..n {
            let half = (i % 8 + 2) as i32;
            for p in 0..784i32 {
                let (y, x) = (p / 28, p % 28);
                let d = (x - 14).abs();
                let v = if (4..24).contains(&y) && d < half {
                    1.0
                } else if (4..24).contains(&y) && d == half {
                    0.5
                } else {
                    0.0
                };
                pixels.push(v);
            }
        }
        LabelledImages {
            pixels,
            labels: if labelled {
                (0..n).map(|i| (i % 10, 1.0 - i as f32 * 0.05)).collect()
            } else {
                Vec::new()
            },
            dataset: DatasetKind::Mnist,
        }
    }

    fn text(state: &State) -> String {
        let (text, _) = screen(state, 80, 24, Palette::Mono);
        text.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The engine ends request `id` with nothing to say.
    fn finish(state: &mut State, id: u64) {
        update(
            state,
            Action::Engine(Event::ImagesFinished {
                id,
                summary: String::new(),
                stopped: false,
            }),
        );
    }

    /// The engine's labelled images for request `id`.
    fn show(state: &mut State, id: u64, images: LabelledImages) {
        update(state, Action::Engine(Event::ImagesSamples { id, images }));
    }

    fn request(effects: &[Effect]) -> &ImagesRequest {
        match effects {
            [Effect::Images(request)] => request,
            other => panic!("expected one images request, got {other:?}"),
        }
    }

    #[test]
    fn the_images_key_opens_the_pane_and_goes_back() {
        let mut state = opened();
        assert_eq!(state.screen, Screen::Images);
        insta::assert_snapshot!("images_intro", text(&state));
        key(&mut state, KeyCode::F(6), KeyModifiers::NONE);
        assert_eq!(state.screen, Screen::Chat);
    }

    #[test]
    fn a_sample_request_comes_back_as_a_labelled_grid() {
        let mut state = opened();
        let effects = press(&mut state, 's');
        let r = request(&effects).clone();
        assert_eq!(r.model, ModelKind::Vae);
        assert_eq!(r.dataset, DatasetKind::Mnist);
        assert_eq!(r.paths.checkpoints, PathBuf::from("/lab/checkpoints"));
        assert_eq!(
            r.work,
            ImagesWork::Sample {
                n: 16,
                seed: 1,
                shipped: false
            }
        );
        update(
            &mut state,
            Action::Engine(Event::ImagesSamples {
                id: r.id,
                images: images(16, true),
            }),
        );
        update(
            &mut state,
            Action::Engine(Event::ImagesFinished {
                id: r.id,
                summary: "16 from the VAE (shipped checkpoint, 200 epochs)".into(),
                stopped: false,
            }),
        );
        insta::assert_snapshot!("images_grid", text(&state));
        // A second sample draws new images.
        let again = press(&mut state, 's');
        assert!(matches!(
            request(&again).work,
            ImagesWork::Sample { seed: 2, .. }
        ));
    }

    #[test]
    fn the_vae_walks_and_reconstructs_and_the_gan_interpolates() {
        let mut state = opened();
        let walk = |effects: &[Effect]| match &request(effects).work {
            ImagesWork::Walk { x, y, .. } => (*x, *y),
            other => panic!("{other:?}"),
        };
        // v: the latent walk at the origin; arrows move its two sliders.
        let effects = press(&mut state, 'v');
        assert_eq!(walk(&effects), (0.0, 0.0));
        let id = request(&effects).id;
        update(
            &mut state,
            Action::Engine(Event::ImagesSamples {
                id,
                images: images(10, true),
            }),
        );
        update(
            &mut state,
            Action::Engine(Event::ImagesFinished {
                id,
                summary: "the VAE's latent walk at z₁ = 0.0, z₂ = 0.0".into(),
                stopped: false,
            }),
        );
        insta::assert_snapshot!("images_walk", text(&state));
        let effects = key(&mut state, KeyCode::Right, KeyModifiers::NONE);
        assert_eq!(walk(&effects), (0.5, 0.0));
        // While that decodes, more arrows wait.
        assert!(key(&mut state, KeyCode::Down, KeyModifiers::NONE).is_empty());
        let id = request(&effects).id;
        finish(&mut state, id);
        let effects = key(&mut state, KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(walk(&effects), (0.5, 0.5));
        let id = request(&effects).id;
        finish(&mut state, id);
        // v again: reconstructions of four test images.
        let effects = press(&mut state, 'v');
        assert!(matches!(
            request(&effects).work,
            ImagesWork::Reconstruct { n: 4, .. }
        ));
        let id = request(&effects).id;
        show(&mut state, id, images(8, true));
        insta::assert_snapshot!("images_reconstructions", text(&state));
        finish(&mut state, id);
        // The DCGAN's second view goes between two seeds; the PixelCNN has
        // only samples.
        press(&mut state, '3');
        let effects = press(&mut state, 'v');
        assert!(matches!(
            request(&effects).work,
            ImagesWork::Interpolate { steps: 10, .. }
        ));
        let id = request(&effects).id;
        show(&mut state, id, images(10, true));
        insta::assert_snapshot!("images_interpolation", text(&state));
        finish(&mut state, id);
        press(&mut state, '4');
        assert!(press(&mut state, 'v').is_empty());
        assert!(text(&state).contains("the PixelCNN has the samples view only"));
    }

    #[test]
    fn the_grid_greys_follow_the_pixels() {
        let mut state = opened();
        let id = request(&press(&mut state, 's')).id;
        update(
            &mut state,
            Action::Engine(Event::ImagesSamples {
                id,
                images: images(1, true),
            }),
        );
        let (_, terminal) = screen(&state, 80, 24, Palette::Indexed256);
        let buffer = terminal.backend().buffer();
        // One image at full size from (0, 1): its row 0 is black, and the
        // bar (x 13 … 15, pixel rows 4 … 23) white over white.
        let colour = |x: u16, y: u16| (buffer[(x, y)].fg, buffer[(x, y)].bg);
        use ratatui::style::Color;
        assert_eq!(colour(0, 1), (Color::Indexed(16), Color::Indexed(16)));
        assert_eq!(colour(14, 4), (Color::Indexed(231), Color::Indexed(231)));
        // x 12 is the bar's fading edge: mid grey.
        assert_eq!(colour(12, 4), (Color::Indexed(244), Color::Indexed(244)));
        // Pixel rows 2 and 3 (text row 1) are above the bar; 4 and 5 in it.
        assert_eq!(colour(14, 2), (Color::Indexed(16), Color::Indexed(16)));
        assert_eq!(colour(14, 3), (Color::Indexed(231), Color::Indexed(231)));
        assert_eq!(buffer[(14, 4)].symbol(), "▀");
    }

    #[test]
    fn a_drawing_arrives_frame_by_frame_and_scrubs_back_and_forth() {
        let mut state = opened();
        press(&mut state, '6');
        let r = request(&press(&mut state, 's')).clone();
        assert_eq!(r.model, ModelKind::Ddpm);
        for (step, t) in [(1, 999), (2, 499), (3, 0)] {
            update(
                &mut state,
                Action::Engine(Event::ImagesFrame {
                    id: r.id,
                    images: images(4, false),
                    caption: format!("step {step} of 3, t = {t}"),
                }),
            );
        }
        update(
            &mut state,
            Action::Engine(Event::ImagesSamples {
                id: r.id,
                images: images(4, true),
            }),
        );
        let last_line = |state: &State| text(state).lines().nth(22).unwrap_or("").to_string();
        assert!(
            last_line(&state).contains("frame 4/4"),
            "{}",
            last_line(&state)
        );
        press(&mut state, '[');
        assert!(last_line(&state).starts_with("step 3 of 3, t = 0"));
        assert!(last_line(&state).contains("frame 3/4"));
        key(&mut state, KeyCode::Home, KeyModifiers::NONE);
        assert!(last_line(&state).starts_with("step 1 of 3, t = 999"));
        insta::assert_snapshot!("images_ddpm_first_frame", text(&state));
        press(&mut state, '[');
        assert!(
            last_line(&state).contains("frame 1/4"),
            "stays at the first"
        );
        press(&mut state, ']');
        assert!(last_line(&state).contains("frame 2/4"));
        key(&mut state, KeyCode::End, KeyModifiers::NONE);
        assert!(last_line(&state).contains("frame 4/4"));
    }

    #[test]
    fn training_fills_the_chart_and_stops_on_escape() {
        let mut state = opened();
        press(&mut state, '+');
        let r = request(&press(&mut state, 't')).clone();
        assert_eq!(
            r.work,
            ImagesWork::Train {
                epochs: 2,
                preview: 16
            }
        );
        let report = |state: &mut State, report| {
            update(
                state,
                Action::Engine(Event::ImagesTraining { id: r.id, report }),
            )
        };
        report(
            &mut state,
            TrainReport::Started {
                parameters: 652_824,
                epochs_done: 0,
                epochs_target: 2,
                images: 8000,
                resumed: false,
            },
        );
        for step in 1..=125 {
            report(
                &mut state,
                TrainReport::Step {
                    epoch: 1,
                    step,
                    steps: 125,
                    loss: 200.0 - step as f32,
                },
            );
        }
        report(
            &mut state,
            TrainReport::Epoch {
                epoch: 1,
                train_loss: 137.5,
                metric: "neg_elbo_nats".into(),
                value: 121.25,
                seconds: 4.0,
            },
        );
        update(
            &mut state,
            Action::Engine(Event::ImagesSamples {
                id: r.id,
                images: images(16, true),
            }),
        );
        report(
            &mut state,
            TrainReport::Step {
                epoch: 2,
                step: 10,
                steps: 125,
                loss: 70.0,
            },
        );
        insta::assert_snapshot!("images_training", text(&state));
        // Another model or another run waits for this one.
        press(&mut state, '3');
        assert!(text(&state).contains("the VAE is training: Esc stops it"));
        assert!(press(&mut state, 's').is_empty());
        let effects = key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(effects, vec![Effect::Cancel(r.id)]);
        update(
            &mut state,
            Action::Engine(Event::ImagesFinished {
                id: r.id,
                summary: "stopped; epoch 1's checkpoint is kept at /lab/checkpoints/vae-mnist.safetensors"
                    .into(),
                stopped: true,
            }),
        );
        assert!(text(&state).contains("stopped; epoch 1's checkpoint is kept"));
        // Free again: the model can change.
        press(&mut state, '3');
        assert!(text(&state).contains("The DCGAN on MNIST."));
    }

    #[test]
    fn a_failure_is_one_line_and_frees_the_pane() {
        let mut state = opened();
        let id = request(&press(&mut state, 's')).id;
        update(
            &mut state,
            Action::Engine(Event::Failed {
                id,
                error: RequestError::Images(
                    "MNIST is not in /lab/data (run `promptlab images data fetch`)".into(),
                ),
            }),
        );
        assert!(text(&state).contains("MNIST is not in /lab/data"));
        assert!(!state.images.running());
        press(&mut state, 'd');
        assert!(text(&state).contains("Fashion-MNIST (d)"));
    }

    #[test]
    fn quitting_stops_the_work_in_flight() {
        let mut state = opened();
        let id = request(&press(&mut state, 't')).id;
        let effects = key(&mut state, KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert!(effects.contains(&Effect::Cancel(id)), "{effects:?}");
        assert!(effects.contains(&Effect::Quit));
    }

    #[test]
    fn the_pane_and_its_help_fit_from_30_by_8_up() {
        let mut state = opened();
        let id = request(&press(&mut state, 's')).id;
        show(&mut state, id, images(16, true));
        for (w, h) in [(30, 8), (31, 9), (40, 10), (80, 24), (120, 40)] {
            let (text, _) = screen(&state, w, h, Palette::Basic16);
            assert!(text.contains("images"), "{w}×{h}:\n{text}");
        }
        key(&mut state, KeyCode::F(1), KeyModifiers::NONE);
        insta::assert_snapshot!("images_help", text(&state));
    }
}
