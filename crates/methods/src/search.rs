//! Tree-of-Thoughts' breadth-first search as a step (see
//! [`SearchStep`]): per depth, generate the next states, evaluate them,
//! keep the best `breadth`. As in the paper's `bfs.py`: a proposal's output
//! lines are the next steps (each added to its state on a line of its
//! own); a value is the sum over `n` samples of the score of each label the
//! sample's last line names; a vote counts "best choice is N" over `n`
//! samples; the selection is greedy. Identical candidates are evaluated
//! once.

use promptlab_backend::Backend;

use crate::error::{MethodError, StepError};
use crate::runner::{CallRecord, Ctx, Output, Request, SearchLevel};
use crate::spec::{Local, SearchCall, SearchStep, SearchValue, Step};

/// At most this many candidates per level (a proposal may list many).
const MAX_CANDIDATES: usize = 64;
/// At most this many model calls in one search.
const MAX_CALLS: usize = 2048;

/// A call of the search, refused past [`MAX_CALLS`].
fn call<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    calls: &mut Vec<CallRecord>,
    request: Request<'_>,
) -> Result<String, MethodError> {
    if calls.len() >= MAX_CALLS {
        return Err(MethodError::Step {
            step: step.id.clone(),
            error: StepError::TooManyCalls(MAX_CALLS),
        });
    }
    let record = ctx.call(&step.id, calls.len(), request)?;
    let output = record.output.clone();
    calls.push(record);
    Ok(output)
}

/// A call of the search at `call`'s temperature.
fn request(
    prompt: String,
    max_tokens: Option<usize>,
    stop: &[String],
    temperature: f64,
) -> Request<'_> {
    Request {
        temperature,
        ..Request::greedy(prompt, max_tokens, stop)
    }
}

pub(crate) fn run<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    search: &SearchStep,
    calls: &mut Vec<CallRecord>,
) -> Result<Output, MethodError> {
    let mut states = vec![String::new()];
    let mut levels = Vec::new();
    for depth in 1..=search.depth {
        let candidates = generate(ctx, step, search, depth, &states, calls)?;
        if candidates.is_empty() {
            break;
        }
        let values = match (&search.value, &search.vote) {
            (Some(value), _) => value_of_each(ctx, step, value, depth, &candidates, calls)?,
            (None, Some(vote)) => votes(ctx, step, vote, depth, &candidates, calls)?,
            (None, None) => vec![0.0; candidates.len()],
        };
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        // Best first; equal values keep the order generated.
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        order.truncate(search.breadth);
        states = order.iter().map(|&i| candidates[i].clone()).collect();
        levels.push(SearchLevel {
            candidates: candidates.into_iter().zip(values).collect(),
            kept: order,
        });
    }
    let best = states.first().cloned().unwrap_or_default();
    Ok(Output::Search { levels, best })
}

/// The template variables of one call.
fn locals(state: &str, depth: usize, states: &[String]) -> [(Local, minijinja::Value); 3] {
    [
        (Local::State, state.into()),
        (Local::Depth, depth.into()),
        (Local::States, minijinja::Value::from_serialize(states)),
    ]
}

/// Every kept state's extensions, identical ones once.
fn generate<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    search: &SearchStep,
    depth: usize,
    states: &[String],
    calls: &mut Vec<CallRecord>,
) -> Result<Vec<String>, MethodError> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |state: &str, next: &str| {
        let candidate = format!("{state}{}\n", next.trim());
        if !next.trim().is_empty() && out.len() < MAX_CANDIDATES && !out.contains(&candidate) {
            out.push(candidate);
        }
    };
    for state in states {
        let vars = locals(state, depth, states);
        if let Some(p) = &search.propose {
            let prompt = ctx.render(step, &p.prompt, &vars)?;
            let request = request(prompt, p.max_tokens, &p.stop, p.temperature);
            for line in call(ctx, step, calls, request)?.lines() {
                add(state, line);
            }
        } else if let Some(s) = &search.sample {
            let prompt = ctx.render(step, &s.prompt, &vars)?;
            for _ in 0..s.n {
                let request = request(prompt.clone(), s.max_tokens, &s.stop, s.temperature);
                let output = call(ctx, step, calls, request)?;
                add(state, &output);
            }
        }
    }
    Ok(out)
}

/// The value of each candidate: `n` samples of the value prompt, each
/// scored by the labels its last non-empty line names.
fn value_of_each<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    value: &SearchValue,
    depth: usize,
    candidates: &[String],
    calls: &mut Vec<CallRecord>,
) -> Result<Vec<f64>, MethodError> {
    let mut values = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let prompt = ctx.render(step, &value.prompt, &locals(candidate, depth, candidates))?;
        let mut total = 0.0;
        for _ in 0..value.n {
            let request = request(
                prompt.clone(),
                value.max_tokens,
                &value.stop,
                value.temperature,
            );
            total += score(&call(ctx, step, calls, request)?, value);
        }
        values.push(total);
    }
    Ok(values)
}

/// The score of one value sample: each label times how often the last
/// non-empty line names it.
fn score(output: &str, value: &SearchValue) -> f64 {
    let last = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_lowercase();
    value
        .scores
        .iter()
        .map(|(label, s)| s * last.matches(&label.to_lowercase()).count() as f64)
        .sum()
}

/// Votes: `n` samples of the vote prompt over all candidates, each naming
/// "best choice is N" (from 1).
fn votes<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    vote: &SearchCall,
    depth: usize,
    candidates: &[String],
    calls: &mut Vec<CallRecord>,
) -> Result<Vec<f64>, MethodError> {
    static CHOICE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?is)best choice is\D*(\d+)").expect("a valid expression")
    });
    let prompt = ctx.render(step, &vote.prompt, &locals("", depth, candidates))?;
    let mut values = vec![0.0; candidates.len()];
    for _ in 0..vote.n {
        let request = request(
            prompt.clone(),
            vote.max_tokens,
            &vote.stop,
            vote.temperature,
        );
        let output = call(ctx, step, calls, request)?;
        let chosen = CHOICE
            .captures(&output)
            .and_then(|c| c[1].parse::<usize>().ok())
            .filter(|&n| (1..=candidates.len()).contains(&n));
        if let Some(n) = chosen {
            values[n - 1] += 1.0;
        }
    }
    Ok(values)
}
