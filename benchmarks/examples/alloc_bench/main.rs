//! Side-by-side allocator benchmark: alloc-core's heap, glibc (`System`), mimalloc and jemalloc,
//! all called through `GlobalAlloc` in one process.
//!
//! ```text
//! cargo run --release -p benchmarks --example alloc_bench [-- --json] [--runs N] [--quick] [--only WORKLOAD]
//!     [--alloc ALLOCATOR] [--threads N]   (filters: with --alloc, the ratio is to itself)
//! ```
//!
//! Every row reports the median over `--runs` (default 5) measured runs of: millions of
//! operations (an allocation or a free each count as one) per CPU-second of the whole process
//! (`CLOCK_PROCESS_CPUTIME_ID` over the measured region) and per wall second, the ratio of the
//! CPU throughput to glibc's, and (for the largest thread count) the peak RSS of a child
//! process that runs the same workload with only that allocator. `latency` also reports
//! nanoseconds of CPU time per 64-byte allocation+free pair.
//!
//! alloc-core is its `#[global_allocator]`-ready `alloc_core::GlobalHeap` (the `std` feature),
//! called through `GlobalAlloc` like the others.
//!
//! The `std-*` workloads (`std_work.rs`) are Rust std programs (collections, strings, a
//! channel, thread churn); each run is a child process whose `#[global_allocator]` is the
//! allocator under test, the allocators alternating run by run. `real.rs` holds the workloads
//! of kinds alloc-core lost on in third-party programs (issue #20).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use benchmarks::median;
use rawsys::time::{ClockId, clock_gettime};

mod large_work;
mod real;
mod std_work;

/// glibc, or in a `std-*` child the allocator under test (see `std_work.rs`).
#[global_allocator]
static GLOBAL: std_work::Switch = std_work::Switch;

static CORE: alloc_core::GlobalHeap = alloc_core::GlobalHeap::new();
static GLIBC: System = System;
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const ALLOCATORS: [&str; 4] = ["glibc", "alloc-core", "mimalloc", "jemalloc"];
const WORKLOADS: [&str; 13] = [
    "seed-pair",
    "seed-batch",
    "batch",
    "xthread",
    "larson",
    "latency",
    "large",
    "large-mt",
    "huge",
    "vec-grow",
    "small-mixed",
    "glibc-thread",
    "leak",
];

// ---- workloads ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Scale {
    /// Multiplies every iteration count (1.0 = the sizes in the issue).
    factor: f64,
}

impl Scale {
    fn n(&self, base: usize) -> usize {
        ((base as f64 * self.factor) as usize).max(1)
    }
}

#[inline]
fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[inline]
fn layout(size: usize) -> Layout {
    // SAFETY: align 8 is a power of two and sizes here are far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked(size, 8) }
}

#[inline]
fn must(p: *mut u8) -> *mut u8 {
    if p.is_null() {
        eprintln!("allocation failed");
        std::process::abort();
    }
    p
}

/// One measurement: operations done, CPU seconds and wall seconds of the measured region.
struct Sample {
    ops: f64,
    cpu: f64,
    wall: f64,
}

fn thread_cpu_now() -> f64 {
    clock_gettime(ClockId::ThreadCputime)
        .map(|t| t.as_nanos() as f64 / 1e9)
        .unwrap_or(0.0)
}

