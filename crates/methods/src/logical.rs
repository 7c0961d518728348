//! Logical Thoughts as a step (see [`CheckStepsStep`]): every step of a
//! chain argued both ways — "Step #i is true because …" and "… is false
//! because …" — a review picking the more plausible, and a step whose
//! refutation wins revised, the chain written anew after it and checked in
//! its turn, as in the paper's algorithm (Zhao et al. 2023).

use promptlab_backend::Backend;

use crate::error::MethodError;
use crate::extract::find_answer;
use crate::runner::{CallRecord, Ctx, Output, Request};
use crate::spec::{CheckStepsStep, Local, Pattern, Step};

/// At most this many steps are checked (a chain may run long).
const MAX_STEPS: usize = 32;

/// The non-empty lines of `text`, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn run<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    check: &CheckStepsStep,
    calls: &mut Vec<CallRecord>,
) -> Result<Output, MethodError> {
    let mut chain = ctx.read(&step.id, "from", &check.from)?.texts();
    if chain.len() == 1 {
        chain = lines(&chain[0]);
    }
    chain.truncate(MAX_STEPS);
    let mut revisions = 0;
    let mut i = 0;
    while i < chain.len() {
        let mut vars = vec![
            (Local::Steps, minijinja::Value::from_serialize(&chain[..i])),
            (Local::CheckedStep, chain[i].as_str().into()),
            (Local::Number, (i + 1).into()),
        ];
        let mut ask = |ctx: &mut Ctx<'_, B>, template: &str, vars: &[(Local, minijinja::Value)]| {
            let prompt = ctx.render(step, template, vars)?;
            let record = ctx.call(
                &step.id,
                calls.len(),
                Request::greedy(prompt, check.max_tokens, &[]),
            )?;
            let output = record.output.clone();
            calls.push(record);
            Ok::<String, MethodError>(output)
        };
        let affirmation = ask(ctx, &check.affirm, &vars)?;
        let negation = ask(ctx, &check.negate, &vars)?;
        vars.push((Local::Affirmation, affirmation.trim().into()));
        vars.push((Local::Negation, negation.trim().into()));
        let review = ask(ctx, &check.review, &vars)?;
        let refuted = find_answer(&review, &Pattern::OptionLetter).as_deref() == Some("B");
        if refuted && revisions < check.max_revisions {
            revisions += 1;
            let revised = lines(&ask(ctx, &check.revise, &vars)?);
            chain.truncate(i);
            chain.push(revised.first().cloned().unwrap_or_default());
            // The rest of the chain, written anew from the revised step.
            let vars = [
                (Local::Steps, minijinja::Value::from_serialize(&chain)),
                (Local::CheckedStep, chain[i].as_str().into()),
                (Local::Number, (i + 1).into()),
            ];
            let rest = lines(&ask(ctx, &check.continue_chain, &vars)?);
            chain.extend(rest.into_iter().take(MAX_STEPS.saturating_sub(chain.len())));
        }
        i += 1;
    }
    Ok(Output::Text {
        text: chain.join("\n"),
    })
}
