//! alloc-core as a drop-in `malloc` for any program: a `cdylib` exporting the C allocation API,
//! loaded with `LD_PRELOAD`.
//!
//! ```text
//! cargo build --release -p benchmarks --example malloc_shim
//! LD_PRELOAD=$CARGO_TARGET_DIR/release/examples/libmalloc_shim.so python3 ...
//! ```
//!
//! Exported: `malloc`, `free`, `calloc`, `realloc`, `reallocarray`, `posix_memalign`,
//! `aligned_alloc`, `memalign`, `valloc`, `pvalloc`, `malloc_usable_size`, `malloc_trim`
//! (glibc's list of functions a replacement malloc provides). `free` and `realloc` find a
//! block's size through alloc-core's page map; no header precedes a block.
//!
//! # C++
//! The shim does not export `operator new` / `operator delete`. libstdc++'s versions call
//! `malloc` / `aligned_alloc` / `free`, which resolve to the shim, and keep C++'s contract
//! (a throwing `new` calls the new-handler and throws `std::bad_alloc` when `malloc` returns
//! null; `nothrow` forms return null). Exporting them from Rust could not throw.
//!
//! # Thread caches
//! A thread's state lives in a const-initialised `thread_local!` with no destructor (reaching
//! it never allocates and never registers anything); its alloc-core cache lives in a box
//! mapped from the heap's page source (or reused from a thread that ended), not in TLS. The
//! thread's first allocation takes a box and marks the thread live in a `pthread_key_create`
//! key whose destructor gives it back when the thread ends (`Heap::give_back_thread_cache`:
//! the cache is parked for the next new thread, which adopts it warm, or flushed to the shared
//! tiers, and its box goes back to the heap's pool, the same pool `GlobalHeap` uses); after that the thread allocates through the shared tiers (the
//! "uncached" path) until it is gone, so allocations made by later thread-exit code (other
//! keys' destructors, glibc's own teardown) neither leak nor touch a dead cache.
//!
//! # Fast paths
//! `malloc`, `free`, small `calloc` and small `realloc` first try the thread's cache alone: the
//! cache is reached through one thread-local word read with the initial-exec TLS model
//! (declared in assembly: see `lp_malloc_shim_slot`), not through `__tls_get_addr`, and
//! `Heap::malloc_from_cache` / `Heap::free_to_cache` pop or push without a call, so `malloc`
//! and `free` are leaf functions; everything else (refills, large blocks, registration)
//! goes to one out-of-line call.
//!
//! Re-entrancy: while a thread is inside its cache (its slot word is null for that time), or
//! is registering (state `BUSY`), a nested call (a signal handler, or glibc allocating inside
//! `pthread_setspecific`) takes the uncached path, which needs no thread-local state and no
//! initialisation: the heap is a `static` ready at load time, so there is no bootstrap arena
//! and nothing to call `dlsym` for.
//!
//! # Giving memory back
//! Free spans go back to the OS (`madvise(MADV_DONTNEED)`) once they idled for the release
//! delay, 500 ms unless `LP_ALLOC_RELEASE_DELAY_MS` says otherwise (read once, at the first
//! allocation; 0 releases at every scan), whenever the heap frees a span; `malloc_trim`
//! releases every free span at once. The shim starts no background thread (a C program may
//! count on staying single-threaded): a program that stops calling the allocator keeps what
//! it freed until its next call that frees a span, or `malloc_trim`.
//!
//! # Huge pages
//! Mappings of more than 2 MiB (the span heap's growth once it holds a few MiB, big blocks)
//! are 2 MiB aligned and advised `MADV_HUGEPAGE`; `LP_ALLOC_HUGEPAGES=0` (read at the first
//! allocation) turns that off (`MmapSource::set_huge_pages`).
//!
//! # fork
//! The first thread to activate a cache registers `pthread_atfork` handlers: before `fork`
//! every lock of the heap is taken (`Heap::lock_all`), and after it they are released in the
//! parent and the child (`Heap::unlock_all`), so a child forked while other threads allocate
//! finds a consistent, unlocked heap (the lock of the pool of cache boxes is one of them).
//! Other threads' caches are simply lost in the child.
//!
//! # Errors
//! As C expects: null and `errno = ENOMEM` when memory runs out (or `calloc` / `reallocarray`
//! / `pvalloc` sizes overflow); `posix_memalign` returns `EINVAL` for an alignment that is not
//! a power of two multiple of `sizeof(void *)` and `ENOMEM` without touching `*memptr`.
//! `realloc(p, 0)` frees `p` and returns null, as glibc does. `free` of a pointer that is not
//! in the heap's memory is ignored; `realloc` of one aborts with a message (its size cannot be
//! known).

