//! The eval pane's update: keys pick a suite and run it, step the item
//! limit and the results filter, move in the results and open a trial's
//! drill-down; engine events fill the run in trial by trial (those the
//! store held first, then each one as it finishes) and end it.

use crossterm::event::{KeyCode, KeyEvent};

use super::state::{EvalRun, EvalState, Focus, SuiteEntry, LIMITS};
use crate::panes::Cx;
use crate::state::Effect;
use promptlab_engine::{EvalRequest, Event, RequestError};
use promptlab_eval::report::Format;
use promptlab_eval::suite::Overrides;
use promptlab_eval::summary::Summary;

/// The pane's keys and what they do, for the help and the README.
pub(crate) const KEYS: [(&str, &str); 9] = [
    ("Enter", "run the selected suite (results: open the trial)"),
    ("Tab", "move between the suites and the results"),
    ("↑ ↓ PgUp PgDn", "move in the list (drill-down: scroll)"),
    ("Home End", "first / last row"),
    ("+ -", "more / fewer items per run (as the file, 1 … 100)"),
    ("f", "results filter: all, failed, passed, errors"),
    ("r", "read the suites folder again"),
    ("Esc", "stop the run (finished trials stay stored)"),
    ("Esc", "close the drill-down, then back to the suites"),
];

/// Rows a page key moves.
const PAGE: usize = 10;

pub(crate) fn on_key(e: &mut EvalState, cx: &mut Cx, key: KeyEvent) -> Vec<Effect> {
    if let Some(offset) = e.detail.as_mut() {
        let room = e.detail_room.get();
        match key.code {
            KeyCode::Esc | KeyCode::Enter => e.detail = None,
            KeyCode::Up => *offset = offset.saturating_sub(1),
            KeyCode::Down => *offset = offset.saturating_add(1).min(room),
            KeyCode::PageUp => *offset = offset.saturating_sub(PAGE as u16),
            KeyCode::PageDown => *offset = offset.saturating_add(PAGE as u16).min(room),
            KeyCode::Home => *offset = 0,
            KeyCode::End => *offset = room,
            _ => {}
        }
        return vec![];
    }
    match key.code {
        KeyCode::Esc => return escape(e, cx),
        KeyCode::Tab | KeyCode::BackTab => {
            e.focus = match e.focus {
                Focus::Suites if e.run.is_some() => Focus::Results,
                _ => Focus::Suites,
            }
        }
        KeyCode::Up => move_cursor(e, -1),
        KeyCode::Down => move_cursor(e, 1),
        KeyCode::PageUp => move_cursor(e, -(PAGE as isize)),
        KeyCode::PageDown => move_cursor(e, PAGE as isize),
        KeyCode::Home => move_cursor(e, isize::MIN / 2),
        KeyCode::End => move_cursor(e, isize::MAX / 2),
        KeyCode::Enter if e.focus == Focus::Results => {
            e.detail = e.selected_record().map(|_| 0);
        }
        KeyCode::Enter => return start(e, cx),
        KeyCode::Char('+') | KeyCode::Char('=') => {
            e.limit = (e.limit + 1).min(LIMITS.len() - 1);
            *cx.notice = Some(limit_notice(e));
        }
        KeyCode::Char('-') => {
            e.limit = e.limit.saturating_sub(1);
            *cx.notice = Some(limit_notice(e));
        }
        KeyCode::Char('f') => {
            e.filter = e.filter.next();
            e.result_cursor = 0;
        }
        KeyCode::Char('r') => return vec![Effect::ListSuites(e.suites_dir.clone())],
        _ => {}
    }
    vec![]
}

fn limit_notice(e: &EvalState) -> String {
    match e.limit() {
        None => "items per run: as the file says".into(),
        Some(n) => format!("items per run: the first {n} (the next run)"),
    }
}

/// Esc: stops a run; else leaves the results for the suites.
fn escape(e: &mut EvalState, cx: &mut Cx) -> Vec<Effect> {
    if let Some(run) = e.run.as_mut().filter(|r| r.running()) {
        if !run.stopping {
            run.stopping = true;
            *cx.notice =
                Some("stopping: the trial in flight ends; finished ones are stored".into());
            return vec![Effect::Cancel(run.id)];
        }
        return vec![];
    }
    e.focus = Focus::Suites;
    vec![]
}

fn move_cursor(e: &mut EvalState, delta: isize) {
    let (cursor, len) = match e.focus {
        Focus::Suites => (&mut e.cursor, e.suites.len()),
        Focus::Results => {
            let len = e.shown().len();
            (&mut e.result_cursor, len)
        }
    };
    *cursor = (*cursor as isize)
        .saturating_add(delta)
        .clamp(0, len.saturating_sub(1) as isize) as usize;
}

