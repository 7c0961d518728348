//! An OpenAI-compatible server as a backend (vLLM, llama.cpp's server,
//! TGI): a chat call is `POST {base}/v1/chat/completions`, a completion
//! call `POST {base}/v1/completions`. A rate limit (429), a server error
//! (5xx), a timeout or a dropped connection is retried with exponential
//! backoff (honouring `Retry-After`); any other refusal is one line with
//! the server's own message. The reply comes whole (no streaming), with
//! the server's token counts and, where it sends them, log-probabilities.

use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Backend, BackendError, Call, Capabilities, Reply};

/// Where the server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The server's address, e.g. `http://127.0.0.1:8080` (a trailing
    /// `/v1` is accepted).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    pub api_key: Option<String>,
    /// How long one request may take.
    pub timeout: Duration,
    /// Attempts per call (the first included).
    pub attempts: u32,
    /// The first retry's wait; each later one doubles it.
    pub backoff: Duration,
}

impl OpenAiConfig {
    pub fn new(base_url: &str, model: &str) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.to_string(),
            model: model.to_string(),
            api_key: None,
            timeout: Duration::from_secs(300),
            attempts: 6,
            backoff: Duration::from_millis(500),
        }
    }

    fn endpoint(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        format!("{base}/v1/{path}")
    }
}

pub struct OpenAiBackend {
    config: OpenAiConfig,
    agent: ureq::Agent,
    /// Retries made so far (for reports and tests).
    pub retries: u32,
}

/// The longest wait a server's `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl OpenAiBackend {
    pub fn new(config: OpenAiConfig) -> OpenAiBackend {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(config.timeout)
            .build();
        OpenAiBackend {
            config,
            agent,
            retries: 0,
        }
    }

    /// Posts `body` to `path`, retrying what may pass on a second try.
    fn post(&mut self, path: &str, body: &Value) -> Result<Value, BackendError> {
        let url = self.config.endpoint(path);
        let text = body.to_string();
        let mut wait = self.config.backoff;
        let mut attempt = 1;
        loop {
            let mut request = self
                .agent
                .post(&url)
                .set("Content-Type", "application/json");
            if let Some(key) = &self.config.api_key {
                request = request.set("Authorization", &format!("Bearer {key}"));
            }
            let failure = match request.send_string(&text) {
                Ok(response) => {
                    let reply = response.into_string().map_err(|e| {
                        BackendError::Failed(format!("{url}: reading the reply: {e}"))
                    })?;
                    return serde_json::from_str(&reply).map_err(|e| {
                        BackendError::Failed(format!("{url}: the reply is not JSON: {e}"))
                    });
                }
                Err(ureq::Error::Status(code, response)) => {
                    let retry_after = response
                        .header("Retry-After")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                    let message = server_message(response.into_string().unwrap_or_default());
                    let failure = format!("{url}: the server answered {code}: {message}");
                    if !(code == 429 || code >= 500) {
                        return Err(BackendError::Failed(failure));
                    }
                    (failure, retry_after)
                }
                Err(ureq::Error::Transport(t)) => (format!("{url}: {t}"), None),
            };
            let (failure, retry_after) = failure;
            if attempt >= self.config.attempts {
                return Err(BackendError::Failed(format!(
                    "{failure} (gave up after {attempt} attempts)"
                )));
            }
            std::thread::sleep(retry_after.unwrap_or(wait));
            wait = wait.saturating_mul(2).min(Duration::from_secs(30));
            attempt += 1;
            self.retries += 1;
        }
    }
}

/// The `error.message` of a server's error body, or the body, one line.
fn server_message(body: String) -> String {
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or(body);
    let one: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(300).collect()
}

