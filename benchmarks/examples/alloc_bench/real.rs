//! The kinds of work alloc-core lost on in third-party programs (issue #20), written through
//! `GlobalAlloc` like the other workloads: large blocks touched and freed in a loop, many
//! small objects of mixed sizes on one thread, glibc's per-thread benchmark, a steady leak.

use std::alloc::GlobalAlloc;

use super::{Sample, Scale, layout, measure, must, xorshift};

/// A size between `lo` and `hi` (powers of two apart) drawn log-uniformly: as many blocks of
/// 16-32 KiB as of 2-4 MiB, as in programs whose buffers grow by doubling.
pub(super) fn log_uniform(rng: &mut u64, lo: usize, hi: usize) -> usize {
    let r = xorshift(rng);
    let octaves = (hi / lo).trailing_zeros() as u64;
    let o = (r % octaves) as u32;
    let base = lo << o;
    base + ((r >> 16) as usize % base)
}

/// Large blocks (16 KiB to 4 MiB) replacing each other at random in 20 slots; every page of
/// a new block is written once (a program filling its buffers). glibc serves these from its
/// heap once its mmap threshold has grown; the peak RSS column matters as much as the time.
pub(super) fn large<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    super::large_work::churn(a, threads, 0x4242, 20, sc.n(20_000), |rng| {
        log_uniform(rng, 16 << 10, 4 << 20)
    })
}

/// A `Vec<u8>` pushed to 64 MiB, again and again: the buffer doubles from 8 bytes with
/// `realloc` (as `Vec`'s amortised growth does), and every new page is written once. An
/// allocator that copies on each doubling moves 64 MiB per round; one that remaps (glibc's
/// `mremap` for its mmapped chunks) moves page tables. One operation is an allocation, a
/// `realloc` or a free.
pub(super) fn vec_grow<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    const TOP: usize = 64 << 20;
    let n = sc.n(40);
    measure(threads, |_, go| {
        go();
        let mut ops = 0;
        for _ in 0..n {
            let mut cap = 8;
            // SAFETY: non-zero size.
            let mut p = unsafe { must(a.alloc(layout(cap))) };
            // SAFETY: the first byte lies in the block.
            unsafe { p.write(1) };
            ops += 1;
            while cap < TOP {
                let new = cap * 2;
                // SAFETY: p is live with layout(cap); new is non-zero.
                p = unsafe { must(a.realloc(p, layout(cap), new)) };
                for off in (cap..new).step_by(4096) {
                    // SAFETY: off < new.
                    unsafe { p.add(off).write(1) };
                }
                cap = new;
                ops += 1;
            }
            // SAFETY: allocated above with this layout.
            unsafe { a.dealloc(p, layout(cap)) };
            ops += 1;
        }
        ops
    })
}

/// Many small objects of mixed sizes on one thread, as a bignum or logic-minimisation
/// program makes them: 4,096 live objects, each step frees one at random and allocates one of
/// a skewed size (70 % 8-64 B, 25 % 64-512 B, 5 % 512 B-4 KiB), writing its ends.
pub(super) fn small_mixed<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    const SLOTS: usize = 4096;
    let n = sc.n(2_000_000);
    measure(threads, |t, go| {
        let mut rng = 0x00C0_FFEE ^ ((t as u64 + 1) * 0x9E37_79B9);
        let mut slots = vec![(std::ptr::null_mut::<u8>(), 0u32); SLOTS];
        go();
        let mut ops = 0;
        for _ in 0..n {
            let r = xorshift(&mut rng);
            let size = match r % 100 {
                0..70 => 8 + (r >> 8) as usize % 57,
                70..95 => 64 + (r >> 8) as usize % 449,
                _ => 512 + (r >> 8) as usize % 3585,
            };
            let i = (r >> 32) as usize % SLOTS;
            ops += replace(a, &mut slots[i], size, true);
        }
        free_all(a, &slots);
        ops
    })
}

/// Frees the block in `slot` (if any) and puts a new one of `size` bytes there, writing its
/// first and last byte when `touch`; returns the operations done (1 or 2).
#[inline(always)]
fn replace<A: GlobalAlloc>(a: &A, slot: &mut (*mut u8, u32), size: usize, touch: bool) -> usize {
    let mut ops = 1;
    let (old, old_size) = *slot;
    if !old.is_null() {
        // SAFETY: every slot holds null or a block allocated here with its size.
        unsafe { a.dealloc(old, layout(old_size as usize)) };
        ops += 1;
    }
    // SAFETY: non-zero size; both ends lie inside the block.
    unsafe {
        let p = must(a.alloc(layout(size)));
        if touch {
            p.write(1);
            p.add(size - 1).write(1);
        }
        *slot = (p, size as u32);
    }
    ops
}

/// Frees every block left in `slots`.
fn free_all<A: GlobalAlloc>(a: &A, slots: &[(*mut u8, u32)]) {
    for &(p, size) in slots {
        if !p.is_null() {
            // SAFETY: as in `replace`.
            unsafe { a.dealloc(p, layout(size as usize)) };
        }
    }
}

/// glibc's `bench-malloc-thread`: each thread replaces blocks at random in a working set of
/// 2,000, sizes 4 B to 32 KiB with density about 1/size (log-uniform), in a tight loop.
pub(super) fn glibc_thread<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    const SLOTS: usize = 2000;
    let n = sc.n(2_000_000);
    measure(threads, |t, go| {
        let mut rng = 0x5EED ^ ((t as u64 + 1) * 0x9E37_79B9);
        let mut slots = vec![(std::ptr::null_mut::<u8>(), 0u32); SLOTS];
        go();
        let mut ops = 0;
        for _ in 0..n {
            let size = log_uniform(&mut rng, 4, 32 << 10);
            let i = (xorshift(&mut rng) >> 20) as usize % SLOTS;
            ops += replace(a, &mut slots[i], size, false);
        }
        free_all(a, &slots);
        ops
    })
}

/// A program that leaks steadily: objects of 16 B-1 KiB, freed at once except one in
/// sixteen, which is kept until the end of the run.
pub(super) fn leak<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    let n = sc.n(2_000_000);
    measure(threads, |t, go| {
        let mut rng = 0x1EAC ^ ((t as u64 + 1) * 0x9E37_79B9);
        let mut kept: Vec<(*mut u8, u32)> = Vec::with_capacity(n / 16 + 1);
        go();
        let mut ops = 0;
        for _ in 0..n {
            let r = xorshift(&mut rng);
            let size = 16 + (r % 1009) as usize;
            // SAFETY: non-zero size.
            let p = unsafe { must(a.alloc(layout(size))) };
            // SAFETY: p holds at least 16 bytes.
            unsafe { p.write(1) };
            ops += 1;
            if (r >> 32).is_multiple_of(16) {
                kept.push((p, size as u32));
            } else {
                // SAFETY: allocated just above with this layout.
                unsafe { a.dealloc(p, layout(size)) };
                ops += 1;
            }
        }
        for (p, size) in kept {
            // SAFETY: as above.
            unsafe { a.dealloc(p, layout(size as usize)) };
        }
        ops
    })
}
