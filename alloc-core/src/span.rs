//! Spans (runs of pages) and the intrusive lists that hold them.
//!
//! Invariants (INTERNALS.md, "Span"): a class span hands blocks out of its free list first,
//! then carves them in address order; `free_list` + uncarved blocks + `allocated` ==
//! `capacity`, i.e. the free list holds `carved - allocated` blocks. A free span has no class,
//! no blocks and is on no class list.

use core::ptr::{self, NonNull};

use crate::check::{Checked, ensure};
use crate::size_class::{PAGE_SHIFT, PAGE_SIZE, SizeClass};
use crate::source::PageSource;

/// Where a span is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanState {
    /// On a page heap free list.
    Free,
    /// Handed out: to a size class (carved into blocks) or as one large object.
    InUse,
    /// A large object in a mapping of its own (on the page heap's `mapped` list).
    Mapped,
    /// Free, taken off the free lists while its pages are given back to the OS with no lock
    /// held (counted in use meanwhile).
    Releasing,
    /// A freed own mapping kept for reuse (on the page heap's `map_cache` list).
    MappedCached,
}

/// A run of pages. Its metadata lives in the span arena, never inside the pages themselves,
/// so releasing pages to the OS never loses metadata.
pub(crate) struct Span {
    pub(crate) next: *mut Span,
    pub(crate) prev: *mut Span,
    /// First page number (address >> 12).
    pub(crate) start: usize,
    pub(crate) pages: usize,
    pub(crate) state: SpanState,
    /// Free and its pages were given back with `madvise` (they read as zero if touched).
    pub(crate) released: bool,
    /// Size class of its blocks; `None` for a large object or a free span.
    pub(crate) class: Option<SizeClass>,
    /// Whether the span is on its class's list of spans with free blocks.
    pub(crate) in_nonempty: bool,
    /// Blocks handed out of the span (to thread caches, the transfer cache or the user).
    pub(crate) allocated: u32,
    /// Blocks carved so far: blocks at index >= carved were never handed out.
    pub(crate) carved: u32,
    /// Blocks that fit in the span.
    pub(crate) capacity: u32,
    /// Freed blocks, linked through their first word.
    pub(crate) free_list: *mut u8,
    /// When the span became free (page source clock).
    pub(crate) freed_at: u64,
}

impl Span {
    pub(crate) fn base(&self) -> *mut u8 {
        (self.start << PAGE_SHIFT) as *mut u8
    }

    pub(crate) fn bytes(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    pub(crate) fn last_page(&self) -> usize {
        debug_assert!(self.pages >= 1, "span of no pages");
        self.start + self.pages - 1
    }

    /// Turns a fresh in-use span into one carved into blocks of `cls`: nothing carved,
    /// nothing allocated, an empty free list.
    pub(crate) fn init_class(&mut self, cls: SizeClass) {
        debug_assert_eq!(self.state, SpanState::InUse);
        self.class = Some(cls);
        self.capacity = (self.bytes() / cls.size()) as u32;
        self.carved = 0;
        self.allocated = 0;
        self.free_list = ptr::null_mut();
    }

    /// Takes one block from the span (free list first, then carving); null when exhausted.
    #[inline]
    pub(crate) fn take_block(&mut self, size: usize) -> *mut u8 {
        debug_assert!(self.allocated <= self.carved && self.carved <= self.capacity);
        let obj = self.free_list;
        if !obj.is_null() {
            // SAFETY: blocks on a span's free list are free and linked through their first word.
            self.free_list = unsafe { obj.cast::<*mut u8>().read() };
        } else if self.carved < self.capacity {
            // SAFETY: carved < capacity keeps the block inside the span.
            let p = unsafe { self.base().add(self.carved as usize * size) };
            self.carved += 1;
            self.allocated += 1;
            return p;
        } else {
            return ptr::null_mut();
        }
        debug_assert!(
            self.allocated < self.carved,
            "a free block beyond the carved ones"
        );
        self.allocated += 1;
        obj
    }

    /// Puts `count` free blocks of this span, linked from `head` to `tail` through their
    /// first words, on its free list in one step.
    ///
    /// # Safety
    /// The chain holds exactly `count >= 1` blocks of this span, each handed out by
    /// [`take_block`](Self::take_block) and no longer used; `tail` is its last block.
    #[inline]
    pub(crate) unsafe fn put_chain(&mut self, head: *mut u8, tail: *mut u8, count: u32) {
        debug_assert!(
            count >= 1 && self.allocated >= count,
            "more blocks returned than handed out"
        );
        #[cfg(debug_assertions)]
        {
            let (mut obj, mut n) = (head, 1);
            while obj != tail {
                debug_assert!(
                    self.class.is_some_and(|c| self.is_carved_block(c, obj)),
                    "not a carved block of this class span"
                );
                // SAFETY: the chain's blocks before its tail are linked (caller's contract).
                obj = unsafe { obj.cast::<*mut u8>().read() };
                n += 1;
            }
            debug_assert!(
                self.class.is_some_and(|c| self.is_carved_block(c, tail)),
                "not a carved block of this class span"
            );
            debug_assert_eq!(n, count, "a chain of the wrong length");
        }
        // SAFETY: tail is a free block of this span (caller's contract); the chain joins the
        // front of the span's free list.
        unsafe { tail.cast::<*mut u8>().write(self.free_list) };
        self.free_list = head;
        self.allocated -= count;
    }

    /// Whether `obj` is a block of this span, carved for class `cls` (inside the span, on a
    /// block boundary, below `carved`).
    pub(crate) fn is_carved_block(&self, cls: SizeClass, obj: *const u8) -> bool {
        let off = (obj as usize).wrapping_sub(self.base() as usize);
        off < self.bytes()
            && off.is_multiple_of(cls.size())
            && off / cls.size() < self.carved as usize
    }

    /// Whether no block is left to hand out (free list empty, everything carved).
    pub(crate) fn is_exhausted(&self) -> bool {
        self.free_list.is_null() && self.carved == self.capacity
    }
}

/// A doubly linked list of spans, null terminated both ways.
pub(crate) struct SpanList {
    head: *mut Span,
    pub(crate) len: usize,
}

impl SpanList {
    pub(crate) const fn new() -> Self {
        SpanList {
            head: ptr::null_mut(),
            len: 0,
        }
    }

