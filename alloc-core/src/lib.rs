//! `alloc-core`: a tcmalloc-style thread-caching allocator on raw `mmap`, usable as the
//! `#[global_allocator]` of any Rust program.
//!
//! Three tiers (see `INTERNALS.md`):
//! 1. [`ThreadCache`]: per size class free lists, no lock, reached through a [`TlsHook`];
//! 2. the transfer cache: per size class, batches of (by default) 32 blocks move under a small
//!    lock, over the central free list of the class's spans;
//! 3. the page heap: spans of 4 KiB pages from a [`PageSource`] (the real one is
//!    [`MmapSource`]), a radix page map, coalescing, release to the OS after idling.
//!
//! With the `std` feature, `GlobalHeap` is a ready `#[global_allocator]`:
//!
//! ```
//! # #[cfg(feature = "std")] mod with_std {
//! #[global_allocator]
//! static A: alloc_core::GlobalHeap = alloc_core::GlobalHeap::new();
//! # }
//! ```
//!
//! Without it, build a [`Heap`] over a [`PageSource`] and implement [`TlsHook`] for your own
//! thread-local storage.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that they cannot fall out of date
/// (they use `GlobalHeap`, hence `std`).
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(any(feature = "std", test))]
extern crate std;

mod central;
mod heap;
mod lock;
mod page_heap;
mod page_map;
pub mod size_class;
mod source;
mod span;
mod stats;
mod thread_cache;

#[cfg(feature = "std")]
mod global;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use global::GlobalHeap;
pub use heap::{DEFAULT_RELEASE_DELAY_NS, Heap, TlsHook};
pub use source::{MmapSource, PageSource};
pub use stats::Stats;
pub use thread_cache::ThreadCache;
