//! Running commands (being written).
