//! Churn of big blocks (issue #20): the kinds of large-block work a third-party suite ran
//! alloc-core on, where it took 1.27x glibc's time and the highest peak RSS of five
//! allocators. Each block's pages are all written once, as a program filling its buffers
//! does, so that an allocator that hands out released or fresh memory pays the page faults
//! (and the kernel's zeroing) it causes, and the peak RSS column shows what it keeps.

use std::alloc::GlobalAlloc;

use super::real::log_uniform;
use super::{Sample, Scale, layout, measure, must, xorshift};

/// Writes one byte in every page of the `size`-byte block at `p`.
#[inline(always)]
fn touch_pages(p: *mut u8, size: usize) {
    for off in (0..size).step_by(4096) {
        // SAFETY: off < size, inside the block.
        unsafe { p.add(off).write(1) };
    }
}

/// `slots` blocks per thread replaced at random, `n` times, sizes from `size(rng)` (each
/// thread's generator starts from `seed`); the new block is allocated (and written) before
/// the one it replaces is freed, as `slot = make_buffer()` does. One operation is an
/// allocation or a free.
pub(super) fn churn<A: GlobalAlloc + Sync>(
    a: &A,
    threads: usize,
    seed: u64,
    slots: usize,
    n: usize,
    size: impl Fn(&mut u64) -> usize + Sync,
) -> Sample {
    measure(threads, |t, go| {
        let mut rng = seed ^ ((t as u64 + 1) * 0x9E37_79B9);
        let mut held = vec![(std::ptr::null_mut::<u8>(), 0usize); slots];
        go();
        let mut ops = 0;
        for _ in 0..n {
            let bytes = size(&mut rng);
            let i = (xorshift(&mut rng) % slots as u64) as usize;
            // SAFETY: non-zero size.
            let p = unsafe { must(a.alloc(layout(bytes))) };
            touch_pages(p, bytes);
            let (old, old_size) = std::mem::replace(&mut held[i], (p, bytes));
            ops += 1;
            if !old.is_null() {
                // SAFETY: allocated above with this layout.
                unsafe { a.dealloc(old, layout(old_size)) };
                ops += 1;
            }
        }
        for (p, bytes) in held {
            if !p.is_null() {
                // SAFETY: as above.
                unsafe { a.dealloc(p, layout(bytes)) };
            }
        }
        ops
    })
}

/// mimalloc-bench's `malloc-large`: 20 buffers of 5-25 MiB (uniform) replaced at random.
/// Most are above alloc-core's 8 MiB mapping threshold, so this row measures its own
/// mappings and their cache (`heap/mapped.rs`) as much as the span heap.
pub(super) fn huge<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    churn(a, threads, 0xB16B, 20, sc.n(400), |rng| {
        (5 << 20) + (xorshift(rng) % (20 << 20)) as usize
    })
}

/// Several threads churning blocks of 64 KiB to 8 MiB (log-uniform: as many of each octave),
/// 10 per thread: the page heap under its lock from every thread at once.
pub(super) fn large_mt<A: GlobalAlloc + Sync>(a: &A, threads: usize, sc: Scale) -> Sample {
    churn(a, threads, 0xB16B, 10, sc.n(5_000), |rng| {
        log_uniform(rng, 64 << 10, 8 << 20)
    })
}
