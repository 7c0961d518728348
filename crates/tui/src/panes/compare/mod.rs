//! The compare pane: one question through several prompting methods, a
//! column per method. `state` holds the picker, the fields and focus,
//! `run` the comparison as it streams, `update` applies keys and engine
//! events, `view`, `column` and `detail` draw it.

mod column;
mod detail;
mod export;
mod run;
mod state;
pub(crate) mod update;
pub(crate) mod view;

pub(crate) use detail::render as render_detail;
pub use run::{
    tally_text, CallToInspect, CallView, Column, ColumnStatus, CompareRun, Entry, StepView,
};
pub use state::{CompareFocus, CompareState, SelectError};
