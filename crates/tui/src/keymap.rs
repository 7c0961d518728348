//! Keys to actions: parses key names from `config.yaml` (`ctrl+r`, `f2`,
//! `alt+enter`, …) and looks up the action bound to a key press.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the user can ask for with a key (most in any pane; the compare
/// pane gives some of them its own meaning, see its help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyAction {
    Send,
    Newline,
    Stop,
    Quit,
    Regenerate,
    Continue,
    Edit,
    Save,
    Export,
    Copy,
    ToggleProbs,
    Settings,
    Help,
    Focus,
    BranchPrev,
    BranchNext,
    HistoryPrev,
    HistoryNext,
    Compare,
    AllowCode,
}

impl KeyAction {
    pub const ALL: [KeyAction; 20] = [
        KeyAction::Send,
        KeyAction::Newline,
        KeyAction::Stop,
        KeyAction::Quit,
        KeyAction::Regenerate,
        KeyAction::Continue,
        KeyAction::Edit,
        KeyAction::Save,
        KeyAction::Export,
        KeyAction::Copy,
        KeyAction::ToggleProbs,
        KeyAction::Settings,
        KeyAction::Help,
        KeyAction::Focus,
        KeyAction::BranchPrev,
        KeyAction::BranchNext,
        KeyAction::HistoryPrev,
        KeyAction::HistoryNext,
        KeyAction::Compare,
        KeyAction::AllowCode,
    ];

    /// The name used in `config.yaml`'s `keys` section.
    pub fn name(self) -> &'static str {
        match self {
            KeyAction::Send => "send",
            KeyAction::Newline => "newline",
            KeyAction::Stop => "stop",
            KeyAction::Quit => "quit",
            KeyAction::Regenerate => "regenerate",
            KeyAction::Continue => "continue",
            KeyAction::Edit => "edit",
            KeyAction::Save => "save",
            KeyAction::Export => "export",
            KeyAction::Copy => "copy",
            KeyAction::ToggleProbs => "toggle_probs",
            KeyAction::Settings => "settings",
            KeyAction::Help => "help",
            KeyAction::Focus => "focus",
            KeyAction::BranchPrev => "branch_prev",
            KeyAction::BranchNext => "branch_next",
            KeyAction::HistoryPrev => "history_prev",
            KeyAction::HistoryNext => "history_next",
            KeyAction::Compare => "compare",
            KeyAction::AllowCode => "allow_code",
        }
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            KeyAction::Send => "send the message",
            KeyAction::Newline => "new line in the message",
            KeyAction::Stop => "stop generating / close",
            KeyAction::Quit => "quit",
            KeyAction::Regenerate => "regenerate the last answer (keeps the old one)",
            KeyAction::Continue => "continue a cut-off answer",
            KeyAction::Edit => "edit the selected (or last) message, as a new branch",
            KeyAction::Save => "save the conversation",
            KeyAction::Export => "export the conversation as Markdown",
            KeyAction::Copy => "copy the selected (or last) message (OSC 52)",
            KeyAction::ToggleProbs => "colour tokens by probability",
            KeyAction::Settings => "sampling settings and system prompt",
            KeyAction::Help => "this help",
            KeyAction::Focus => "switch focus: input / messages",
            KeyAction::BranchPrev => "previous branch of the selected message",
            KeyAction::BranchNext => "next branch of the selected message",
            KeyAction::HistoryPrev => "earlier prompt from history",
            KeyAction::HistoryNext => "later prompt from history",
            KeyAction::Compare => "switch between the chat and the compare pane",
            KeyAction::AllowCode => "compare: allow or forbid running model-written code",
        }
    }
}

/// A key with modifiers, comparable with crossterm's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    pub fn from_event(event: &KeyEvent) -> Key {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        // Shift is part of the character for printable keys.
        if !matches!(event.code, KeyCode::Char(_)) {
            modifiers |= event.modifiers & KeyModifiers::SHIFT;
        }
        let code = match event.code {
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        Key { code, modifiers }
    }

    /// Parses `ctrl+r`, `alt+enter`, `shift+tab`, `f2`, `esc`, `x`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let lower = text.trim().to_ascii_lowercase();
        let mut parts: Vec<&str> = lower.split('+').collect();
        // "ctrl++" binds the plus key.
        if lower.ends_with("++") {
            parts.truncate(parts.len() - 2);
            parts.push("+");
        }
        let name = parts.pop().filter(|n| !n.is_empty()).ok_or("empty key")?;
        let mut modifiers = KeyModifiers::NONE;
        for m in parts {
            modifiers |= match m {
                "ctrl" | "control" => KeyModifiers::CONTROL,
                "alt" | "meta" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                other => return Err(format!("unknown modifier `{other}`")),
            };
        }
        let code = match name {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.starts_with('f') && f.len() > 1 => {
                let n: u8 = f[1..].parse().map_err(|_| format!("unknown key `{f}`"))?;
                KeyCode::F(n)
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            other => return Err(format!("unknown key `{other}`")),
        };
        Ok(Key { code, modifiers })
    }

    /// The key as config.yaml writes it.
    pub fn label(&self) -> String {
        let mut out = String::new();
        for (flag, name) in [
            (KeyModifiers::CONTROL, "ctrl+"),
            (KeyModifiers::ALT, "alt+"),
            (KeyModifiers::SHIFT, "shift+"),
        ] {
            if self.modifiers.contains(flag) {
                out.push_str(name);
            }
        }
        match self.code {
            KeyCode::Enter => out.push_str("enter"),
            KeyCode::Esc => out.push_str("esc"),
            KeyCode::Tab => out.push_str("tab"),
            KeyCode::Up => out.push_str("up"),
            KeyCode::Down => out.push_str("down"),
            KeyCode::Left => out.push_str("left"),
            KeyCode::Right => out.push_str("right"),
            KeyCode::PageUp => out.push_str("pageup"),
            KeyCode::PageDown => out.push_str("pagedown"),
            KeyCode::F(n) => out.push_str(&format!("f{n}")),
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            other => out.push_str(&format!("{other:?}").to_ascii_lowercase()),
        }
        out
    }
}

