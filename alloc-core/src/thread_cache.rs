//! Tier 1: the per-thread cache. A stack of block pointers per size class, no lock, no
//! atomics on the fast path.
//!
//! Invariants (INTERNALS.md, "ThreadCache.stacks"): stack `cls` holds `len` pointers to free
//! blocks of class `cls` in `slots[cls.cache_off()..][..len]`, `len <= cls.cache_cap()`;
//! `bytes` is the sum of `len * size` over the stacks. Only the owning thread touches a cache.
//!
//! The cache keeps pointers, not blocks linked through their first word (the seed's and
//! tcmalloc's old thread cache): a push or a pop never touches the block itself, and a batch
//! moves to the transfer cache or back to its spans as a slice of pointers whose blocks can be
//! reached in parallel, where a linked list is a chain of dependent loads, one cache miss per
//! block when the blocks are cold (a collection emptied in random order).

use core::ptr;

use crate::check::{Checked, ensure};
use crate::page_map::PageMap;
use crate::size_class::{CACHE_SLOTS, MAX_BATCH, NUM_CLASSES, SizeClass};
use crate::transfer_cache::check_block;

/// Starts loading the cache line at `p` (any address: a prefetch never faults).
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching has no architectural effect and never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Bytes a thread cache may hold before it gives blocks back (see `Heap::overflow`).
pub(crate) const MAX_CACHE_BYTES: usize = 4 << 20;

/// One class's stack: its length and bound (its slots are in [`ThreadCache::slots`]).
#[derive(Clone, Copy)]
pub(crate) struct Stack {
    /// Pointers held (`slots[off..off + len]`).
    pub(crate) len: u32,
    /// A push finds the stack full once it holds this many (at most the class's
    /// `cache_cap()`); 0 in an unarmed or finished cache, so that every free overflows.
    pub(crate) max_len: u32,
}

/// One stack per class index (index 0, no class, stays empty).
pub(crate) type Stacks = [Stack; NUM_CLASSES];

/// One thread's cache of free blocks: a stack of block pointers per size class.
///
/// A cache belongs to one [`Heap`](crate::Heap) for its whole life and is used by one thread
/// at a time; a [`TlsHook`](crate::TlsHook) creates it with [`ThreadCache::new`] and hands it to
/// [`Heap::flush_thread_cache`](crate::Heap::flush_thread_cache) when the thread ends. Dropping a
/// cache that still holds blocks leaks them (it is not unsafe). A cache is about 71 KiB (8,880
/// pointers; at most 256 per class, about 64 KiB of blocks).
pub struct ThreadCache {
    pub(crate) stacks: Stacks,
    /// Bytes held in all stacks.
    pub(crate) bytes: usize,
    /// `bytes` as last published to the heap's statistics.
    pub(crate) reported: usize,
    pub(crate) refills: u64,
    pub(crate) overflows: u64,
    pub(crate) scavenges: u64,
    /// The stacks' pointers, class after class (`cls.cache_off()`, `cls.cache_cap()`).
    slots: [*mut u8; CACHE_SLOTS],
}

// SAFETY: the cache only holds pointers to free blocks owned by its heap; moving it to another
// thread moves that ownership along.
unsafe impl Send for ThreadCache {}

impl Default for ThreadCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadCache {
    /// An empty cache (const, so it can initialise a `thread_local!` without a lazy check).
    pub const fn new() -> Self {
        Self::with_bounds(MAX_BATCH as u32)
    }

    /// An empty cache whose stacks all have bound `max_len` (capped at each class's capacity;
    /// 0: the first free of every class overflows at once, see the std hook's *unarmed*
    /// caches). With bound 0 the whole cache is zero bytes, so a `thread_local!` of it lives
    /// in `.tbss` (nothing to copy when a thread starts).
    pub(crate) const fn with_bounds(max_len: u32) -> Self {
        let mut stacks = [Stack { len: 0, max_len: 0 }; NUM_CLASSES];
        let mut c = 1;
        while c < NUM_CLASSES {
            if let Some(cls) = SizeClass::new(c) {
                let cap = cls.cache_cap();
                stacks[c].max_len = if max_len < cap { max_len } else { cap };
            }
            c += 1;
        }
        ThreadCache {
            stacks,
            bytes: 0,
            reported: 0,
            refills: 0,
            overflows: 0,
            scavenges: 0,
            slots: [ptr::null_mut(); CACHE_SLOTS],
        }
    }