use core::cell::Cell;
use core::ffi::{c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};
use std::alloc::Layout;

use alloc_core::{Heap, MmapSource, ThreadCache, TlsHook};

/// The process-wide heap: const-initialised, usable from the very first call.
static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());

/// No cache yet: the next call registers the thread (and the process, the first time).
const FRESH: u8 = 0;
/// The cache is registered: the thread's slot holds it while it is idle and is null while the
/// thread is inside it (nested calls then go uncached).
const ACTIVE: u8 = 1;
/// The thread is registering its cache: nested calls go uncached.
const BUSY: u8 = 2;
/// The thread's key destructor retired the cache: the thread is ending, go uncached.
const DEAD: u8 = 3;

/// A thread's state and its cache (null until registered). The cache lives in a box of its
/// own from the heap's pool (`Heap::take_thread_cache`), not in TLS: a 71 KiB TLS block would
/// be cleared by every new thread's TLS set-up (allocating or not), and with the initial-exec
/// slot below the whole block would have to fit glibc's static-TLS reserve, so `dlopen` of
/// the shim failed ("cannot allocate memory in static TLS block").
struct Local {
    state: Cell<u8>,
    cache: Cell<*mut ThreadCache>,
}

std::thread_local! {
    // No destructor and a zero const initialiser (`.tbss`): reaching it never allocates nor
    // registers anything. Only the slow paths reach it by name (one `__tls_get_addr` call in
    // a shared object); the fast path reaches the cache through the slot.
    static LOCAL: Local = const {
        Local { state: Cell::new(FRESH), cache: Cell::new(ptr::null_mut()) }
    };
}

// The fast path's thread-local word: the thread's cache while it is ACTIVE and idle, null
// otherwise (not registered yet, inside the cache, retired). Rust reaches a `thread_local!`
// of a shared object with the general-dynamic model, a `__tls_get_addr` call per access (11
// instructions plus the call, measured with callgrind); this word is declared in assembly and
// read with the initial-exec model (jemalloc's, tcmalloc's and mimalloc's preloadable builds
// do the same): one load of its offset from the GOT and one load relative to `%fs`. The
// library is then marked `STATIC_TLS`: its whole TLS block (this word, `LOCAL`, std's few
// words) comes from glibc's static-TLS reserve when it is `dlopen`ed, which is why the caches
// are not in TLS. Preloaded, every module's TLS is static anyway.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .tbss,\"awT\",@nobits",
    ".p2align 3",
    ".globl lp_malloc_shim_slot",
    ".hidden lp_malloc_shim_slot",
    ".type lp_malloc_shim_slot,@object",
    ".size lp_malloc_shim_slot,8",
    "lp_malloc_shim_slot:",
    ".zero 8",
    ".popsection",
    options(att_syntax)
);

/// The thread's fast-path slot (see `lp_malloc_shim_slot` above).
#[cfg(target_arch = "x86_64")]
mod slot {
    use alloc_core::ThreadCache;

