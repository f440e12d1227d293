//! Tier 2: per size class, the transfer cache (whole batches moved in O(1)) over the central
//! free list (spans of the class with free blocks). One small lock per class, held by the
//! heap around every call here.
//!
//! Invariants (INTERNALS.md, "TransferCache"): `batches[..num_batches]` each head a
//! null-terminated list of exactly `cls.batch()` free blocks of the class, and
//! `num_batches <= transfer_capacity(cls)`; `nonempty` holds exactly the class's spans with a
//! free or uncarved block (`in_nonempty` mirrors membership); a span with no block allocated
//! is never kept; `allocated` counts the blocks out of the class's spans (batches included).

use core::ptr;

use crate::check::{Checked, ensure};
use crate::page_map::PageMap;
use crate::size_class::{PAGE_SHIFT, SizeClass};
use crate::span::{Span, SpanList, SpanState};

/// Most batches a transfer cache can hold.
pub(crate) const MAX_TRANSFER_BATCHES: usize = 64;

/// Batches a class may hold in its transfer cache: about 1 MiB worth, between 4 and 64.
pub(crate) fn transfer_capacity(cls: SizeClass) -> usize {
    let batch_bytes = cls.batch() as usize * cls.size();
    ((1 << 20) / batch_bytes).clamp(4, MAX_TRANSFER_BATCHES)
}

