//! Keys to actions: the bindings in force, built from config.yaml's
//! `keys:` (every entry checked: a known name, a key that parses, no key
//! bound twice within one context), looked up per context.

mod actions;
mod key;

use std::collections::BTreeMap;

use crossterm::event::KeyEvent;

pub(crate) use actions::{Bound, ChatAction, CompareAction, ConfigKey, GlobalAction};
use key::Key;
pub use key::KeyError;

use crate::error::Error;

/// A name or key from the file as an error quotes it: one line, clipped.
fn clip(text: &str) -> String {
    crate::text::clip_end(&crate::text::one_line(text), 60)
}

/// A bad entry in config.yaml's `keys:`; each message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("config keys.{}: unknown action (known: {known})", clip(name))]
    UnknownAction { name: String, known: String },
    #[error("config keys.{}: {error}", clip(name))]
    BadKey { name: String, error: KeyError },
    #[error("config keys.{name}: `{}` is already bound to {other}", clip(text))]
    AlreadyBound {
        name: String,
        text: String,
        other: &'static str,
    },
}

/// A command as the palette lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigKeyInfo {
    pub(crate) entry: ConfigKey,
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) key: String,
}

/// The bindings in force.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Key, ConfigKey)>,
}

impl Keymap {
    /// Builds the map from config's `keys`; an unknown action name, a key
    /// that does not parse, or a key bound twice within a context is an
    /// error naming it.
    pub fn from_config(keys: &BTreeMap<String, String>) -> Result<Keymap, Error> {
        let mut bindings: Vec<(Key, ConfigKey)> = Vec::new();
        for (name, text) in keys {
            let entry = ConfigKey::ALL
                .into_iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| KeysError::UnknownAction {
                    name: name.clone(),
                    known: ConfigKey::ALL.map(|a| a.name()).join(", "),
                })?;
            let key = Key::parse(text).map_err(|error| KeysError::BadKey {
                name: name.clone(),
                error,
            })?;
            if let Some((_, other)) = bindings
                .iter()
                .find(|(k, other)| *k == key && entry.collides_with(*other))
            {
                return Err(KeysError::AlreadyBound {
                    name: name.clone(),
                    text: text.clone(),
                    other: other.name(),
                }
                .into());
            }
            bindings.push((key, entry));
        }
        // Ctrl+C always quits, whatever the config says.
        let ctrl_c = Key {
            code: crossterm::event::KeyCode::Char('c'),
            modifiers: crossterm::event::KeyModifiers::CONTROL,
        };
        bindings.retain(|(k, _)| *k != ctrl_c);
        bindings.push((ctrl_c, ConfigKey::Quit));
        Ok(Keymap { bindings })
    }

    /// The entries bound to this key press (one per context at most).
    fn entries(&self, event: &KeyEvent) -> impl Iterator<Item = ConfigKey> + '_ {
        let key = Key::from_event(event);
        self.bindings
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, entry)| *entry)
    }

    /// The global action bound to this key press.
    pub(crate) fn global(&self, event: &KeyEvent) -> Option<GlobalAction> {
        self.entries(event).find_map(ConfigKey::global)
    }

    /// The chat pane's action bound to this key press.
    pub(crate) fn chat(&self, event: &KeyEvent) -> Option<ChatAction> {
        self.entries(event).find_map(ConfigKey::chat)
    }

    /// The compare pane's action bound to this key press.
    pub(crate) fn compare(&self, event: &KeyEvent) -> Option<CompareAction> {
        self.entries(event).find_map(ConfigKey::compare)
    }

    /// The key press of a config entry (what the palette presses).
    pub(crate) fn entry_event(&self, entry: ConfigKey) -> Option<crossterm::event::KeyEvent> {
        self.bindings
            .iter()
            .find(|(_, e)| *e == entry)
            .map(|(k, _)| crossterm::event::KeyEvent::new(k.code, k.modifiers))
    }

    /// Every bound command of `screen`'s pane, the global ones included,
    /// the palette itself left out (the attention pane's own keys are
    /// fixed, so it lists the global ones only).
    pub(crate) fn commands(&self, screen: crate::state::Screen) -> Vec<ConfigKeyInfo> {
        use crate::state::Screen;
        let (chat, compare) = (screen == Screen::Chat, screen == Screen::Compare);
        ConfigKey::ALL
            .into_iter()
            .filter(|&e| e != ConfigKey::Palette)
            .filter(|&e| {
                e.global().is_some()
                    || (chat && e.chat().is_some())
                    || (compare && e.compare().is_some())
            })
            .filter_map(|entry| {
                Some(ConfigKeyInfo {
                    entry,
                    name: entry.name(),
                    description: entry.description(),
                    key: self.entry_key(entry)?,
                })
            })
            .collect()
    }

    /// The key of a config entry, for the help.
    pub(crate) fn entry_key(&self, entry: ConfigKey) -> Option<String> {
        self.bindings
            .iter()
            .find(|(_, e)| *e == entry)
            .map(|(k, _)| k.label())
    }

    /// The key bound to `action` as config.yaml writes it, "?" when none.
    pub(crate) fn key_for(&self, action: impl Into<Bound>) -> String {
        let action = action.into();
        self.bindings
            .iter()
            .find(|(_, e)| e.binds(action))
            .map_or_else(|| "?".into(), |(k, _)| k.label())
    }

    /// The key bound to `action` as a sentence names it: a named key on
    /// its own capitalised (`Esc`, `F3`, `Enter`), anything else as
    /// config.yaml writes it (`ctrl+r`, `x`).
    pub(crate) fn key_name(&self, action: impl Into<Bound>) -> String {
        let label = self.key_for(action);
        let mut chars = label.chars();
        match chars.next() {
            Some(first) if label.len() > 1 && !label.contains('+') => {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            }
            _ => label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    /// The `keys` section of the shipped `config.yaml`.
    fn default_keys() -> BTreeMap<String, String> {
        #[derive(serde::Deserialize)]
        struct Keys {
            keys: BTreeMap<String, String>,
        }
        let yaml = include_str!("../../../../config.yaml");
        serde_norway::from_str::<Keys>(yaml).unwrap().keys
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn default_config_binds_every_action() {
        let map = Keymap::from_config(&default_keys()).unwrap();
        for action in ConfigKey::ALL {
            assert!(map.entry_key(action).is_some(), "{action:?} unbound");
        }
        assert_eq!(
            map.chat(&press(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(ChatAction::Regenerate)
        );
        assert_eq!(
            map.chat(&press(KeyCode::Enter, KeyModifiers::ALT)),
            Some(ChatAction::Newline)
        );
        assert_eq!(
            map.global(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(GlobalAction::Quit)
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
            .to_string()
            .contains("keys.sned"));
        let mut keys = BTreeMap::new();
        keys.insert("send".to_string(), "ctrl+s".to_string());
        keys.insert("save".to_string(), "ctrl+s".to_string());
        let err = Keymap::from_config(&keys).unwrap_err().to_string();
        assert!(err.contains("already bound"), "{err}");
    }

    #[test]
    fn rebinding_send_to_ctrl_enter_works() {
        let mut keys = BTreeMap::new();
        keys.insert("send".to_string(), "ctrl+enter".to_string());
        keys.insert("newline".to_string(), "enter".to_string());
        let map = Keymap::from_config(&keys).unwrap();
        assert_eq!(
            map.chat(&press(KeyCode::Enter, KeyModifiers::NONE)),
            Some(ChatAction::Newline)
        );
        assert_eq!(
            map.chat(&press(KeyCode::Enter, KeyModifiers::CONTROL)),
            Some(ChatAction::Send)
        );
        // The compare pane's run and new line follow the same entries.
        assert_eq!(
            map.compare(&press(KeyCode::Enter, KeyModifiers::CONTROL)),
            Some(CompareAction::Run)
        );
        assert_eq!(
            map.compare(&press(KeyCode::Enter, KeyModifiers::NONE)),
            Some(CompareAction::Newline)
        );
    }

    #[test]
    fn each_pane_looks_up_only_its_own_actions() {
        let map = Keymap::from_config(&default_keys()).unwrap();
        let ctrl = |c| press(KeyCode::Char(c), KeyModifiers::CONTROL);
        // Enter sends in the chat and runs in the compare pane.
        let enter = press(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(map.chat(&enter), Some(ChatAction::Send));
        assert_eq!(map.compare(&enter), Some(CompareAction::Run));
        assert_eq!(map.compare(&ctrl('r')), Some(CompareAction::Rerun));
        // Saving is the chat's; the code switch the compare pane's.
        assert_eq!(map.compare(&ctrl('s')), None);
        assert_eq!(map.chat(&press(KeyCode::F(4), KeyModifiers::NONE)), None);
        assert_eq!(
            map.compare(&press(KeyCode::F(4), KeyModifiers::NONE)),
            Some(CompareAction::AllowCode)
        );
        // Global actions belong to no pane.
        let f2 = press(KeyCode::F(2), KeyModifiers::NONE);
        assert_eq!(map.global(&f2), Some(GlobalAction::Settings));
        assert_eq!((map.chat(&f2), map.compare(&f2)), (None, None));
        assert_eq!(map.key_for(CompareAction::Run), "enter");
        assert_eq!(map.key_for(GlobalAction::SwitchPane), "f3");
        assert_eq!(map.key_name(GlobalAction::SwitchPane), "F3");
        assert_eq!(map.key_name(ChatAction::Stop), "Esc");
        assert_eq!(map.key_name(ChatAction::Regenerate), "ctrl+r");
    }

    #[test]
    fn one_key_may_serve_two_panes_but_not_twice_in_one() {
        let keys = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, k)| (a.to_string(), k.to_string()))
                .collect()
        };
        // Save is the chat's, the code switch the compare pane's.
        let map = Keymap::from_config(&keys(&[("save", "f9"), ("allow_code", "f9")])).unwrap();
        let f9 = press(KeyCode::F(9), KeyModifiers::NONE);
        assert_eq!(map.chat(&f9), Some(ChatAction::Save));
        assert_eq!(map.compare(&f9), Some(CompareAction::AllowCode));
        // Within the compare pane (copy is in both), or against a global
        // action, it is refused.
        for pairs in [
            [("copy", "f9"), ("allow_code", "f9")],
            [("help", "f9"), ("save", "f9")],
        ] {
            let err = Keymap::from_config(&keys(&pairs)).unwrap_err().to_string();
            assert!(err.contains("`f9` is already bound to"), "{err}");
        }
    }
}
