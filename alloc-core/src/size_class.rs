//! The size-class table: which block size serves a request, how many pages a span of each
//! class spans, and how many objects move between tiers at once.
//!
//! Classes (bytes), 76 of them, as [`SizeClass`] indices 1..=76. A request served by a whole
//! span has no class: [`class_for`] returns `None` (index 0 is never a class, which gives
//! `Option<SizeClass>` its one-byte niche).
//!
//! | range           | step           | classes |
//! |-----------------|----------------|---------|
//! | 8 ..= 64        | 8              | 8       |
//! | 80 ..= 128      | 16             | 4       |
//! | 144 ..= 32768   | 1/8 of 2^k     | 64      |
//!
//! Worst-case internal fragmentation (block bytes not requested, over block bytes), for requests
//! of at least 8 bytes (smaller ones get the 8-byte minimum block): 43.75 % at 9 bytes (the 16-byte class), at most 18.75 % above 64 bytes (65 -> 80) and at most 11.1 %
//! above 128 bytes (2^k + 1 -> 2^k + 2^(k-3)). Each span of a class also wastes its tail, which
//! the table keeps at or under 12.5 % of the span.

use core::num::NonZeroU8;

/// log2 of the page size the heap manages.
pub(crate) const PAGE_SHIFT: usize = 12;
/// The page size the heap manages (4 KiB); spans are whole pages.
pub(crate) const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// The largest request served from size classes; larger ones get whole spans.
pub(crate) const MAX_SMALL_SIZE: usize = 32 * 1024;
/// Number of class indices, including index 0, which is no class.
pub(crate) const NUM_CLASSES: usize = 77;
/// Default and largest number of objects moved between a thread cache and the transfer cache.
pub(crate) const MAX_BATCH: usize = 32;

pub(crate) const fn build_sizes() -> [u32; NUM_CLASSES] {
    let mut s = [0u32; NUM_CLASSES];
    let mut i = 1;
    let mut size = 8;
    while size <= 64 {
        s[i] = size;
        i += 1;
        size += 8;
    }
    size = 80;
    while size <= 128 {
        s[i] = size;
        i += 1;
        size += 16;
    }
    let mut base = 128;
    while base < MAX_SMALL_SIZE as u32 {
        let step = base / 8;
        let mut k = 1;
        while k <= 8 {
            s[i] = base + k * step;
            i += 1;
            k += 1;
        }
        base *= 2;
    }
    assert!(i == NUM_CLASSES);
    s
}

/// Block size of each class (index 0: 0).
#[cfg(test)]
static CLASS_SIZE: [u32; NUM_CLASSES] = build_sizes();

const fn smallest_class_at_least(sizes: &[u32; NUM_CLASSES], size: u32) -> u8 {
    let mut c = 1;
    while c < NUM_CLASSES {
        if sizes[c] >= size {
            return c as u8;
        }
        c += 1;
    }
    0
}

/// The class of a table index found by [`smallest_class_at_least`] (never 0 for sizes up to
/// `MAX_SMALL_SIZE`: the build fails otherwise).
const fn class_at(c: u8) -> SizeClass {
    match NonZeroU8::new(c) {
        Some(c) if (c.get() as usize) < NUM_CLASSES => SizeClass(c),
        _ => panic!("no class for a size up to MAX_SMALL_SIZE"),
    }
}

const fn build_small_lookup() -> [SizeClass; 129] {
    let sizes = build_sizes();
    let mut t = [SizeClass::SMALLEST; 129];
    let mut i = 0;
    while i < 129 {
        let size = if i == 0 { 1 } else { i as u32 * 8 };
        t[i] = class_at(smallest_class_at_least(&sizes, size));
        i += 1;
    }
    t
}

/// Entries 0..=8 (sizes up to 1 KiB, served by the small table) are unused.
const fn build_large_lookup() -> [SizeClass; 257] {
    let sizes = build_sizes();
    let mut t = [SizeClass::SMALLEST; 257];
    let mut i = 9;
    while i < 257 {
        t[i] = class_at(smallest_class_at_least(&sizes, i as u32 * 128));
        i += 1;
    }
    t
}

