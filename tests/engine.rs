//! The engine thread with a tiny model: events arrive in order, the oldest
//! turns are dropped (and counted) when a conversation outgrows the context,
//! cancelling stops a generation, and a model that fails to load says why.
//! Comparisons run their methods in turn and stop when cancelled. Each
//! request has its own cancel token, and a panic inside one request fails
//! that request only.

mod common;

use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use common::tiny_gguf::{self, TinySpec};

use promptlab_engine::{
    ChatCall, ChatRequest, Command, CompareRequest, EngineHandle, Event, Job, JobContext, JobEnd,
    JobError, RequestError, SendError, StopReason,
};
use promptlab_infer::chat_template::Message;
use promptlab_infer::sampling::SamplingParams;
use promptlab_infer::Precision;
use promptlab_methods::runner::{RunEvent, RunOptions};
use promptlab_methods::spec::MethodSpec;

fn start(spec: &TinySpec) -> (EngineHandle, Receiver<Event>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    tiny_gguf::write(&path, spec);
    let (tx, rx) = channel();
    let engine = EngineHandle::spawn(path, Precision::Stored, move |e| {
        let _ = tx.send(e);
    });
    (engine, rx, dir)
}

fn next(rx: &Receiver<Event>) -> Event {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("an engine event")
}

fn request(id: u64, messages: Vec<Message>, max_tokens: usize) -> ChatRequest {
    ChatRequest {
        id,
        call: ChatCall {
            messages,
            assistant_prefix: String::new(),
            sampling: SamplingParams {
                max_tokens,
                ..SamplingParams::greedy()
            },
            top_logprobs: 3,
            capture_attention: false,
        },
    }
}