/// Runs the selected suite on the engine's model.
fn start(e: &mut EvalState, cx: &mut Cx) -> Vec<Effect> {
    if e.running() {
        return cx.refuse("an evaluation is running: Esc stops it");
    }
    if cx.other_busy {
        return cx.refuse("another pane's request is running: wait for it or stop it there");
    }
    if let Some(why) = cx.model.refusal() {
        return cx.refuse(why);
    }
    let Some(entry) = e.suites.get(e.cursor) else {
        return cx.refuse(match &e.list_error {
            Some(why) => why.clone(),
            None => format!(
                "no suites (*.yaml) in {}: r reads the folder again",
                e.suites_dir.display()
            ),
        });
    };
    let info = match &entry.loaded {
        Ok(info) => info,
        Err(why) => return cx.refuse(why.clone()),
    };
    let id = cx.take_id();
    let request = EvalRequest {
        id,
        suite: entry.path.clone(),
        overrides: Overrides {
            repeat: None,
            limit: e.limit(),
        },
        out: e.out_root.join(&info.name),
        model: e.model_spec.clone(),
        model_file: e.model_file.clone(),
        formats: Format::ALL.to_vec(),
    };
    e.run = Some(EvalRun::new(id, entry.path.clone()));
    e.result_cursor = 0;
    e.detail = None;
    e.focus = Focus::Results;
    *cx.notice = None;
    vec![Effect::Eval(request)]
}

/// The suites folder as read: the list, the cursor kept where it fits.
pub(crate) fn suites_listed(e: &mut EvalState, listed: Result<Vec<SuiteEntry>, String>) {
    e.listed = true;
    match listed {
        Ok(suites) => {
            e.suites = suites;
            e.list_error = None;
        }
        Err(why) => {
            e.suites.clear();
            e.list_error = Some(why);
        }
    }
    e.cursor = e.cursor.min(e.suites.len().saturating_sub(1));
}

/// An event of this pane's run.
pub(crate) fn on_engine(e: &mut EvalState, notice: &mut Option<String>, event: Event) {
    let Some(run) = e.run.as_mut() else {
        return;
    };
    match event {
        Event::EvalPlanned { id, plan } if id == run.id => {
            run.records = vec![None; plan.trials];
            run.plan = Some(plan);
        }
        Event::EvalTrial {
            id,
            progress,
            index,
            record,
            stored,
        } if id == run.id => {
            let selected = e.shown().get(e.result_cursor).copied();
            let Some(run) = e.run.as_mut() else {
                return;
            };
            if !stored {
                run.ran += 1;
                run.ran_ms += record.ms;
            }
            if run.records.len() <= index {
                run.records.resize(index + 1, None);
            }
            run.records[index] = Some(*record);
            run.progress = Some(progress);
            // Stored trials come in a burst: the table is made once they
            // are all in (at the first trial run now, or at the end).
            if !stored || progress.done == progress.total {
                run.summary = Summary::of(run.records.iter().flatten());
            }
            // The selected trial stays selected as others fill in before it.
            if let Some(i) = selected {
                e.result_cursor = e.shown().iter().position(|&j| j == i).unwrap_or(0);
            }
        }
        Event::EvalFinished { id, end } if id == run.id => {
            let name = run.plan.as_ref().map_or("the suite", |p| p.suite.as_str());
            let total = run.records.len();
            let done = end.ran + end.reused;
            let passed = run.records.iter().flatten().filter(|r| r.passed).count();
            let folder = end
                .written
                .first()
                .and_then(|p| p.parent())
                .map_or_else(String::new, |d| format!("; reports in {}", d.display()));
            *notice = Some(if end.interrupted {
                format!(
                    "stopped: {done} of {total} trials done and stored; Enter on {name} in the suites (Tab) runs the rest{folder}"
                )
            } else {
                let rate = if done > 0 {
                    100.0 * passed as f64 / done as f64
                } else {
                    0.0
                };
                format!(
                    "{name}: {done} trials ({} run now, {} from the store), {rate:.1}% passed{folder}",
                    end.ran, end.reused
                )
            });
            run.summary = end.summary.clone();
            run.end = Some(*end);
        }
        // Stopped before the engine began it: nothing ran.
        Event::Failed {
            id,
            error: RequestError::Cancelled,
        } if id == run.id => {
            *notice = Some("stopped before the first trial".into());
            run.error = Some("stopped before the first trial".into());
        }
        Event::Failed { id, error } if id == run.id => {
            *notice = Some(format!("evaluation failed: {error}"));
            run.error = Some(error.to_string());
        }
        _ => {}
    }
}

/// Reads the suites folder: every `*.yaml`, by name, each loaded to show
/// its name and size, or why it does not load.
pub fn list_suites(dir: &std::path::Path) -> Result<Vec<SuiteEntry>, String> {
    use super::state::SuiteInfo;
    use promptlab_eval::suite::Suite;
    let listing = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: cannot read the folder: {e} (`promptlab --suites DIR` lists another)",
            dir.display()
        )
    })?;
    let mut paths: Vec<_> = listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml") && p.is_file())
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| {
            let loaded = Suite::load(&path, &Overrides::default())
                .map(|s| SuiteInfo {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    cases: s.cases.len(),
                    arms: s.variants.len() * s.methods.len(),
                })
                .map_err(|e| {
                    // The list is under the folder's name: the file's is enough.
                    let text = e.to_string();
                    let text = text
                        .strip_prefix(&format!("{}/", dir.display()))
                        .unwrap_or(&text);
                    crate::text::one_line(text)
                });
            SuiteEntry { path, loaded }
        })
        .collect())
}
