//! The layout-free API used by C's malloc family: `usable_size`, `deallocate_unsized`,
//! `reallocate_unsized`, `allocate_zeroed`, and `lock_all` / `unlock_all` around `fork`.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloc_core::{Heap, MAX_SMALL_SIZE, MmapSource, PAGE_SIZE, ThreadCache, TlsHook, block_size};

thread_local! {
    static CACHE: UnsafeCell<ThreadCache> = const { UnsafeCell::new(ThreadCache::new()) };
}

/// One heap per test (each test's statistics are its own); caches are per thread and per heap,
/// so every test flushes its thread's cache into its own heap before it ends.
struct Hook;

// SAFETY: each test thread uses CACHE with one heap only and flushes it before switching (every
// test runs on its own thread and flushes at the end); nothing here allocates through a heap.
unsafe impl TlsHook for Hook {
    fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
        // SAFETY: one thread, no re-entry.
        Some(CACHE.with(|c| f(unsafe { &mut *c.get() })))
    }
}

/// Flushes this thread's cache into `heap`, then checks the heap's invariants.
fn flush(heap: &Heap<MmapSource>) {
    // SAFETY: this thread's cache, used with `heap` only in this test.
    CACHE.with(|c| heap.flush_thread_cache(unsafe { &mut *c.get() }));
    heap.check_invariants();
}

fn new_heap() -> &'static Heap<MmapSource> {
    Box::leak(Box::new(Heap::new(MmapSource::new())))
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn usable_size_is_the_class_or_the_span_and_none_for_foreign_pointers() {
    let heap = new_heap();
    let on_stack = 0u64;
    let boxed = Box::new(5u64);
    // SAFETY: foreign pointers lie outside the heap's mappings.
    unsafe {
        assert_eq!(heap.usable_size(&on_stack as *const u64 as *const u8), None);
        assert_eq!(heap.usable_size(&*boxed as *const u64 as *const u8), None);
        assert_eq!(heap.usable_size(std::ptr::null()), None);
    }
    for size in [1, 8, 9, 24, 100, 1000, 1025, 4096, 20_000, MAX_SMALL_SIZE] {
        for align in [8, 16, 64, 4096] {
            // SAFETY: Hook is the only hook used with this heap.
            let p = unsafe { heap.allocate(&Hook, layout(size, align)) };
            assert!(!p.is_null());
            // SAFETY: p is live.
            let usable = unsafe { heap.usable_size(p) }.unwrap();
            // The class's block size (block_size is the class table's, checked against it by
            // the crate's unit tests).
            assert_eq!(
                usable,
                block_size(layout(size, align)),
                "size {size} align {align}"
            );
            // SAFETY: the whole usable size may be written.
            unsafe { p.write_bytes(0xAB, usable) };
            // SAFETY: p is live and freed once.
            assert!(unsafe { heap.deallocate_unsized(&Hook, p) });
        }
    }
    for (size, align) in [(MAX_SMALL_SIZE + 1, 8), (1 << 20, 16), (100, 2 << 20)] {
        // SAFETY: as above.
        let p = unsafe { heap.allocate(&Hook, layout(size, align)) };
        assert_eq!(p as usize % align, 0);
        // SAFETY: p is live.
        let usable = unsafe { heap.usable_size(p) }.unwrap();
        assert_eq!(usable, size.div_ceil(PAGE_SIZE) * PAGE_SIZE);
        // SAFETY: p is live and freed once.
        assert!(unsafe { heap.deallocate_unsized(&Hook, p) });
    }
    flush(heap);
    let st = heap.stats();
    assert_eq!(st.bytes_in_use, 0, "{st:?}");
    assert_eq!(st.bytes_large, 0);
}

#[test]
fn unsized_free_of_foreign_pointer_frees_nothing() {
    let heap = new_heap();
    let mut x = [0u64; 4];
    // SAFETY: a stack pointer lies outside every mapping of the heap.
    assert!(!unsafe { heap.deallocate_unsized(&Hook, x.as_mut_ptr().cast()) });
    // SAFETY: as above.
    assert!(unsafe { heap.reallocate_unsized(&Hook, x.as_mut_ptr().cast(), 10, 16) }.is_null());
    assert_eq!(heap.stats().bytes_in_use, 0);
}