    /// The slot's offset from the thread pointer (the same for every thread).
    #[inline(always)]
    pub(super) fn offset() -> isize {
        let off: isize;
        // SAFETY: reads the GOT entry the dynamic linker filled with the TLS offset of the
        // symbol (R_X86_64_TPOFF64); it never changes after relocation.
        unsafe {
            core::arch::asm!(
                "movq lp_malloc_shim_slot@gottpoff(%rip), {0}",
                out(reg) off,
                options(att_syntax, pure, nomem, nostack, preserves_flags)
            )
        };
        off
    }

    /// The slot's value.
    #[inline(always)]
    pub(super) fn get(off: isize) -> *mut ThreadCache {
        let v: *mut ThreadCache;
        // SAFETY: `off` is the slot's offset from `%fs`, the calling thread's static TLS: an
        // aligned 8-byte word of this thread, written only by this thread.
        unsafe {
            core::arch::asm!(
                "movq %fs:({1}), {0}",
                out(reg) v,
                in(reg) off,
                options(att_syntax, nostack, preserves_flags, readonly)
            )
        };
        v
    }

    /// Sets the slot's value.
    #[inline(always)]
    pub(super) fn set(off: isize, v: *mut ThreadCache) {
        // SAFETY: as in `get`; the word belongs to the calling thread.
        unsafe {
            core::arch::asm!(
                "movq {1}, %fs:({0})",
                in(reg) off,
                in(reg) v,
                options(att_syntax, nostack, preserves_flags)
            )
        };
    }
}

/// The slot on other architectures: an ordinary `thread_local!` (general-dynamic access).
#[cfg(not(target_arch = "x86_64"))]
mod slot {
    use alloc_core::ThreadCache;
    use core::cell::Cell;

    std::thread_local! {
        static SLOT: Cell<*mut ThreadCache> = const { Cell::new(core::ptr::null_mut()) };
    }

    #[inline(always)]
    pub(super) fn offset() -> isize {
        0
    }

    #[inline(always)]
    pub(super) fn get(_: isize) -> *mut ThreadCache {
        SLOT.with(Cell::get)
    }

    #[inline(always)]
    pub(super) fn set(_: isize, v: *mut ThreadCache) {
        SLOT.with(|s| s.set(v));
    }
}

/// Process-wide set-up: 0 not started, 1 in progress, 2 done, 3 failed (caches disabled).
static INIT: AtomicU8 = AtomicU8::new(0);
/// The key whose destructor retires a thread's cache (valid once `INIT` is 2).
static mut KEY: libc::pthread_key_t = 0;

struct ShimTls;

// SAFETY: the caches are used only with HEAP, one per thread (a box is taken from the pool or
// mapped by one registering thread and given back only when it ends). A cache is reached
// only through the thread's slot, which is cleared for the duration of `f` (or, right after
// registration, not yet set), so a nested call finds it null, goes to `claim_slow`, sees state
// ACTIVE or BUSY there and gets `None`. This function never allocates through the heap (the
// registration `claim_slow` may trigger runs with the state BUSY, so a nested allocation goes
// uncached; it maps a box from the page source, which is not an allocation). A cache is
// retired (parked or flushed, either way emptied) by the key destructor, which clears the
// slot and sets the state DEAD first: the thread never reaches it again.
unsafe impl TlsHook for ShimTls {
    #[inline(always)]
    fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
        let off = slot::offset();
        let mut c = slot::get(off);
        if c.is_null() {
            c = claim_slow();
            if c.is_null() {
                return None;
            }
        } else {
            slot::set(off, ptr::null_mut());
        }
        // SAFETY: `c` is this thread's ACTIVE cache and the slot is null until it is set back:
        // this is the only reference to it.
        let r = f(unsafe { &mut *c });
        slot::set(off, c);
        Some(r)
    }
}

