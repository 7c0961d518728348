//! Conversations: a tree of turns with branches, saved and loaded as JSON.
//!
//! This module owns the chat data the UI shows: every turn ever written
//! (edits and regenerated answers become sibling branches, nothing is thrown
//! away), which branch is on screen (`leaf`), the messages sent to the chat
//! template, and the on-disk format (pretty JSON, atomic save, a version
//! check before anything else on load) plus a Markdown export. No terminal
//! code lives here.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use promptlab_engine::plain::write_atomic;
use promptlab_engine::plain::Message;
use promptlab_engine::StopReason;

/// The newest on-disk format this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    /// The chat-template role name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One generated token with its probability, for per-token colouring and the
/// top-k view. Non-finite log-probabilities are written as JSON `null` and
/// read back as negative infinity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub text: String,
    #[serde(deserialize_with = "logprob_or_null")]
    pub logprob: f32,
    #[serde(default, deserialize_with = "top_or_null")]
    pub top: Vec<(String, f32)>,
}

fn logprob_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NEG_INFINITY))
}

fn top_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f32)>, D::Error> {
    let raw = Vec::<(String, Option<f32>)>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(text, lp)| (text, lp.unwrap_or(f32::NEG_INFINITY)))
        .collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: String,
    /// The turn this one answers or follows; `None` for a first turn.
    /// Always an earlier index than this turn's own.
    pub parent: Option<usize>,
    /// Assistant turns only; empty for user turns.
    #[serde(default)]
    pub tokens: Vec<TokenInfo>,
    /// False while streaming or when generation was cut off.
    pub finished: bool,
    #[serde(default)]
    pub stop_reason: Option<TurnEnd>,
    /// The sampling seed the answer was generated with (assistant turns),
    /// so it can be reproduced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The prompt's and the answer's tokens when the answer ended
    /// (assistant turns): the context the branch up to here takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_used: Option<TokensUsed>,
}

/// How many tokens an answer's prompt and the answer took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensUsed {
    pub prompt: usize,
    pub generated: usize,
}

/// Why an assistant turn ended; saved as `"eos"`, `"stop"`, `"length"`,
/// `"cancelled"` or `"error"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnEnd {
    /// The model ended its turn.
    Eos,
    /// A stop string matched.
    Stop,
    /// Cut off at max tokens (or the context window).
    Length,
    /// Stopped by the user.
    Cancelled,
    /// Generation failed.
    Error,
}

impl TurnEnd {
    /// Whether the answer is whole (the model or a stop string ended it).
    pub fn is_complete(self) -> bool {
        matches!(self, TurnEnd::Eos | TurnEnd::Stop)
    }
}

impl From<StopReason> for TurnEnd {
    fn from(reason: StopReason) -> Self {
        match reason {
            StopReason::Eos => TurnEnd::Eos,
            StopReason::Stop => TurnEnd::Stop,
            StopReason::Length => TurnEnd::Length,
            StopReason::Cancelled => TurnEnd::Cancelled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub version: u32,
    /// A name the user gave it (the list shows the first question else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub system: String,
    pub model: String,
    /// Every turn in creation order; a turn's parent precedes it.
    pub turns: Vec<Turn>,
    /// The last turn of the branch on screen; `None` when empty.
    pub leaf: Option<usize>,
}

/// Why a conversation could not be saved or loaded. Each message is one line
/// and names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("cannot read conversation {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write conversation {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("invalid JSON in {} at line {line}, column {column}: {}", path.display(), quoted(message))]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{} was written by a newer promptlab: format version {found}, this build reads up to {FORMAT_VERSION}", path.display())]
    NewerVersion { path: PathBuf, found: u64 },
    /// Missing or bad version, or wrong fields.
    #[error("{} is not a valid promptlab conversation: {}", path.display(), quoted(reason))]
    Invalid { path: PathBuf, reason: String },
    /// A broken tree (the reason is part of the message, not a source).
    #[error("{} is not a valid promptlab conversation: {error}", path.display())]
    Tree { path: PathBuf, error: TreeError },
}

/// A parser's message, which may quote the file: on one line (breaks shown
/// as ⏎), at most 300 characters.
fn quoted(message: &str) -> String {
    crate::text::clip_end(&message.replace(['\r', '\n'], "⏎"), 300)
}

/// Why a conversation's tree is broken (see [`Conversation::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("turn {turn} has parent {parent}, which is not an earlier turn")]
    Parent { turn: usize, parent: usize },
    #[error("leaf {leaf} is out of range ({turns} turns)")]
    Leaf { leaf: usize, turns: usize },
}

