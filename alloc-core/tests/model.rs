//! Random sequences of allocate / reallocate / free against a model: every block is aligned,
//! inside a span the heap has in use, disjoint from every live block, and keeps its bytes.
//! Operations randomly take the thread-cache path or the cache-less path (as during thread
//! exit), so both are checked against each other. After every operation the heap's
//! invariants (INTERNALS.md) are checked with `Heap::check_invariants_with`.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::collections::BTreeMap;

use alloc_core::{Heap, MmapSource, ThreadCache, TlsHook};
use proptest::prelude::*;

static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());

thread_local! {
    static CACHE: UnsafeCell<ThreadCache> = const { UnsafeCell::new(ThreadCache::new()) };
    static CACHE_OFF: Cell<bool> = const { Cell::new(false) };
}

/// A hook whose cache can be switched off to imitate a thread whose TLS is gone.
struct TestHook;

// SAFETY: CACHE is used only with HEAP and only by its thread; nothing here allocates through
// HEAP; the test flushes the cache at the end of every case.
unsafe impl TlsHook for TestHook {
    fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
        if CACHE_OFF.with(Cell::get) {
            return None;
        }
        // SAFETY: one thread, no re-entry (the heap never calls the hook recursively).
        Some(CACHE.with(|c| f(unsafe { &mut *c.get() })))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Alloc { size: usize, align_log2: u32 },
    Free(usize),
    Realloc(usize, usize),
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=256,
        3 => 257usize..=4096,
        2 => 4097usize..=40_000,
        1 => 40_000usize..=150_000,
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (size_strategy(), prop_oneof![8 => 0u32..=4, 2 => 5u32..=12, 1 => 13u32..=21])
            .prop_map(|(size, align_log2)| Op::Alloc { size, align_log2 }),
        3 => any::<usize>().prop_map(Op::Free),
        2 => (any::<usize>(), size_strategy()).prop_map(|(i, s)| Op::Realloc(i, s)),
    ]
}

struct Block {
    layout: Layout,
    seed: u8,
}

fn pattern(seed: u8, i: usize) -> u8 {
    seed.wrapping_add((i as u8).wrapping_mul(31))
}

fn fill(p: *mut u8, from: usize, to: usize, seed: u8) {
    for i in from..to {
        // SAFETY: the caller passes a live block of at least `to` bytes.
        unsafe { p.add(i).write(pattern(seed, i)) };
    }
}

fn check(p: *const u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: the caller passes a live block of at least `len` bytes.
        let b = unsafe { p.add(i).read() };
        assert_eq!(b, pattern(seed, i), "byte {i} of block {p:?} changed");
    }
}

fn check_placement(live: &BTreeMap<usize, Block>, p: *mut u8, layout: Layout) {
    assert!(!p.is_null());
    let addr = p as usize;
    assert_eq!(addr % layout.align(), 0, "{layout:?}");
    let len = layout.size().max(1);
    assert!(HEAP.owns(p), "{p:?} outside any in-use span");
    assert!(
        HEAP.owns(p.wrapping_add(len - 1)),
        "{p:?}+{len} runs out of its span"
    );
    if let Some((&start, b)) = live.range(..=addr).next_back() {
        assert!(
            start + b.layout.size().max(1) <= addr,
            "overlaps block at {start:#x}"
        );
    }
    if let Some((&start, _)) = live.range(addr + 1..).next() {
        assert!(addr + len <= start, "overlaps block at {start:#x}");
    }
}

/// Checks the heap's invariants and this thread's cache.
fn check_heap() {
    // SAFETY: this thread's cache; nothing else uses it during the check.
    CACHE.with(|c| HEAP.check_invariants_with(unsafe { &*c.get() }));
}

fn run(ops: Vec<Op>, cacheless: Vec<bool>) {
    let mut live: BTreeMap<usize, Block> = BTreeMap::new();
    let mut seed = 1u8;
    for (k, op) in ops.into_iter().enumerate() {
        if std::env::var_os("MODEL_TRACE").is_some() {
            eprintln!("{k}: {op:?} cacheless={}", cacheless[k % cacheless.len()]);
        }
        CACHE_OFF.with(|c| c.set(cacheless[k % cacheless.len()]));
        match op {
            Op::Alloc { size, align_log2 } => {
                let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
                // SAFETY: TestHook is the only hook used with HEAP.
                let p = unsafe { HEAP.allocate(&TestHook, layout) };
                check_placement(&live, p, layout);
                seed = seed.wrapping_add(1);
                fill(p, 0, size, seed);
                live.insert(p as usize, Block { layout, seed });
            }
            Op::Free(i) if !live.is_empty() => {
                let key = *live.keys().nth(i % live.len()).unwrap();
                let b = live.remove(&key).unwrap();
                check(key as *const u8, b.layout.size(), b.seed);
                // SAFETY: the block is live and freed with its layout.
                unsafe { HEAP.deallocate(&TestHook, key as *mut u8, b.layout) };
            }
            Op::Realloc(i, new_size) if !live.is_empty() => {
                let key = *live.keys().nth(i % live.len()).unwrap();
                let b = live.remove(&key).unwrap();
                check(key as *const u8, b.layout.size(), b.seed);
                // SAFETY: the block is live, its layout is the one it was allocated with.
                let p = unsafe { HEAP.reallocate(&TestHook, key as *mut u8, b.layout, new_size) };
                let layout = Layout::from_size_align(new_size, b.layout.align()).unwrap();
                check_placement(&live, p, layout);
                let kept = b.layout.size().min(new_size);
                check(p, kept, b.seed);
                fill(p, kept, new_size, b.seed);
                live.insert(
                    p as usize,
                    Block {
                        layout,
                        seed: b.seed,
                    },
                );
            }
            _ => {}
        }
        check_heap();
    }
    CACHE_OFF.with(|c| c.set(false));
    for (key, b) in std::mem::take(&mut live) {
        check(key as *const u8, b.layout.size(), b.seed);
        // SAFETY: live block, its layout.
        unsafe { HEAP.deallocate(&TestHook, key as *mut u8, b.layout) };
    }
    // SAFETY: this thread's cache, used with HEAP only.
    CACHE.with(|c| HEAP.flush_thread_cache(unsafe { &mut *c.get() }));
    check_heap();
    let st = HEAP.stats();
    assert_eq!(st.bytes_in_use, 0, "{st:?}");
    assert_eq!(st.bytes_thread_caches, 0, "{st:?}");
    assert_eq!(
        st.bytes_transfer_cache
            + st.bytes_central_free
            + st.bytes_page_heap_free
            + st.bytes_released,
        st.bytes_mapped,
        "free memory accounts for everything mapped: {st:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_alloc_realloc_free_keep_blocks_intact(
        ops in prop::collection::vec(op_strategy(), 1..400),
        cacheless in prop::collection::vec(prop::bool::weighted(0.15), 1..16),
    ) {
        run(ops, cacheless);
    }
}
