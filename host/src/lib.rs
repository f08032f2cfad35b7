#![doc = include_str!("../../README.md")]

#[cfg(feature = "api")]
pub mod api;
pub mod audit;
pub mod authz;
#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
pub mod core;
pub mod model;
mod request;
pub mod service;
pub mod store;

pub use authz::Principal;
pub use service::{Caller, Config, Kms, KmsError, KmsResult, OpenError, TlsDetails};
