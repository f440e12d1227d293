//! Thread caches in boxes from the heap's pool (`Heap::take_thread_cache` /
//! `give_back_thread_cache`): a box given back is reused by the next thread, warm (its blocks
//! parked and adopted) when it held little, and a thread's cache stays out of its TLS; the
//! huge-page knob of `MmapSource` decides whether big mappings are advised `MADV_HUGEPAGE`.

use std::alloc::Layout;

use alloc_core::{Heap, MmapSource, PageSource};

#[test]
fn a_given_back_box_is_reused_warm_by_the_next_thread() {
    static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());
    let layout = Layout::from_size_align(64, 8).unwrap();
    let first = HEAP.take_thread_cache().expect("a cache box");
    // SAFETY: the cache is ours (taken above) and used with HEAP only, on this thread.
    let cache = unsafe { &mut *first.as_ptr() };
    assert_eq!(cache.cached_bytes(), 0, "a fresh box is empty");
    let blocks: Vec<*mut u8> = (0..100)
        // SAFETY: as above.
        .map(|_| unsafe { HEAP.allocate_in(cache, layout) })
        .collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    for &p in &blocks {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { HEAP.deallocate_in(cache, p, layout) };
    }
    let held = cache.cached_bytes();
    assert!(
        held >= 100 * 64,
        "the cache keeps the freed blocks ({held} bytes)"
    );
    HEAP.check_invariants_with(cache);
    // SAFETY: taken from HEAP above, not used again.
    unsafe { HEAP.give_back_thread_cache(first) };
    HEAP.check_invariants();

    // The next thread gets the same box back, holding the same blocks.
    let second = std::thread::spawn(|| {
        let c = HEAP.take_thread_cache().expect("a cache box");
        // SAFETY: ours now.
        let bytes = unsafe { c.as_ref() }.cached_bytes();
        (c.as_ptr() as usize, bytes)
    })
    .join()
    .unwrap();
    assert_eq!(
        second.0,
        first.as_ptr() as usize,
        "the pooled box is reused"
    );
    assert_eq!(second.1, held, "its parked blocks were adopted");

    // Two boxes taken at once are distinct; both go back and the heap stays consistent.
    let again = std::ptr::NonNull::new(second.0 as *mut alloc_core::ThreadCache).unwrap();
    let other = HEAP.take_thread_cache().expect("a cache box");
    assert_ne!(other, again);
    // SAFETY: both came from HEAP.take_thread_cache and are not used again.
    unsafe {
        HEAP.flush_thread_cache(&mut *again.as_ptr());
        HEAP.give_back_thread_cache(again);
        HEAP.give_back_thread_cache(other);
    }
    HEAP.check_invariants();
    HEAP.release_free_memory();
    assert_eq!(HEAP.stats().bytes_in_use, 0);
}

/// Whether `/proc/self/smaps` shows the mapping holding `addr` advised `MADV_HUGEPAGE` (`hg`
/// among its `VmFlags`; the kernel may have merged it with a neighbour of the same flags).
fn advised_huge(addr: usize) -> bool {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        let head = line.split_whitespace().next().unwrap_or("");
        if let Some((start, end)) = head.split_once('-') {
            if let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                inside = (start..end).contains(&addr);
                continue;
            }
        }
        if inside {
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.split_whitespace().any(|f| f == "hg");
            }
        }
    }
    panic!("no mapping holds {addr:#x}");
}

#[test]
fn huge_pages_can_be_turned_off() {
    let src = MmapSource::new();
    let len = 8 << 20;
    assert!(MmapSource::huge_pages(), "on by default");
    let on = src.map(len).unwrap();
    assert_eq!(on.as_ptr() as usize % (2 << 20), 0, "2 MiB aligned");
    assert!(advised_huge(on.as_ptr() as usize));
    MmapSource::set_huge_pages(false);
    let off = src.map(len).unwrap();
    assert!(!advised_huge(off.as_ptr() as usize));
    MmapSource::set_huge_pages(true);
    // SAFETY: both mappings were made above and nothing refers to them.
    unsafe {
        src.unmap(on, len);
        src.unmap(off, len);
    }
}