/// The bindings in force.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Key, KeyAction)>,
}

impl Keymap {
    /// Builds the map from config's `keys`; an unknown action name, a key
    /// that does not parse, or a key bound twice is an error naming it.
    pub fn from_config(keys: &BTreeMap<String, String>) -> Result<Keymap, String> {
        let mut bindings: Vec<(Key, KeyAction)> = Vec::new();
        for (name, text) in keys {
            let action = KeyAction::ALL
                .into_iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    format!(
                        "config keys.{name}: unknown action (known: {})",
                        KeyAction::ALL.map(|a| a.name()).join(", ")
                    )
                })?;
            let key = Key::parse(text).map_err(|e| format!("config keys.{name}: {e}"))?;
            if let Some((_, other)) = bindings.iter().find(|(k, _)| *k == key) {
                return Err(format!(
                    "config keys.{name}: `{text}` is already bound to {}",
                    other.name()
                ));
            }
            bindings.push((key, action));
        }
        // Ctrl+C always quits, whatever the config says.
        bindings.retain(|(k, _)| *k != Key::parse("ctrl+c").expect("valid"));
        bindings.push((Key::parse("ctrl+c").expect("valid"), KeyAction::Quit));
        Ok(Keymap { bindings })
    }

    pub fn action(&self, event: &KeyEvent) -> Option<KeyAction> {
        let key = Key::from_event(event);
        self.bindings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
    }

    /// The key bound to `action`, for help and hints.
    pub fn key_for(&self, action: KeyAction) -> Option<String> {
        self.bindings
            .iter()
            .find(|(_, a)| *a == action)
            .map(|(k, _)| k.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `keys` section of the shipped `config.yaml`.
    fn default_keys() -> BTreeMap<String, String> {
        #[derive(serde::Deserialize)]
        struct Keys {
            keys: BTreeMap<String, String>,
        }
        let yaml = include_str!("../../../config.yaml");
        serde_norway::from_str::<Keys>(yaml).unwrap().keys
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn default_config_binds_every_action() {
        let map = Keymap::from_config(&default_keys()).unwrap();
        for action in KeyAction::ALL {
            assert!(map.key_for(action).is_some(), "{action:?} unbound");
        }
        assert_eq!(
            map.action(&press(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(KeyAction::Regenerate)
        );
        assert_eq!(
            map.action(&press(KeyCode::Enter, KeyModifiers::ALT)),
            Some(KeyAction::Newline)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(KeyAction::Quit)
        );
    }

    #[test]
    fn keys_parse_and_label_round_trip() {
        for text in [
            "ctrl+r",
            "alt+enter",
            "f2",
            "esc",
            "shift+tab",
            "x",
            "ctrl+up",
        ] {
            assert_eq!(Key::parse(text).unwrap().label(), text);
        }
        assert!(Key::parse("hyper+x").is_err());
        assert!(Key::parse("ctrl+").is_err());
    }

    #[test]
    fn bad_bindings_name_the_entry() {
        let mut keys = BTreeMap::new();
        keys.insert("sned".to_string(), "enter".to_string());
        assert!(Keymap::from_config(&keys)
            .unwrap_err()
            .contains("keys.sned"));
        let mut keys = BTreeMap::new();
        keys.insert("send".to_string(), "ctrl+s".to_string());
        keys.insert("save".to_string(), "ctrl+s".to_string());
        let err = Keymap::from_config(&keys).unwrap_err();
        assert!(err.contains("already bound"), "{err}");
    }

    #[test]
    fn rebinding_send_to_ctrl_enter_works() {
        let mut keys = BTreeMap::new();
        keys.insert("send".to_string(), "ctrl+enter".to_string());
        keys.insert("newline".to_string(), "enter".to_string());
        let map = Keymap::from_config(&keys).unwrap();
        assert_eq!(
            map.action(&press(KeyCode::Enter, KeyModifiers::NONE)),
            Some(KeyAction::Newline)
        );
        assert_eq!(
            map.action(&press(KeyCode::Enter, KeyModifiers::CONTROL)),
            Some(KeyAction::Send)
        );
    }
}
