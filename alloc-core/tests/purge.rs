//! After a burst of small objects is freed, the memory goes back to the OS within the release
//! delay although the program makes no further allocator call: the background purger
//! releases the idle spans. (A test binary of its own: no other test allocates meanwhile.)

use std::io::Read;
use std::time::{Duration, Instant};

use alloc_core::{DEFAULT_RELEASE_DELAY_NS, GlobalHeap};

#[global_allocator]
static A: GlobalHeap = GlobalHeap::new();

/// Resident bytes, read without allocating (a stack buffer; std keeps short paths on the
/// stack too).
fn rss_bytes() -> usize {
    let mut buf = [0u8; 128];
    let mut f = std::fs::File::open("/proc/self/statm").unwrap();
    let n = f.read(&mut buf).unwrap();
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let pages: usize = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn rss_falls_after_a_burst_without_further_calls() {
    const BOXES: usize = 2_000_000;
    const BURST: usize = BOXES * 96;
    let base = rss_bytes();
    let mut boxes: Vec<Box<[u8; 96]>> = Vec::with_capacity(BOXES);
    for i in 0..BOXES {
        boxes.push(Box::new([i as u8; 96]));
    }
    let high = rss_bytes();
    assert!(
        high >= base + BURST * 9 / 10,
        "burst not resident: {base} -> {high}"
    );
    drop(boxes);
    let before = GlobalHeap::stats();
    // From here on, no allocation and no free: only reads of /proc and sleeps.
    let freed = Instant::now();
    let deadline = Duration::from_nanos(DEFAULT_RELEASE_DELAY_NS) + Duration::from_millis(1500);
    let mut low = rss_bytes();
    while low > base + BURST / 5 && freed.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        low = rss_bytes();
    }
    let after = GlobalHeap::stats();
    assert!(
        low <= base + BURST / 5,
        "resident {base} -> {high} -> {low} {:?} after the burst was freed; before {before:?}, after {after:?}",
        freed.elapsed()
    );
    assert_eq!(
        (before.thread_cache_refills, before.large_allocs),
        (after.thread_cache_refills, after.large_allocs),
        "the test allocated while it waited"
    );
    eprintln!(
        "resident {} MiB -> {} MiB -> {} MiB, {:?} after the free",
        base >> 20,
        high >> 20,
        low >> 20,
        freed.elapsed()
    );
}