// The fast-path tables are `const`s, not `static`s: a crate that inlines `class_for` then
// keeps its own copy next to its code and reads it PC-relative, where a `static` of this
// crate is reached through the GOT (one more dependent load per lookup) in a PIE binary.

/// Class of sizes 0..=1024 by `(size + 7) / 8` (all those classes are multiples of 8).
const SMALL_LOOKUP: [SizeClass; 129] = build_small_lookup();
/// Class of sizes 1025..=32768 by `(size + 127) / 128` (all those classes are multiples of 128).
const LARGE_LOOKUP: [SizeClass; 257] = build_large_lookup();

const fn build_align() -> [u16; NUM_CLASSES] {
    let sizes = build_sizes();
    let mut a = [0u16; NUM_CLASSES];
    let mut c = 1;
    while c < NUM_CLASSES {
        let low = 1u32 << sizes[c].trailing_zeros();
        a[c] = if low > PAGE_SIZE as u32 {
            PAGE_SIZE as u16
        } else {
            low as u16
        };
        c += 1;
    }
    a
}

/// The alignment every block of a class has: spans start on a page, blocks sit at multiples of
/// the class size, so a block is aligned to the largest power of two dividing the size (capped
/// at the page).
///
/// 256 entries (those past the classes are unused) so that indexing by a class's `u8` needs no
/// bounds check.
const CLASS_ALIGN: [u16; 256] = {
    let a = build_align();
    let mut t = [0u16; 256];
    let mut c = 0;
    while c < NUM_CLASSES {
        t[c] = a[c];
        c += 1;
    }
    t
};

/// The block size of each class as a `const` of 256 entries, for [`SizeClass::size`] (see
/// `CLASS_ALIGN`).
const CLASS_SIZE_256: [u32; 256] = {
    let a = build_sizes();
    let mut t = [0u32; 256];
    let mut c = 0;
    while c < NUM_CLASSES {
        t[c] = a[c];
        c += 1;
    }
    t
};

/// Smallest span of a class (bytes).
const SPAN_MIN: usize = 64 * 1024;
/// Largest span a class needs for 8 blocks (bytes).
const SPAN_MAX: usize = 256 * 1024;

const fn build_pages() -> [u8; NUM_CLASSES] {
    let sizes = build_sizes();
    let mut p = [0u8; NUM_CLASSES];
    let mut c = 1;
    while c < NUM_CLASSES {
        let size = sizes[c] as usize;
        // At least 64 KiB, and room for 8 blocks (up to 256 KiB): a span is the unit the
        // central list hands to and takes back from the page heap, whose lock, coalescing and
        // clock read cost about as much as carving the span, so spans of a few blocks made
        // bulk allocation and freeing pay that per handful of objects. Only the pages a span
        // actually carves become resident.
        let want = if 8 * size < SPAN_MIN {
            SPAN_MIN
        } else if 8 * size > SPAN_MAX {
            SPAN_MAX
        } else {
            8 * size
        };
        let mut pages = 1;
        loop {
            let bytes = pages * PAGE_SIZE;
            if bytes >= want && bytes % size <= bytes / 8 {
                break;
            }
            pages += 1;
        }
        assert!(pages <= 255);
        p[c] = pages as u8;
        c += 1;
    }
    p
}

/// Pages in a span carved into blocks of each class.
static CLASS_PAGES: [u8; NUM_CLASSES] = build_pages();

pub(crate) const fn build_batch() -> [u8; NUM_CLASSES] {
    let sizes = build_sizes();
    let mut b = [0u8; NUM_CLASSES];
    let mut c = 1;
    while c < NUM_CLASSES {
        let n = 64 * 1024 / sizes[c] as usize;
        b[c] = if n < 2 {
            2
        } else if n > MAX_BATCH {
            MAX_BATCH as u8
        } else {
            n as u8
        };
        c += 1;
    }
    b
}

