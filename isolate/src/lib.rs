//! isolate: Linux containers through a typed builder.
#![no_std]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod cgroup;
pub mod error;
mod fsutil;

pub use error::{ConfigError, Error, Stage};
