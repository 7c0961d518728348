//! Batch evaluation and A/B tests of prompt files ("suites"): a suite names
//! prompt variants, methods, data and assertions ([`suite`]); each item ×
//! variant × method × sample runs once and lands in a durable result store
//! ([`store`]) as a [`record::Record`]; the records give per-arm accuracy
//! with Wilson intervals and paired comparisons between arms
//! ([`stats`], [`summary`]), written as JSONL, CSV, JUnit XML and a
//! self-contained HTML page ([`report`]).

pub mod assertion;
pub mod data;
pub mod locate;
pub mod record;
pub mod report;
pub mod run;
pub mod stats;
pub mod store;
pub mod suite;
pub mod summary;
