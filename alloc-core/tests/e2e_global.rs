//! End to end: this test binary's `#[global_allocator]` is `GlobalHeap`, so the test harness,
//! std's collections, threads, formatting and TLS destructors all run on it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc;

use alloc_core::GlobalHeap;

#[global_allocator]
static A: GlobalHeap = GlobalHeap::new();

#[test]
fn collections_formatting_and_threads() {
    let mut map = HashMap::new();
    let mut tree = BTreeMap::new();
    for i in 0..20_000u32 {
        map.insert(format!("key-{i}"), vec![i; (i % 50) as usize]);
        tree.insert(i, i.to_string());
    }
    assert_eq!(map["key-777"].len(), 777 % 50);
    assert_eq!(tree[&12345], "12345");
    let mut dq: VecDeque<String> = (0..1000).map(|i| format!("{i:>8}")).collect();
    dq.rotate_left(10);
    assert_eq!(dq[0], "      10");

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..2000usize {
                    tx.send(vec![t as u8; i % 3000 + 1]).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut total = 0usize;
    for v in rx {
        assert!(v.iter().all(|&b| b == v[0]));
        total += v.len();
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        total,
        4 * (0..2000usize).map(|i| i % 3000 + 1).sum::<usize>()
    );

    let big = vec![7u8; 8 << 20];
    assert_eq!(
        big.iter().map(|&b| b as usize).sum::<usize>(),
        7 * (8 << 20)
    );
    let s = GlobalHeap::stats();
    assert!(s.bytes_in_use >= 8 << 20, "{s:?}");
    assert!(s.bytes_mapped >= s.bytes_in_use);
}

struct AllocatesOnDrop(RefCell<Vec<String>>);

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        // Runs during thread exit, possibly after the allocator's own cache is gone.
        let mut v = self.0.borrow_mut();
        for i in 0..100 {
            v.push(format!("late {i}"));
        }
        let joined = v.join(",");
        assert!(joined.len() > 100);
        v.clear();
        v.shrink_to_fit();
    }
}

thread_local! {
    static LATE: AllocatesOnDrop = const { AllocatesOnDrop(RefCell::new(Vec::new())) };
}

#[test]
fn tls_destructors_may_allocate_during_thread_exit() {
    let before = GlobalHeap::stats();
    for round in 0..50 {
        std::thread::spawn(move || {
            if round % 2 == 0 {
                // The allocator's cache is registered first, LATE second.
                let warm: Vec<Box<u64>> = (0..100).map(Box::new).collect();
                drop(warm);
                LATE.with(|l| l.0.borrow_mut().push(format!("early {round}")));
            } else {
                // LATE first, the cache second.
                LATE.with(|l| l.0.borrow_mut().push(format!("early {round}")));
                let warm: Vec<Box<u64>> = (0..100).map(Box::new).collect();
                drop(warm);
            }
        })
        .join()
        .unwrap();
    }
    let after = GlobalHeap::stats();
    assert!(after.thread_cache_flushes >= before.thread_cache_flushes + 50);
    // Which destructor runs last depends on std's registration order (on glibc today the
    // allocator's cache is registered by std's own first allocation in the thread and is
    // destroyed last); either way nothing may crash and no cache may be re-created. The
    // cache-less path itself is covered by the model test in tests/model.rs.
    assert!(after.thread_cache_flushes <= before.thread_cache_flushes + 50 + 16);
}

#[test]
fn huge_and_over_aligned_requests() {
    use std::alloc::{GlobalAlloc, Layout};
    let too_big = Layout::from_size_align(isize::MAX as usize - 4096, 8).unwrap();
    // SAFETY: the layout is valid; null is the expected answer.
    assert!(unsafe { A.alloc(too_big) }.is_null());
    for align in [4096usize, 1 << 16, 2 << 20] {
        let layout = Layout::from_size_align(100, align).unwrap();
        // SAFETY: valid layout; the block is freed with it.
        unsafe {
            let p = A.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0);
            p.write_bytes(3, 100);
            A.dealloc(p, layout);
        }
    }
    #[repr(align(64))]
    struct Line([u8; 64]);
    let v: Vec<Line> = (0..100).map(|i| Line([i as u8; 64])).collect();
    assert!(
        v.iter()
            .all(|l| (l as *const Line as usize).is_multiple_of(64))
    );
    assert_eq!(v[99].0[63], 99);
}