impl Conversation {
    pub fn new(system: &str, model: &str) -> Self {
        Self {
            version: FORMAT_VERSION,
            title: None,
            system: system.to_string(),
            model: model.to_string(),
            turns: Vec::new(),
            leaf: None,
        }
    }

    /// What a list of conversations calls it: its title, else its first
    /// question (on one line), else "(empty)".
    pub fn label(&self) -> String {
        let text = self.title.clone().or_else(|| {
            self.turns
                .iter()
                .find(|t| t.role == Role::User)
                .map(|t| t.content.clone())
        });
        match text {
            Some(t) if !t.trim().is_empty() => crate::text::one_line(&t),
            _ => "(empty)".into(),
        }
    }

    /// Indices from the root through `leaf` of the branch on screen.
    pub fn path(&self) -> Vec<usize> {
        self.leaf.map(|l| self.ancestry(l)).unwrap_or_default()
    }

    /// Indices from the root through `i` (inclusive).
    fn ancestry(&self, i: usize) -> Vec<usize> {
        let mut out = vec![i];
        let mut cur = self.turns[i].parent;
        while let Some(p) = cur {
            out.push(p);
            cur = self.turns[p].parent;
        }
        out.reverse();
        out
    }

    /// Adds a turn after the current leaf (a first turn when empty); it
    /// becomes the leaf. Returns its index.
    pub fn push(&mut self, role: Role, content: &str) -> usize {
        self.add(self.leaf, role, content)
    }

    /// Adds a turn under `parent` (panics if out of range), starting a new
    /// branch if it already has children, as when regenerating an answer.
    /// The new turn becomes the leaf.
    pub fn push_child(&mut self, parent: usize, role: Role, content: &str) -> usize {
        assert!(parent < self.turns.len(), "parent {parent} out of range");
        self.add(Some(parent), role, content)
    }

    /// User turns start finished; assistant turns start unfinished
    /// (streaming) until [`Conversation::finish`].
    fn add(&mut self, parent: Option<usize>, role: Role, content: &str) -> usize {
        self.turns.push(Turn {
            role,
            content: content.to_string(),
            parent,
            tokens: Vec::new(),
            finished: role == Role::User,
            stop_reason: None,
            seed: None,
            tokens_used: None,
        });
        let i = self.turns.len() - 1;
        self.leaf = Some(i);
        i
    }

    /// Appends a streamed token to turn `i`'s content and token list.
    pub fn append_token(&mut self, i: usize, token: TokenInfo) {
        let turn = &mut self.turns[i];
        turn.content.push_str(&token.text);
        turn.tokens.push(token);
    }

    /// Records why turn `i` ended; it is finished when the answer is whole.
    pub fn end_turn(&mut self, i: usize, end: TurnEnd) {
        if let Some(turn) = self.turns.get_mut(i) {
            turn.finished = end.is_complete();
            turn.stop_reason = Some(end);
        }
    }

    /// Panics if `i` is out of range (as does `turn_mut`).
    pub fn turn(&self, i: usize) -> &Turn {
        &self.turns[i]
    }

    pub fn turn_mut(&mut self, i: usize) -> &mut Turn {
        &mut self.turns[i]
    }

    /// The chat-template input: the system prompt (if non-empty), then the
    /// turns from the root through `up_to` (default: the leaf; panics if out
    /// of range).
    pub fn messages(&self, up_to: Option<usize>) -> Vec<Message> {
        let mut out = Vec::new();
        if !self.system.is_empty() {
            out.push(Message::new("system", &self.system));
        }
        let branch = up_to.or(self.leaf).map(|i| self.ancestry(i));
        for t in branch
            .unwrap_or_default()
            .into_iter()
            .map(|i| &self.turns[i])
        {
            out.push(Message::new(t.role.as_str(), &t.content));
        }
        out
    }

