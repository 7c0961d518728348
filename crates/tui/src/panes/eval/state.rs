//! The eval pane's state: the suites found in the suites folder, the run
//! shown (its plan, every trial's record as it arrives, how it ended), the
//! limit and filter chosen, the selection and the drill-down.

use std::cell::Cell;
use std::path::PathBuf;

use promptlab_engine::{EvalEnd, EvalPlan, RequestId};
use promptlab_eval::record::Record;
use promptlab_eval::run::Progress;
use promptlab_eval::summary::Summary;

/// The item limits `+` and `-` step through; `None` is the file's own.
pub const LIMITS: [Option<usize>; 8] = [
    None,
    Some(1),
    Some(2),
    Some(5),
    Some(10),
    Some(20),
    Some(50),
    Some(100),
];

/// A suite file as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteEntry {
    pub path: PathBuf,
    /// Its name, description and case count; or why it does not load
    /// (the one-line error with file, line and column).
    pub loaded: Result<SuiteInfo, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteInfo {
    pub name: String,
    pub description: Option<String>,
    pub cases: usize,
    /// Variants × methods.
    pub arms: usize,
}

/// Which list the arrows move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Suites,
    Results,
}

/// Which trials the results list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Failed,
    Passed,
    Errors,
}

impl Filter {
    pub(crate) fn next(self) -> Filter {
        match self {
            Filter::All => Filter::Failed,
            Filter::Failed => Filter::Passed,
            Filter::Passed => Filter::Errors,
            Filter::Errors => Filter::All,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Failed => "failed",
            Filter::Passed => "passed",
            Filter::Errors => "errors",
        }
    }

    pub(crate) fn keeps(self, record: &Record) -> bool {
        match self {
            Filter::All => true,
            Filter::Failed => !record.passed,
            Filter::Passed => record.passed,
            Filter::Errors => record.error.is_some(),
        }
    }
}

/// A run of one suite: started, running or ended.
#[derive(Debug, Clone)]
pub struct EvalRun {
    pub(crate) id: RequestId,
    pub suite: PathBuf,
    pub plan: Option<EvalPlan>,
    /// Every trial's record by its place in the plan, as it arrives.
    pub records: Vec<Option<Record>>,
    pub progress: Option<Progress>,
    /// The summary of the records so far (recomputed as they arrive).
    pub summary: Summary,
    /// Milliseconds of the trials run now (not from the store), for the ETA.
    pub(crate) ran_ms: f64,
    pub(crate) ran: usize,
    pub end: Option<EvalEnd>,
    /// Why the run failed (the suite, the store, the model).
    pub error: Option<String>,
    /// Esc was pressed: the engine is stopping after the token in flight.
    pub stopping: bool,
}

impl EvalRun {
    pub(crate) fn new(id: RequestId, suite: PathBuf) -> EvalRun {
        EvalRun {
            id,
            suite,
            plan: None,
            records: Vec::new(),
            progress: None,
            summary: Summary::default(),
            ran_ms: 0.0,
            ran: 0,
            end: None,
            error: None,
            stopping: false,
        }
    }

    pub fn running(&self) -> bool {
        self.end.is_none() && self.error.is_none()
    }

    /// Seconds left at the pace of the trials run so far.
    pub fn eta_seconds(&self) -> Option<f64> {
        let p = self.progress?;
        (self.ran > 0 && p.done < p.total)
            .then(|| self.ran_ms / 1000.0 / self.ran as f64 * (p.total - p.done) as f64)
    }
}

pub struct EvalState {
    /// Where the suites are listed from.
    pub suites_dir: PathBuf,
    /// Where each suite's store and reports go (`<out_root>/<name>`, as
    /// `promptlab eval` writes them, so the two share finished trials).
    pub out_root: PathBuf,
    /// The model as the command line named it, and its weights file: the
    /// store's key, as `promptlab eval` makes it.
    pub model_spec: String,
    pub model_file: PathBuf,
    pub suites: Vec<SuiteEntry>,
    /// Why the folder could not be read.
    pub list_error: Option<String>,
    /// The folder has been read (the list is not just empty yet).
    pub listed: bool,
    pub cursor: usize,
    pub focus: Focus,
    pub limit: usize,
    pub filter: Filter,
    pub run: Option<EvalRun>,
    /// The selected row of the results (among those the filter keeps).
    pub result_cursor: usize,
    /// The drill-down of the selected trial is open, scrolled this far.
    pub detail: Option<u16>,
    /// How far the drill-down can scroll (the view records it).
    pub(crate) detail_room: Cell<u16>,
}

impl Default for EvalState {
    fn default() -> Self {
        EvalState {
            suites_dir: PathBuf::from("prompts"),
            out_root: PathBuf::from("eval-runs"),
            model_spec: String::new(),
            model_file: PathBuf::new(),
            suites: Vec::new(),
            list_error: None,
            listed: false,
            cursor: 0,
            focus: Focus::Suites,
            limit: 0,
            filter: Filter::All,
            run: None,
            result_cursor: 0,
            detail: None,
            detail_room: Cell::new(0),
        }
    }
}

impl EvalState {
    /// Whether a run is in flight.
    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(EvalRun::running)
    }

    /// The request to stop when the app quits.
    pub fn in_flight(&self) -> Option<RequestId> {
        self.run.as_ref().filter(|r| r.running()).map(|r| r.id)
    }

    /// Whether `id` is this pane's run.
    pub fn owns(&self, id: RequestId) -> bool {
        self.run.as_ref().is_some_and(|r| r.id == id)
    }

    /// The item limit chosen (`None`: the file's own).
    pub fn limit(&self) -> Option<usize> {
        LIMITS[self.limit.min(LIMITS.len() - 1)]
    }

    /// The plan indices of the trials the filter keeps, in plan order.
    pub fn shown(&self) -> Vec<usize> {
        let Some(run) = &self.run else {
            return Vec::new();
        };
        run.records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().filter(|r| self.filter.keeps(r)).map(|_| i))
            .collect()
    }

    /// The selected trial's record.
    pub fn selected_record(&self) -> Option<&Record> {
        let shown = self.shown();
        let i = *shown.get(self.result_cursor)?;
        self.run.as_ref()?.records.get(i)?.as_ref()
    }
}