impl Backend for OpenAiBackend {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        let s = &call.sampling;
        let mut body = json!({
            "model": self.config.model,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
        });
        if !s.stop.is_empty() {
            body["stop"] = json!(s.stop);
        }
        let (path, text_at) = if call.completion {
            body["prompt"] = json!(call.prompt);
            ("completions", "/choices/0/text")
        } else {
            let mut messages = Vec::new();
            if let Some(system) = &call.system {
                messages.push(json!({"role": "system", "content": system}));
            }
            messages.push(json!({"role": "user", "content": call.prompt}));
            body["messages"] = json!(messages);
            body["logprobs"] = json!(true);
            ("chat/completions", "/choices/0/message/content")
        };
        let reply = self.post(path, &body)?;
        let text = reply
            .pointer(text_at)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                BackendError::Failed(format!(
                    "{}: the reply has no {text_at}",
                    self.config.endpoint(path)
                ))
            })?
            .to_string();
        if on_text(&text).is_break() {
            return Err(BackendError::Cancelled);
        }
        let count = |field: &str| {
            reply
                .pointer(&format!("/usage/{field}"))
                .and_then(Value::as_u64)
                .map_or(0, |n| n as usize)
        };
        let logprobs = reply
            .pointer("/choices/0/logprobs/content")
            .and_then(Value::as_array)
            .map(|tokens| {
                tokens
                    .iter()
                    .filter_map(|t| t.get("logprob").and_then(Value::as_f64))
                    .map(|l| l as f32)
                    .collect::<Vec<f32>>()
            })
            .filter(|l| !l.is_empty());
        Ok(Reply {
            text,
            prompt_tokens: count("prompt_tokens"),
            generated_tokens: count("completion_tokens"),
            reused_tokens: 0,
            logprobs,
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            logprobs: true,
            attention: false,
            local_tokenizer: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A loopback server answering each connection with the next of
    /// `replies` (status, body), recording the request bodies.
    fn scripted_server(
        replies: Vec<(u16, String)>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let handle = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for (status, body) in replies {
                let (stream, _) = listener.accept().expect("accept");
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("header");
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().expect("length");
                    }
                }
                let mut request = vec![0; length];
                reader.read_exact(&mut request).expect("body");
                bodies.push(String::from_utf8_lossy(&request).into_owned());
                let mut stream = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 0\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).expect("write");
                stream.write_all(body.as_bytes()).expect("write");
            }
            bodies
        });
        (address, handle)
    }

    fn call() -> Call {
        Call {
            system: Some("Be brief.".into()),
            prompt: "2+2?".into(),
            completion: false,
            sampling: crate::SamplingParams {
                max_tokens: 8,
                ..crate::SamplingParams::greedy()
            },
        }
    }

    const OK: &str = r#"{"choices":[{"message":{"content":"4"},"logprobs":{"content":[{"token":"4","logprob":-0.25}]}}],"usage":{"prompt_tokens":12,"completion_tokens":1}}"#;

    #[test]
    fn rate_limits_and_server_errors_are_retried() {
        let (url, server) = scripted_server(vec![
            (429, r#"{"error":{"message":"slow down"}}"#.into()),
            (503, "busy".into()),
            (200, OK.into()),
        ]);
        let mut config = OpenAiConfig::new(&format!("{url}/v1/"), "m");
        config.backoff = Duration::from_millis(1);
        let mut backend = OpenAiBackend::new(config);
        let reply = backend
            .call(&call(), &mut |_| ControlFlow::Continue(()))
            .expect("third attempt answers");
        assert_eq!(reply.text, "4");
        assert_eq!((reply.prompt_tokens, reply.generated_tokens), (12, 1));
        assert_eq!(reply.logprobs, Some(vec![-0.25]));
        assert_eq!(backend.retries, 2);
        let bodies = server.join().expect("server");
        let sent: Value = serde_json::from_str(&bodies[2]).expect("JSON body");
        assert_eq!(sent["messages"][0]["role"], "system");
        assert_eq!(sent["messages"][1]["content"], "2+2?");
        assert_eq!(sent["max_tokens"], 8);
    }

    #[test]
    fn a_client_error_is_not_retried_and_gives_the_servers_message() {
        let (url, server) = scripted_server(vec![(
            400,
            r#"{"error":{"message":"bad\nrequest"}}"#.into(),
        )]);
        let mut backend = OpenAiBackend::new(OpenAiConfig::new(&url, "m"));
        let e = backend
            .call(&call(), &mut |_| ControlFlow::Continue(()))
            .expect_err("refused");
        assert!(
            e.to_string()
                .ends_with("the server answered 400: bad request"),
            "{e}"
        );
        assert_eq!(backend.retries, 0);
        server.join().expect("server");
    }

    #[test]
    fn giving_up_says_how_often_it_tried() {
        let (url, server) = scripted_server(vec![(500, "x".into()), (500, "x".into())]);
        let mut config = OpenAiConfig::new(&url, "m");
        config.attempts = 2;
        config.backoff = Duration::from_millis(1);
        let mut backend = OpenAiBackend::new(config);
        let e = backend
            .call(&call(), &mut |_| ControlFlow::Continue(()))
            .expect_err("gives up");
        assert!(e.to_string().contains("(gave up after 2 attempts)"), "{e}");
        server.join().expect("server");
    }
}