/// The slot was null: registers the thread when it is FRESH and returns its cache (the slot
/// still null: the caller sets it when done with the cache), or returns null when the cache may
/// not be used now (inside the cache or registering: a nested call; retired; set-up failed or
/// out of memory).
#[cold]
#[inline(never)]
fn claim_slow() -> *mut ThreadCache {
    LOCAL.with(|l| {
        if l.state.get() == FRESH && activate(l) {
            l.cache.get()
        } else {
            ptr::null_mut()
        }
    })
}

/// Registers the calling thread (its key value makes glibc call `thread_exit` when it ends)
/// and gives it a cache box. Returns whether the thread's cache may be used now; the state is
/// then ACTIVE.
#[cold]
fn activate(l: &Local) -> bool {
    l.state.set(BUSY);
    if !init_process() {
        l.state.set(FRESH);
        return false;
    }
    // SAFETY: KEY was created (INIT is 2). A non-null value makes the destructor run at thread
    // exit. For keys above 31 glibc allocates here; the nested call sees BUSY and goes uncached.
    if unsafe { libc::pthread_setspecific(KEY, ptr::dangling::<c_void>()) } != 0 {
        l.state.set(FRESH);
        return false;
    }
    // A pooled box or a fresh mapping, filled with a parked cache if there is one.
    let Some(cache) = HEAP.take_thread_cache() else {
        // Out of memory: uncached for now, registered again at the next call.
        l.state.set(FRESH);
        return false;
    };
    l.cache.set(cache.as_ptr());
    l.state.set(ACTIVE);
    true
}

/// Creates the thread-exit key and registers the fork handlers, once. A thread that finds the
/// set-up in progress on another thread goes uncached this time.
#[cold]
fn init_process() -> bool {
    match INIT.compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire) {
        Ok(_) => {}
        Err(2) => return true,
        Err(_) => return false,
    }
    if env_u64(c"LP_ALLOC_HUGEPAGES") == Some(0) {
        MmapSource::set_huge_pages(false);
    }
    if let Some(ms) = env_u64(c"LP_ALLOC_RELEASE_DELAY_MS") {
        HEAP.set_release_delay(ms.saturating_mul(1_000_000));
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: key is a valid out-pointer; the destructor is an extern "C" fn of the right type.
    if unsafe { libc::pthread_key_create(&mut key, Some(thread_exit)) } != 0 {
        INIT.store(3, Ordering::Release);
        return false;
    }
    // SAFETY: written once, before INIT becomes 2 (Release), and read only after seeing 2.
    unsafe { KEY = key };
    // SAFETY: the handlers are extern "C" fns taking no arguments. A failure (ENOMEM) only
    // leaves fork without protection, as with no handlers at all.
    let _ =
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
    INIT.store(2, Ordering::Release);
    true
}

