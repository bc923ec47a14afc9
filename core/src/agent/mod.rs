//! The agent: `Agent`, `Thread`, the turn loop.

pub mod host;
