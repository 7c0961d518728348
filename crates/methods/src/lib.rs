//! The survey's prompting methods as data (`surveys/methods/*.yaml`) and the
//! runner of their primitives over a [`promptlab_backend::Backend`], with
//! the code sandbox and the dataset-item loader. Every failure is a typed
//! error: [`MethodError`] for a run, `SpecError`, `ItemError`,
//! `SelectError` and `SandboxError` in their modules.

pub mod catalog;
pub mod error;
pub mod extract;
pub mod item;
mod lmulator;
mod logical;
pub mod runner;
pub mod sandbox;
mod search;
pub mod spec;
mod table;
pub(crate) mod tools;
pub mod yaml_depth;

pub use error::MethodError;
