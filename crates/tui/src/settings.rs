//! The settings panel's model: sampling parameters, presets and the system
//! prompt, edited live (arrows adjust, Enter types a value). Drawn by
//! `widgets::settings`.

use crossterm::event::{KeyCode, KeyEvent};

use promptlab_engine::plain::SamplingOverlay as Preset;
use promptlab_engine::plain::{SamplingError, SamplingParams};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Preset,
    Temperature,
    TopK,
    TopP,
    MinP,
    RepeatPenalty,
    Seed,
    MaxTokens,
    Stop,
    System,
}

pub(crate) const FIELDS: [Field; 10] = [
    Field::Preset,
    Field::Temperature,
    Field::TopK,
    Field::TopP,
    Field::MinP,
    Field::RepeatPenalty,
    Field::Seed,
    Field::MaxTokens,
    Field::Stop,
    Field::System,
];

impl Field {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Field::Preset => "preset",
            Field::Temperature => "temperature",
            Field::TopK => "top-k",
            Field::TopP => "top-p",
            Field::MinP => "min-p",
            Field::RepeatPenalty => "repeat penalty",
            Field::Seed => "seed",
            Field::MaxTokens => "max tokens",
            Field::Stop => "stop strings",
            Field::System => "system prompt",
        }
    }
}

/// Why a typed value was not taken; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{field}: expected {expected}, got {text:?}")]
    Expected {
        field: &'static str,
        expected: &'static str,
        text: String,
    },
    /// It parsed, but the sampling parameters refuse it (out of range).
    #[error(transparent)]
    Sampling(#[from] SamplingError),
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Every sampling setting, `max_tokens` and the stop strings included.
    pub sampling: SamplingParams,
    pub system: String,
    pub(crate) presets: Vec<(String, Preset)>,
    pub(crate) preset: Option<usize>,
    /// The user chose the seed (flag, config or this panel): every answer
    /// uses it as is. Otherwise each request derives its own from it, so a
    /// regenerated answer differs.
    pub fixed_seed: bool,
    pub(crate) row: usize,
    /// The text being typed for the selected field.
    pub(crate) editing: Option<String>,
    pub(crate) error: Option<String>,
}

impl Settings {
    pub fn new(
        sampling: SamplingParams,
        system: String,
        presets: Vec<(String, Preset)>,
    ) -> Settings {
        Settings {
            sampling,
            system,
            presets,
            preset: None,
            fixed_seed: false,
            row: 1,
            editing: None,
            error: None,
        }
    }

    pub(crate) fn field(&self) -> Field {
        FIELDS[self.row]
    }

