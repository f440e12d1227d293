//! Rust std workloads (issue #20): collections, strings, channels and threads using the
//! process's `#[global_allocator]`. Each runs in a child process whose global allocator is
//! the one under test ([`Switch`], chosen by `LP_BENCH_ALLOC` before the first allocation),
//! so the table compares whole std programs, not calls through `GlobalAlloc`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use rawsys::time::{ClockId, clock_gettime};

use super::{CORE, JEMALLOC, MIMALLOC, Sample, Scale, xorshift};

/// The std workloads, in table order.
pub(super) const STD_WORKLOADS: [&str; 4] =
    ["std-hashmap", "std-btree", "std-channel", "std-threads"];

/// The environment variable naming the child's global allocator.
pub(super) const ALLOC_ENV: &str = "LP_BENCH_ALLOC";

/// 0: not chosen yet; 1 glibc, 2 alloc-core, 3 mimalloc, 4 jemalloc.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// The benchmark's global allocator: glibc, unless `LP_BENCH_ALLOC` names another. The
/// choice is read (with `getenv`, which does not allocate) on the first call and never
/// changes, so every block is freed by the allocator that made it. Each call pays one
/// predictable branch, the same for every allocator.
pub(super) struct Switch;

#[cold]
fn choose() -> u8 {
    // SAFETY: a NUL-terminated name; getenv returns null or a NUL-terminated value that
    // lives as long as the environment is not modified (the benchmark never modifies it).
    let v = unsafe { libc::getenv(c"LP_BENCH_ALLOC".as_ptr()) };
    let c = if v.is_null() {
        1
    } else {
        // SAFETY: as above.
        match unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() {
            b"alloc-core" => 2,
            b"mimalloc" => 3,
            b"jemalloc" => 4,
            _ => 1,
        }
    };
    CHOICE.store(c, Ordering::Relaxed);
    c
}

#[inline(always)]
fn choice() -> u8 {
    match CHOICE.load(Ordering::Relaxed) {
        0 => choose(),
        c => c,
    }
}

macro_rules! dispatch {
    ($method:ident ( $($arg:expr),* )) => {
        // SAFETY: the caller's GlobalAlloc contract, passed on to the one allocator that
        // serves this process.
        unsafe {
            match choice() {
                2 => CORE.$method($($arg),*),
                3 => MIMALLOC.$method($($arg),*),
                4 => JEMALLOC.$method($($arg),*),
                _ => System.$method($($arg),*),
            }
        }
    };
}

// SAFETY: every call goes to the same allocator for the whole process (the choice is made
// once, before the first block), which keeps GlobalAlloc's contract.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        dispatch!(alloc(layout))
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        dispatch!(dealloc(ptr, layout))
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        dispatch!(alloc_zeroed(layout))
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        dispatch!(realloc(ptr, layout, new_size))
    }
}

fn process_cpu() -> f64 {
    clock_gettime(ClockId::ProcessCputime)
        .map(|t| t.as_nanos() as f64 / 1e9)
        .unwrap_or(0.0)
}

/// Fisher-Yates with the benchmark's generator.
fn shuffle<T>(v: &mut [T], rng: &mut u64) {
    for i in (1..v.len()).rev() {
        let j = (xorshift(rng) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// `HashMap<u64, Vec<u8>>` filled with vectors of 1-300 bytes and emptied in random order.
fn hashmap(n: usize, t: u64) -> usize {
    let mut rng = 0xAB ^ ((t + 1) * 0x9E37_79B9);
    let mut keys: Vec<u64> = (0..n).map(|_| xorshift(&mut rng)).collect();
    let mut m: HashMap<u64, Vec<u8>> = HashMap::new();
    for &k in &keys {
        m.insert(k, vec![k as u8; 1 + (k >> 40) as usize % 300]);
    }
    shuffle(&mut keys, &mut rng);
    for k in &keys {
        std::hint::black_box(m.remove(k));
    }
    2 * n
}

/// Formatted strings, sorted, put in a `BTreeMap`, dropped.
fn btree(n: usize, t: u64) -> usize {
    let mut rng = 0xCD ^ ((t + 1) * 0x9E37_79B9);
    let mut v: Vec<String> = (0..n)
        .map(|i| format!("item-{:x}-{i}", xorshift(&mut rng) >> 20))
        .collect();
    v.sort_unstable();
    let m: BTreeMap<String, usize> = v.into_iter().enumerate().map(|(i, s)| (s, i)).collect();
    std::hint::black_box(&m);
    drop(m);
    2 * n
}

/// `Vec<u8>`s of 8-208 bytes made on one thread and dropped on another, through a bounded
/// channel.
fn channel(n: usize) -> usize {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(1024);
    let consumer = std::thread::spawn(move || {
        let mut sum = 0usize;
        for v in rx {
            sum += v.len();
        }
        sum
    });
    let mut rng = 0xEF;
    for _ in 0..n {
        let size = 8 + (xorshift(&mut rng) % 201) as usize;
        if tx.send(vec![1u8; size]).is_err() {
            break;
        }
    }
    drop(tx);
    std::hint::black_box(consumer.join().unwrap_or(0));
    2 * n
}

/// Threads started and ended by the thousand, ten at a time, each allocating 2,000 boxes.
fn threads(rounds: usize) -> usize {
    for r in 0..rounds {
        let hs: Vec<_> = (0..10)
            .map(|i| {
                std::thread::spawn(move || {
                    let v: Vec<Box<[u64; 4]>> = (0..2000)
                        .map(|k| Box::new([(r + i + k) as u64; 4]))
                        .collect();
                    std::hint::black_box(&v);
                })
            })
            .collect();
        for h in hs {
            let _ = h.join();
        }
    }
    rounds * 10 * 2000 * 2
}

/// Runs one std workload in this (child) process and measures it.
pub(super) fn run(workload: &str, sc: Scale) -> Sample {
    let (c0, w0) = (process_cpu(), Instant::now());
    let ops = match workload {
        "std-hashmap" => on_threads(2, |t| hashmap(sc.n(200_000), t)),
        "std-btree" => on_threads(2, |t| btree(sc.n(400_000), t)),
        "std-channel" => channel(sc.n(2_000_000)),
        _ => threads(sc.n(100)),
    };
    Sample {
        ops: ops as f64,
        cpu: process_cpu() - c0,
        wall: w0.elapsed().as_secs_f64(),
    }
}

fn on_threads(n: usize, f: impl Fn(u64) -> usize + Sync) -> usize {
    std::thread::scope(|s| {
        let f = &f;
        let hs: Vec<_> = (0..n).map(|t| s.spawn(move || f(t as u64))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}
