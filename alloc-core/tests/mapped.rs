//! Large objects in mappings of their own: `realloc` across the 8 MiB threshold keeps the
//! contents (and moves them with `mremap` beyond it), over-aligned requests are aligned,
//! and freeing a mapped object gives its memory back at once (resident set from
//! /proc/self/statm). Mapped objects are those allocated above 32 MiB or grown by `realloc`
//! past 8 MiB. The tests share one process-wide heap, so they run one at a time.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Mutex;

use alloc_core::GlobalHeap;

#[global_allocator]
static A: GlobalHeap = GlobalHeap::new();

/// The RSS test measures the whole process: the others must not run meanwhile.
static SERIAL: Mutex<()> = Mutex::new(());

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 12)) as u8
}

#[test]
fn realloc_across_the_threshold_keeps_contents() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut size = 48 << 10;
    let layout = Layout::from_size_align(size, 8).unwrap();
    // SAFETY: non-zero size; every access below stays within the current size.
    unsafe {
        let mut p = A.alloc(layout);
        assert!(!p.is_null());
        for i in 0..size {
            p.add(i).write(pattern(i));
        }
        // Grow 48 KiB -> 96 MiB (span heap, then an own mapping, then mremap), then shrink
        // back below the threshold (back to the span heap).
        for new_size in [
            700 << 10,
            (1 << 20) + 1,
            (8 << 20) + 1,
            12 << 20,
            40 << 20,
            96 << 20,
            5 << 20,
            600 << 10,
        ] {
            let q = A.realloc(p, Layout::from_size_align(size, 8).unwrap(), new_size);
            assert!(!q.is_null(), "realloc to {new_size}");
            let kept = size.min(new_size);
            for i in (0..kept).step_by(997).chain([kept - 1]) {
                assert_eq!(
                    q.add(i).read(),
                    pattern(i),
                    "byte {i} after {size} -> {new_size}"
                );
            }
            for i in kept..new_size {
                q.add(i).write(pattern(i));
            }
            GlobalHeap::check_invariants();
            p = q;
            size = new_size;
        }
        A.dealloc(p, Layout::from_size_align(size, 8).unwrap());
    }
    GlobalHeap::check_invariants();
}

#[test]
fn over_aligned_mapped_objects() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (size, align) in [
        ((9 << 20) + 5, 64 << 10),
        (12 << 20, 2 << 20),
        ((8 << 20) + 4096, 1 << 20),
    ] {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero size; accesses stay within the block.
        unsafe {
            let p = A.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "{size} aligned to {align}");
            p.write(1);
            p.add(size - 1).write(2);
            // Growing keeps the alignment (an over-aligned mapping is not moved by mremap).
            let q = A.realloc(p, layout, size * 2);
            assert!(!q.is_null());
            assert_eq!(q as usize % align, 0);
            assert_eq!((q.read(), q.add(size - 1).read()), (1, 2));
            GlobalHeap::check_invariants();
            A.dealloc(q, Layout::from_size_align(size * 2, align).unwrap());
        }
    }
    GlobalHeap::check_invariants();
}

#[test]
fn freeing_a_mapped_object_returns_its_memory_at_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const BIG: usize = 96 << 20;
    let layout = Layout::from_size_align(BIG, 8).unwrap();
    // Mappings cached by the other tests would be reused (resident already): drop them.
    GlobalHeap::release_free_memory();
    let base = rss_bytes();
    // SAFETY: non-zero size; writes stay within the block.
    unsafe {
        let p = A.alloc(layout);
        assert!(!p.is_null());
        for off in (0..BIG).step_by(4096) {
            p.add(off).write(1);
        }
        let high = rss_bytes();
        assert!(
            high >= base + BIG * 9 / 10,
            "not resident: {base} -> {high}"
        );
        A.dealloc(p, layout);
        let low = rss_bytes();
        assert!(
            low + BIG * 9 / 10 <= high,
            "96 MiB freed, resident {base} -> {high} -> {low}"
        );
    }
    // A cached mapping (12 MiB) goes back with malloc_trim's call.
    let small = Layout::from_size_align(12 << 20, 8).unwrap();
    // SAFETY: as above.
    unsafe {
        let p = A.alloc(small);
        p.write_bytes(7, small.size());
        A.dealloc(p, small);
        let st = GlobalHeap::stats();
        assert!(st.bytes_page_heap_free >= small.size(), "{st:?}");
        let cached = rss_bytes();
        assert!(GlobalHeap::release_free_memory() >= small.size());
        let trimmed = rss_bytes();
        assert!(
            trimmed + small.size() * 9 / 10 <= cached,
            "cached mapping not unmapped: {cached} -> {trimmed}"
        );
        // The cache serves the next request of the same size (no fault needed to reuse).
        let p = A.alloc(small);
        p.write_bytes(1, small.size());
        A.dealloc(p, small);
        let q = A.alloc(small);
        assert_eq!(q, p, "a freed 12 MiB mapping is reused");
        assert_eq!(q.read(), 1);
        A.dealloc(q, small);
    }
    GlobalHeap::check_invariants();
}

#[test]
fn a_vec_grown_to_64_mib_keeps_its_contents() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for round in 0..3u8 {
        let mut v: Vec<u8> = Vec::new();
        for i in 0..(64usize << 20) {
            v.push((i as u8) ^ round);
        }
        assert!(
            v.iter()
                .enumerate()
                .step_by(4093)
                .all(|(i, &b)| b == (i as u8) ^ round)
        );
        GlobalHeap::check_invariants();
    }
    let st = GlobalHeap::stats();
    assert_eq!(st.bytes_large, 0, "{st:?}");
}
