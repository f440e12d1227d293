//! `reactor`: the building blocks of an event-driven network server, `no_std` and without libc.
//!
//! - [`http`]: an incremental, strict, zero-copy HTTP/1.1 request parser (RFC 9112) with a
//!   chunked body decoder. It is a pure state machine: no allocation, no I/O, no syscalls.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod http;