/// Runs `body(thread_index, go)` on `threads` threads; each body calls `go()` (a barrier) once
/// its setup is done. The measured region runs from the first thread leaving `start` to the last
/// thread finishing; CPU time is the sum of the workers' own CPU clocks over their part of it.
/// That is the process's CPU time over the region (the main thread sleeps in `join`), read
/// exactly: the kernel's process-wide clock only folds in other running threads' time at ticks,
/// which skews regions of a few milliseconds.
fn measure<F>(threads: usize, body: F) -> Sample
where
    F: Fn(usize, &mut dyn FnMut()) -> usize + Sync,
{
    let start = Barrier::new(threads);
    let results: Vec<(usize, f64, Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start, body) = (&start, &body);
                s.spawn(move || {
                    // The body calls `go()` after its setup; its time counts from there.
                    let mut t0 = (0.0, Instant::now());
                    let mut go = || {
                        start.wait();
                        t0 = (thread_cpu_now(), Instant::now());
                    };
                    let n = body(t, &mut go);
                    let (c1, w1) = (thread_cpu_now(), Instant::now());
                    (n, c1 - t0.0, t0.1, w1)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = results
        .iter()
        .map(|r| r.2)
        .min()
        .unwrap_or_else(Instant::now);
    let last = results.iter().map(|r| r.3).max().unwrap_or(first);
    Sample {
        ops: results.iter().map(|r| r.0 as f64).sum(),
        cpu: results.iter().map(|r| r.1).sum(),
        wall: last.duration_since(first).as_secs_f64(),
    }
}

fn seed_pair<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    let n = sc.n(1_000_000);
    measure(threads, |t, go| {
        let mut rng = 0x1234_5678 ^ ((t as u64 + 1) * 0x9E37_79B9);
        go();
        for _ in 0..n {
            let size = 8 + (xorshift(&mut rng) % 1017) as usize;
            // SAFETY: non-zero size; freed with the same layout.
            unsafe {
                let p = must(a.alloc(layout(size)));
                p.write(1);
                a.dealloc(std::hint::black_box(p), layout(size));
            }
        }
        2 * n
    })
}

fn seed_batch<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    let n = sc.n(1_000_000);
    measure(threads, |t, go| {
        let mut rng = 0x8765_4321 ^ ((t as u64 + 1) * 0x9E37_79B9);
        let mut ptrs: Vec<(*mut u8, u32)> = Vec::with_capacity(n);
        go();
        for _ in 0..n {
            let size = 8 + (xorshift(&mut rng) % 1017) as usize;
            // SAFETY: non-zero size.
            let p = must(unsafe { a.alloc(layout(size)) });
            // SAFETY: p holds at least 8 bytes.
            unsafe { p.write(1) };
            ptrs.push((p, size as u32));
        }
        for &(p, size) in &ptrs {
            // SAFETY: allocated above with this layout.
            unsafe { a.dealloc(p, layout(size as usize)) };
        }
        2 * n
    })
}

fn batch<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    let rounds = sc.n(1_000);
    measure(threads, |t, go| {
        let mut rng = 0xABCD ^ ((t as u64 + 1) * 0x9E37_79B9);
        let mut ptrs: Vec<(*mut u8, u32)> = Vec::with_capacity(1000);
        go();
        for _ in 0..rounds {
            for _ in 0..1000 {
                let size = 16 + (xorshift(&mut rng) % 497) as usize;
                // SAFETY: non-zero size.
                let p = must(unsafe { a.alloc(layout(size)) });
                // SAFETY: p holds at least 16 bytes.
                unsafe { p.write(1) };
                ptrs.push((p, size as u32));
            }
            for (p, size) in ptrs.drain(..) {
                // SAFETY: allocated above with this layout.
                unsafe { a.dealloc(p, layout(size as usize)) };
            }
        }
        2000 * rounds
    })
}

const RING: usize = 64;
const CHUNK: usize = 256;

/// A single-producer single-consumer ring of pointer chunks (the harness allocates nothing
/// while measuring).
struct Ring {
    full: Vec<AtomicBool>,
    slots: Vec<UnsafeCell<[usize; CHUNK]>>,
}

// SAFETY: a slot is written only by the producer while `full` is false and read only by the
// consumer while it is true, with Release/Acquire on the flag.
unsafe impl Sync for Ring {}

