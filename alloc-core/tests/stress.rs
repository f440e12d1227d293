//! Multi-threaded stress in the style of mimalloc's test-stress, on `GlobalHeap` as this binary's
//! global allocator: threads swap objects through a shared slot array (so most frees are
//! cross-thread), end and are replaced while their objects live on, and every object's pattern
//! is checked when it is freed. Plus a thread-churn test whose mapped bytes must stay bounded.
//! The heap's invariants (`GlobalHeap::check_invariants`) are checked after every round and
//! wave, and continuously by a checker thread while the workers run.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use alloc_core::GlobalHeap;

#[global_allocator]
static A: GlobalHeap = GlobalHeap::new();

const HEADER: usize = 16;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// An object: `[size: u32, align_log2: u32, key: u64]` then pattern bytes.
fn make(rng: &mut u64) -> *mut u8 {
    let r = xorshift(rng);
    let size = match r % 1000 {
        0..=4 => 32_769 + (r >> 8) as usize % 100_000,
        5..=59 => 1024 + (r >> 8) as usize % 8_192,
        _ => HEADER + (r >> 8) as usize % 512,
    };
    let align_log2 = if r.is_multiple_of(7) {
        (r >> 40) as u32 % 13
    } else {
        3
    };
    let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
    // SAFETY: non-zero size.
    let p = unsafe { A.alloc(layout) };
    assert!(!p.is_null());
    assert_eq!(p as usize % layout.align(), 0);
    let key = xorshift(rng);
    // SAFETY: p holds `size` >= HEADER bytes, aligned to at least 8.
    unsafe {
        p.cast::<u32>().write(size as u32);
        p.add(4).cast::<u32>().write(align_log2);
        p.add(8).cast::<u64>().write(key);
        for i in HEADER..size {
            p.add(i).write(key.wrapping_add(i as u64) as u8);
        }
    }
    p
}

fn check_and_free(p: *mut u8) {
    // SAFETY: p is an object built by `make` and owned by the caller now.
    unsafe {
        let size = p.cast::<u32>().read() as usize;
        let align_log2 = p.add(4).cast::<u32>().read();
        let key = p.add(8).cast::<u64>().read();
        for i in HEADER..size {
            assert_eq!(
                p.add(i).read(),
                key.wrapping_add(i as u64) as u8,
                "corrupt object"
            );
        }
        A.dealloc(p, Layout::from_size_align(size, 1 << align_log2).unwrap());
    }
}

struct Slots(Vec<AtomicPtr<u8>>);

impl Slots {
    fn drain(&self) {
        for s in &self.0 {
            let p = s.swap(std::ptr::null_mut(), Ordering::AcqRel);
            if !p.is_null() {
                check_and_free(p);
            }
        }
    }
}

fn stress(threads: usize, rounds: usize, iters: usize, slots: usize) {
    let shared = Slots(
        (0..slots)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect(),
    );
    let local_frees = AtomicUsize::new(0);
    for round in 0..rounds {
        let running = AtomicBool::new(true);
        std::thread::scope(|s| {
            // The invariants hold whenever no thread is inside the heap: the check takes every
            // lock, so it sees the shared tiers between operations, whatever the workers do.
            let running = &running;
            s.spawn(move || {
                while running.load(Ordering::Relaxed) {
                    GlobalHeap::check_invariants();
                    std::thread::yield_now();
                }
            });
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let shared = &shared;
                    let local_frees = &local_frees;
                    s.spawn(move || {
                        let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((round * 131 + t) as u64 + 1);
                        let mut mine: Vec<*mut u8> = Vec::new();
                        for _ in 0..iters {
                            let r = xorshift(&mut rng);
                            match r % 10 {
                                // Publish a new object; whatever was in the slot (usually another
                                // thread's, possibly a dead thread's) is checked and freed here.
                                0..=5 => {
                                    let i = (r >> 16) as usize % shared.0.len();
                                    let old = shared.0[i].swap(make(&mut rng), Ordering::AcqRel);
                                    if !old.is_null() {
                                        check_and_free(old);
                                    }
                                }
                                6..=7 => mine.push(make(&mut rng)),
                                _ => {
                                    if let Some(p) = mine.pop() {
                                        check_and_free(p);
                                        local_frees.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                        }
                        // Half of the private objects outlive the thread through the slots.
                        for (k, p) in mine.into_iter().enumerate() {
                            if k % 2 == 0 {
                                let i = (xorshift(&mut rng) >> 16) as usize % shared.0.len();
                                let old = shared.0[i].swap(p, Ordering::AcqRel);
                                if !old.is_null() {
                                    check_and_free(old);
                                }
                            } else {
                                check_and_free(p);
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            running.store(false, Ordering::Relaxed);
        });
        GlobalHeap::check_invariants();
    }
    shared.drain();
    GlobalHeap::check_invariants();
}

#[test]
fn cross_thread_exchange_with_thread_replacement() {
    stress(4, 5, 3_000, 1_000);
}

#[test]
#[ignore = "heavier variant of cross_thread_exchange_with_thread_replacement; run with --ignored"]
fn cross_thread_exchange_heavy() {
    stress(8, 40, 50_000, 20_000);
}

#[test]
fn thread_churn_keeps_mapped_bytes_bounded() {
    let mut peak_mapped = 0;
    let mut after_warmup = 0;
    for wave in 0..250 {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut rng = (wave * 8 + t + 1) as u64;
                    let objs: Vec<*mut u8> = (0..32).map(|_| make(&mut rng)).collect();
                    for p in objs {
                        check_and_free(p);
                    }
                    let v: Vec<String> = (0..50).map(|i| format!("{i}")).collect();
                    v.len()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 50);
        }
        GlobalHeap::check_invariants();
        let st = GlobalHeap::stats();
        peak_mapped = peak_mapped.max(st.bytes_mapped);
        if wave == 20 {
            after_warmup = st.bytes_mapped;
        }
    }
    let st = GlobalHeap::stats();
    // 2000 threads came and went; each cached up to a few MiB while alive. If exited caches
    // leaked, mapping would grow with the thread count.
    assert!(st.thread_cache_flushes >= 2000, "{st:?}");
    assert!(
        peak_mapped <= after_warmup.max(16 << 20) * 3,
        "mapped grew from {after_warmup} to {peak_mapped}: {st:?}"
    );
    assert!(peak_mapped < 256 << 20, "{st:?}");
}
