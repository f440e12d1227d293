//! Blocks that do not fit in the transfer cache go back to their spans grouped by span
//! (`SpanChains`, linked outside the class lock, spliced per span under it). Freed in random
//! order, a batch holds blocks of many spans; every block must reach its own span's free list
//! exactly once, so that reusing them hands each block out once.

use std::alloc::Layout;
use std::collections::HashSet;

use alloc_core::{Heap, MmapSource, ThreadCache};

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn shuffle<T>(v: &mut [T], rng: &mut u64) {
    for i in (1..v.len()).rev() {
        let j = (xorshift(rng) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Allocates `n` blocks of `layout`, each tagged with its index; all distinct.
fn allocate_tagged(
    heap: &Heap<MmapSource>,
    cache: &mut ThreadCache,
    layout: Layout,
    n: usize,
) -> Vec<*mut u8> {
    let mut seen = HashSet::new();
    (0..n)
        .map(|i| {
            // SAFETY: the cache is used with this heap only.
            let p = unsafe { heap.allocate_in(cache, layout) };
            assert!(!p.is_null(), "out of memory at block {i}");
            assert!(seen.insert(p as usize), "block {p:?} handed out twice");
            // SAFETY: a fresh block of at least 8 bytes, aligned for usize.
            unsafe { p.cast::<usize>().write(i) };
            p
        })
        .collect()
}

#[test]
fn blocks_freed_in_random_order_return_to_their_spans_once() {
    let heap: &'static Heap<MmapSource> = Box::leak(Box::new(Heap::new(MmapSource::new())));
    let mut cache = ThreadCache::new();
    let mut rng = 0x5EED_u64;
    // 48-byte blocks: 1,365 to a 64 KiB span, so 20,000 fill 15 spans; the class's transfer
    // cache keeps at most 2,048 of them, so most go back to their spans, in batches that
    // mix blocks of many spans.
    for (k, size) in [48usize, 16, 1000].into_iter().enumerate() {
        let layout = Layout::from_size_align(size, 8).unwrap();
        for round in 0..3 {
            let mut blocks = allocate_tagged(heap, &mut cache, layout, 20_000);
            for (i, &p) in blocks.iter().enumerate() {
                // SAFETY: p is live and holds its tag.
                assert_eq!(unsafe { p.cast::<usize>().read() }, i, "size {size}");
            }
            shuffle(&mut blocks, &mut rng);
            // Free half, check, then the rest: spans are partly and wholly freed.
            let rest = blocks.split_off(blocks.len() / 2);
            for part in [blocks, rest] {
                for p in part {
                    // SAFETY: p came from this heap with `layout` and is freed once.
                    unsafe { heap.deallocate_in(&mut cache, p, layout) };
                }
                heap.check_invariants_with(&cache);
            }
            heap.flush_thread_cache(&mut cache);
            heap.check_invariants();
            let stats = heap.stats();
            assert_eq!(stats.bytes_in_use, 0, "size {size} round {round}");
            assert_eq!(stats.bytes_thread_caches, 0, "size {size} round {round}");
            // A transfer cache keeps at most about 1 MiB of batches (of each of the k + 1
            // classes used so far); everything else is free in its spans or went back to the
            // page heap with them.
            assert!(
                stats.bytes_transfer_cache <= (k + 1) << 20,
                "size {size}: {} bytes in transfer batches",
                stats.bytes_transfer_cache
            );
        }
    }
}