fn xthread<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    let pairs = (threads / 2).max(1);
    let per_pair = sc.n(1_000_000) / CHUNK * CHUNK;
    let rings: Vec<Ring> = (0..pairs)
        .map(|_| Ring {
            full: (0..RING).map(|_| AtomicBool::new(false)).collect(),
            slots: (0..RING).map(|_| UnsafeCell::new([0; CHUNK])).collect(),
        })
        .collect();
    measure(pairs * 2, |t, go| {
        let ring = &rings[t / 2];
        let producer = t % 2 == 0;
        let mut rng = 0x5555 ^ ((t as u64 + 1) * 0x9E37_79B9);
        go();
        for c in 0..per_pair / CHUNK {
            let i = c % RING;
            if producer {
                while ring.full[i].load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                // SAFETY: the slot is empty, so the producer owns it.
                let slot = unsafe { &mut *ring.slots[i].get() };
                for e in slot.iter_mut() {
                    let size = 16 + (xorshift(&mut rng) % 497) as usize;
                    // SAFETY: non-zero size; the size travels in the first word.
                    unsafe {
                        let p = must(a.alloc(layout(size)));
                        p.cast::<usize>().write(size);
                        *e = p as usize;
                    }
                }
                ring.full[i].store(true, Ordering::Release);
            } else {
                while !ring.full[i].load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                // SAFETY: the slot is full, so the consumer owns it.
                let slot = unsafe { &*ring.slots[i].get() };
                for &e in slot.iter() {
                    let p = e as *mut u8;
                    // SAFETY: allocated by the producer with the size in its first word.
                    unsafe { a.dealloc(p, layout(p.cast::<usize>().read())) };
                }
                ring.full[i].store(false, Ordering::Release);
            }
        }
        per_pair
    })
}

fn larson<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    const SLOTS: usize = 1000;
    let n = sc.n(1_000_000);
    let arrays: Vec<Vec<AtomicUsize>> = (0..threads)
        .map(|_| (0..SLOTS).map(|_| AtomicUsize::new(0)).collect())
        .collect();
    let s = measure(threads, |t, go| {
        let mut rng = 0x7777 ^ ((t as u64 + 1) * 0x9E37_79B9);
        go();
        let mut ops = 0;
        for _ in 0..n {
            let r = xorshift(&mut rng);
            // One replacement in ten lands in another thread's array.
            let owner = if threads > 1 && r.is_multiple_of(10) {
                (t + 1 + (r >> 8) as usize % (threads - 1)) % threads
            } else {
                t
            };
            let slot = &arrays[owner][(r >> 20) as usize % SLOTS];
            let size = 16 + ((r >> 40) % 1009) as usize;
            // SAFETY: non-zero size; the size travels in the first word.
            let p = unsafe {
                let p = must(a.alloc(layout(size)));
                p.cast::<usize>().write(size);
                p
            };
            let old = slot.swap(p as usize, Ordering::AcqRel) as *mut u8;
            ops += 1;
            if !old.is_null() {
                // SAFETY: the object left its slot; we own it now.
                unsafe { a.dealloc(old, layout(old.cast::<usize>().read())) };
                ops += 1;
            }
        }
        ops
    });
    for arr in &arrays {
        for slot in arr {
            let p = slot.swap(0, Ordering::AcqRel) as *mut u8;
            if !p.is_null() {
                // SAFETY: as above.
                unsafe { a.dealloc(p, layout(p.cast::<usize>().read())) };
            }
        }
    }
    s
}

fn latency<A: GlobalAlloc + Sync>(a: &A, _threads: usize, sc: Scale) -> Sample {
    let n = sc.n(10_000_000);
    measure(1, |_, go| {
        go();
        for _ in 0..n {
            // SAFETY: non-zero size, freed with the same layout.
            unsafe {
                let p = must(a.alloc(layout(64)));
                a.dealloc(std::hint::black_box(p), layout(64));
            }
        }
        2 * n
    })
}

fn run_one<A: GlobalAlloc + Sync>(a: &A, workload: &str, threads: usize, sc: Scale) -> Sample {
    match workload {
        "seed-pair" => seed_pair(a, threads, sc),
        "seed-batch" => seed_batch(a, threads, sc),
        "batch" => batch(a, threads, sc),
        "xthread" => xthread(a, threads, sc),
        "larson" => larson(a, threads, sc),
        "large" => real::large(a, threads, sc),
        "large-mt" => large_work::large_mt(a, threads, sc),
        "huge" => large_work::huge(a, threads, sc),
        "vec-grow" => real::vec_grow(a, threads, sc),
        "small-mixed" => real::small_mixed(a, threads, sc),
        "glibc-thread" => real::glibc_thread(a, threads, sc),
        "leak" => real::leak(a, threads, sc),
        _ => latency(a, threads, sc),
    }
}