/// The per-class state behind its lock.
pub(crate) struct TransferCache {
    /// Heads of full batches (`cls.batch()` blocks, null-terminated lists).
    batches: [*mut u8; MAX_TRANSFER_BATCHES],
    num_batches: usize,
    /// Spans of the class with a free or never-carved block.
    nonempty: SpanList,
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
unsafe impl Send for TransferCache {}

impl TransferCache {
    pub(crate) const fn new() -> Self {
        TransferCache {
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

    /// Blocks held as whole batches.
    pub(crate) fn blocks_in_batches(&self, cls: SizeClass) -> usize {
        self.num_batches * cls.batch() as usize
    }

    /// Takes up to `out.len()` blocks of class `cls` into `out` (a whole batch when the cache
    /// has one and `out` holds a batch), carving spans of the nonempty list and new ones from
    /// `new_span` (a fresh in-use span of the class, every page mapped to it; null when out of
    /// memory). Returns how many it wrote; 0 when out of memory. Carving writes nothing into
    /// the blocks.
    pub(crate) fn remove_range(
        &mut self,
        cls: SizeClass,
        out: &mut [*mut u8],
        mut new_span: impl FnMut() -> *mut Span,
    ) -> u32 {
        let want = out.len() as u32;
        if self.num_batches > 0 && want >= cls.batch() {
            self.num_batches -= 1;
            self.batch_hits += 1;
            let mut obj = self.batches[self.num_batches];
            for slot in &mut out[..cls.batch() as usize] {
                *slot = obj;
                // SAFETY: a batch is a null-terminated list of exactly `batch()` free blocks.
                obj = unsafe { obj.cast::<*mut u8>().read() };
            }
            debug_assert!(obj.is_null());
            return cls.batch();
        }
        self.span_refills += 1;
        let size = cls.size();
        let mut count = 0u32;
        while count < want {
            let mut span = self.nonempty.first();
            if span.is_null() {
                span = new_span();
                if span.is_null() {
                    break;
                }
                // SAFETY: a fresh span of the class, on no list.
                unsafe {
                    debug_assert_eq!((*span).class, Some(cls));
                    (*span).in_nonempty = true;
                    self.nonempty.push_front(span);
                }
                self.spans += 1;
            }
            // SAFETY: spans on the nonempty list are live spans of this class.
            let s = unsafe { &mut *span };
            while count < want {
                let obj = s.take_block(size);
                if obj.is_null() {
                    break;
                }
                out[count as usize] = obj;
                count += 1;
            }
            if s.is_exhausted() {
                // SAFETY: the span is on the nonempty list.
                unsafe { self.nonempty.remove(span) };
                s.in_nonempty = false;
            }
        }
        self.allocated += count as usize;
        count
    }

    /// Takes `blocks` (free blocks of class `cls`): a whole batch is linked and kept while
    /// there is room, anything else goes back to its span (found through `map`); a span
    /// left with no block allocated goes to `release_span` (the page heap) at once.
    pub(crate) fn insert_range(
        &mut self,
        cls: SizeClass,
        blocks: &[*mut u8],
        map: &PageMap,
        mut release_span: impl FnMut(*mut Span),
    ) {
        let n = blocks.len();
        if n == 0 {
            return;
        }
        if n == cls.batch() as usize && self.num_batches < transfer_capacity(cls) {
            let mut head: *mut u8 = ptr::null_mut();
            for &obj in blocks.iter().rev() {
                // SAFETY: obj is a free block of at least 8 bytes; the batch links through it.
                unsafe { obj.cast::<*mut u8>().write(head) };
                head = obj;
            }
            let i = self.num_batches;
            self.batches[i] = head;
            self.num_batches += 1;
            self.batch_stores += 1;
            return;
        }
        let mut freed = 0usize;
        // The span of the previous block and its address range: blocks freed together mostly
        // come from one span (they were carved together), so most need no page-map lookup.
        let mut span: *mut Span = ptr::null_mut();
        let (mut lo, mut hi) = (0usize, 0usize);
        for &obj in blocks {
            let addr = obj as usize;
            if addr.wrapping_sub(lo) >= hi - lo {
                span = map.get(addr >> PAGE_SHIFT);
                debug_assert!(!span.is_null());
                if span.is_null() {
                    // Not ours: leaking beats corrupting.
                    (lo, hi) = (0, 0);
                    continue;
                }
                // SAFETY: a block of a live class span maps to that span's record.
                (lo, hi) = unsafe {
                    (
                        (*span).base() as usize,
                        (*span).base() as usize + (*span).bytes(),
                    )
                };
            }
            // SAFETY: obj lies in `span`, the live class span its page maps to.
            let s = unsafe { &mut *span };
            debug_assert_eq!(s.class, Some(cls));
            // SAFETY: obj is a free block of this span.
            unsafe { s.put_block(obj) };
            freed += 1;
            if s.allocated == 0 {
                if s.in_nonempty {
                    // SAFETY: the span is on the nonempty list.
                    unsafe { self.nonempty.remove(span) };
                    s.in_nonempty = false;
                }
                self.spans -= 1;
                self.span_returns += 1;
                release_span(span);
                // The record may be reused or merged: look the next block up afresh.
                (lo, hi) = (0, 0);
            } else if !s.in_nonempty {
                // SAFETY: the span is live and on no list.
                unsafe { self.nonempty.push_front(span) };
                s.in_nonempty = true;
            }
        }
        debug_assert!(self.allocated >= freed);
        self.allocated -= freed;
    }

    /// Checks the invariants of the class's transfer cache and central free list (see the
    /// module documentation) and of every span reached from them. Returns the number of
    /// blocks in batches.
    pub(crate) fn check(&self, cls: SizeClass, map: &PageMap) -> Checked<usize> {
        let c = cls.index();
        let cap = transfer_capacity(cls);
        ensure!(
            self.num_batches <= cap,
            "class {c}: {} batches, capacity {cap}",
            self.num_batches
        );
        let mut blocks = 0;
        for (b, &head) in self.batches[..self.num_batches].iter().enumerate() {
            let mut obj = head;
            let mut n = 0u32;
            while !obj.is_null() {
                ensure!(
                    n < cls.batch(),
                    "class {c}: batch {b} longer than {}",
                    cls.batch()
                );
                check_block(map, cls, obj)?;
                // SAFETY: a block of a batch is free and linked through its first word.
                obj = unsafe { obj.cast::<*mut u8>().read() };
                n += 1;
            }
            ensure!(
                n == cls.batch(),
                "class {c}: batch {b} holds {n} blocks, not {}",
                cls.batch()
            );
            blocks += n as usize;
        }
        ensure!(
            self.allocated >= blocks,
            "class {c}: {} blocks allocated from spans, fewer than the {blocks} in batches",
            self.allocated
        );
        ensure!(
            self.nonempty.len <= self.spans,
            "class {c}: {} nonempty spans, {} spans",
            self.nonempty.len,
            self.spans
        );
        let mut allocated = 0usize;
        self.nonempty
            .check(&format_args!("class {c} nonempty list"), |span, s| {
                ensure!(
                    s.in_nonempty,
                    "class {c}: a nonempty span without in_nonempty"
                );
                ensure!(
                    !s.is_exhausted(),
                    "class {c}: an exhausted span on the nonempty list"
                );
                check_class_span(map, cls, span, s)?;
                allocated += s.allocated as usize;
                Ok(())
            })?;
        ensure!(
            allocated <= self.allocated,
            "class {c}: nonempty spans hand out {allocated} blocks, more than the {} counted",
            self.allocated
        );
        Ok(blocks)
    }
}

/// Checks a class span: in use, of class `cls`, blocks accounted (`free_list` + uncarved +
/// `allocated` == `capacity`, some block allocated), its free list inside the span on block
/// boundaries, and every page mapped to it with its class.
pub(crate) fn check_class_span(
    map: &PageMap,
    cls: SizeClass,
    span: *mut Span,
    s: &Span,
) -> Checked {
    let c = cls.index();
    let at = s.start;
    ensure!(
        s.state == SpanState::InUse,
        "class {c}: span at page {at:#x} is not in use"
    );
    ensure!(
        s.class == Some(cls),
        "class {c}: span at page {at:#x} has class {:?}",
        s.class
    );
    ensure!(
        s.capacity as usize == s.bytes() / cls.size(),
        "class {c}: span at page {at:#x} has capacity {}",
        s.capacity
    );
    ensure!(
        s.carved <= s.capacity && s.allocated <= s.carved,
        "class {c}: span at page {at:#x}: allocated {} carved {} capacity {}",
        s.allocated,
        s.carved,
        s.capacity
    );
    ensure!(
        s.allocated > 0,
        "class {c}: span at page {at:#x} kept with no block allocated"
    );
    let mut free = 0u32;
    let mut obj = s.free_list;
    while !obj.is_null() {
        ensure!(
            free < s.carved - s.allocated,
            "class {c}: span at page {at:#x}: free list longer than carved - allocated"
        );
        ensure!(
            s.is_carved_block(cls, obj),
            "class {c}: span at page {at:#x}: free block {obj:?} is not a carved block of it"
        );
        // SAFETY: blocks on a span's free list are free and linked through their first word.
        obj = unsafe { obj.cast::<*mut u8>().read() };
        free += 1;
    }
    ensure!(
        free + (s.capacity - s.carved) + s.allocated == s.capacity,
        "class {c}: span at page {at:#x}: free list {free} + uncarved {} + allocated {} != \
         capacity {}",
        s.capacity - s.carved,
        s.allocated,
        s.capacity
    );
    for page in s.start..s.start + s.pages {
        ensure!(
            map.lookup(page) == (span, Some(cls)),
            "class {c}: page {page:#x} of the span at page {at:#x} is not mapped to it"
        );
    }
    Ok(())
}

/// Checks that `obj` is a carved block of an in-use span of class `cls`.
pub(crate) fn check_block(map: &PageMap, cls: SizeClass, obj: *mut u8) -> Checked {
    let c = cls.index();
    let (span, got) = map.lookup(obj as usize >> PAGE_SHIFT);
    ensure!(!span.is_null(), "class {c}: block {obj:?} is in no span");
    ensure!(
        got == Some(cls),
        "class {c}: block {obj:?} is in a span of class {got:?}"
    );
    // SAFETY: a page mapped with a class belongs to a live class span (records are never
    // unmapped); the caller holds every lock, so its fields are stable.
    let s = unsafe { &*span };
    ensure!(
        s.state == SpanState::InUse,
        "class {c}: block {obj:?} in a free span"
    );
    ensure!(
        s.is_carved_block(cls, obj),
        "class {c}: {obj:?} is not a carved block of its span"
    );
    Ok(())
}