#[test]
fn unsized_free_is_the_same_as_sized_free_across_threads() {
    let heap = new_heap();
    let ptrs: Vec<usize> = (0..5000)
        .map(|i| {
            let size = 1 + (i * 37) % 3000;
            // SAFETY: Hook is the only hook used with this heap.
            let p = unsafe { heap.allocate(&Hook, layout(size, 8)) };
            // SAFETY: p holds size bytes.
            unsafe { p.write_bytes(i as u8, size) };
            p as usize
        })
        .collect();
    // Freed on another thread, without sizes.
    std::thread::scope(|s| {
        s.spawn(|| {
            for (i, &p) in ptrs.iter().enumerate() {
                let size = 1 + (i * 37) % 3000;
                let p = p as *mut u8;
                // SAFETY: p is live with `size` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(p, size) };
                assert!(bytes.iter().all(|&b| b == i as u8));
                // SAFETY: p is live and freed once.
                assert!(unsafe { heap.deallocate_unsized(&Hook, p) });
            }
            flush(heap);
        });
    });
    flush(heap);
    assert_eq!(heap.stats().bytes_in_use, 0);
}

#[test]
fn reallocate_unsized_keeps_bytes_and_works_in_place_when_it_can() {
    let heap = new_heap();
    // SAFETY: Hook is the only hook used with this heap; every block is used while live and
    // freed once.
    unsafe {
        let p = heap.allocate(&Hook, layout(100, 16));
        p.write_bytes(7, 100);
        // 100 -> 112-byte class: 110 fits in place, 60 is not under half of it.
        assert_eq!(heap.reallocate_unsized(&Hook, p, 110, 16), p);
        assert_eq!(heap.reallocate_unsized(&Hook, p, 60, 16), p);
        // Far smaller: moves to a smaller class, keeps the first bytes.
        let q = heap.reallocate_unsized(&Hook, p, 20, 16);
        assert_ne!(q, p);
        assert_eq!(heap.usable_size(q), Some(32));
        assert!(std::slice::from_raw_parts(q, 20).iter().all(|&b| b == 7));
        // Grow into a large object, then grow it in place (the heap's fresh tail is free).
        let r = heap.reallocate_unsized(&Hook, q, 100_000, 16);
        assert!(std::slice::from_raw_parts(r, 20).iter().all(|&b| b == 7));
        r.add(20).write_bytes(9, 100_000 - 20);
        let s = heap.reallocate_unsized(&Hook, r, 300_000, 16);
        assert_eq!(s, r, "the free pages after the span are taken in place");
        assert_eq!(
            heap.usable_size(s),
            Some(300_000usize.div_ceil(PAGE_SIZE) * PAGE_SIZE)
        );
        assert!(
            std::slice::from_raw_parts(s.add(20), 100_000 - 20)
                .iter()
                .all(|&b| b == 9)
        );
        // Shrink in place (still large), then to a class block.
        assert_eq!(heap.reallocate_unsized(&Hook, s, 50_000, 16), s);
        assert_eq!(
            heap.usable_size(s),
            Some(50_000usize.div_ceil(PAGE_SIZE) * PAGE_SIZE)
        );
        let t = heap.reallocate_unsized(&Hook, s, 1000, 16);
        assert!(std::slice::from_raw_parts(t, 20).iter().all(|&b| b == 7));
        assert!(
            std::slice::from_raw_parts(t.add(20), 980)
                .iter()
                .all(|&b| b == 9)
        );
        // A block whose class is too weakly aligned for the new request moves.
        let u = heap.allocate(&Hook, layout(24, 8));
        let u = if (u as usize).is_multiple_of(16) {
            // The 24-byte class has blocks on both 8- and 16-byte boundaries: take another.
            let v = heap.allocate(&Hook, layout(24, 8));
            heap.deallocate_unsized(&Hook, u);
            v
        } else {
            u
        };
        assert_ne!(u as usize % 16, 0);
        let w = heap.reallocate_unsized(&Hook, u, 20, 16);
        assert_eq!(w as usize % 16, 0);
        heap.deallocate_unsized(&Hook, w);
        heap.deallocate_unsized(&Hook, t);
    }
    flush(heap);
    let st = heap.stats();
    assert_eq!(st.bytes_in_use, 0, "{st:?}");
    assert_eq!(st.bytes_large, 0);
}

