//! After a burst, free memory idles and goes back to the OS: the process's resident set falls.

use std::time::Duration;

use alloc_core::{DEFAULT_RELEASE_DELAY_NS, GlobalHeap};

#[global_allocator]
static A: GlobalHeap = GlobalHeap::new();

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn rss_falls_after_a_burst() {
    const BURST: usize = 192 << 20;
    let base = rss_bytes();
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut total = 0;
    let mut size = 64;
    while total < BURST {
        blocks.push(vec![0x5A; size]);
        total += size;
        size = if size >= 100_000 { 64 } else { size * 3 / 2 };
    }
    let high = rss_bytes();
    assert!(
        high >= base + BURST * 9 / 10,
        "burst not resident: {base} -> {high}"
    );
    drop(blocks);
    GlobalHeap::flush_thread_cache();
    std::thread::sleep(Duration::from_nanos(DEFAULT_RELEASE_DELAY_NS + 100_000_000));
    // Any page-heap operation lets the heap notice the idle spans; no explicit call needed.
    drop(vec![1u8; 1 << 20]);
    let low = rss_bytes();
    let st = GlobalHeap::stats();
    assert!(
        low < base + BURST / 4,
        "resident {base} -> {high} -> {low} after release: {st:?}"
    );
    assert!(st.bytes_returned_total as usize >= BURST / 2, "{st:?}");
}
