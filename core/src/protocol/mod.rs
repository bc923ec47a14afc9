//! The one protocol every front speaks: options, thread events and items, the
//! model-facing history items and tool specs. Types only, no logic. The JSON
//! Schema of the public part is exported by [`schema::protocol_schema`] and
//! committed as `core/protocol.schema.json`; a test fails when they drift.

pub mod events;
pub mod host;
pub mod items;
pub mod models;
pub mod options;
pub mod schema;

pub use events::*;
pub use host::*;
pub use items::*;
pub use models::*;
pub use options::*;