    pub(crate) fn first(&self) -> *mut Span {
        self.head
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Walks the list, checking its links (`prev` of each member is the one before it, the
    /// count is `len`), and calls `f` on each member; `what` names the list in a violation.
    /// For [`Heap::check_invariants`](crate::Heap::check_invariants).
    pub(crate) fn check(
        &self,
        what: &dyn core::fmt::Display,
        mut f: impl FnMut(*mut Span, &Span) -> Checked,
    ) -> Checked {
        let mut prev: *mut Span = ptr::null_mut();
        let mut s = self.head;
        let mut n = 0usize;
        while !s.is_null() {
            ensure!(
                n < self.len,
                "{what}: more members than its length {}",
                self.len
            );
            // SAFETY: members of a span list are live records (the caller holds its lock).
            let span = unsafe { &*s };
            ensure!(
                span.prev == prev,
                "{what}: member {n} has a wrong prev link"
            );
            f(s, span)?;
            prev = s;
            s = span.next;
            n += 1;
        }
        ensure!(n == self.len, "{what}: length {} but {n} members", self.len);
        Ok(())
    }

    /// # Safety
    /// `span` is live and on no list.
    pub(crate) unsafe fn push_front(&mut self, span: *mut Span) {
        debug_assert!(span != self.head, "span pushed twice");
        // SAFETY: span is live and unlinked; head, if any, is a live member of this list.
        unsafe {
            (*span).prev = ptr::null_mut();
            (*span).next = self.head;
            if !self.head.is_null() {
                (*self.head).prev = span;
            }
        }
        self.head = span;
        self.len += 1;
    }

    /// # Safety
    /// `span` is live and on this list.
    pub(crate) unsafe fn remove(&mut self, span: *mut Span) {
        // SAFETY: span and its neighbours are live members of this list.
        unsafe {
            let (prev, next) = ((*span).prev, (*span).next);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            (*span).next = ptr::null_mut();
            (*span).prev = ptr::null_mut();
        }
        self.len -= 1;
    }
}

const ARENA_CHUNK: usize = 64 * 1024;

/// Allocator of `Span` records: bump allocation from 64 KiB chunks of the page source, and a
/// free list of recycled records. Records are never returned to the source.
pub(crate) struct SpanArena {
    free: *mut Span,
    bump: *mut u8,
    left: usize,
    pub(crate) bytes: usize,
    pub(crate) live: usize,
}

// SAFETY: the arena is only used under the page heap lock.
unsafe impl Send for SpanArena {}

impl SpanArena {
    pub(crate) const fn new() -> Self {
        SpanArena {
            free: ptr::null_mut(),
            bump: ptr::null_mut(),
            left: 0,
            bytes: 0,
            live: 0,
        }
    }

    /// A fresh record for pages `start..start + pages`, free and unlisted; `None` when the source
    /// is out of memory.
    pub(crate) fn new_span<S: PageSource>(
        &mut self,
        source: &S,
        start: usize,
        pages: usize,
    ) -> Option<NonNull<Span>> {
        let slot: *mut Span = if !self.free.is_null() {
            let s = self.free;
            // SAFETY: records on the free list are live (recycled) and linked through `next`.
            self.free = unsafe { (*s).next };
            s
        } else {
            let size = size_of::<Span>();
            if self.left < size {
                let chunk = source.map(ARENA_CHUNK)?;
                self.bytes += ARENA_CHUNK;
                self.bump = chunk.as_ptr();
                self.left = ARENA_CHUNK;
            }
            let s = self.bump.cast::<Span>();
            // SAFETY: at least `size` bytes remain in the chunk; chunks are page aligned and
            // `size` is a multiple of the record's alignment, so `s` is aligned.
            self.bump = unsafe { self.bump.add(size) };
            self.left -= size;
            s
        };
        // SAFETY: slot is aligned, writable and unused.
        unsafe {
            slot.write(Span {
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
                start,
                pages,
                state: SpanState::Free,
                released: false,
                class: None,
                in_nonempty: false,
                allocated: 0,
                carved: 0,
                capacity: 0,
                free_list: ptr::null_mut(),
                freed_at: 0,
            })
        };
        self.live += 1;
        NonNull::new(slot)
    }

    /// # Safety
    /// `span` came from this arena, is on no list, and nothing refers to it any more
    /// (page map entries pointing at it must be unreachable).
    pub(crate) unsafe fn delete_span(&mut self, span: *mut Span) {
        // SAFETY: the caller hands the record back.
        unsafe { (*span).next = self.free };
        self.free = span;
        self.live -= 1;
    }
}
