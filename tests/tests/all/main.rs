//! keyward's integration tests: one binary, one module per area, through
//! public interfaces only (the library API and the CLI).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration tests fail by panicking"
)]
#![allow(
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test that indexes out of range fails, which is what it should do"
)]

mod asymmetric;
mod audit;
mod authz;
mod cli;
mod crypto;
mod custody;
mod faults;
mod http;
mod imports;
mod keys;
mod lifecycle;
mod support;
mod validation;
