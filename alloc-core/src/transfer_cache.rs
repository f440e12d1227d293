//! Tier 2: per size class, the transfer cache (whole batches moved in O(1)) over the central
//! free list (spans of the class with free blocks). One small lock per class, held by the
//! heap around every `TransferCache` call here; [`SpanChains`] is built before it is taken.
//!
//! Invariants (INTERNALS.md, "TransferCache"): batch `i < num_batches` is the slice
//! `slots[i * batch..][..batch]` of the class's part of the heap's transfer slot array, each
//! slot a free block of the class, and
//! `num_batches <= transfer_capacity(cls)`; `nonempty` holds exactly the class's spans with a
//! free or uncarved block (`in_nonempty` mirrors membership); a span with no block allocated
//! is never kept; `allocated` counts the blocks out of the class's spans (batches included).

use core::mem::MaybeUninit;
use core::ptr;

use crate::check::{Checked, ensure};
use crate::page_map::PageMap;
use crate::size_class::{MAX_BATCH, NUM_CLASSES, PAGE_SHIFT, SizeClass, build_batch, build_sizes};
use crate::span::{Span, SpanList, SpanState};
use crate::thread_cache::prefetch;

/// Most batches a transfer cache can hold.
pub(crate) const MAX_TRANSFER_BATCHES: usize = 64;

/// Batches a class may hold in its transfer cache: about 1 MiB worth, between 4 and 64.
const fn capacity_of(size: u32, batch: u8) -> usize {
    let batch_bytes = batch as usize * size as usize;
    let n = (1 << 20) / batch_bytes;
    if n < 4 {
        4
    } else if n > MAX_TRANSFER_BATCHES {
        MAX_TRANSFER_BATCHES
    } else {
        n
    }
}

/// Where each class's batch slots start in the heap's transfer slot array (in pointers), and
/// (at index `NUM_CLASSES`) the array's length: class after class, `capacity * batch` each.
const TRANSFER_OFF: [usize; NUM_CLASSES + 1] = {
    let sizes = build_sizes();
    let batch = build_batch();
    let mut t = [0usize; NUM_CLASSES + 1];
    let mut off = 0;
    let mut c = 1;
    while c < NUM_CLASSES {
        t[c] = off;
        off += capacity_of(sizes[c], batch[c]) * batch[c] as usize;
        c += 1;
    }
    t[NUM_CLASSES] = off;
    t
};

/// Bytes of the heap's transfer slot array (every class's batches as pointers), mapped on
/// first use, whole pages.
pub(crate) const TRANSFER_SLOTS_BYTES: usize =
    (TRANSFER_OFF[NUM_CLASSES] * size_of::<*mut u8>()).next_multiple_of(4096);

/// The first of class `cls`'s batch slots in the transfer slot array at `slots` (null: none).
pub(crate) fn class_slots(slots: *mut *mut u8, cls: SizeClass) -> *mut *mut u8 {
    if slots.is_null() {
        return slots;
    }
    // SAFETY: the class's range lies inside the array (TRANSFER_OFF tiles it).
    unsafe { slots.add(TRANSFER_OFF[cls.index()]) }
}

/// Batches a class may hold in its transfer cache: about 1 MiB worth, between 4 and 64.
pub(crate) fn transfer_capacity(cls: SizeClass) -> usize {
    capacity_of(cls.size() as u32, cls.batch() as u8)
}

