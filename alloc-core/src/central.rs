//! Tier 2: per size class, the transfer cache (whole batches moved in O(1)) over the central
//! free list (spans of the class with free blocks). One small lock per class.

use core::ptr;

use crate::size_class::{CLASS_BATCH, class_size};
use crate::span::{Span, SpanList};

/// Most batches a transfer cache can hold.
pub(crate) const MAX_TRANSFER_BATCHES: usize = 64;

/// Batches a class may hold in its transfer cache: about 1 MiB worth, between 4 and 64.
pub(crate) fn transfer_capacity(cls: usize) -> usize {
    let batch_bytes = CLASS_BATCH[cls] as usize * class_size(cls);
    ((1 << 20) / batch_bytes).clamp(4, MAX_TRANSFER_BATCHES)
}

/// The per-class state behind its lock.
pub(crate) struct Central {
    /// Heads of full batches (`CLASS_BATCH[cls]` blocks, null-terminated lists).
    pub(crate) batches: [*mut u8; MAX_TRANSFER_BATCHES],
    pub(crate) num_batches: usize,
    /// Spans of the class with a free or never-carved block.
    pub(crate) nonempty: SpanList,
    /// Spans of the class (all, in the nonempty list or not).
    pub(crate) spans: usize,
    /// Blocks out of spans (in thread caches, batches, or with the application).
    pub(crate) allocated: usize,
    pub(crate) batch_hits: u64,
    pub(crate) batch_stores: u64,
    pub(crate) span_refills: u64,
    pub(crate) span_returns: u64,
}

// SAFETY: the raw pointers are only used under the class lock.
unsafe impl Send for Central {}

impl Central {
    pub(crate) const fn new() -> Self {
        Central {
            batches: [ptr::null_mut(); MAX_TRANSFER_BATCHES],
            num_batches: 0,
            nonempty: SpanList::new(),
            spans: 0,
            allocated: 0,
            batch_hits: 0,
            batch_stores: 0,
            span_refills: 0,
            span_returns: 0,
        }
    }

    /// Takes one block from `span` (free list first, then carving); null when exhausted.
    #[inline]
    pub(crate) fn take_from_span(span: &mut Span, size: usize) -> *mut u8 {
        let obj = span.free_list;
        if !obj.is_null() {
            // SAFETY: blocks on a span's free list are free and linked through their first word.
            span.free_list = unsafe { obj.cast::<*mut u8>().read() };
        } else if span.carved < span.capacity {
            // SAFETY: carved < capacity keeps the block inside the span.
            let p = unsafe { span.base().add(span.carved as usize * size) };
            span.carved += 1;
            return {
                span.allocated += 1;
                p
            };
        } else {
            return ptr::null_mut();
        }
        span.allocated += 1;
        obj
    }

    pub(crate) fn is_exhausted(span: &Span) -> bool {
        span.free_list.is_null() && span.carved == span.capacity
    }
}