fn run_named(alloc: &str, workload: &str, threads: usize, sc: Scale) -> Sample {
    match alloc {
        "glibc" => run_one(&GLIBC, workload, threads, sc),
        "alloc-core" => run_one(&CORE, workload, threads, sc),
        "mimalloc" => run_one(&MIMALLOC, workload, threads, sc),
        _ => run_one(&JEMALLOC, workload, threads, sc),
    }
}

fn thread_counts(workload: &str) -> &'static [usize] {
    match workload {
        "latency" | "small-mixed" | "leak" | "vec-grow" | "huge" => &[1],
        "large-mt" => &[4],
        "large" | "glibc-thread" => &[1, 2],
        // Producer/consumer pairs: 2 threads = 1 pair, 4 threads = 2 pairs.
        "xthread" => &[2, 4],
        _ => &[1, 2, 4],
    }
}

// ---- peak RSS in a child ------------------------------------------------------------------

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn child_peak_rss(alloc: &str, workload: &str, threads: usize, factor: f64) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args([
            "--rss-child",
            alloc,
            workload,
            &threads.to_string(),
            &factor.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: f64 = text.trim().strip_prefix("VMHWM ")?.parse().ok()?;
    Some(kib / 1024.0)
}

// ---- main ---------------------------------------------------------------------------------

struct Row {
    workload: String,
    threads: usize,
    alloc: &'static str,
    cpu_mops: f64,
    wall_mops: f64,
    ns_per_pair: Option<f64>,
    ratio: f64,
    rss_mib: Option<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--rss-child") {
        let (alloc, workload) = (args[1].as_str(), args[2].as_str());
        let threads: usize = args[3].parse().unwrap_or(1);
        let factor: f64 = args[4].parse().unwrap_or(1.0);
        run_named(alloc, workload, threads, Scale { factor });
        println!("VMHWM {}", vm_hwm_kib());
        return;
    }
    if args.first().map(String::as_str) == Some("--std-child") {
        let factor: f64 = args.get(2).and_then(|f| f.parse().ok()).unwrap_or(1.0);
        let s = std_work::run(&args[1], Scale { factor });
        println!("SAMPLE {} {} {} {}", s.ops, s.cpu, s.wall, vm_hwm_kib());
        return;
    }
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(5);
    let only = value("--only");
    let only_alloc = value("--alloc");
    let only_threads: Option<usize> = value("--threads").and_then(|v| v.parse().ok());
    let factor = if quick { 0.1 } else { 1.0 };
    let sc = Scale { factor };

    if !json {
        println!(
            "alloc_bench: medians of {runs} runs, Mops = millions of allocations+frees; ratio = CPU throughput / glibc's"
        );
        println!(
            "{:<12} {:>3} {:<11} {:>10} {:>10} {:>8} {:>9}",
            "workload", "thr", "allocator", "Mops/CPU-s", "Mops/s", "vs glibc", "peakRSS"
        );
    }
    for workload in WORKLOADS {
        if only.as_deref().is_some_and(|o| o != workload) {
            continue;
        }
        let counts = thread_counts(workload);
        for &threads in counts {
            if only_threads.is_some_and(|t| t != threads) {
                continue;
            }
            let mut rows: Vec<Row> = Vec::new();
            for alloc in ALLOCATORS {
                if only_alloc.as_deref().is_some_and(|o| o != alloc) {
                    continue;
                }
                // One warm-up run, then the measured ones.
                run_named(alloc, workload, threads, sc);
                let mut cpu = Vec::new();
                let mut wall = Vec::new();
                let mut ns = Vec::new();
                for _ in 0..runs {
                    let s = run_named(alloc, workload, threads, sc);
                    cpu.push(s.ops / s.cpu / 1e6);
                    wall.push(s.ops / s.wall / 1e6);
                    ns.push(s.cpu * 1e9 / (s.ops / 2.0));
                }
                let rss = if threads == *counts.last().unwrap_or(&1) {
                    child_peak_rss(alloc, workload, threads, factor)
                } else {
                    None
                };
                rows.push(Row {
                    workload: workload.to_string(),
                    threads,
                    alloc,
                    cpu_mops: median(&mut cpu).unwrap_or(0.0),
                    wall_mops: median(&mut wall).unwrap_or(0.0),
                    ns_per_pair: (workload == "latency").then(|| median(&mut ns).unwrap_or(0.0)),
                    ratio: 0.0,
                    rss_mib: rss,
                });
            }
            let base = rows[0].cpu_mops;
            for row in &mut rows {
                row.ratio = row.cpu_mops / base;
                print_row(row, json);
            }
        }
    }
    for workload in std_work::STD_WORKLOADS {
        if only.as_deref().is_some_and(|o| o != workload) {
            continue;
        }
        let allocs: Vec<&'static str> = ALLOCATORS
            .into_iter()
            .filter(|a| only_alloc.as_deref().is_none_or(|o| o == *a))
            .collect();
        let mut rows = std_rows(workload, &allocs, runs, factor);
        let base = rows.first().map_or(1.0, |r| r.cpu_mops);
        for row in &mut rows {
            row.ratio = row.cpu_mops / base;
            print_row(row, json);
        }
    }
}