/// A decimal environment variable, read without allocating; `None` when unset or not a number.
fn env_u64(name: &core::ffi::CStr) -> Option<u64> {
    // SAFETY: a NUL-terminated name; getenv returns null or a NUL-terminated value.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: as above; the value is read at once, before anything could change it.
    let bytes = unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes();
    core::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// The key destructor: hands the ending thread's cache back (parked for the next new thread,
/// or flushed) and sends the thread's remaining calls (other destructors, glibc's teardown)
/// to the shared tiers.
extern "C" fn thread_exit(_: *mut c_void) {
    LOCAL.with(|l| {
        if l.state.get() == ACTIVE {
            // Not inside the cache (a key destructor runs outside every allocator call): the
            // slot holds the cache; clear it so that later calls take the slow path.
            slot::set(slot::offset(), ptr::null_mut());
            l.state.set(BUSY);
            let c = l.cache.replace(ptr::null_mut());
            // SAFETY: state ACTIVE -> BUSY with the slot null: the only reference to the
            // cache, which came from HEAP.take_thread_cache and is not used again.
            unsafe { HEAP.give_back_thread_cache(ptr::NonNull::new_unchecked(c)) };
            l.state.set(DEAD);
        }
    });
}

extern "C" fn fork_prepare() {
    // Also the lock of the pool of cache boxes and parked caches.
    HEAP.lock_all();
}

extern "C" fn fork_parent() {
    // SAFETY: fork_prepare took every lock on this thread.
    unsafe { HEAP.unlock_all() };
}

extern "C" fn fork_child() {
    // SAFETY: the child's only thread is the copy of the one that took every lock.
    unsafe { HEAP.unlock_all() };
}

fn set_errno(e: c_int) {
    // SAFETY: glibc's errno location is the calling thread's errno.
    unsafe { *libc::__errno_location() = e };
}

/// The alignment `malloc` guarantees: 16 bytes (glibc's `MALLOC_ALIGNMENT`, `max_align_t`),
/// except that blocks of at most 8 bytes, which no 16-byte-aligned type fits in, get 8.
#[inline(always)]
fn malloc_align(size: usize) -> usize {
    if size <= 8 { 8 } else { 16 }
}

/// The size asked of the heap for a `malloc(size)`: above 8 bytes rounded up to a multiple of
/// 16 (saturating: an absurd size stays absurd and fails). The block is the same (the smallest
/// class at least `size` that is 16-aligned), but every size then falls on a class the
/// table's lookup gives 16-aligned directly: `malloc(24)` asked as (24, align 16) found the
/// 24-byte class too weakly aligned and searched the classes upwards, on every call.
#[inline(always)]
fn malloc_size(size: usize) -> usize {
    if size <= 8 {
        size
    } else {
        size.saturating_add(15) & !15
    }
}

#[inline(always)]
fn alloc_aligned(size: usize, align: usize) -> *mut c_void {
    let p = match Layout::from_size_align(size, align) {
        // SAFETY: ShimTls is the only hook used with HEAP.
        Ok(layout) => unsafe { HEAP.allocate(&ShimTls, layout) },
        Err(_) => ptr::null_mut(),
    };
    if p.is_null() {
        set_errno(libc::ENOMEM);
    }
    p.cast()
}

/// `memalign` semantics shared by `aligned_alloc`, `valloc`, `pvalloc`: an alignment under
/// 16 is `malloc`'s; one that is not a power of two is rounded up to the next (as glibc does).
fn memalign_impl(align: usize, size: usize) -> *mut c_void {
    let Some(align) = align.checked_next_power_of_two() else {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    };
    // At least what malloc gives, and at least what was asked: `aligned_alloc(16, 0)` used to
    // get malloc's 8-byte alignment for a block of at most 8 bytes, which only happened to be
    // 16-aligned when the thread cache handed blocks out backwards.
    alloc_aligned(size, align.max(malloc_align(size)))
}

fn abort_with(msg: &str) -> ! {
    // SAFETY: writes a static message to stderr; abort never returns.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::abort()
    }
}

/// The largest size class (alloc-core's 32 KiB). `calloc` up to this size tries the cache's
/// fast path; `realloc` of a block of at most this size to at most this size stays in place
/// when the block fits, else moves through `malloc`'s and `free`'s fast paths; larger ones go
/// to the heap's `allocate_zeroed` / `reallocate_unsized` (known-zero fresh pages, large spans
/// resized in place, `mremap`).
const SMALL_MAX: usize = 32 << 10;

/// Runs `f` on the thread's cache when its slot holds it (registered, idle), clearing the slot
/// meanwhile (see `ShimTls`); `None` otherwise. No call, no registration: the fast paths of
/// `malloc` and `free`, which take their slow path (through `ShimTls`) on `None`.
#[inline(always)]
fn with_idle_cache<R>(f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
    let off = slot::offset();
    let c = slot::get(off);
    if c.is_null() {
        return None;
    }
    slot::set(off, ptr::null_mut());
    // SAFETY: as in `ShimTls::with_thread_cache`: the slot held this thread's ACTIVE cache and
    // is null until it is set back, so this is the only reference to it.
    let r = f(unsafe { &mut *c });
    slot::set(off, c);
    Some(r)
}