    /// Replaces turn `i` by a new sibling (same parent and role) holding
    /// `new_content`; the old branch is kept. The new turn becomes the leaf.
    pub fn edit(&mut self, i: usize, new_content: &str) -> usize {
        let (parent, role) = (self.turns[i].parent, self.turns[i].role);
        let n = self.add(parent, role, new_content);
        self.turns[n].finished = true;
        n
    }

    /// Direct children of `i` (or the first turns for `None`), oldest first.
    pub fn children(&self, parent: Option<usize>) -> Vec<usize> {
        (0..self.turns.len())
            .filter(|&c| self.turns[c].parent == parent)
            .collect()
    }

    /// Turns sharing `i`'s parent and role, oldest first, `i` included.
    pub fn siblings(&self, i: usize) -> Vec<usize> {
        let (parent, role) = (self.turns[i].parent, self.turns[i].role);
        self.children(parent)
            .into_iter()
            .filter(|&s| self.turns[s].role == role)
            .collect()
    }

    /// The newest leaf below `i`, following the last-created child each step
    /// (one pass over the turns, however deep the branch).
    pub fn latest_descendant(&self, i: usize) -> usize {
        let mut last_child: Vec<Option<usize>> = vec![None; self.turns.len()];
        for (c, turn) in self.turns.iter().enumerate() {
            if let Some(slot) = turn.parent.and_then(|p| last_child.get_mut(p)) {
                *slot = Some(c);
            }
        }
        let mut cur = i;
        // Children come after their parent (see `validate`): this ends.
        while let Some(c) = last_child.get(cur).copied().flatten().filter(|&c| c > cur) {
            cur = c;
        }
        cur
    }

    /// Moves from turn `i` to its sibling `delta` places away (clamped) and
    /// shows that sibling's newest descendant branch. Returns the sibling
    /// now shown, or `None` if the position did not change.
    pub fn switch_sibling(&mut self, i: usize, delta: isize) -> Option<usize> {
        let sibs = self.siblings(i);
        let pos = sibs.iter().position(|&s| s == i)?;
        let target = pos
            .saturating_add_signed(delta)
            .min(sibs.len().saturating_sub(1));
        if target == pos {
            return None;
        }
        let s = sibs[target];
        self.leaf = Some(self.latest_descendant(s));
        Some(s)
    }

    /// When the leaf is an assistant turn, the user turn it answers (to be
    /// answered again with `push_child`); otherwise `None`.
    pub fn regenerate_target(&self) -> Option<usize> {
        let leaf = &self.turns[self.leaf?];
        match leaf.role {
            Role::Assistant => leaf.parent,
            Role::User => None,
        }
    }

    /// Checks the tree: every parent is an earlier turn, the leaf exists.
    pub fn validate(&self) -> Result<(), TreeError> {
        let n = self.turns.len();
        let bad = (0..n).find_map(|i| self.turns[i].parent.filter(|&p| p >= i).map(|p| (i, p)));
        match (bad, self.leaf) {
            (Some((turn, parent)), _) => Err(TreeError::Parent { turn, parent }),
            (_, Some(leaf)) if leaf >= n => Err(TreeError::Leaf { leaf, turns: n }),
            _ => Ok(()),
        }
    }

