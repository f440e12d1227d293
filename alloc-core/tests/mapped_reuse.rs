//! Big blocks that are allocated, written and freed in a loop (issue #20, mimalloc-bench's
//! `malloc-large`): allocations up to 32 MiB come from the span heap, and a cached mapping
//! reused for a shorter allocation keeps only what was asked for resident, while a `realloc`
//! that grows keeps the whole mapping (resident set from /proc/self/statm).

use std::alloc::{GlobalAlloc, Layout};

use alloc_core::GlobalHeap;

#[global_allocator]
static A: GlobalHeap = GlobalHeap::new();

const MIB: usize = 1 << 20;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Allocates `size` bytes and writes every page.
///
/// # Safety
/// The block is freed with `layout(size)`.
unsafe fn filled(size: usize) -> *mut u8 {
    // SAFETY: non-zero size; the writes stay inside the block.
    unsafe {
        let p = A.alloc(layout(size));
        assert!(!p.is_null());
        for off in (0..size).step_by(4096) {
            p.add(off).write(1);
        }
        p
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// Everything in one test: the resident set is the whole process's.
#[test]
fn big_blocks_keep_only_what_they_use_resident() {
    // 5-25 MiB buffers replaced at random: every one lives in the span heap, and the heap
    // maps little more than the peak of live buffers.
    let mut rng = 0x5EEDu64;
    let mut slots: Vec<(*mut u8, usize)> = Vec::new();
    let mut live = 0;
    let mut peak = 0;
    for i in 0..120 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let size = 5 * MIB + (rng % (20 * MIB as u64)) as usize;
        // SAFETY: freed below with its layout.
        let p = unsafe { filled(size) };
        live += size;
        peak = peak.max(live);
        if slots.len() < 8 {
            slots.push((p, size));
        } else {
            let (old, old_size) = std::mem::replace(&mut slots[i % 8], (p, size));
            // SAFETY: allocated above with this layout.
            unsafe { A.dealloc(old, layout(old_size)) };
            live -= old_size;
        }
    }
    let stats = GlobalHeap::stats();
    assert!(
        stats.bytes_mapped < peak * 2,
        "{} MiB mapped for a peak of {} MiB live",
        stats.bytes_mapped / MIB,
        peak / MIB
    );
    for (p, size) in slots {
        // SAFETY: as above.
        unsafe { A.dealloc(p, layout(size)) };
    }
    GlobalHeap::release_free_memory();
    GlobalHeap::check_invariants();

    // A 60 MiB mapping, freed into the mapping cache and reused for 40 MiB: the 20 MiB the
    // first buffer wrote beyond are given back.
    let base = rss_bytes();
    // SAFETY: freed with its layout.
    unsafe { A.dealloc(filled(60 * MIB), layout(60 * MIB)) };
    let cached = rss_bytes();
    assert!(
        cached >= base + 54 * MIB,
        "not resident: {base} -> {cached}"
    );
    // SAFETY: freed below with its layout.
    let q = unsafe { filled(40 * MIB) };
    let reused = rss_bytes();
    assert!(
        reused <= base + 44 * MIB,
        "a 40 MiB block keeps {} MiB resident",
        (reused - base) / MIB
    );
    // Growth by realloc within the mapping: the same block, no copy.
    // SAFETY: q is live with layout(40 MiB).
    let g = unsafe { A.realloc(q, layout(40 * MIB), 56 * MIB) };
    assert_eq!(g, q, "grown in place inside the reused mapping");
    // SAFETY: g is live with layout(56 MiB).
    unsafe { A.dealloc(g, layout(56 * MIB)) };
    GlobalHeap::check_invariants();
}
