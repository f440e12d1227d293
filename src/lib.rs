//! The `linux-primitives` package: it owns the examples and benchmarks in `examples/`, the only
//! place where the library crates are composed. This library holds small helpers those
//! binaries share (benchmark statistics and table printing).

pub mod bench;
