//! Integration tests of codeloop-core, one binary (see tests/suite/).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
