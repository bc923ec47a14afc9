//! codeloop-core: the language-neutral heart of codeloop — the agent loop,
//! model providers, built-in tools and sandbox policy. Fronts (the CLI, the
//! Python, Node and Go bindings) only translate to and from these types.

pub mod agent;
pub mod config;
pub mod error;
pub mod mcp;
pub mod model;
pub mod net;
pub mod protocol;
pub mod runtime;
pub mod sandbox;
pub mod session;
pub mod telemetry;
pub mod tools;

pub use error::{Error, Result};

pub use agent::{
    Agent, EventStream, HeadlessHost, Host, Input, RunCollector, RunInterrupt, RunReader,
    RunResult, Thread, UserInput,
};
pub use protocol::{AgentOptions, RunOptions, ThreadEvent, ThreadItem};