/// C `malloc`: `size` bytes aligned to 16 (8 for at most 8 bytes); null and `ENOMEM` on
/// failure.
///
/// The fast path pops a block from the thread's cache without a call (a leaf function that
/// saves no register); anything else (an empty stack, a large request, a thread not
/// registered yet) goes to `malloc_slow`.
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: the thread's cache belongs to HEAP.
    let p = with_idle_cache(|c| unsafe { HEAP.malloc_from_cache(c, size) });
    if let Some(p) = p.filter(|p| !p.is_null()) {
        return p.cast();
    }
    malloc_slow(size)
}

/// `malloc` past its fast path: refill, large objects, registration, uncached threads.
/// `extern "C"` (it cannot unwind) so that `malloc` reaches it with a tail call.
#[inline(never)]
extern "C" fn malloc_slow(size: usize) -> *mut c_void {
    alloc_aligned(malloc_size(size), malloc_align(size))
}

/// C `free`: null is ignored, as is a pointer outside the heap's memory.
///
/// The fast path pushes a block of a size class on the thread's cache without a call;
/// anything else (a full stack, a large object, null, a thread not registered) goes to
/// `free_slow`.
///
/// # Safety
/// `p` is null or a live block from this allocator, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: the thread's cache belongs to HEAP; p is the caller's (a foreign pointer or null
    // finds no class in the page map and is left to the slow path).
    if with_idle_cache(|c| unsafe { HEAP.free_to_cache(c, p.cast()) }) != Some(true) {
        // SAFETY: the caller's contract.
        unsafe { free_slow(p) };
    }
}

/// `free` past its fast path.
///
/// # Safety
/// As [`free`].
#[inline(never)]
unsafe extern "C" fn free_slow(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: the caller's contract; a foreign pointer is refused by the page map.
        unsafe { HEAP.deallocate_unsized(&ShimTls, p.cast()) };
    }
}

/// C `calloc`: `n * size` zeroed bytes; null and `ENOMEM` when the product overflows or
/// memory runs out. Fresh pages from the OS are not written.
///
/// Small blocks come from the thread cache's fast path, as in `malloc`, and are zeroed (a
/// block from a cache was used before).
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    };
    if total <= SMALL_MAX {
        // SAFETY: the thread's cache belongs to HEAP.
        let p = with_idle_cache(|c| unsafe { HEAP.malloc_from_cache(c, total) });
        if let Some(p) = p.filter(|p| !p.is_null()) {
            // SAFETY: the block holds at least `total` bytes.
            unsafe { p.write_bytes(0, total) };
            return p.cast();
        }
    }
    calloc_slow(total)
}

/// `calloc` past its fast path: large blocks (known-zero fresh pages are not written), refill,
/// registration, uncached threads.
#[inline(never)]
fn calloc_slow(total: usize) -> *mut c_void {
    let p = match Layout::from_size_align(malloc_size(total), malloc_align(total)) {
        // SAFETY: ShimTls is the only hook used with HEAP.
        Ok(layout) => unsafe { HEAP.allocate_zeroed(&ShimTls, layout) },
        Err(_) => ptr::null_mut(),
    };
    if p.is_null() {
        set_errno(libc::ENOMEM);
    }
    p.cast()
}

