//! The size-class table: which block size serves a request, how many pages a span of each
//! class spans, and how many objects move between tiers at once.
//!
//! Classes (bytes), 76 of them, index 0 is reserved for "not a small object":
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

/// log2 of the page size the heap manages.
pub const PAGE_SHIFT: usize = 12;
/// The page size the heap manages (4 KiB); spans are whole pages.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// The largest request served from size classes; larger ones get whole spans.
pub const MAX_SMALL_SIZE: usize = 32 * 1024;
/// Number of class indices, including the reserved index 0.
pub const NUM_CLASSES: usize = 77;
/// Default and largest number of objects moved between a thread cache and the transfer cache.
pub const MAX_BATCH: usize = 32;

const fn build_sizes() -> [u32; NUM_CLASSES] {
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
pub static CLASS_SIZE: [u32; NUM_CLASSES] = build_sizes();

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

const fn build_small_lookup() -> [u8; 129] {
    let sizes = build_sizes();
    let mut t = [0u8; 129];
    let mut i = 0;
    while i < 129 {
        let size = if i == 0 { 1 } else { i as u32 * 8 };
        t[i] = smallest_class_at_least(&sizes, size);
        i += 1;
    }
    t
}

const fn build_large_lookup() -> [u8; 257] {
    let sizes = build_sizes();
    let mut t = [0u8; 257];
    let mut i = 9;
    while i < 257 {
        t[i] = smallest_class_at_least(&sizes, i as u32 * 128);
        i += 1;
    }
    t
}

// The fast-path tables are `const`s, not `static`s: a crate that inlines `class_for` then
// keeps its own copy next to its code and reads it PC-relative, where a `static` of this
// crate is reached through the GOT (one more dependent load per lookup) in a PIE binary.

/// Class of sizes 0..=1024 by `(size + 7) / 8` (all those classes are multiples of 8).
const SMALL_LOOKUP: [u8; 129] = build_small_lookup();
/// Class of sizes 1025..=32768 by `(size + 127) / 128` (all those classes are multiples of 128).
const LARGE_LOOKUP: [u8; 257] = build_large_lookup();

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
/// 256 entries (those past the classes are unused) so that indexing by a `u8` class from the
/// lookup tables needs no bounds check.
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

/// `CLASS_SIZE` as a `const` of 256 entries, for [`class_size`] (see `CLASS_ALIGN`).
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
pub static CLASS_PAGES: [u8; NUM_CLASSES] = build_pages();

const fn build_batch() -> [u8; NUM_CLASSES] {
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
pub static CLASS_BATCH: [u8; NUM_CLASSES] = build_batch();

/// The class serving `size` bytes at `align`, or 0 when the request needs a whole span (too big
/// or aligned beyond the page).
#[inline]
pub fn class_for(size: usize, align: usize) -> usize {
    let c = if size <= 1024 {
        SMALL_LOOKUP[(size + 7) >> 3] as usize
    } else if size <= MAX_SMALL_SIZE {
        LARGE_LOOKUP[(size + 127) >> 7] as usize
    } else {
        return 0;
    };
    if align <= CLASS_ALIGN[c & 0xff] as usize {
        return c;
    }
    class_for_aligned(c, align)
}

#[cold]
fn class_for_aligned(mut c: usize, align: usize) -> usize {
    if align > PAGE_SIZE {
        return 0;
    }
    while c < NUM_CLASSES {
        if CLASS_ALIGN[c] as usize >= align {
            return c;
        }
        c += 1;
    }
    0
}

/// Block size of class `c`.
#[inline]
pub fn class_size(c: usize) -> usize {
    // Class indices are below 256 (they come from `u8` tables); the mask replaces a bounds
    // check and maps any other index to some entry, 0 past the classes.
    CLASS_SIZE_256[c & 0xff] as usize
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
    fn batches_are_32_for_small_classes_and_at_least_2() {
        assert_eq!(CLASS_BATCH[class_for(8, 1)], 32);
        assert_eq!(CLASS_BATCH[class_for(1024, 1)], 32);
        assert_eq!(CLASS_BATCH[class_for(32768, 1)], 2);
        assert!(CLASS_BATCH[1..].iter().all(|&b| (2..=32).contains(&b)));
    }
}