    /// Writes pretty JSON atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ConversationError> {
        serde_json::to_vec_pretty(self)
            .map_err(io::Error::from)
            .and_then(|json| write_atomic(path, &json))
            .map_err(|source| ConversationError::Write {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Reads a saved conversation, checking the format version before the
    /// fields and the tree structure after. Never modifies the file.
    pub fn load(path: &Path) -> Result<Conversation, ConversationError> {
        let p = path.to_path_buf();
        let invalid = |reason: String| ConversationError::Invalid {
            path: p.clone(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|source| ConversationError::Read {
            path: p.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| json_error(path, &e))?;
        match value.get("version").map(|v| (v, v.as_u64())) {
            None => return Err(invalid("it has no format `version`".into())),
            Some((_, Some(n))) if n > u64::from(FORMAT_VERSION) => {
                return Err(ConversationError::NewerVersion { path: p, found: n })
            }
            Some((_, Some(n))) if n >= 1 => {}
            Some((v, _)) => return Err(invalid(format!("bad format version {v}"))),
        }
        let conv: Conversation =
            serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        conv.validate()
            .map_err(|error| ConversationError::Tree { path: p, error })?;
        Ok(conv)
    }

    /// The branch on screen as Markdown: a header with the model, the system
    /// prompt as a quote, then one section per turn with its content verbatim.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# Conversation\n\nModel: `{}`\n", self.model);
        if !self.system.is_empty() {
            out.push('\n');
            for line in self.system.lines() {
                let gap = if line.is_empty() { "" } else { " " };
                out.push_str(&format!(">{gap}{line}\n"));
            }
        }
        for i in self.path() {
            let t = &self.turns[i];
            let heading = if t.role == Role::User {
                "User"
            } else {
                "Assistant"
            };
            out.push_str(&format!("\n## {heading}\n\n{}\n", t.content));
        }
        out
    }
}

/// A one-line JSON error with position, without serde_json's own suffix.
fn json_error(path: &Path, e: &serde_json::Error) -> ConversationError {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    ConversationError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: text.strip_suffix(&suffix).unwrap_or(&text).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Conversation {
        let mut c = Conversation::new("Be brief.", "tiny-llama");
        c.push(Role::User, "Hi");
        c.push(Role::Assistant, "Hello!");
        c.push(Role::User, "What is 2+2?");
        c.push(Role::Assistant, "4");
        c
    }

    fn contents(c: &Conversation) -> Vec<&str> {
        c.path()
            .iter()
            .map(|&i| c.turn(i).content.as_str())
            .collect()
    }

    #[test]
    fn edit_branches_and_switch_sibling_follows_latest_descendant() {
        let mut c = chat();
        let e = c.edit(2, "What is 3+3?");
        assert_eq!(c.turn(e).parent, Some(1));
        assert_eq!(contents(&c), ["Hi", "Hello!", "What is 3+3?"]);
        let a = c.push(Role::Assistant, "6");
        c.push(Role::User, "Thanks");
        assert_eq!(c.siblings(2), vec![2, e]);
        assert_eq!(c.siblings(e), vec![2, e]);
        // Back to the original question: the old branch is intact.
        assert_eq!(c.switch_sibling(e, -1), Some(2));
        assert_eq!(contents(&c), ["Hi", "Hello!", "What is 2+2?", "4"]);
        assert_eq!(c.switch_sibling(2, -1), None, "clamped at the first");
        // Forward again: the leaf follows into the newest descendant.
        assert_eq!(c.switch_sibling(2, 5), Some(e));
        assert_eq!(c.leaf, Some(c.turns.len() - 1));
        assert_eq!(
            contents(&c),
            ["Hi", "Hello!", "What is 3+3?", "6", "Thanks"]
        );
        assert_eq!(c.turn(a).parent, Some(e));
        assert_eq!(c.switch_sibling(e, 1), None, "clamped at the last");
    }

    #[test]
    fn regenerate_adds_an_assistant_sibling() {
        let mut c = chat();
        let user = c.regenerate_target().unwrap();
        assert_eq!(user, 2);
        let again = c.push_child(user, Role::Assistant, "");
        assert!(!c.turn(again).finished);
        c.append_token(again, token("Four", -0.1));
        c.append_token(again, token(".", -0.5));
        c.end_turn(again, TurnEnd::Eos);
        assert_eq!(c.siblings(again), vec![3, again]);
        assert_eq!(contents(&c), ["Hi", "Hello!", "What is 2+2?", "Four."]);
        assert_eq!(c.turn(again).stop_reason, Some(TurnEnd::Eos));
        assert_eq!(c.switch_sibling(again, -1), Some(3));
        assert_eq!(contents(&c).last(), Some(&"4"));
        c.push(Role::User, "ok");
        assert_eq!(c.regenerate_target(), None, "leaf is a user turn");
        assert_eq!(Conversation::new("", "m").regenerate_target(), None);
    }

    fn flat(m: Vec<Message>) -> String {
        m.iter()
            .map(|m| format!("{}:{}|", m.role, m.content))
            .collect()
    }

    #[test]
    fn messages_have_system_and_only_the_visible_branch() {
        let mut c = chat();
        c.edit(3, "four");
        let want = "system:Be brief.|user:Hi|assistant:Hello!|user:What is 2+2?|assistant:four|";
        assert_eq!(flat(c.messages(None)), want);
        assert_eq!(
            flat(c.messages(Some(1))),
            "system:Be brief.|user:Hi|assistant:Hello!|"
        );
        let mut bare = Conversation::new("", "m");
        assert!(bare.messages(None).is_empty());
        bare.push(Role::User, "x");
        assert_eq!(flat(bare.messages(None)), "user:x|");
    }

    fn token(text: &str, logprob: f32) -> TokenInfo {
        let top = vec![(text.to_string(), logprob), ("x".into(), f32::NEG_INFINITY)];
        TokenInfo {
            text: text.into(),
            logprob,
            top,
        }
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.json");
        let mut c = chat();
        c.turn_mut(3).tokens = vec![token("4", -0.25), token("!", f32::NEG_INFINITY)];
        c.end_turn(3, TurnEnd::Length);
        c.edit(2, "branch");
        c.save(&path).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("\n  \"version\": 1"));
        assert_eq!(Conversation::load(&path).unwrap(), c);
    }

    /// Writes `text`, expects `load` to fail, checks the file is untouched.
    fn refused(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, text).unwrap();
        let msg = Conversation::load(&path).unwrap_err().to_string();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(msg.contains("bad.json"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        msg
    }

    #[test]
    fn load_refuses_bad_files() {
        let msg = refused("{\n  \"version\": 1,\n  \"system\": oops\n}");
        assert!(
            msg.contains("invalid JSON") && msg.contains("line 3, column"),
            "{msg}"
        );
        let spoilt = |ptr: &str, val: serde_json::Value| {
            let mut v = serde_json::to_value(chat()).unwrap();
            v["unknown_future_field"] = true.into();
            match val.is_null() {
                true => drop(v.as_object_mut().unwrap().remove(&ptr[1..])),
                false => *v.pointer_mut(ptr).unwrap() = val,
            }
            refused(&v.to_string())
        };
        let newer = "newer promptlab: format version 7, this build reads up to 1";
        for (ptr, val, want) in [
            ("/version", 7.into(), newer),
            ("/version", serde_json::Value::Null, "no format `version`"),
            ("/version", 0.into(), "bad format version 0"),
            ("/turns/1/parent", 5.into(), "turn 1 has parent 5"),
            ("/turns/0/parent", 0.into(), "not an earlier turn"),
            ("/leaf", 9.into(), "leaf 9 is out of range"),
            ("/turns/0/role", "robot".into(), "unknown variant `robot`"),
        ] {
            let msg = spoilt(ptr, val);
            assert!(msg.contains(want), "{msg}");
        }
        let dir = tempfile::tempdir().unwrap();
        let gone = Conversation::load(&dir.path().join("gone.json")).unwrap_err();
        assert!(gone.to_string().starts_with("cannot read conversation"));
        assert!(gone.to_string().contains("gone.json"));
    }

    #[test]
    fn markdown_exports_the_visible_branch() {
        let mut c = Conversation::new("Be brief.\n\nReally.", "tiny-llama");
        c.push(Role::User, "Show *code*");
        c.push(Role::Assistant, "old");
        c.edit(1, "```rust\nfn main() {}\n```");
        assert_eq!(
            c.to_markdown(),
            "# Conversation\n\nModel: `tiny-llama`\n\n> Be brief.\n>\n> Really.\n\n\
             ## User\n\nShow *code*\n\n## Assistant\n\n```rust\nfn main() {}\n```\n"
        );
    }
}
