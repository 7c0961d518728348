//! The chat pane driven by scripted actions and fake engine events: every
//! behaviour of `update`, and snapshots of the rendered screen (ratatui's
//! TestBackend), with no model and no terminal.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use promptlab::config::Config;
use promptlab::engine::{Event, FinishedEvent, TokenEvent};
use promptlab::model::ModelInfo;
use promptlab::tui::conversation::{Conversation, Role};
use promptlab::tui::keymap::Keymap;
use promptlab::tui::settings::Settings;
use promptlab::tui::state::{update, Action, Effect, Focus, Overlay, State};
use promptlab::tui::theme::{Palette, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn new_state() -> State {
    let config = Config::from_layers(None, std::path::Path::new("")).unwrap();
    let sampling = promptlab::model::sampling::SamplingParams {
        seed: 1,
        ..promptlab::model::sampling::SamplingParams::greedy()
    };
    let presets = config.presets.clone().into_iter().collect();
    let settings = Settings::new(sampling, 64, vec![], String::new(), presets);
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
            },
            load_ms: 1.0,
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
                    stop_reason: reason.into(),
                    tail: String::new(),
                    prompt_tokens: 12,
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
        .draw(|f| promptlab::tui::ui::render(f, state, &theme))
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
        vec![Effect::Cancel]
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
    assert_eq!(state.input.lines(), ["next question"]);
    // Sending while generating is refused with a notice, the text kept.
    assert!(key(&mut state, KeyCode::Enter, KeyModifiers::NONE).is_empty());
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("still generating"));
    assert_eq!(state.input.lines(), ["next question"]);
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
    assert_eq!(req.assistant_prefix, "Roses are");
    assert_eq!(req.messages.last().unwrap().content, "Write a poem");
    stream(&mut state, req.id, &[(" red", -0.1)], "eos");
    let leaf = state.conversation.leaf.unwrap();
    assert_eq!(state.conversation.turn(leaf).content, "Roses are red");
    assert!(state.conversation.turn(leaf).finished);
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
    assert_eq!(state.focus, Focus::Messages);
    for _ in 0..3 {
        key(&mut state, KeyCode::Up, KeyModifiers::NONE);
    }
    key(&mut state, KeyCode::Char('e'), KeyModifiers::CONTROL);
    assert_eq!(state.input.lines(), ["Capital of France?"]);
    for _ in 0.."France?".len() {
        key(&mut state, KeyCode::Backspace, KeyModifiers::NONE);
    }
    let id = send(&mut state, "Italy?");
    stream(&mut state, id, &[("Rome.", -0.1)], "eos");
    let contents: Vec<String> = state
        .conversation
        .path()
        .iter()
        .map(|&i| state.conversation.turn(i).content.clone())
        .collect();
    assert_eq!(contents, ["Capital of Italy?", "Rome."]);
    // Switch the first message back to its old branch: the whole old
    // conversation returns.
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Home, KeyModifiers::NONE);
    key(&mut state, KeyCode::Left, KeyModifiers::ALT);
    let contents: Vec<String> = state
        .conversation
        .path()
        .iter()
        .map(|&i| state.conversation.turn(i).content.clone())
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
        assert!(promptlab::tui::ui::is_basic(cell.fg) && promptlab::tui::ui::is_basic(cell.bg));
    }
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
    assert_eq!(req.sampling.temperature, 0.1);
    assert_eq!(req.messages[0].role, "system");
    assert_eq!(req.messages[0].content, "Be brief.");
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
    assert_eq!(state.input.lines(), ["line one", "line two"]);
    let effects = key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    let [Effect::Chat(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(req.messages.last().unwrap().content, "line one\nline two");
    stream(&mut state, req.id, &[("ok", -0.1)], "eos");
    update(&mut state, Action::Paste("pasted\ntext".into()));
    assert_eq!(state.input.lines(), ["pasted", "text"]);
    key(&mut state, KeyCode::Up, KeyModifiers::CONTROL);
    assert_eq!(state.input.lines(), ["line one", "line two"]);
    // Past the newest entry, the draft (the pasted text) comes back.
    key(&mut state, KeyCode::Down, KeyModifiers::CONTROL);
    assert_eq!(state.input.lines(), ["pasted", "text"]);
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
            error: "boom".into(),
        }),
    );
    assert!(state.generating.is_none());
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("generation failed: boom"));
}

#[test]
fn quit_cancels_autosaves_and_quits() {
    let mut state = new_state();
    send(&mut state, "Hi");
    let effects = key(&mut state, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        effects,
        vec![Effect::Cancel, Effect::Autosave, Effect::Quit]
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
    let leaf = state.conversation.leaf.unwrap();
    assert_eq!(state.conversation.turn(leaf).role, Role::Assistant);
}

#[test]
fn each_answer_gets_its_own_seed_unless_the_user_fixed_one() {
    let mut state = new_state();
    let seed_of = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::Chat(req)] => req.sampling.seed,
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
                stop_reason: "eos".into(),
                tail: "#".into(),
                prompt_tokens: 3,
                generated_tokens: 2,
                prefill_tok_s: 1.0,
                decode_tok_s: 1.0,
            },
        }),
    );
    let leaf = state.conversation.leaf.unwrap();
    assert_eq!(state.conversation.turn(leaf).content, "use C#");
}

#[test]
fn history_browsing_keeps_the_draft_and_pasted_cr_becomes_newlines() {
    let mut state = new_state();
    answer(&mut state, "first", &[("ok", -0.1)]);
    type_text(&mut state, "half-typed");
    key(&mut state, KeyCode::Down, KeyModifiers::CONTROL);
    assert_eq!(state.input.lines(), ["half-typed"]);
    key(&mut state, KeyCode::Up, KeyModifiers::CONTROL);
    assert_eq!(state.input.lines(), ["first"]);
    key(&mut state, KeyCode::Down, KeyModifiers::CONTROL);
    assert_eq!(state.input.lines(), ["half-typed"]);
    state.input = tui_textarea::TextArea::default();
    update(&mut state, Action::Paste("a\rb\r\nc".into()));
    assert_eq!(state.input.lines(), ["a", "b", "c"]);
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