    /// The value of `field` as shown in the panel.
    pub(crate) fn value(&self, field: Field) -> String {
        let s = &self.sampling;
        match field {
            // The preset chosen, else the first whose values are all the
            // current ones (values set by hand can still be a preset's).
            Field::Preset => self
                .preset
                .or_else(|| {
                    self.presets.iter().position(|(_, preset)| {
                        if *preset == Preset::default() {
                            return false;
                        }
                        let mut applied = s.clone();
                        preset.apply_to(&mut applied);
                        applied == *s
                    })
                })
                .and_then(|i| self.presets.get(i))
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| "(custom)".into()),
            Field::Temperature => format!("{:.2}", s.temperature),
            Field::TopK => s.top_k.to_string(),
            Field::TopP => format!("{:.2}", s.top_p),
            Field::MinP => format!("{:.2}", s.min_p),
            Field::RepeatPenalty => format!("{:.2}", s.repeat_penalty),
            Field::Seed => s.seed.to_string(),
            Field::MaxTokens => s.max_tokens.to_string(),
            Field::Stop => s
                .stop
                .iter()
                .map(|s| escape(s))
                .collect::<Vec<_>>()
                .join(","),
            Field::System => self.system.clone(),
        }
    }

    /// Handles a key; returns true when the panel should close: on Esc, or
    /// on the key the panel is bound to (`is_settings_key`), unless a value
    /// is being typed.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, is_settings_key: bool) -> bool {
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    let text = std::mem::take(text);
                    self.editing = None;
                    self.error = self
                        .set_from_text(self.field(), &text)
                        .err()
                        .map(|e| e.to_string());
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return false;
        }
        if is_settings_key {
            return true;
        }
        match key.code {
            KeyCode::Esc => return true,
            KeyCode::Up => self.row = self.row.saturating_sub(1),
            KeyCode::Down => self.row = (self.row + 1).min(FIELDS.len() - 1),
            KeyCode::Left => self.step(-1),
            KeyCode::Right => self.step(1),
            KeyCode::Enter if self.field() != Field::Preset => {
                self.error = None;
                // Shown values are typable as they are (stop strings escaped).
                self.editing = Some(self.value(self.field()));
            }
            _ => {}
        }
        false
    }

    /// The sampling parameters for request `id`.
    pub(crate) fn sampling_for(&self, id: u64) -> SamplingParams {
        let mut params = self.sampling.clone();
        if !self.fixed_seed {
            // splitmix64 of (seed, id): distinct, well-spread seeds.
            let mut z = params.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            params.seed = z ^ (z >> 31);
        }
        params
    }

    /// Pasted text goes into the value being typed.
    pub(crate) fn paste(&mut self, text: &str) {
        if let Some(editing) = &mut self.editing {
            editing.push_str(text);
        }
    }

    fn step(&mut self, dir: i32) {
        self.error = None;
        let d = dir as f64;
        let field = self.field();
        let s = &mut self.sampling;
        match field {
            Field::Preset => {
                if self.presets.is_empty() {
                    return;
                }
                let n = self.presets.len() as i32;
                let next = match self.preset {
                    None if dir > 0 => 0,
                    None => n - 1,
                    Some(i) => (i as i32 + dir).rem_euclid(n),
                };
                self.apply_preset(next as usize);
                return;
            }
            Field::Temperature => s.temperature = (s.temperature + 0.05 * d).clamp(0.0, 5.0),
            Field::TopK => s.top_k = (s.top_k as i64 + 5 * dir as i64).max(0) as usize,
            Field::TopP => s.top_p = (s.top_p + 0.01 * d).clamp(0.01, 1.0),
            Field::MinP => s.min_p = (s.min_p + 0.01 * d).clamp(0.0, 1.0),
            Field::RepeatPenalty => {
                s.repeat_penalty = (s.repeat_penalty + 0.05 * dir as f32).clamp(0.05, 5.0)
            }
            Field::Seed => {
                s.seed = s.seed.wrapping_add_signed(dir as i64);
                self.fixed_seed = true;
            }
            Field::MaxTokens => {
                s.max_tokens = (s.max_tokens as i64 + 32 * dir as i64).max(1) as usize
            }
            Field::Stop | Field::System => return,
        }
        self.preset = None;
        // Rounding keeps stepped values readable (0.7 + 0.05 = 0.75).
        s.temperature = (s.temperature * 100.0).round() / 100.0;
        s.top_p = (s.top_p * 100.0).round() / 100.0;
        s.min_p = (s.min_p * 100.0).round() / 100.0;
        s.repeat_penalty = (s.repeat_penalty * 100.0).round() / 100.0;
    }

    pub(crate) fn apply_preset(&mut self, i: usize) {
        let Some((_, preset)) = self.presets.get(i) else {
            return;
        };
        preset.apply_to(&mut self.sampling);
        self.fixed_seed |= preset.seed.is_some();
        self.preset = Some(i);
    }

    /// Sets a field from typed text; the error names the field and the range.
    fn set_from_text(&mut self, field: Field, raw: &str) -> Result<(), ValueError> {
        let text = raw.trim();
        let bad = |expected: &'static str| ValueError::Expected {
            field: field.label(),
            expected,
            text: text.to_string(),
        };
        let mut next = self.sampling.clone();
        match field {
            Field::Temperature => next.temperature = text.parse().map_err(|_| bad("a number"))?,
            Field::TopK => next.top_k = text.parse().map_err(|_| bad("a whole number"))?,
            Field::TopP => next.top_p = text.parse().map_err(|_| bad("a number"))?,
            Field::MinP => next.min_p = text.parse().map_err(|_| bad("a number"))?,
            Field::RepeatPenalty => {
                next.repeat_penalty = text.parse().map_err(|_| bad("a number"))?
            }
            Field::Seed => next.seed = text.parse().map_err(|_| bad("a whole number"))?,
            Field::MaxTokens => {
                let n: usize = text.parse().map_err(|_| bad("a whole number"))?;
                if n == 0 {
                    return Err(bad("at least 1"));
                }
                self.sampling.max_tokens = n;
                return Ok(());
            }
            Field::Stop => {
                self.sampling.stop = split_escaped(raw);
                return Ok(());
            }
            Field::System => {
                self.system = text.to_string();
                return Ok(());
            }
            Field::Preset => return Ok(()),
        }
        next.validate()?;
        if field == Field::Seed {
            self.fixed_seed = true;
        }
        self.sampling = next;
        self.preset = None;
        Ok(())
    }
}