/// Objects moved per batch between a thread cache and the transfer cache: 32 by default, fewer
/// for large classes so that a batch stays near 64 KiB.
static CLASS_BATCH: [u8; NUM_CLASSES] = build_batch();

/// Most blocks a thread cache keeps of one class: about 64 KiB of blocks, at least two
/// batches, at most 256 (a pointer each in the cache's slot array).
const fn build_cache_cap() -> [u16; 256] {
    let sizes = build_sizes();
    let batch = build_batch();
    let mut t = [0u16; 256];
    let mut c = 1;
    while c < NUM_CLASSES {
        let by_bytes = 64 * 1024 / sizes[c] as usize;
        let mut cap = if by_bytes > 256 { 256 } else { by_bytes };
        if cap < 2 * batch[c] as usize {
            cap = 2 * batch[c] as usize;
        }
        t[c] = cap as u16;
        c += 1;
    }
    t
}

/// Capacity of each class's stack in a thread cache (see `build_cache_cap`; 256 entries so
/// that indexing by a class's `u8` needs no bounds check).
const CACHE_CAP: [u16; 256] = build_cache_cap();

/// Slots between one class's stack and the next: one cache line. Without it the stacks of the
/// small classes (256 slots, 2 KiB each) started 2 KiB apart, so their tops at similar depths
/// fell into the same two sets of a 64-set L1 cache and evicted each other (`seed-pair`, random
/// sizes over 36 classes, ran about a third slower than with linked lists).
pub(crate) const CACHE_PAD: usize = 8;

/// Where each class's stack starts in a thread cache's slot array (the stacks one after the
/// other, smallest class first, `CACHE_PAD` slots apart).
const CACHE_OFF: [u16; 256] = {
    let cap = build_cache_cap();
    let mut t = [0u16; 256];
    let mut off = 0usize;
    let mut c = 1;
    while c < NUM_CLASSES {
        t[c] = off as u16;
        off += cap[c] as usize + CACHE_PAD;
        c += 1;
    }
    t
};

/// Slots of a thread cache's pointer array: every class's capacity plus the padding (8,880,
/// so a cache is about 71 KiB).
pub(crate) const CACHE_SLOTS: usize = {
    let cap = build_cache_cap();
    let mut sum = 0usize;
    let mut c = 1;
    while c < NUM_CLASSES {
        sum += cap[c] as usize + CACHE_PAD;
        c += 1;
    }
    sum
};

/// A size class: an index 1..NUM_CLASSES into the class tables.
///
/// The index is below `NUM_CLASSES` by construction (only the tables, [`SizeClass::all`] and
/// the page map, which stores classes made here, produce one), so lists indexed by a class
/// need no bounds check. A request served by a whole span has no class: it is `None` in an
/// `Option<SizeClass>`, which is one byte (the `NonZeroU8` niche) and is tested like the old
/// "class 0".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct SizeClass(NonZeroU8);

impl SizeClass {
    /// The 8-byte class (index 1).
    pub(crate) const SMALLEST: SizeClass = SizeClass(NonZeroU8::MIN);

    /// The class with index `index`, if there is one (1..NUM_CLASSES).
    #[inline]
    pub(crate) const fn new(index: usize) -> Option<SizeClass> {
        if index == 0 || index >= NUM_CLASSES {
            return None;
        }
        match NonZeroU8::new(index as u8) {
            Some(c) => Some(SizeClass(c)),
            None => None,
        }
    }

    /// The class stored as `bits` by [`bits`](Self::bits) (0 for no class).
    ///
    /// # Safety
    /// `bits` is 0 or came from [`bits`](Self::bits) (it is below `NUM_CLASSES`).
    #[inline(always)]
    pub(crate) unsafe fn from_bits(bits: u8) -> Option<SizeClass> {
        debug_assert!((bits as usize) < NUM_CLASSES);
        NonZeroU8::new(bits).map(SizeClass)
    }

