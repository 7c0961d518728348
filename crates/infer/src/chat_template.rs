//! Chat templates (Jinja, from the model's metadata) rendered with minijinja.

use minijinja::{Environment, ErrorKind};
use serde::Serialize;

use super::error::{ModelError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

const TEMPLATE_NAME: &str = "chat";
/// The most template instructions one rendering may run. A real template
/// takes a few dozen per message, so a conversation of thousands of turns
/// fits; a file's template that loops without end is stopped here.
const TEMPLATE_FUEL: u64 = 2_000_000;
/// The longest prompt a rendering may write: far past any model's context,
/// and a bound on what a hostile template (say `'x' * 99999999` in a loop)
/// can make us hold.
const MAX_RENDERED_BYTES: usize = 16 << 20;

/// Collects a rendering and refuses to grow past [`MAX_RENDERED_BYTES`].
struct BoundedText(Vec<u8>);

impl std::io::Write for BoundedText {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_RENDERED_BYTES {
            return Err(std::io::Error::other(format!(
                "the prompt it writes passes {} MiB",
                MAX_RENDERED_BYTES >> 20
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ChatTemplate {
    /// Compiles `source`; a syntax error is reported here, at load time.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut env = Environment::new();
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| ModelError::Template(format!("cannot compile: {e}")))?;
        Ok(Self {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// The prompt text for `messages`, ending with the assistant's turn
    /// opened when `add_generation_prompt` is set.
    /// The system prompt this template adds when a conversation has none:
    /// what a one-question rendering holds, in the place a given system
    /// prompt takes, before the same question.
    pub fn default_system(&self) -> Option<String> {
        const SYSTEM: &str = "\u{E000}system\u{E001}";
        const QUESTION: &str = "\u{E002}question\u{E003}";
        let question = Message::new("user", QUESTION);
        let alone = self.render(std::slice::from_ref(&question), false).ok()?;
        let with = self
            .render(&[Message::new("system", SYSTEM), question], false)
            .ok()?;
        let at = with.find(SYSTEM)?;
        let (before, after) = (&with[..at], &with[at + SYSTEM.len()..]);
        let middle = alone.strip_prefix(before)?.strip_suffix(after)?;
        (!middle.trim().is_empty()).then(|| middle.to_string())
    }

    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| ModelError::Template(e.to_string()))?;
        let mut out = BoundedText(Vec::new());
        template
            .render_captured_to(
                minijinja::context! {
                    messages => messages,
                    add_generation_prompt => add_generation_prompt,
                    bos_token => self.bos_token,
                    eos_token => self.eos_token,
                },
                &mut out,
            )
            .map_err(|e| ModelError::Template(format!("cannot render: {}", render_reason(&e))))?;
        String::from_utf8(out.0).map_err(|_| {
            ModelError::Template("cannot render: it wrote text that is not UTF-8".into())
        })
    }
}

/// Why a rendering failed, in words: the fuel and size bounds named as
/// such, other errors as minijinja words them.
fn render_reason(e: &minijinja::Error) -> String {
    match e.kind() {
        ErrorKind::OutOfFuel => {
            format!("it ran more than {TEMPLATE_FUEL} template instructions (a loop without end?)")
        }
        ErrorKind::WriteFailure => {
            format!(
                "the prompt it writes passes {} MiB",
                MAX_RENDERED_BYTES >> 20
            )
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_generation_prompt() {
        let t = ChatTemplate::new(CHATML, "", "").unwrap();
        let text = t
            .render(
                &[Message::new("system", "S"), Message::new("user", "Hi")],
                true,
            )
            .unwrap();
        assert_eq!(
            text,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn the_system_prompt_a_template_adds_by_itself_is_found() {
        // SmolLM2's shape: a default system turn when the first is not one.
        let smol = "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}<|im_start|>system\nYou are a helpful AI assistant named SmolLM<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
        let t = ChatTemplate::new(smol, "", "").unwrap();
        assert_eq!(
            t.default_system().as_deref(),
            Some("You are a helpful AI assistant named SmolLM")
        );
        assert_eq!(
            ChatTemplate::new(CHATML, "", "").unwrap().default_system(),
            None
        );
    }

    #[test]
    fn python_string_methods_work() {
        let t = ChatTemplate::new("{{ messages[0]['content'].strip() }}", "", "").unwrap();
        assert_eq!(
            t.render(&[Message::new("user", "  x ")], false).unwrap(),
            "x"
        );
    }

    #[test]
    fn raise_exception_becomes_an_error() {
        let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "", "").unwrap();
        let err = t.render(&[], false).unwrap_err().to_string();
        assert!(err.contains("roles must alternate"), "{err}");
    }

    #[test]
    fn a_template_that_never_ends_or_writes_without_bound_is_stopped() {
        let endless =
            "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}";
        let err = ChatTemplate::new(endless, "", "")
            .unwrap()
            .render(&[], false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more than 2000000 template instructions"),
            "{err}"
        );
        let huge = "{% for i in range(1000) %}{{ 'xy' * 9999999 }}{% endfor %}";
        let err = ChatTemplate::new(huge, "", "")
            .unwrap()
            .render(&[], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("passes 16 MiB"), "{err}");
        // A long real conversation still renders.
        let chat: Vec<Message> = (0..2000)
            .map(|i| Message::new(if i % 2 == 0 { "user" } else { "assistant" }, "hello there"))
            .collect();
        let text = ChatTemplate::new(CHATML, "", "")
            .unwrap()
            .render(&chat, true)
            .unwrap();
        assert_eq!(text.matches("<|im_start|>").count(), 2001);
    }

    #[test]
    fn syntax_error_is_refused_at_load() {
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }
}
