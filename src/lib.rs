//! promptlab: a terminal workbench for chatting with and prompting small
//! GPT-style transformers that run locally.
//!
//! `model` is candle inference with no UI; `config` the layered YAML
//! configuration; `cli` the headless commands built on both.

pub mod cli;
pub mod config;
pub mod engine;
pub mod methods;
pub mod model;
pub mod tui;