/// C `realloc`: `realloc(NULL, n)` is `malloc(n)`, `realloc(p, 0)` frees `p` and returns null
/// (glibc's behaviour); otherwise resizes in place when possible, else moves. Null and
/// `ENOMEM` on failure, the old block left untouched.
///
/// A small block stays where it is when the new size fits its class and is more than half of
/// it (`alloc_core::resize_in_place`, the heap's own rule), else moves through the `malloc`
/// and `free` fast paths.
///
/// # Safety
/// `p` is null or a live block from this allocator; on success it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        // SAFETY: callable at any time.
        return unsafe { malloc(size) };
    }
    if size == 0 {
        // SAFETY: the caller's contract.
        unsafe { free(p) };
        return ptr::null_mut();
    }
    // SAFETY: the caller's contract (a foreign pointer gives None).
    let old = unsafe { HEAP.usable_size(p.cast()) };
    if let Some(old) = old.filter(|&old| old <= SMALL_MAX && size <= SMALL_MAX) {
        let aligned = p as usize & (malloc_align(size) - 1) == 0;
        if aligned && alloc_core::resize_in_place(old, size) {
            return p;
        }
        // SAFETY: callable at any time.
        let q = unsafe { malloc(size) };
        if !q.is_null() {
            // SAFETY: p holds `old` usable bytes and q at least `size`; distinct blocks; then p
            // is freed once (the caller's contract).
            unsafe {
                ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), old.min(size));
                free(p);
            }
        }
        return q;
    }
    // SAFETY: the caller's contract.
    unsafe { realloc_slow(p, size) }
}

/// `realloc` of a large block or to a large size, or of a foreign pointer (which aborts).
///
/// # Safety
/// As [`realloc`], with `p` not null and `size` not 0.
#[inline(never)]
unsafe fn realloc_slow(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: the caller's contract.
    let q = unsafe { HEAP.reallocate_unsized(&ShimTls, p.cast(), size, malloc_align(size)) };
    if q.is_null() {
        // SAFETY: p is live or foreign (caller's contract).
        if unsafe { HEAP.usable_size(p.cast()) }.is_none() {
            abort_with("malloc_shim: realloc() of a pointer this allocator did not return\n");
        }
        set_errno(libc::ENOMEM);
    }
    q.cast()
}

/// C `reallocarray`: `realloc(p, n * size)` with the product checked (`ENOMEM` on overflow,
/// `p` untouched).
///
/// # Safety
/// As [`realloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: the caller's contract.
        Some(total) => unsafe { realloc(p, total) },
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// POSIX `posix_memalign`: `EINVAL` unless `align` is a power of two multiple of
/// `sizeof(void *)`, `ENOMEM` when memory runs out (`*out` untouched on either), else 0.
///
/// # Safety
/// `out` is valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align < size_of::<*mut c_void>() {
        return libc::EINVAL;
    }
    let align = align.max(malloc_align(size));
    let p = match Layout::from_size_align(size, align) {
        // SAFETY: ShimTls is the only hook used with HEAP.
        Ok(layout) => unsafe { HEAP.allocate(&ShimTls, layout) },
        Err(_) => ptr::null_mut(),
    };
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: the caller's contract.
    unsafe { out.write(p.cast()) };
    0
}

/// C11 `aligned_alloc` (as glibc 2.36: `memalign`).
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    memalign_impl(align, size)
}

/// Obsolete `memalign`: an alignment that is not a power of two is rounded up.
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    memalign_impl(align, size)
}

/// Obsolete `valloc`: page-aligned.
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    memalign_impl(4096, size)
}

/// Obsolete `pvalloc`: page-aligned, size rounded up to whole pages (one page for 0).
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    match size.max(1).checked_next_multiple_of(4096) {
        Some(size) => memalign_impl(4096, size),
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// glibc `malloc_usable_size`: the bytes usable at `p` (0 for null or a foreign pointer).
///
/// # Safety
/// `p` is null or a live block from this allocator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    // SAFETY: the caller's contract (null and foreign pointers give None).
    unsafe { HEAP.usable_size(p.cast()) }.unwrap_or(0)
}

/// glibc `malloc_trim`: releases every free span to the OS now; 1 when something was
/// released.
///
/// # Safety
/// Callable from C at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_trim(_pad: usize) -> c_int {
    c_int::from(HEAP.release_free_memory() > 0)
}