#[test]
fn streams_tokens_then_finishes() {
    let (engine, rx, _dir) = start(&TinySpec {
        context_length: 256,
        ..TinySpec::default()
    });
    assert!(matches!(next(&rx), Event::Loaded { .. }));
    engine
        .send(Command::Chat(request(
            7,
            vec![Message::new("user", "ab")],
            5,
        )))
        .unwrap();
    let Event::Started {
        id: 7,
        dropped_messages: 0,
        ..
    } = next(&rx)
    else {
        panic!("expected Started")
    };
    let mut tokens = 0;
    loop {
        match next(&rx) {
            Event::Token { id: 7, token } => {
                tokens += 1;
                assert_eq!(token.top.len(), 3);
            }
            Event::Finished { id: 7, finished } => {
                assert_eq!(finished.generated_tokens, tokens);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn the_oldest_turns_are_dropped_when_the_context_is_full() {
    let (engine, rx, _dir) = start(&TinySpec {
        context_length: 64,
        ..TinySpec::default()
    });
    next(&rx);
    let mut messages = vec![Message::new("system", "s")];
    for i in 0..6 {
        messages.push(Message::new("user", &format!("question {i}")));
        messages.push(Message::new("assistant", &format!("answer {i}")));
    }
    messages.push(Message::new("user", "last"));
    engine.send(Command::Chat(request(1, messages, 8))).unwrap();
    match next(&rx) {
        Event::Started {
            prompt_tokens,
            dropped_messages,
            ..
        } => {
            assert!(dropped_messages > 0);
            assert!(prompt_tokens + 8 <= 64, "{prompt_tokens}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_message_too_long_for_the_context_fails_cleanly() {
    let (engine, rx, _dir) = start(&TinySpec {
        context_length: 32,
        ..TinySpec::default()
    });
    next(&rx);
    engine
        .send(Command::Chat(request(
            3,
            vec![Message::new("user", &"x".repeat(200))],
            4,
        )))
        .unwrap();
    match next(&rx) {
        Event::Failed { id: 3, error } => {
            let error = error.to_string();
            assert!(error.contains("context window is 32"), "{error}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cancel_stops_the_generation() {
    let (engine, rx, _dir) = start(&TinySpec {
        context_length: 4096,
        ..TinySpec::default()
    });
    next(&rx);
    engine
        .send(Command::Chat(request(
            9,
            vec![Message::new("user", "ab")],
            3000,
        )))
        .unwrap();
    next(&rx); // Started
    assert!(matches!(next(&rx), Event::Token { .. }));
    engine.cancel(9);
    loop {
        match next(&rx) {
            Event::Token { .. } => continue,
            Event::Finished { finished, .. } => {
                assert_eq!(finished.stop_reason, StopReason::Cancelled);
                assert!(finished.generated_tokens < 3000);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_model_that_fails_to_load_is_reported() {
    let (_engine, rx, _dir) = start(&TinySpec {
        architecture: "mamba".into(),
        ..TinySpec::default()
    });
    match next(&rx) {
        Event::LoadFailed(error) => {
            let error = error.to_string();
            assert!(error.contains("mamba"), "{error}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn method(yaml: &str) -> MethodSpec {
    MethodSpec::parse(yaml, std::path::Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

const ONE_CALL: &str = "\
id: one-call
name: One call
section: '2.1'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: response
    generate:
      prompt: \"Q: {{ question }}\"
      max_tokens: 3000
";

const TWO_SAMPLES: &str = "\
id: two-samples
name: Two samples
section: '2.3'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: paths
    sample_n:
      prompt: \"Q: {{ question }}\"
      n: 2
      temperature: 0.7
  - id: answers
    extract: {from: paths, pattern: last_number}
  - id: majority
    vote: {from: answers}
answer: majority
";

fn compare_request(id: u64, cap: Option<usize>) -> CompareRequest {
    CompareRequest {
        id,
        methods: vec![method(ONE_CALL), method(TWO_SAMPLES)],
        inputs: [("question".to_string(), "ab".to_string())].into(),
        options: RunOptions {
            system: None,
            max_tokens: 4,
            cap,
            seed: 1,
            allow_code: false,
        },
    }
}

#[test]
fn a_comparison_runs_each_method_in_turn_announcing_every_prompt() {
    let (engine, rx, _dir) = start(&TinySpec {
        context_length: 256,
        ..TinySpec::default()
    });
    next(&rx);
    engine
        .send(Command::Compare(compare_request(4, Some(4))))
        .unwrap();
    let mut prompts = [0, 0];
    let mut called = [0, 0];
    let mut done = Vec::new();
    loop {
        match next(&rx) {
            Event::MethodPrompt {
                id: 4,
                method,
                prompt,
            } => {
                assert_eq!(prompt, "Q: ab");
                assert!(!done.contains(&method), "{method} already done");
                prompts[method] += 1;
            }
            Event::Method {
                id: 4,
                method,
                event,
            } => match event {
                RunEvent::Token { index, .. } => assert_eq!(index + 1, prompts[method]),
                RunEvent::Called { index, .. } => {
                    called[method] += 1;
                    assert_eq!(index + 1, prompts[method], "the prompt comes first");
                    assert_eq!(called[method], prompts[method]);
                }
                _ => {}
            },
            Event::MethodDone {
                id: 4,
                method,
                result,
            } => {
                assert_eq!(method, done.len(), "methods run in order");
                let run = result.unwrap();
                assert_eq!(run.calls, prompts[method]);
                assert!(run.generated_tokens <= 4 * run.calls, "capped");
                done.push(method);
            }
            Event::CompareFinished { id: 4, stopped } => {
                assert!(!stopped);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done, [0, 1]);
    assert_eq!(prompts, [1, 2]);
}

#[test]
fn cancel_stops_a_comparison_and_leaves_the_rest_unrun() {
    let (engine, rx, _dir) = start(&TinySpec {
        context_length: 4096,
        ..TinySpec::default()
    });
    next(&rx);
    engine
        .send(Command::Compare(compare_request(5, None)))
        .unwrap();
    loop {
        match next(&rx) {
            Event::Method {
                event: RunEvent::Token { .. },
                ..
            } => break,
            Event::Method { .. } | Event::MethodPrompt { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    engine.cancel(5);
    loop {
        match next(&rx) {
            Event::Method { method: 0, .. } => continue,
            Event::MethodDone {
                id: 5,
                method: 0,
                result,
            } => assert!(result.unwrap_err().is_cancelled()),
            Event::CompareFinished { id: 5, stopped } => {
                assert!(stopped);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The engine serves the next request as usual.
    engine
        .send(Command::Chat(request(
            6,
            vec![Message::new("user", "ab")],
            2,
        )))
        .unwrap();
    assert!(matches!(next(&rx), Event::Started { id: 6, .. }));
}

/// A long job that panics halfway, as a bug in any request's work would.
struct Panics;

impl Job for Panics {
    fn name(&self) -> &str {
        "panics"
    }

    fn run(self: Box<Self>, ctx: &mut JobContext<'_>) -> Result<JobEnd, JobError> {
        ctx.progress(1, Some(2), "half way");
        panic!("deliberate failure inside a request");
    }
}

/// A job that counts to `n`, reporting each step, until cancelled.
struct Counts(u64);

impl Job for Counts {
    fn name(&self) -> &str {
        "counts"
    }

    fn run(self: Box<Self>, ctx: &mut JobContext<'_>) -> Result<JobEnd, JobError> {
        for i in 1..=self.0 {
            if ctx.cancelled() {
                return Ok(JobEnd::Stopped(format!("stopped at {i}")));
            }
            ctx.progress(i, Some(self.0), format!("step {i}"));
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(JobEnd::Done(format!("counted to {}", self.0)))
    }
}

#[test]
fn a_panic_inside_a_request_fails_that_request_and_the_next_is_served() {
    let (engine, rx, _dir) = start(&TinySpec::default());
    assert!(matches!(next(&rx), Event::Loaded { .. }));
    engine
        .send(Command::Job {
            id: 11,
            job: Box::new(Panics),
        })
        .unwrap();
    engine
        .send(Command::Chat(request(
            12,
            vec![Message::new("user", "ab")],
            2,
        )))
        .unwrap();
    match next(&rx) {
        Event::JobProgress { id: 11, progress } => assert_eq!(progress.done, 1),
        other => panic!("unexpected {other:?}"),
    }
    match next(&rx) {
        Event::Failed {
            id: 11,
            error: RequestError::Panicked(message),
        } => assert!(message.contains("deliberate failure"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(next(&rx), Event::Started { id: 12, .. }));
    loop {
        match next(&rx) {
            Event::Token { id: 12, .. } => continue,
            Event::Finished { id: 12, finished } => {
                assert_eq!(finished.stop_reason, StopReason::Length);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn cancelling_one_request_leaves_the_one_queued_behind_it_alone() {
    let (engine, rx, _dir) = start(&TinySpec::default());
    assert!(matches!(next(&rx), Event::Loaded { .. }));
    // A long job runs; a second one waits behind it.
    engine
        .send(Command::Job {
            id: 21,
            job: Box::new(Counts(100_000)),
        })
        .unwrap();
    engine
        .send(Command::Job {
            id: 22,
            job: Box::new(Counts(3)),
        })
        .unwrap();
    assert!(matches!(next(&rx), Event::JobProgress { id: 21, .. }));
    engine.cancel(21);
    let mut second = Vec::new();
    loop {
        match next(&rx) {
            Event::JobProgress { id: 21, .. } => continue,
            Event::JobFinished {
                id: 21,
                stopped,
                summary,
            } => {
                assert!(stopped, "{summary}");
                assert!(summary.starts_with("stopped at"), "{summary}");
            }
            Event::JobProgress { id: 22, progress } => second.push(progress.done),
            Event::JobFinished {
                id: 22,
                stopped,
                summary,
            } => {
                assert!(!stopped);
                assert_eq!(summary, "counted to 3");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(second, vec![1, 2, 3], "the queued job ran to the end");
}

#[test]
fn a_request_cancelled_while_queued_does_no_work() {
    let (engine, rx, _dir) = start(&TinySpec::default());
    assert!(matches!(next(&rx), Event::Loaded { .. }));
    engine
        .send(Command::Job {
            id: 31,
            job: Box::new(Counts(100_000)),
        })
        .unwrap();
    engine
        .send(Command::Chat(request(
            32,
            vec![Message::new("user", "ab")],
            2,
        )))
        .unwrap();
    engine.cancel(32);
    assert!(matches!(next(&rx), Event::JobProgress { id: 31, .. }));
    engine.cancel(31);
    loop {
        match next(&rx) {
            Event::JobProgress { id: 31, .. } | Event::JobFinished { id: 31, .. } => continue,
            Event::Failed {
                id: 32,
                error: RequestError::Cancelled,
            } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_request_id_still_in_use_is_refused() {
    let (engine, rx, _dir) = start(&TinySpec::default());
    assert!(matches!(next(&rx), Event::Loaded { .. }));
    engine
        .send(Command::Job {
            id: 41,
            job: Box::new(Counts(100_000)),
        })
        .unwrap();
    let again = engine.send(Command::Job {
        id: 41,
        job: Box::new(Counts(1)),
    });
    assert_eq!(again.unwrap_err(), SendError::DuplicateId(41));
    assert!(matches!(next(&rx), Event::JobProgress { id: 41, .. }));
    engine.cancel(41);
    loop {
        if let Event::JobFinished {
            id: 41, stopped, ..
        } = next(&rx)
        {
            assert!(stopped);
            break;
        }
    }
}

/// Image work goes to the images lane: it is served while the model's
/// lane is busy with a job that runs until cancelled.
#[test]
fn image_work_runs_beside_the_model_lane() {
    use promptlab_engine::images::{DatasetKind, ImagesRequest, ImagesWork, LabPaths, ModelKind};
    let (engine, rx, dir) = start(&TinySpec::default());
    assert!(matches!(next(&rx), Event::Loaded { .. }));
    engine
        .send(Command::Job {
            id: 1,
            job: Box::new(Counts(u64::MAX)),
        })
        .unwrap();
    assert!(matches!(next(&rx), Event::JobProgress { id: 1, .. }));
    let paths = LabPaths {
        data: dir.path().join("no-data"),
        checkpoints: dir.path().join("checkpoints"),
    };
    engine
        .send(Command::Images(ImagesRequest {
            id: 2,
            model: ModelKind::Vae,
            dataset: DatasetKind::Mnist,
            paths: paths.clone(),
            work: ImagesWork::Sample {
                n: 4,
                seed: 3,
                shipped: false,
            },
        }))
        .unwrap();
    let mut samples = None;
    let summary = loop {
        match next(&rx) {
            Event::ImagesSamples { id: 2, images } => samples = Some(images),
            Event::ImagesFinished {
                id: 2,
                summary,
                stopped,
            } => {
                assert!(!stopped);
                break summary;
            }
            Event::JobProgress { id: 1, .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    let samples = samples.expect("the labelled samples");
    assert_eq!(samples.len(), 4);
    assert_eq!(samples.labels.len(), 4);
    assert!(samples.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(
        summary.starts_with("4 from the VAE (shipped checkpoint, 200 epochs):"),
        "{summary}"
    );
    // The VAE's latent walk and the GAN's interpolation, labelled.
    let explore = |id, model, work| {
        engine
            .send(Command::Images(ImagesRequest {
                id,
                model,
                dataset: DatasetKind::Mnist,
                paths: paths.clone(),
                work,
            }))
            .unwrap();
        let mut images = None;
        loop {
            match next(&rx) {
                Event::ImagesSamples { id: i, images: got } if i == id => images = Some(got),
                Event::ImagesFinished { id: i, .. } if i == id => break,
                Event::JobProgress { id: 1, .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        images.expect("images")
    };
    let walk = explore(
        4,
        ModelKind::Vae,
        ImagesWork::Walk {
            x: 0.5,
            y: -1.0,
            shipped: true,
        },
    );
    assert_eq!(walk.len(), 10);
    assert_eq!(walk.labels.len(), 10);
    let line = explore(
        5,
        ModelKind::Dcgan,
        ImagesWork::Interpolate {
            seed_a: 1,
            seed_b: 2,
            steps: 6,
            shipped: true,
        },
    );
    assert_eq!(line.len(), 6);
    assert_ne!(line.image(0), line.image(5));
    // Training needs the dataset: one line saying what to run.
    engine
        .send(Command::Images(ImagesRequest {
            id: 3,
            model: ModelKind::Vae,
            dataset: DatasetKind::Mnist,
            paths,
            work: ImagesWork::Train {
                epochs: 1,
                preview: 4,
            },
        }))
        .unwrap();
    let error = loop {
        match next(&rx) {
            Event::Failed { id: 3, error } => break error.to_string(),
            Event::ImagesTraining { id: 3, .. } | Event::JobProgress { id: 1, .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        error.contains("is not in") && error.contains("promptlab images data fetch"),
        "{error}"
    );
    assert!(!error.contains('\n'));
    // The model's lane was busy all along.
    engine.cancel(1);
    loop {
        if let Event::JobFinished { id: 1, stopped, .. } = next(&rx) {
            assert!(stopped);
            break;
        }
    }
}