/// One std workload: `runs` child processes per allocator, the allocators taking turns
/// (rotated each round) so that the machine's load hits them alike.
fn std_rows(workload: &str, allocs: &[&'static str], runs: usize, factor: f64) -> Vec<Row> {
    let mut samples: Vec<Vec<(Sample, f64)>> = allocs.iter().map(|_| Vec::new()).collect();
    for round in 0..runs {
        for k in 0..allocs.len() {
            let i = (k + round) % allocs.len();
            if let Some(s) = std_child(allocs[i], workload, factor) {
                samples[i].push(s);
            }
        }
    }
    allocs
        .iter()
        .zip(samples)
        .map(|(alloc, s)| {
            let mut cpu: Vec<f64> = s.iter().map(|(x, _)| x.ops / x.cpu / 1e6).collect();
            let mut wall: Vec<f64> = s.iter().map(|(x, _)| x.ops / x.wall / 1e6).collect();
            let mut rss: Vec<f64> = s.iter().map(|(_, r)| *r).collect();
            Row {
                workload: workload.to_string(),
                threads: if workload == "std-threads" { 10 } else { 2 },
                alloc,
                cpu_mops: median(&mut cpu).unwrap_or(0.0),
                wall_mops: median(&mut wall).unwrap_or(0.0),
                ns_per_pair: None,
                ratio: 0.0,
                rss_mib: median(&mut rss),
            }
        })
        .collect()
}

/// Runs one std workload in a child whose global allocator is `alloc`: (sample, peak RSS MiB).
fn std_child(alloc: &str, workload: &str, factor: f64) -> Option<(Sample, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--std-child", workload, &factor.to_string()])
        .env(std_work::ALLOC_ENV, alloc)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("SAMPLE "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let [ops, cpu, wall, hwm] = v[..] else {
        return None;
    };
    Some((Sample { ops, cpu, wall }, hwm / 1024.0))
}

fn print_row(r: &Row, json: bool) {
    if json {
        let opt = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.2}"));
        println!(
            "{{\"workload\":\"{}\",\"threads\":{},\"allocator\":\"{}\",\"mops_per_cpu_s\":{:.2},\"mops_per_wall_s\":{:.2},\"ratio_vs_glibc\":{:.3},\"ns_per_pair\":{},\"peak_rss_mib\":{}}}",
            r.workload,
            r.threads,
            r.alloc,
            r.cpu_mops,
            r.wall_mops,
            r.ratio,
            opt(r.ns_per_pair),
            opt(r.rss_mib)
        );
    } else {
        let rss = r.rss_mib.map_or("-".to_string(), |v| format!("{v:.1} MiB"));
        let extra = r
            .ns_per_pair
            .map_or(String::new(), |ns| format!("  {ns:.2} ns/pair"));
        println!(
            "{:<12} {:>3} {:<11} {:>10.2} {:>10.2} {:>7.2}x {:>9}{}",
            r.workload, r.threads, r.alloc, r.cpu_mops, r.wall_mops, r.ratio, rss, extra
        );
    }
}
