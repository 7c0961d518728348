//! The survey's prompting methods as data (`surveys/methods/*.yaml`) and the
//! runner of their primitives over a [`backend::Backend`].

pub mod catalog;
pub mod extract;
pub mod item;
pub mod runner;
pub mod sandbox;
pub mod spec;
pub mod tools;
