//! The survey's prompting methods as data (`surveys/methods/*.yaml`) and the
//! runner of their primitives over a [`promptlab_backend::Backend`].

pub mod catalog;
pub mod error;
pub mod extract;
pub mod item;
pub mod runner;
pub mod sandbox;
pub mod spec;
pub mod tools;

pub use error::MethodError;