/// A stop string as typed in the panel: `\n`, `\t`, `\\` and `\,` stand
/// for a newline, a tab, a backslash and a comma (commas separate strings).
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            c => out.push(c),
        }
    }
    out
}

/// The stop strings in typed text (see [`escape`]); empty items are dropped,
/// nothing is trimmed.
fn split_escaped(text: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let current = items.last_mut().expect("never empty");
        match c {
            ',' => items.push(String::new()),
            '\\' => match chars.next() {
                Some('n') => current.push('\n'),
                Some('t') => current.push('\t'),
                Some(other) => current.push(other),
                None => current.push('\\'),
            },
            c => current.push(c),
        }
    }
    items.retain(|s| !s.is_empty());
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn settings() -> Settings {
        let presets = vec![(
            "precise".to_string(),
            Preset {
                temperature: Some(0.0),
                ..Preset::default()
            },
        )];
        let sampling = SamplingParams {
            max_tokens: 64,
            ..SamplingParams::greedy()
        };
        Settings::new(sampling, String::new(), presets)
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_value(s: &mut Settings, text: &str) {
        s.handle_key(&key(KeyCode::Enter), false);
        s.editing = Some(String::new());
        for c in text.chars() {
            s.handle_key(&key(KeyCode::Char(c)), false);
        }
        s.handle_key(&key(KeyCode::Enter), false);
    }

    #[test]
    fn arrows_step_the_selected_value() {
        let mut s = settings();
        s.handle_key(&key(KeyCode::Right), false); // temperature row
        s.handle_key(&key(KeyCode::Right), false);
        assert_eq!(s.sampling.temperature, 0.1);
        s.handle_key(&key(KeyCode::Down), false);
        s.handle_key(&key(KeyCode::Right), false);
        assert_eq!(s.sampling.top_k, 5);
    }

    #[test]
    fn typed_values_are_validated() {
        let mut s = settings();
        s.row = 3; // top-p
        type_value(&mut s, "1.5");
        assert!(
            s.error.as_deref().unwrap().contains("top-p"),
            "{:?}",
            s.error
        );
        assert_eq!(s.sampling.top_p, 1.0);
        type_value(&mut s, "0.9");
        assert_eq!(s.sampling.top_p, 0.9);
        assert!(s.error.is_none());
    }

    #[test]
    fn stop_strings_and_system_prompt_are_typed() {
        let mut s = settings();
        s.row = 8;
        type_value(&mut s, "END,\\n\\nUser:, a\\,b");
        assert_eq!(s.sampling.stop, vec!["END", "\n\nUser:", " a,b"]);
        // Editing again shows the same escaped text, so nothing changes.
        s.handle_key(&key(KeyCode::Enter), false);
        assert_eq!(s.editing.as_deref(), Some("END,\\n\\nUser:, a\\,b"));
        s.handle_key(&key(KeyCode::Enter), false);
        assert_eq!(s.sampling.stop, vec!["END", "\n\nUser:", " a,b"]);
        s.row = 9;
        type_value(&mut s, "Be brief.");
        assert_eq!(s.system, "Be brief.");
    }

    #[test]
    fn presets_apply_their_values() {
        let mut s = settings();
        s.sampling.temperature = 0.8;
        s.row = 0;
        s.handle_key(&key(KeyCode::Right), false);
        assert_eq!(s.sampling.temperature, 0.0);
        assert_eq!(s.value(Field::Preset), "precise");
    }

    #[test]
    fn the_bound_key_closes_and_a_rebound_f2_does_not() {
        let mut s = settings();
        assert!(s.handle_key(&key(KeyCode::F(9)), true), "the bound key");
        assert!(!s.handle_key(&key(KeyCode::F(2)), false), "f2, rebound");
        // While a value is typed, neither closes the panel.
        s.handle_key(&key(KeyCode::Enter), false);
        assert!(!s.handle_key(&key(KeyCode::F(9)), true));
        assert!(s.editing.is_some());
    }

    #[test]
    fn esc_closes_unless_typing() {
        let mut s = settings();
        s.handle_key(&key(KeyCode::Enter), false);
        assert!(!s.handle_key(&key(KeyCode::Esc), false));
        assert!(s.handle_key(&key(KeyCode::Esc), false));
    }
}
