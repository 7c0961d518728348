//! The eval pane: runs a suite (prompt file) from the suites folder on the
//! loaded model with live progress, shows the A/B table as `promptlab
//! eval` prints it (filling in trial by trial), and drills down into any
//! trial's calls and verdicts. Runs share the result store and report
//! folder with `promptlab eval`, so either resumes the other's work.

pub mod state;
pub mod update;
pub mod view;

pub use state::{EvalState, Filter, Focus, SuiteEntry, SuiteInfo};