    /// The class's index as a byte (never 0), for the page map.
    #[inline(always)]
    pub(crate) const fn bits(self) -> u8 {
        self.0.get()
    }

    /// The class's index (1..NUM_CLASSES) into per-class arrays.
    #[inline(always)]
    pub(crate) const fn index(self) -> usize {
        self.0.get() as usize
    }

    /// Block size of the class.
    #[inline(always)]
    pub(crate) const fn size(self) -> usize {
        // A `u8` index into a 256-entry table: no bounds check.
        CLASS_SIZE_256[self.0.get() as usize] as usize
    }

    /// The alignment every block of the class has.
    #[inline(always)]
    const fn align(self) -> usize {
        CLASS_ALIGN[self.0.get() as usize] as usize
    }

    /// Pages in a span carved into blocks of the class.
    #[inline]
    pub(crate) fn pages(self) -> usize {
        CLASS_PAGES[self.index()] as usize
    }

    /// Blocks moved per batch between a thread cache and the transfer cache.
    #[inline]
    pub(crate) fn batch(self) -> u32 {
        CLASS_BATCH[self.index()] as u32
    }

    /// Most blocks of the class a thread cache keeps (its stack's capacity, at least two
    /// batches).
    #[inline(always)]
    pub(crate) const fn cache_cap(self) -> u32 {
        CACHE_CAP[self.0.get() as usize] as u32
    }

    /// Where the class's stack starts in a thread cache's slot array.
    #[inline(always)]
    pub(crate) const fn cache_off(self) -> usize {
        CACHE_OFF[self.0.get() as usize] as usize
    }

    /// Every class, smallest first.
    pub(crate) fn all() -> impl Iterator<Item = SizeClass> {
        (1..NUM_CLASSES).filter_map(SizeClass::new)
    }
}

/// The class serving `size` bytes at `align`, or `None` when the request needs a whole span
/// (too big or aligned beyond the page).
#[inline]
pub(crate) fn class_for(size: usize, align: usize) -> Option<SizeClass> {
    let c = if size <= 1024 {
        SMALL_LOOKUP[(size + 7) >> 3]
    } else if size <= MAX_SMALL_SIZE {
        LARGE_LOOKUP[(size + 127) >> 7]
    } else {
        return None;
    };
    if align <= c.align() {
        return Some(c);
    }
    class_for_aligned(c, align)
}

#[cold]
fn class_for_aligned(c: SizeClass, align: usize) -> Option<SizeClass> {
    if align > PAGE_SIZE {
        return None;
    }
    SizeClass::all().find(|k| k.index() >= c.index() && k.align() >= align)
}