/// The per-class state behind its lock. Its batches are slices of pointers in the heap's
/// transfer slot array (`slots` arguments: the class's part of it, null while the array is
/// not mapped, when no batch is kept): batch `i` is `slots[i * batch..][..batch]`.
pub(crate) struct TransferCache {
    /// Full batches held.
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
        slots: *mut *mut u8,
        out: &mut [*mut u8],
        mut new_span: impl FnMut() -> *mut Span,
    ) -> u32 {
        let want = out.len() as u32;
        let batch = cls.batch() as usize;
        if self.num_batches > 0 && want as usize >= batch {
            self.num_batches -= 1;
            self.batch_hits += 1;
            // SAFETY: batches exist only where the slot array is mapped; batch
            // `num_batches` lies inside the class's part of it (num_batches < capacity).
            let src = unsafe { slots.add(self.num_batches * batch) };
            // SAFETY: src holds `batch` pointers and out at least as many; distinct memory.
            unsafe { ptr::copy_nonoverlapping(src, out.as_mut_ptr(), batch) };
            return batch as u32;
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

    /// Keeps `blocks` (free blocks of class `cls`, exactly one batch) as a batch when there
    /// is room; returns false (keeping nothing) otherwise.
    pub(crate) fn store_batch(
        &mut self,
        cls: SizeClass,
        slots: *mut *mut u8,
        blocks: &[*mut u8],
    ) -> bool {
        let n = blocks.len();
        if n != cls.batch() as usize
            || slots.is_null()
            || self.num_batches >= transfer_capacity(cls)
        {
            return false;
        }
        // SAFETY: batch `num_batches` (below the capacity) lies inside the class's part of the
        // mapped slot array; blocks holds n pointers; distinct memory.
        unsafe { ptr::copy_nonoverlapping(blocks.as_ptr(), slots.add(self.num_batches * n), n) };
        self.num_batches += 1;
        self.batch_stores += 1;
        true
    }

    /// Returns the blocks of `chains` (linked per span, outside the lock, by
    /// [`SpanChains::build`]) to their spans: each span's chain is spliced onto its free list
    /// and its count updated once. A span left with no block allocated leaves the class and
    /// goes to `release_span` (the page heap) at once.
    pub(crate) fn insert_chains(
        &mut self,
        cls: SizeClass,
        chains: &SpanChains,
        mut release_span: impl FnMut(*mut Span),
    ) {
        let mut freed = 0usize;
        for c in chains.chains() {
            let span = c.span;
            // SAFETY: a chain's span is the live class span its blocks' pages map to; it
            // stays in use while they are allocated (they count in `allocated`), and the
            // class lock is held.
            let s = unsafe { &mut *span };
            debug_assert_eq!(s.class, Some(cls));
            // SAFETY: the chain holds `count` free blocks of this span, linked from head to
            // tail (whose link is written here).
            unsafe { s.put_chain(c.head, c.tail, c.count) };
            freed += c.count as usize;
            if s.allocated == 0 {
                if s.in_nonempty {
                    // SAFETY: the span is on the nonempty list.
                    unsafe { self.nonempty.remove(span) };
                    s.in_nonempty = false;
                }
                self.spans -= 1;
                self.span_returns += 1;
                release_span(span);
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
    pub(crate) fn check(
        &self,
        cls: SizeClass,
        slots: *mut *mut u8,
        map: &PageMap,
    ) -> Checked<usize> {
        let c = cls.index();
        let cap = transfer_capacity(cls);
        ensure!(
            self.num_batches <= cap,
            "class {c}: {} batches, capacity {cap}",
            self.num_batches
        );
        ensure!(
            self.num_batches == 0 || !slots.is_null(),
            "class {c}: {} batches without a slot array",
            self.num_batches
        );
        let blocks = self.num_batches * cls.batch() as usize;
        for i in 0..blocks {
            // SAFETY: the first `blocks` slots of the class's part of the array hold batches.
            let obj = unsafe { slots.add(i).read() };
            ensure!(
                !obj.is_null(),
                "class {c}: batch {} has an empty slot",
                i / cls.batch() as usize
            );
            check_block(map, cls, obj)?;
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

/// One run of a [`SpanChains`]: blocks of one span linked through their first words.
#[derive(Clone, Copy)]
struct Chain {
    span: *mut Span,
    /// The block linked last (the chain's first) and the first linked (its last, whose
    /// link [`Span::put_chain`] writes).
    head: *mut u8,
    tail: *mut u8,
    count: u32,
}

/// Free blocks of one class linked into chains, one per run of blocks of the same span, built
/// with no lock held: the writes into the (often cold) blocks and the page-map lookups happen
/// before the class lock is taken, which then only splices each chain onto its span's free
/// list in one step ([`TransferCache::insert_chains`]). Until #20 every block went back alone
/// under the lock: a page-map lookup, a span record update and a cache miss on the block
/// each, while other threads freeing or refilling the class waited.
///
/// A block in the same page as the one before needs no lookup; one in another page of the
/// same span extends the run. Runs are not merged across a batch: blocks freed together mostly
/// come from one span (carved together), and when they do not (a collection emptied in random
/// order) a table finding each block's chain cost more instructions than it saved.
pub(crate) struct SpanChains {
    len: usize,
    /// The first `len` are initialised (zeroing them all cost more than the grouping saved).
    chains: [MaybeUninit<Chain>; MAX_BATCH],
}

impl SpanChains {
    /// No chains (built in place by [`build`](Self::build): returned by value, the chains were
    /// copied once per batch).
    pub(crate) const fn new() -> Self {
        SpanChains {
            len: 0,
            chains: [const { MaybeUninit::uninit() }; MAX_BATCH],
        }
    }

    /// The chains, one per run.
    fn chains(&self) -> impl Iterator<Item = &Chain> {
        self.chains[..self.len].iter().map(|c| {
            // SAFETY: chains below `len` are initialised.
            unsafe { c.assume_init_ref() }
        })
    }

    /// Replaces the chains with `blocks` (at most [`MAX_BATCH`] free blocks of one class of
    /// the heap whose page map is `map`, owned by the caller), linked in runs by span.
    ///
    /// # Safety
    /// Every block is a block of a live class span of this heap, handed out and no longer
    /// used; `blocks.len() <= MAX_BATCH`.
    pub(crate) unsafe fn build(&mut self, blocks: &[*mut u8], map: &PageMap) {
        debug_assert!(blocks.len() <= MAX_BATCH);
        self.len = 0;
        let mut page = usize::MAX;
        let mut chain: *mut Chain = ptr::null_mut();
        for &obj in blocks {
            let p = obj as usize >> PAGE_SHIFT;
            if p != page {
                let span = map.get(p);
                debug_assert!(!span.is_null());
                if span.is_null() {
                    // Not ours: leaking beats corrupting.
                    continue;
                }
                page = p;
                // SAFETY: `chain`, when not null, is the last initialised chain.
                if chain.is_null() || unsafe { (*chain).span } != span {
                    // The splice under the class lock updates the record: fetch it now.
                    prefetch(span.cast());
                    debug_assert!(self.len < MAX_BATCH);
                    // SAFETY: a chain holds at least one block and there are at most
                    // MAX_BATCH blocks (caller's contract), so `len < MAX_BATCH` here.
                    let slot = unsafe { self.chains.get_unchecked_mut(self.len) };
                    chain = slot.write(Chain {
                        span,
                        head: ptr::null_mut(),
                        tail: obj,
                        count: 0,
                    });
                    self.len += 1;
                }
            }
            // SAFETY: `chain` is the current (initialised) chain; obj is a free block owned by
            // the caller, its first word free: it joins the front of the chain.
            unsafe {
                obj.cast::<*mut u8>().write((*chain).head);
                (*chain).head = obj;
                (*chain).count += 1;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_slots_tile_one_array_of_about_600_kib() {
        for cls in SizeClass::all() {
            let c = cls.index();
            let room = transfer_capacity(cls) * cls.batch() as usize;
            assert_eq!(TRANSFER_OFF[c] + room, TRANSFER_OFF[c + 1], "class {c}");
            assert!((4..=MAX_TRANSFER_BATCHES).contains(&transfer_capacity(cls)));
        }
        assert_eq!(TRANSFER_OFF[NUM_CLASSES], 78_449);
        assert_eq!(
            TRANSFER_SLOTS_BYTES,
            (78_449usize * 8).next_multiple_of(4096)
        );
    }
}
