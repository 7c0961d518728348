//! promptlab's command-line front-ends: the layered configuration file and
//! the headless commands, wired over the workspace's crates (`infer`, `hub`,
//! `methods`, `engine`, `tui`).

pub mod cli;
pub mod config;