    /// Bytes of free blocks the cache holds.
    pub fn cached_bytes(&self) -> usize {
        self.bytes
    }

    /// Sets every stack's bound to `max_len` (capped at each class's capacity).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn set_bounds(&mut self, max_len: u32) {
        for cls in SizeClass::all() {
            self.stacks[cls.index()].max_len = max_len.min(cls.cache_cap());
        }
    }

    /// Whether every stack is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes == 0 && self.stacks.iter().all(|l| l.len == 0)
    }

    /// The stack of class `cls` (borrowing only the stacks, so `slots` stays usable).
    #[inline(always)]
    fn stack(stacks: &mut Stacks, cls: SizeClass) -> &mut Stack {
        // SAFETY: a class's index is below NUM_CLASSES (SizeClass's invariant).
        unsafe { stacks.get_unchecked_mut(cls.index()) }
    }

    /// The slot `i` of class `cls`'s stack.
    ///
    /// # Safety
    /// `i < cls.cache_cap()`.
    #[inline(always)]
    unsafe fn slot(slots: &mut [*mut u8; CACHE_SLOTS], cls: SizeClass, i: u32) -> *mut *mut u8 {
        debug_assert!(i < cls.cache_cap());
        // SAFETY: the class's stack lies inside the array (the tables tile it) and i is
        // below its capacity (caller's contract).
        unsafe { slots.as_mut_ptr().add(cls.cache_off() + i as usize) }
    }

    /// The allocation fast path: pops a block of class `cls`, or returns null when its stack
    /// is empty. The block itself is not read.
    #[inline(always)]
    pub(crate) fn pop(&mut self, cls: SizeClass) -> *mut u8 {
        let stack = Self::stack(&mut self.stacks, cls);
        let len = stack.len;
        if len == 0 {
            return ptr::null_mut();
        }
        stack.len = len - 1;
        self.bytes -= cls.size();
        // SAFETY: len - 1 < len <= the class's capacity.
        let slot = unsafe { Self::slot(&mut self.slots, cls, len - 1) };
        // SAFETY: slots below len hold blocks.
        let p = unsafe { slot.read() };
        if len > 1 {
            // The next pop of the class returns the block below: start fetching it now (the
            // linked lists did this for free, reading its link). A program that touches what
            // it allocates (`alloc_bench leak`: fresh blocks carved all the time) otherwise
            // takes the miss on its first write.
            // SAFETY: len - 2 < len: a slot holding a block.
            prefetch(unsafe { slot.sub(1).read() });
        }
        // The checker finds a length that is too long by an empty slot (debug builds only).
        #[cfg(debug_assertions)]
        // SAFETY: as above.
        unsafe {
            slot.write(ptr::null_mut())
        };
        p
    }

    /// The free fast path: pushes the free block `ptr` of class `cls` on its stack and returns
    /// true, or returns false (keeping nothing) when the stack is at its bound or the cache
    /// holds [`MAX_CACHE_BYTES`]: then [`Heap::overflow`](crate::Heap) takes the block. The
    /// block itself is not written.
    ///
    /// # Safety
    /// `ptr` is a block of class `cls`, no longer used, of the heap the cache belongs to.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, ptr: *mut u8, cls: SizeClass) -> bool {
        let stack = Self::stack(&mut self.stacks, cls);
        let len = stack.len;
        if len >= stack.max_len || self.bytes >= MAX_CACHE_BYTES {
            return false;
        }
        stack.len = len + 1;
        self.bytes += cls.size();
        // SAFETY: len < max_len <= the class's capacity.
        unsafe { Self::slot(&mut self.slots, cls, len).write(ptr) };
        true
    }

    /// The stack of class `cls`: its length and bound.
    pub(crate) fn stack_of(&self, cls: SizeClass) -> Stack {
        self.stacks[cls.index()]
    }

    /// Sets the bound of class `cls`'s stack (capped at its capacity).
    pub(crate) fn set_bound(&mut self, cls: SizeClass, max_len: u32) {
        self.stacks[cls.index()].max_len = max_len.min(cls.cache_cap());
    }

    /// The slots to refill class `cls`'s empty stack with up to `cls.batch()` blocks (see
    /// [`fill`](Self::fill)).
    pub(crate) fn refill_slots(&mut self, cls: SizeClass) -> &mut [*mut u8] {
        debug_assert_eq!(
            self.stacks[cls.index()].len,
            0,
            "refill of a non-empty stack"
        );
        let off = cls.cache_off();
        &mut self.slots[off..off + cls.batch() as usize]
    }

    /// Refill: the first `n >= 1` slots of class `cls`'s (empty) stack were filled with free
    /// blocks (through [`refill_slots`](Self::refill_slots)); the last is returned to the
    /// caller, the rest stay. The bound grows by a batch (up to the class's capacity): a stack
    /// that runs dry may hold more next time (tcmalloc's max_length growth).
    pub(crate) fn fill(&mut self, cls: SizeClass, n: u32) -> *mut u8 {
        debug_assert!(n >= 1 && n <= cls.batch());
        let stack = Self::stack(&mut self.stacks, cls);
        debug_assert_eq!(stack.len, 0, "refill of a non-empty stack");
        stack.max_len = (stack.max_len + cls.batch()).min(cls.cache_cap());
        stack.len = n;
        self.bytes += n as usize * cls.size();
        self.refills += 1;
        self.pop(cls)
    }

    /// The top `n` blocks of class `cls`'s stack (fewer when it holds fewer), as a slice: the
    /// caller hands them on and then calls [`drop_top`](Self::drop_top) with the slice's
    /// length.
    pub(crate) fn top(&self, cls: SizeClass, n: u32) -> &[*mut u8] {
        let len = self.stacks[cls.index()].len;
        let n = n.min(len);
        let off = cls.cache_off();
        &self.slots[off + (len - n) as usize..off + len as usize]
    }

    /// Forgets the top `n` blocks of class `cls`'s stack (handed on through
    /// [`top`](Self::top)).
    pub(crate) fn drop_top(&mut self, cls: SizeClass, n: u32) {
        let stack = Self::stack(&mut self.stacks, cls);
        debug_assert!(n <= stack.len);
        stack.len -= n;
        self.bytes -= n as usize * cls.size();
        #[cfg(debug_assertions)]
        {
            let off = cls.cache_off() + stack.len as usize;
            self.slots[off..off + n as usize].fill(ptr::null_mut());
        }
    }

    /// The blocks of class `cls`'s stack, bottom first.
    pub(crate) fn blocks(&self, cls: SizeClass) -> &[*mut u8] {
        let off = cls.cache_off();
        &self.slots[off..off + self.stacks[cls.index()].len as usize]
    }

    /// Pushes `blocks` (free blocks of class `cls`) on its stack, which must have room
    /// (adopting a parked cache). The bound grows to hold them.
    pub(crate) fn push_all(&mut self, cls: SizeClass, blocks: impl Iterator<Item = *mut u8>) {
        for p in blocks {
            let stack = Self::stack(&mut self.stacks, cls);
            let len = stack.len;
            assert!(len < cls.cache_cap(), "a parked stack beyond the capacity");
            stack.len = len + 1;
            stack.max_len = stack.max_len.max(len + 1);
            self.bytes += cls.size();
            // SAFETY: len < the class's capacity.
            unsafe { Self::slot(&mut self.slots, cls, len).write(p) };
        }
    }
}

/// Checks a cache's stacks (see the module documentation): stack 0 is empty, stack `cls`
/// holds at most its capacity, each slot below its length a carved block of an in-use span of
/// class `cls`, and `bytes` is their sum. `what` names the cache in a violation.
pub(crate) fn check_stacks(
    cache: &ThreadCache,
    map: &PageMap,
    what: &dyn core::fmt::Display,
) -> Checked {
    ensure!(cache.stacks[0].len == 0, "{what}: list 0 is not empty");
    let mut sum = 0usize;
    for cls in SizeClass::all() {
        let c = cls.index();
        let len = cache.stacks[c].len;
        ensure!(
            len <= cls.cache_cap(),
            "{what}: list {c} has length {len}, beyond its capacity {}",
            cls.cache_cap()
        );
        let off = cls.cache_off();
        for (i, &obj) in cache.slots[off..off + len as usize].iter().enumerate() {
            ensure!(
                !obj.is_null(),
                "{what}: list {c} has length {len} but slot {i} is empty"
            );
            check_block(map, cls, obj)?;
        }
        sum += len as usize * cls.size();
    }
    ensure!(
        sum == cache.bytes,
        "{what}: lists hold {sum} bytes, the cache counts {}",
        cache.bytes
    );
    Ok(())
}