/// The bytes a block for `size` bytes at `align` spans: its class's block size, or whole
/// pages for an object that gets its own span. Saturates for absurd sizes (those are refused
/// anyway).
pub(crate) fn block_size(size: usize, align: usize) -> usize {
    match class_for(size, align) {
        Some(c) => c.size(),
        None => size.max(1).div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_increasing_and_reaches_32k() {
        assert_eq!(CLASS_SIZE[0], 0);
        assert_eq!(CLASS_SIZE[1], 8);
        assert_eq!(CLASS_SIZE[NUM_CLASSES - 1] as usize, MAX_SMALL_SIZE);
        for c in 2..NUM_CLASSES {
            assert!(CLASS_SIZE[c] > CLASS_SIZE[c - 1], "class {c}");
            assert_eq!(CLASS_SIZE[c] % 8, 0);
        }
    }

    fn class_for(size: usize, align: usize) -> usize {
        super::class_for(size, align).map_or(0, SizeClass::index)
    }

    fn class_size(c: usize) -> usize {
        SizeClass::new(c).map_or(0, SizeClass::size)
    }

    #[test]
    fn every_size_gets_the_smallest_fitting_class() {
        for size in 0..=MAX_SMALL_SIZE {
            let c = class_for(size, 1);
            assert!(c != 0, "size {size}");
            assert!(class_size(c) >= size.max(1));
            assert!(c == 1 || class_size(c - 1) < size, "size {size} got {c}");
        }
        assert_eq!(class_for(MAX_SMALL_SIZE + 1, 1), 0);
    }

    #[test]
    fn size_class_is_one_byte_with_its_option() {
        assert_eq!(size_of::<Option<SizeClass>>(), 1);
        assert_eq!(SizeClass::new(0), None);
        assert_eq!(SizeClass::new(NUM_CLASSES), None);
        assert_eq!(SizeClass::all().count(), NUM_CLASSES - 1);
        for c in SizeClass::all() {
            // SAFETY: bits of a class.
            assert_eq!(unsafe { SizeClass::from_bits(c.bits()) }, Some(c));
            assert_eq!(c.size(), CLASS_SIZE[c.index()] as usize);
        }
    }

    #[test]
    fn block_size_is_the_class_or_whole_pages() {
        for size in [0, 1, 8, 9, 100, 1000, 1025, 4096, 20_000, MAX_SMALL_SIZE] {
            for align in [1, 8, 16, 64, 4096] {
                assert_eq!(block_size(size, align), class_size(class_for(size, align)));
            }
        }
        assert_eq!(block_size(MAX_SMALL_SIZE + 1, 8), 9 * PAGE_SIZE);
        assert_eq!(block_size(100, 2 * PAGE_SIZE), PAGE_SIZE);
        assert_eq!(block_size(usize::MAX, 8), usize::MAX, "saturates");
    }

    #[test]
    fn fragmentation_stays_within_the_documented_bounds() {
        for size in 8..=MAX_SMALL_SIZE {
            let block = class_size(class_for(size, 1));
            let waste = (block - size) as f64 / block as f64;
            let bound = if size <= 64 {
                0.4375
            } else if size <= 128 {
                0.1875
            } else {
                0.112
            };
            assert!(waste <= bound, "size {size} block {block} waste {waste}");
        }
        for (c, &pages) in CLASS_PAGES.iter().enumerate().skip(1) {
            let span = pages as usize * PAGE_SIZE;
            assert!(span % class_size(c) <= span / 8, "class {c}");
            assert!(span / class_size(c) >= 2, "class {c}");
        }
    }

    #[test]
    fn alignment_is_honoured_up_to_the_page() {
        let mut align = 1;
        while align <= PAGE_SIZE {
            for size in [1, 7, 8, 24, 100, 1000, 4096, 5000, 32768] {
                let c = class_for(size, align);
                if c == 0 {
                    assert!(size > MAX_SMALL_SIZE || align > PAGE_SIZE);
                    continue;
                }
                assert!(class_size(c) >= size);
                assert_eq!(class_size(c) % align, 0, "size {size} align {align}");
            }
            align *= 2;
        }
        assert_eq!(class_for(8, 2 * PAGE_SIZE), 0);
    }

    #[test]
    fn cache_stacks_hold_two_batches_and_fill_the_slot_array_a_line_apart() {
        let mut off = 0;
        for c in SizeClass::all() {
            assert_eq!(c.cache_off(), off, "class {}", c.index());
            assert!(c.cache_cap() >= 2 * c.batch(), "class {}", c.index());
            assert!(c.cache_cap() <= 256);
            off += c.cache_cap() as usize + CACHE_PAD;
        }
        assert_eq!(off, CACHE_SLOTS);
        assert_eq!(CACHE_SLOTS, 8880);
    }

    #[test]
    fn batches_are_32_for_small_classes_and_at_least_2() {
        assert_eq!(CLASS_BATCH[class_for(8, 1)], 32);
        assert_eq!(CLASS_BATCH[class_for(1024, 1)], 32);
        assert_eq!(CLASS_BATCH[class_for(32768, 1)], 2);
        assert!(CLASS_BATCH[1..].iter().all(|&b| (2..=32).contains(&b)));
    }
}