#[test]
fn allocate_zeroed_zeroes_reused_memory_and_skips_fresh_pages() {
    let heap = new_heap();
    for size in [24, 3000, 40_000, 1 << 20] {
        // SAFETY: Hook is the only hook used with this heap; blocks freed once.
        unsafe {
            let p = heap.allocate(&Hook, layout(size, 16));
            p.write_bytes(0xFF, size);
            heap.deallocate_unsized(&Hook, p);
            let q = heap.allocate_zeroed(&Hook, layout(size, 16));
            assert_eq!(q, p, "the same block comes back (size {size})");
            assert!(
                std::slice::from_raw_parts(q, size).iter().all(|&b| b == 0),
                "size {size}"
            );
            heap.deallocate_unsized(&Hook, q);
        }
    }
    // A huge zeroed request on fresh memory does not touch its pages: RSS barely moves.
    let before = rss_kib();
    // SAFETY: as above.
    unsafe {
        let p = heap.allocate_zeroed(&Hook, layout(512 << 20, 16));
        assert!(!p.is_null());
        assert_eq!(p.add(300 << 20).read(), 0);
        let after = rss_kib();
        assert!(
            after < before + 64 * 1024,
            "RSS grew from {before} KiB to {after} KiB"
        );
        heap.deallocate_unsized(&Hook, p);
    }
    flush(heap);
}

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn lock_all_stops_other_threads_until_unlock_all() {
    let heap = new_heap();
    let done = Arc::new(AtomicBool::new(false));
    heap.lock_all();
    std::thread::scope(|s| {
        let done2 = done.clone();
        s.spawn(move || {
            // A fresh thread cache misses, so this needs the class lock.
            // SAFETY: Hook is the only hook used with this heap.
            let p = unsafe { heap.allocate(&Hook, layout(64, 8)) };
            done2.store(true, Ordering::SeqCst);
            // SAFETY: p is live and freed once.
            unsafe { heap.deallocate_unsized(&Hook, p) };
            flush(heap);
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !done.load(Ordering::SeqCst),
            "allocated while every lock was held"
        );
        // SAFETY: this thread called lock_all.
        unsafe { heap.unlock_all() };
    });
    assert!(done.load(Ordering::SeqCst));
}

/// Forks (raw clone, like `fork`) again and again while other threads allocate and free as
/// fast as they can. With `lock_all` before and `unlock_all` after on both sides, the child's
/// heap is consistent and unlocked: it allocates from every class and exits 0 in time.
#[test]
fn fork_while_threads_allocate_leaves_a_usable_heap_in_the_child() {
    use rawsys::process::{self, CloneFlags, Fork, WaitOptions, WaitStatus};
    use rawsys::signal::Signal;
    let heap = new_heap();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..3 {
            let (stop, ops) = (stop.clone(), ops.clone());
            s.spawn(move || {
                let mut live = Vec::with_capacity(512);
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let size = if x.is_multiple_of(64) {
                        40_000 + (x >> 20) as usize % 200_000
                    } else {
                        8 + (x >> 8) as usize % 2000
                    };
                    // SAFETY: Hook is the only hook used with this heap; blocks freed once.
                    unsafe {
                        if live.len() < 512 {
                            live.push(heap.allocate(&Hook, layout(size, 8)));
                        } else {
                            let i = (x >> 32) as usize % live.len();
                            heap.deallocate_unsized(&Hook, live.swap_remove(i));
                        }
                    }
                    ops.fetch_add(1, Ordering::Relaxed);
                }
                for p in live {
                    // SAFETY: as above.
                    unsafe { heap.deallocate_unsized(&Hook, p) };
                }
                flush(heap);
            });
        }
        for _ in 0..40 {
            let before = ops.load(Ordering::Relaxed);
            while ops.load(Ordering::Relaxed) < before + 1000 {
                std::hint::spin_loop();
            }
            heap.lock_all();
            // SAFETY: the child only runs heap code (raw syscalls, no std locks) and ends in
            // exit_group.
            match unsafe { process::fork_with(CloneFlags::empty(), Some(Signal::SIGCHLD)) }.unwrap()
            {
                Fork::Child => {
                    // SAFETY: the child's copy of this thread took every lock.
                    unsafe { heap.unlock_all() };
                    let mut cache = ThreadCache::new();
                    for size in (8..=70_000).step_by(97) {
                        // SAFETY: a cache of the child's own, used with this heap only.
                        unsafe {
                            let p = heap.allocate_in(&mut cache, layout(size, 8));
                            if p.is_null() {
                                process::exit_group(2);
                            }
                            p.write_bytes(1, size);
                            heap.deallocate_unsized_in(&mut cache, p);
                        }
                    }
                    heap.flush_thread_cache(&mut cache);
                    process::exit_group(0);
                }
                Fork::Parent(pid) => {
                    // SAFETY: this thread called lock_all.
                    unsafe { heap.unlock_all() };
                    let deadline = Instant::now() + Duration::from_secs(10);
                    let status = loop {
                        if let Some((_, st)) = process::wait4(pid, WaitOptions::NOHANG).unwrap() {
                            break st;
                        }
                        if Instant::now() > deadline {
                            let _ = process::kill_process(pid, Signal::SIGKILL);
                            let _ = process::wait4(pid, WaitOptions::empty());
                            panic!("child {pid} hung: a lock was inherited held");
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    };
                    assert_eq!(status, WaitStatus::Exited(0));
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    flush(heap);
    assert_eq!(heap.stats().bytes_in_use, 0);
}

/// A retired cache is parked and adopted warm by the next new thread (the very blocks the
/// ended thread freed come back without touching the shared tiers); parked bytes stay counted
/// as thread-cache bytes; `release_free_memory` flushes parked caches; a big cache is flushed
/// instead of parked.
#[test]
fn retired_caches_are_parked_adopted_and_flushed() {
    let heap = new_heap();
    let freed: Vec<usize> = std::thread::scope(|s| {
        s.spawn(|| {
            let mut cache = ThreadCache::new();
            let ptrs: Vec<usize> = (0..100)
                // SAFETY: a cache of this thread used with this heap only.
                .map(|_| unsafe { heap.allocate_in(&mut cache, layout(48, 8)) } as usize)
                .collect();
            for &p in &ptrs {
                // SAFETY: p is live and freed once.
                unsafe { heap.deallocate_unsized_in(&mut cache, p as *mut u8) };
            }
            let cached = cache.cached_bytes();
            assert!(cached >= 100 * 48);
            heap.retire_thread_cache(&mut cache);
            assert_eq!(cache.cached_bytes(), 0);
            assert!(
                heap.stats().bytes_thread_caches >= cached,
                "parked bytes still counted"
            );
            ptrs
        })
        .join()
        .unwrap()
    });
    let st = heap.stats();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut cache = ThreadCache::new();
            assert!(heap.adopt_parked_cache(&mut cache));
            assert!(
                !heap.adopt_parked_cache(&mut cache),
                "not into a cache that holds blocks"
            );
            // SAFETY: the adopted cache belongs to this heap.
            let p = unsafe { heap.allocate_in(&mut cache, layout(48, 8)) };
            assert!(freed.contains(&(p as usize)), "a block of the parked cache");
            assert_eq!(heap.stats().central_span_refills, st.central_span_refills);
            assert_eq!(heap.stats().transfer_batch_hits, st.transfer_batch_hits);
            // SAFETY: p is live and freed once.
            unsafe { heap.deallocate_unsized_in(&mut cache, p) };
            heap.retire_thread_cache(&mut cache);
        });
    });
    // A cache over 2 MiB is flushed, not parked.
    let mut big = ThreadCache::new();
    let ptrs: Vec<usize> = (0..300)
        // SAFETY: a cache used with this heap only.
        .map(|_| unsafe { heap.allocate_in(&mut big, layout(16 << 10, 8)) } as usize)
        .collect();
    for &p in &ptrs {
        // SAFETY: live, freed once.
        unsafe { heap.deallocate_unsized_in(&mut big, p as *mut u8) };
    }
    let flushes = heap.stats().thread_cache_flushes;
    heap.retire_thread_cache(&mut big);
    let st = heap.stats();
    assert_eq!(st.thread_cache_flushes, flushes + 1);
    assert!(
        st.bytes_thread_caches < 1 << 20,
        "only the small parked cache: {st:?}"
    );
    heap.release_free_memory();
    let st = heap.stats();
    assert_eq!(st.bytes_thread_caches, 0, "{st:?}");
    assert_eq!(st.bytes_in_use, 0);
    let mut fresh = ThreadCache::new();
    assert!(
        !heap.adopt_parked_cache(&mut fresh),
        "nothing parked after release"
    );
}
