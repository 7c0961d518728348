//! What the attention pane costs on a long capture: a 512-token prompt and
//! a 128-token greedy answer on the default model (or `--model FILE`), the
//! capture's time and size, then the pane's work on the UI thread — taking
//! the capture in (thumbnails, spans), one key, and one frame of each view
//! at 80×24. A measurement to read, not a test.
//!
//!     cargo run --release --example attention_timing [-- MODEL.gguf]

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use promptlab::config::Config;
use promptlab_engine::Event;
use promptlab_infer::capture::capture;
use promptlab_infer::LoadedModel;
use promptlab_tui::conversation::Conversation;
use promptlab_tui::keymap::Keymap;
use promptlab_tui::panes::attention::View;
use promptlab_tui::settings::Settings;
use promptlab_tui::state::{update, Action, Effect, State};
use promptlab_tui::theme::{Palette, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let config = Config::from_layers(None, std::path::Path::new(""))?;
    let path: PathBuf = match std::env::args().nth(1) {
        Some(p) => p.into(),
        None => promptlab_hub::resolve(&config.model, &config.models, &mut |l| eprintln!("{l}"))?,
    };
    let model = LoadedModel::load(&path)?;
    // A 512-token prompt: a text repeated, cut to length.
    let text = "The quick brown fox jumps over the lazy dog while the cat watches. ".repeat(60);
    let mut ids = model.tokenizer.encode(&text)?;
    ids.truncate(512);
    let start = Instant::now();
    let captured = capture(&model, ids, 128, |_| ControlFlow::Continue(()))?;
    println!(
        "capture of {} positions ({} prompt): {:.0} ms, {:.0} MiB",
        captured.len(),
        captured.prompt_tokens,
        ms(start),
        captured.maps.bytes() as f64 / f64::from(1 << 20)
    );

    let keys = Keymap::from_config(&config.keys)?;
    let settings = Settings::new(
        promptlab_engine::plain::SamplingParams::greedy(),
        String::new(),
        Default::default(),
    );
    let mut state = State::new(
        Conversation::new("", ""),
        settings,
        keys,
        "/tmp/t.json".into(),
    );
    let press = |state: &mut State, code: KeyCode| {
        update(state, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    };
    update(
        &mut state,
        Action::Engine(Event::Loaded {
            info: model.info.clone(),
            load_ms: 0.0,
            capabilities: promptlab_engine::Capabilities {
                logprobs: true,
                attention: true,
                local_tokenizer: true,
            },
        }),
    );
    press(&mut state, KeyCode::F(5));
    press(&mut state, KeyCode::Char('x'));
    let effects = press(&mut state, KeyCode::Enter);
    let Some(Effect::Inspect(request)) = effects.first() else {
        anyhow::bail!("the pane asked for no capture: {effects:?}");
    };
    let id = request.id;
    let start = Instant::now();
    let overview = Arc::new(promptlab_engine::overview::Overview::new(&captured));
    println!(
        "its overview (thumbnails, spans; on the engine thread): {:.1} ms",
        ms(start)
    );
    let start = Instant::now();
    update(
        &mut state,
        Action::Engine(Event::Inspected {
            id,
            capture: Arc::new(captured),
            overview,
        }),
    );
    println!("the pane taking it in (the UI thread): {:.3} ms", ms(start));
    let start = Instant::now();
    press(&mut state, KeyCode::Down);
    println!("one key (↓): {:.3} ms", ms(start));
    let theme = Theme::new(Palette::TrueColor);
    let mut terminal = Terminal::new(TestBackend::new(80, 24))?;
    for view in View::ALL_VIEWS {
        state.attention.view = view;
        let frames = 20;
        let start = Instant::now();
        for _ in 0..frames {
            terminal.draw(|f| promptlab_tui::ui::render(f, &state, &theme))?;
        }
        println!(
            "{view:?} view: {:.2} ms a frame",
            ms(start) / f64::from(frames)
        );
    }
    Ok(())
}
