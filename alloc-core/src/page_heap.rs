//! The page heap: spans of whole pages, kept on free lists by length, split on demand,
//! coalesced on free, and released to the OS after idling.

use core::ptr;

use crate::check::{Checked, ensure};
use crate::free_lists::FreeLists;
pub(crate) use crate::free_lists::MAX_PAGES;
use crate::page_map::PageMap;
use crate::size_class::{PAGE_SHIFT, PAGE_SIZE};
use crate::source::PageSource;
use crate::span::{Span, SpanArena, SpanList, SpanState};

/// The heap grows by at least this many pages (1 MiB) per mapping.
const MIN_GROW_PAGES: usize = 256;
/// ... and by at most this many (32 MiB) unless a single request needs more.
const MAX_GROW_PAGES: usize = 8192;
/// Growth beyond this many pages (2 MiB, a transparent huge page) is rounded up to a multiple
/// of it.
const HUGE_GROW_PAGES: usize = 512;

/// Page heap counters (bytes unless named otherwise).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PageHeapStats {
    pub(crate) mapped: usize,
    pub(crate) free: usize,
    pub(crate) released: usize,
    pub(crate) in_use: usize,
    pub(crate) large_in_use: usize,
    pub(crate) returned_total: u64,
    pub(crate) span_allocs: u64,
    pub(crate) span_frees: u64,
    pub(crate) os_maps: u64,
    pub(crate) os_releases: u64,
    /// Bytes of large objects in mappings of their own (not part of `mapped`).
    pub(crate) mapped_objects: usize,
    /// Bytes of freed own mappings kept for reuse.
    pub(crate) map_cached: usize,
    /// Bytes of free spans being released with no lock held (counted in `in_use`).
    pub(crate) releasing: usize,
}

pub(crate) struct PageHeap {
    /// Free spans whose pages are resident (not `released`).
    resident: FreeLists,
    /// Free spans released to the OS (their pages read as zeros and fault in on use).
    returned: FreeLists,
    pub(crate) arena: SpanArena,
    /// Large objects in mappings of their own (`heap/mapped.rs`), state `Mapped`.
    pub(crate) mapped: SpanList,
    /// Freed own mappings kept for reuse, newest first, state `MappedCached`.
    pub(crate) map_cache: SpanList,
    pub(crate) stats: PageHeapStats,
    last_scavenge_ns: u64,
    /// Free spans idle for this long are released.
    pub(crate) release_delay_ns: u64,
    /// Whether the span the last [`allocate`](Self::allocate) returned was wholly released
    /// (never touched, or given back with `madvise`), so that it reads as zeros.
    pub(crate) last_alloc_zeroed: bool,
}

// SAFETY: the raw span pointers are only used under the page heap lock.
unsafe impl Send for PageHeap {}

impl PageHeap {
    pub(crate) const fn new(release_delay_ns: u64) -> Self {
        PageHeap {
            resident: FreeLists::new(),
            returned: FreeLists::new(),
            arena: SpanArena::new(),
            mapped: SpanList::new(),
            map_cache: SpanList::new(),
            stats: PageHeapStats {
                mapped: 0,
                free: 0,
                released: 0,
                in_use: 0,
                large_in_use: 0,
                returned_total: 0,
                span_allocs: 0,
                span_frees: 0,
                os_maps: 0,
                os_releases: 0,
                mapped_objects: 0,
                map_cached: 0,
                releasing: 0,
            },
            last_scavenge_ns: 0,
            release_delay_ns,
            last_alloc_zeroed: false,
        }
    }

    /// Links a free span into its list (resident or returned, by its `released` flag) and
    /// counts it. `span` is live, unlisted, marked free.
    fn link_free(&mut self, span: *mut Span) {
        // SAFETY: span is live and owned by the page heap (caller holds the lock).
        let s = unsafe { &mut *span };
        debug_assert_eq!(s.state, SpanState::Free);
        debug_assert!(s.pages >= 1 && s.class.is_none() && !s.in_nonempty);
        self.stats.free += s.bytes();
        let lists = if s.released {
            self.stats.released += s.bytes();
            &mut self.returned
        } else {
            &mut self.resident
        };
        // SAFETY: span is live, on no list, with `pages` pages.
        unsafe { lists.link(span, s.pages) };
    }

    /// Unlinks a free span from its list and uncounts it. Its `released` flag and length
    /// must be what they were when it was linked.
    fn unlink_free(&mut self, span: *mut Span) {
        // SAFETY: span is live, free and on the list for its length and kind.
        let s = unsafe { &mut *span };
        debug_assert_eq!(s.state, SpanState::Free);
        debug_assert!(self.stats.free >= s.bytes());
        self.stats.free -= s.bytes();
        let lists = if s.released {
            self.stats.released -= s.bytes();
            &mut self.returned
        } else {
            &mut self.resident
        };
        // SAFETY: as above.
        unsafe { lists.unlink(span, s.pages) };
    }

    /// A free span of at least `pages` pages, null if none: resident spans first (the
    /// smallest exact list, then the best fit among the large ones), released ones only when
    /// no resident span fits. tcmalloc's page heap searches its normal lists before its
    /// returned ones the same way. Both are O(1) bitmap scans for short spans; the resident
    /// large list stays short (free spans are released after the release delay).
    ///
    /// Taking a released span while a resident one would do faults its pages in again (and
    /// leaves the resident one holding memory): in a whole `alloc_bench --alloc alloc-core`
    /// run, where `large` follows `seed-batch`'s released 1.6 GB, the process took 104-124k
    /// page faults and `large` ran at 0.63-0.95 M operations per CPU-second; with this order
    /// 86k and 1.14-1.18.
    fn find_free(&self, pages: usize) -> *mut Span {
        let s = self.resident.find(pages);
        if s.is_null() {
            self.returned.find(pages)
        } else {
            s
        }
    }

    /// Registers the first and last page of `span` in the map.
    fn map_ends(&self, map: &PageMap, span: *mut Span) {
        // SAFETY: span is live.
        let (first, last) = unsafe { ((*span).start, (*span).last_page()) };
        map.set(first, span);
        map.set(last, span);
    }

    /// Cuts `span` (unlisted) after `pages` pages and returns the tail as a new unlisted span
    /// with the same state flags, or null when no metadata record could be had.
    fn split<S: PageSource>(
        &mut self,
        source: &S,
        map: &PageMap,
        span: *mut Span,
        pages: usize,
    ) -> *mut Span {
        // SAFETY: span is live and owned by the caller (lock held).
        let s = unsafe { &mut *span };
        debug_assert!(pages < s.pages);
        let Some(tail) = self
            .arena
            .new_span(source, s.start + pages, s.pages - pages)
        else {
            return ptr::null_mut();
        };
        let tail = tail.as_ptr();
        // SAFETY: tail is a fresh record.
        unsafe {
            (*tail).released = s.released;
            (*tail).freed_at = s.freed_at;
        }
        s.pages = pages;
        self.map_ends(map, span);
        self.map_ends(map, tail);
        tail
    }

    /// Maps more memory holding at least `pages` pages and adds it as a free span.
    fn grow<S: PageSource>(&mut self, source: &S, map: &PageMap, pages: usize) -> bool {
        let want = (self.stats.mapped / 2 / PAGE_SIZE).clamp(MIN_GROW_PAGES, MAX_GROW_PAGES);
        let mut pages = pages.max(want);
        if pages > HUGE_GROW_PAGES {
            // Whole 2 MiB units: a mapping this long gets huge pages (`MmapSource`), and a
            // tail beyond the last 2 MiB boundary would take 4 KiB page faults.
            pages = pages.next_multiple_of(HUGE_GROW_PAGES);
        }
        let Some(bytes) = pages.checked_mul(PAGE_SIZE) else {
            return false;
        };
        let Some(mem) = source.map(bytes) else {
            return false;
        };
        let start = mem.as_ptr() as usize >> PAGE_SHIFT;
        // Record first, then the map, so a failure can hand the memory straight back.
        if !map.ensure(source, start.saturating_sub(1), pages + 2) {
            // SAFETY: the mapping is ours and unused.
            unsafe { source.unmap(mem, bytes) };
            return false;
        }
        let Some(span) = self.arena.new_span(source, start, pages) else {
            // SAFETY: as above.
            unsafe { source.unmap(mem, bytes) };
            return false;
        };
        let span = span.as_ptr();
        // SAFETY: fresh record.
        unsafe { (*span).released = true };
        self.stats.mapped += bytes;
        self.stats.os_maps += 1;
        self.insert_coalescing(map, span);
        true
    }

    /// Takes a span of `pages` pages whose first page is a multiple of `align_pages`
    /// (a power of two), marks it in use and maps its first and last page. Null when out of
    /// memory.
    pub(crate) fn allocate<S: PageSource>(
        &mut self,
        source: &S,
        map: &PageMap,
        pages: usize,
        align_pages: usize,
    ) -> *mut Span {
        let pages = pages.max(1);
        let Some(search) = pages.checked_add(align_pages.max(1) - 1) else {
            return ptr::null_mut();
        };
        let mut span = self.find_free(search);
        if span.is_null() {
            if !self.grow(source, map, search) {
                return ptr::null_mut();
            }
            span = self.find_free(search);
            if span.is_null() {
                return ptr::null_mut();
            }
        }
        self.unlink_free(span);
        if align_pages > 1 {
            // SAFETY: span is live and now owned by us.
            let start = unsafe { (*span).start };
            let skip = (align_pages - start % align_pages) % align_pages;
            if skip > 0 {
                let rest = self.split(source, map, span, skip);
                if rest.is_null() {
                    self.link_free(span);
                    return ptr::null_mut();
                }
                self.link_free(span);
                span = rest;
            }
        }
        // SAFETY: span is live and ours.
        if unsafe { (*span).pages } > pages {
            let tail = self.split(source, map, span, pages);
            if !tail.is_null() {
                self.link_free(tail);
            }
        }
        // SAFETY: span is live and ours.
        let s = unsafe { &mut *span };
        s.state = SpanState::InUse;
        self.last_alloc_zeroed = s.released;
        s.released = false;
        s.class = None;
        self.stats.in_use += s.bytes();
        self.stats.span_allocs += 1;
        self.map_ends(map, span);
        span
    }

    /// Inserts an unlisted free span, merging it with free neighbours; returns the merged span.
    fn insert_coalescing(&mut self, map: &PageMap, mut span: *mut Span) -> *mut Span {
        // SAFETY: span is live and owned by us (lock held).
        let start = unsafe { (*span).start };
        if start > 0 {
            let prev = map.get(start - 1);
            if !prev.is_null()
                // SAFETY: map entries at span boundaries point at live records (INTERNALS.md).
                && unsafe {
                    (*prev).state == SpanState::Free && (*prev).start + (*prev).pages == start
                }
            {
                self.unlink_free(prev);
                // SAFETY: both records are live and ours.
                unsafe {
                    debug_assert_eq!((*prev).start + (*prev).pages, (*span).start);
                    (*prev).pages += (*span).pages;
                    (*prev).released &= (*span).released;
                    (*prev).freed_at = (*prev).freed_at.max((*span).freed_at);
                    self.arena.delete_span(span);
                }
                span = prev;
            }
        }
        // SAFETY: span is live.
        let end = unsafe { (*span).start + (*span).pages };
        let next = map.get(end);
        // SAFETY: as above.
        if !next.is_null() && unsafe { (*next).state == SpanState::Free && (*next).start == end } {
            self.unlink_free(next);
            // SAFETY: both records are live and ours.
            unsafe {
                (*span).pages += (*next).pages;
                (*span).released &= (*next).released;
                (*span).freed_at = (*span).freed_at.max((*next).freed_at);
                self.arena.delete_span(next);
            }
        }
        self.map_ends(map, span);
        self.link_free(span);
        span
    }

    /// Returns an in-use span to the free lists, coalescing. Returns whether a scan for idle
    /// spans is due (the caller runs it once the lock is released:
    /// `Heap::release_idle_spans`).
    pub(crate) fn deallocate<S: PageSource>(
        &mut self,
        source: &S,
        map: &PageMap,
        span: *mut Span,
    ) -> bool {
        let now = source.now_ns();
        // SAFETY: span is live, in use, and handed back by its owner.
        let s = unsafe { &mut *span };
        debug_assert_eq!(s.state, SpanState::InUse);
        self.stats.in_use -= s.bytes();
        self.stats.span_frees += 1;
        s.state = SpanState::Free;
        s.class = None;
        s.released = false;
        s.freed_at = now;
        s.free_list = ptr::null_mut();
        s.in_nonempty = false;
        self.insert_coalescing(map, span);
        let due = self.scan_due(now);
        if self.stats.free > self.stats.released {
            source.free_memory_pending();
        }
        due
    }

    /// Shrinks or grows an in-use span in place to `pages` pages; false when it cannot.
    pub(crate) fn resize_in_place<S: PageSource>(
        &mut self,
        source: &S,
        map: &PageMap,
        span: *mut Span,
        pages: usize,
    ) -> bool {
        let pages = pages.max(1);
        // SAFETY: span is live and in use by the caller.
        let old = unsafe { (*span).pages };
        if pages == old {
            return true;
        }
        if pages < old {
            let tail = self.split(source, map, span, pages);
            if tail.is_null() {
                return false;
            }
            // SAFETY: tail is a fresh record; it carries the in-use flag, turn it free.
            unsafe {
                (*tail).state = SpanState::InUse;
            }
            // A scan that comes due here waits for the next free.
            let _ = self.deallocate(source, map, tail);
            return true;
        }
        let end = unsafe {
            // SAFETY: span is live.
            (*span).start + old
        };
        let next = map.get(end);
        let need = pages - old;
        if next.is_null()
            // SAFETY: map entries at span boundaries point at live records.
            || unsafe {
                (*next).state != SpanState::Free || (*next).start != end || (*next).pages < need
            }
        {
            return false;
        }
        self.unlink_free(next);
        // SAFETY: next is live and now unlisted.
        if unsafe { (*next).pages } > need {
            let rest = self.split(source, map, next, need);
            if rest.is_null() {
                self.link_free(next);
                return false;
            }
            self.link_free(rest);
        }
        // SAFETY: both live; next's pages now join span.
        unsafe {
            (*span).pages += (*next).pages;
            self.arena.delete_span(next);
        }
        self.stats.in_use += need * PAGE_SIZE;
        self.map_ends(map, span);
        true
    }

    /// Whether unreleased free memory exists and the last scan was half a release delay ago
    /// (then it counts as done now).
    fn scan_due(&mut self, now: u64) -> bool {
        if self.stats.free > self.stats.released
            && now.saturating_sub(self.last_scavenge_ns) >= self.release_delay_ns / 2
        {
            self.last_scavenge_ns = now;
            return true;
        }
        false
    }

    /// Takes up to `out.len()` resident free spans idle for the release delay (all when
    /// `force`) off the free lists, marked `Releasing` and counted in use, so that their
    /// pages can be released with no lock held ([`finish_release`](Self::finish_release)
    /// puts each back). Returns how many, how long until the next span left unreleased is
    /// due (`None`: none left), and whether more due spans remain.
    pub(crate) fn take_idle(
        &mut self,
        now: u64,
        force: bool,
        out: &mut [*mut Span],
    ) -> (usize, Option<u64>, bool) {
        let mut n_out = 0;
        let mut next_due: Option<u64> = None;
        for n in 1..=MAX_PAGES + 1 {
            let mut s = self.resident.first_on_list(n);
            while !s.is_null() {
                // SAFETY: list members are live free spans (lock held).
                let (next, freed_at) = unsafe { ((*s).next, (*s).freed_at) };
                if force || now.saturating_sub(freed_at) >= self.release_delay_ns {
                    if n_out == out.len() {
                        return (n_out, Some(0), true);
                    }
                    self.unlink_free(s);
                    // SAFETY: as above; unlisted now.
                    let bytes = unsafe {
                        (*s).state = SpanState::Releasing;
                        (*s).bytes()
                    };
                    self.stats.in_use += bytes;
                    self.stats.releasing += bytes;
                    out[n_out] = s;
                    n_out += 1;
                } else {
                    let due = (freed_at + self.release_delay_ns).saturating_sub(now);
                    next_due = Some(next_due.map_or(due, |d| d.min(due)));
                }
                s = next;
            }
        }
        (n_out, next_due, false)
    }

    /// Puts a span taken by [`take_idle`](Self::take_idle) back on the free lists,
    /// `released` when the OS took its pages (`ok`), coalescing with its neighbours.
    pub(crate) fn finish_release(&mut self, map: &PageMap, span: *mut Span, ok: bool) {
        // SAFETY: a live record taken by take_idle, on no list (lock held).
        let s = unsafe { &mut *span };
        debug_assert_eq!(s.state, SpanState::Releasing);
        let bytes = s.bytes();
        self.stats.in_use -= bytes;
        self.stats.releasing -= bytes;
        s.state = SpanState::Free;
        s.released = ok;
        if ok {
            self.stats.returned_total += bytes as u64;
            self.stats.os_releases += 1;
        }
        self.insert_coalescing(map, span);
    }
}

impl PageHeap {
    /// Checks the page heap's invariants (INTERNALS.md, "Page heap free lists", "Page map",
    /// "Coalescing"): every free list holds free spans of its length (the large lists longer
    /// ones), the resident lists only spans not `released` and the returned lists only
    /// released ones, and bit `n` of a set's `nonempty` is set iff its list `n` is not empty;
    /// each free span's first and last pages map to it; no free span touches another
    /// (coalescing is complete); `stats.free` / `stats.released` are the bytes on the lists /
    /// on the returned lists, and in-use plus free bytes are everything mapped.
    pub(crate) fn check(&self, map: &PageMap) -> Checked {
        let mut free = 0usize;
        let mut released = 0usize;
        for (lists, kind, want_released) in [
            (&self.resident, "resident", false),
            (&self.returned, "returned", true),
        ] {
            ensure!(
                lists.exact[0].is_empty(),
                "page heap: {kind} list 0 is not empty"
            );
            for n in 1..=MAX_PAGES + 1 {
                let (list, what) = if n <= MAX_PAGES {
                    let bit = lists.nonempty[n / 64] & (1 << (n % 64)) != 0;
                    ensure!(
                        bit != lists.exact[n].is_empty(),
                        "page heap: bit {n} of {kind} nonempty is {bit} for a list of {} spans",
                        lists.exact[n].len
                    );
                    (&lists.exact[n], n)
                } else {
                    (&lists.large, 0)
                };
                list.check(
                    &format_args!("page heap {kind} free list {what}"),
                    |span, s| {
                        let at = s.start;
                        ensure!(
                            s.released == want_released,
                            "page heap: span at page {at:#x} on a {kind} list has released = {}",
                            s.released
                        );
                        self.check_free_span(map, span, s, n, what)?;
                        free += s.bytes();
                        if s.released {
                            released += s.bytes();
                        }
                        Ok(())
                    },
                )?;
            }
        }
        ensure!(
            free == self.stats.free && released == self.stats.released,
            "page heap: lists hold {free} free bytes ({released} released), stats say {} ({})",
            self.stats.free,
            self.stats.released
        );
        ensure!(
            self.stats.in_use + self.stats.free == self.stats.mapped,
            "page heap: in use {} + free {} != mapped {}",
            self.stats.in_use,
            self.stats.free,
            self.stats.mapped
        );
        ensure!(
            self.stats.large_in_use <= self.stats.in_use,
            "page heap: large objects {} exceed the bytes in use {}",
            self.stats.large_in_use,
            self.stats.in_use
        );
        Ok(())
    }

    /// One free span on list `n` (`what`: its name, 0 for the large list): state, length,
    /// page map ends, and no free neighbour.
    fn check_free_span(
        &self,
        map: &PageMap,
        span: *mut Span,
        s: &Span,
        n: usize,
        what: usize,
    ) -> Checked {
        let at = s.start;
        ensure!(
            s.state == SpanState::Free,
            "page heap: span at page {at:#x} on free list {what} is in use"
        );
        ensure!(
            s.class.is_none() && !s.in_nonempty,
            "page heap: free span at page {at:#x} still has a class"
        );
        ensure!(
            if n <= MAX_PAGES {
                s.pages == n
            } else {
                s.pages > MAX_PAGES
            },
            "page heap: span of {} pages at page {at:#x} on free list {what}",
            s.pages
        );
        ensure!(
            map.get(s.start) == span && map.get(s.last_page()) == span,
            "page heap: the first or last page of the free span at page {at:#x} \
             does not map to it"
        );
        let end = s.start + s.pages;
        for (page, neighbour) in [(s.start.wrapping_sub(1), true), (end, false)] {
            let other = map.get(page);
            if other.is_null() || other == span {
                continue;
            }
            // SAFETY: the page before a span is the last page of its own span, the
            // page after it the first (or never set): such entries are current, and
            // records are never unmapped.
            let o = unsafe { &*other };
            let touches = if neighbour {
                o.start + o.pages == s.start
            } else {
                o.start == end
            };
            ensure!(
                !(touches && o.state == SpanState::Free),
                "page heap: free spans at pages {at:#x} and {:#x} were not coalesced",
                o.start
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MmapSource;
    use core::ptr::NonNull;

    /// The locked scan of the seed (the heap now releases with no lock held:
    /// `take_idle` / `finish_release`), kept to test release and reuse.
    impl PageHeap {
        /// Releases the pages of the free, listed `span` to the OS (if not released already);
        /// returns the bytes released.
        pub(super) fn release_span<S: PageSource>(&mut self, source: &S, span: *mut Span) -> usize {
            // SAFETY: span is a live free span on our lists (lock held).
            let s = unsafe { &mut *span };
            if s.released {
                return 0;
            }
            // SAFETY: a span's base is a non-null address inside our mappings.
            let base = unsafe { NonNull::new_unchecked(s.base()) };
            // SAFETY: the span is free: nobody uses its contents.
            if !unsafe { source.release(base, s.bytes()) } {
                return 0;
            }
            let bytes = s.bytes();
            // From the resident lists to the returned ones (link_free counts it as released).
            self.unlink_free(span);
            // SAFETY: as above; the span is unlisted now.
            unsafe { (*span).released = true };
            self.link_free(span);
            self.stats.returned_total += bytes as u64;
            self.stats.os_releases += 1;
            bytes
        }

        /// Releases free spans idle for the release delay (all free spans when `force`).
        /// Returns the bytes released.
        pub(crate) fn scavenge<S: PageSource>(
            &mut self,
            source: &S,
            now: u64,
            force: bool,
        ) -> usize {
            self.scavenge_until(source, now, force).0
        }

        /// [`scavenge`](Self::scavenge), also returning how long (ns from `now`) until the next
        /// free span left unreleased becomes due, or `None` when every free span is released.
        pub(crate) fn scavenge_until<S: PageSource>(
            &mut self,
            source: &S,
            now: u64,
            force: bool,
        ) -> (usize, Option<u64>) {
            let mut total = 0;
            let mut next_due: Option<u64> = None;
            // Only the resident lists hold unreleased spans; a released span moves to the
            // returned lists, so its successor is read before.
            for n in 1..=MAX_PAGES + 1 {
                let mut s = self.resident.first_on_list(n);
                while !s.is_null() {
                    // SAFETY: list members are live free spans.
                    let (next, freed_at) = unsafe { ((*s).next, (*s).freed_at) };
                    if force || now.saturating_sub(freed_at) >= self.release_delay_ns {
                        total += self.release_span(source, s);
                    }
                    // SAFETY: as above (a span that could not be released stays resident).
                    if !unsafe { (*s).released } {
                        let due = (freed_at + self.release_delay_ns).saturating_sub(now);
                        next_due = Some(next_due.map_or(due, |d| d.min(due)));
                    }
                    s = next;
                }
            }
            (total, next_due)
        }
    }

    struct Fixture {
        heap: PageHeap,
        map: PageMap,
        src: MmapSource,
    }

    fn fixture() -> Fixture {
        Fixture {
            heap: PageHeap::new(1_000_000_000),
            map: PageMap::new(),
            src: MmapSource::new(),
        }
    }

    fn alloc(f: &mut Fixture, pages: usize, align: usize) -> *mut Span {
        let s = f.heap.allocate(&f.src, &f.map, pages, align);
        assert!(!s.is_null());
        s
    }

    #[test]
    fn split_and_coalesce_back_to_one_span() {
        let mut f = fixture();
        let a = alloc(&mut f, 3, 1);
        let b = alloc(&mut f, 5, 1);
        let c = alloc(&mut f, 2, 1);
        // SAFETY: spans returned by allocate are live.
        let (sa, sb, sc) = unsafe { ((*a).start, (*b).start, (*c).start) };
        assert_eq!(sb, sa + 3, "first fit carves consecutively");
        assert_eq!(sc, sb + 5);
        assert_eq!(f.map.get(sa), a);
        assert_eq!(f.map.get(sb + 4), b);
        let free_before = f.heap.stats.free;
        f.heap.deallocate(&f.src, &f.map, a);
        f.heap.deallocate(&f.src, &f.map, c);
        // b is in use: a and c cannot merge with each other.
        let fa = f.map.get(sa);
        // SAFETY: map entries at span ends are live.
        assert_eq!(unsafe { (*fa).pages }, 3);
        f.heap.deallocate(&f.src, &f.map, b);
        let whole = f.map.get(sa);
        // SAFETY: as above.
        let w = unsafe { &*whole };
        assert_eq!(w.state, SpanState::Free);
        assert_eq!(w.start, sa);
        assert_eq!(
            w.pages * PAGE_SIZE,
            f.heap.stats.mapped,
            "everything merged"
        );
        assert_eq!(f.heap.stats.free, free_before + 10 * PAGE_SIZE);
        assert_eq!(f.heap.stats.in_use, 0);
        assert_eq!(f.heap.arena.live, 1);
    }

    #[test]
    fn aligned_spans_and_in_place_resizing() {
        let mut f = fixture();
        let _pad = alloc(&mut f, 1, 1);
        let s = alloc(&mut f, 4, 512); // 2 MiB alignment
        // SAFETY: live span.
        let start = unsafe { (*s).start };
        assert_eq!(start % 512, 0);
        assert!(f.heap.resize_in_place(&f.src, &f.map, s, 10));
        // SAFETY: live span.
        assert_eq!(unsafe { (*s).pages }, 10);
        assert!(f.heap.resize_in_place(&f.src, &f.map, s, 2));
        // SAFETY: live span.
        assert_eq!(unsafe { (*s).pages }, 2);
        let next = f.map.get(start + 2);
        // SAFETY: live record.
        assert_eq!(unsafe { (*next).state }, SpanState::Free);
        assert_eq!(f.heap.stats.in_use, 3 * PAGE_SIZE);
    }

    #[test]
    fn resident_spans_are_taken_before_released_ones() {
        let mut f = fixture();
        // One resident region, carved below into four spans separated by in-use ones so
        // that nothing coalesces.
        let region = alloc(&mut f, 600, 1);
        f.heap.deallocate(&f.src, &f.map, region);
        let a = alloc(&mut f, 4, 1);
        let _p1 = alloc(&mut f, 1, 1);
        let b = alloc(&mut f, 6, 1);
        let _p2 = alloc(&mut f, 1, 1);
        let c = alloc(&mut f, 200, 1);
        let _p3 = alloc(&mut f, 1, 1);
        let d = alloc(&mut f, 300, 1);
        let p4 = alloc(&mut f, 1, 1);
        // SAFETY: spans returned by allocate are live.
        let (sa, sb, sc, sd) = unsafe { ((*a).start, (*b).start, (*c).start, (*d).start) };
        // SAFETY: as above.
        let tail = unsafe { (*p4).start + 1 };
        for s in [a, b, c, d] {
            f.heap.deallocate(&f.src, &f.map, s);
        }
        // Release the exact-fit small span, the best-fitting large one and the rest of the
        // region.
        for start in [sa, sc, tail] {
            let s = f.map.get(start);
            f.heap.release_span(&f.src, s);
            // SAFETY: a live free span.
            assert!(unsafe { (*s).released });
        }
        // 4 pages: the released 4-page span loses to the resident 6-page one.
        let x = alloc(&mut f, 4, 1);
        // SAFETY: live span.
        assert_eq!(unsafe { (*x).start }, sb, "resident small span first");
        // 150 pages: the released 200-page span loses to the resident 300-page one.
        let y = alloc(&mut f, 150, 1);
        // SAFETY: live span.
        assert_eq!(unsafe { (*y).start }, sd, "resident large span first");
        // Nothing resident fits 180 pages now (d keeps 150): the released 200-page span.
        let z = alloc(&mut f, 180, 1);
        // SAFETY: live span.
        assert_eq!(unsafe { (*z).start }, sc, "best fit among released spans");
        // SAFETY: as above.
        assert!(f.heap.last_alloc_zeroed && unsafe { (*z).pages } == 180);
        f.heap.check(&f.map).expect("page heap invariants");
    }

    #[test]
    fn idle_spans_are_released_and_reused() {
        let mut f = fixture();
        let s = alloc(&mut f, 64, 1);
        // SAFETY: the span's pages are ours and mapped.
        unsafe { (*s).base().write_bytes(0xA5, 64 * PAGE_SIZE) };
        f.heap.deallocate(&f.src, &f.map, s);
        assert!(f.heap.stats.free > f.heap.stats.released);
        let n = f.heap.scavenge(&f.src, 0, false);
        assert_eq!(n, 0, "not idle yet");
        let n = f.heap.scavenge(&f.src, u64::MAX, false);
        assert!(n >= 64 * PAGE_SIZE);
        assert_eq!(f.heap.stats.free, f.heap.stats.released);
        let again = alloc(&mut f, 64, 1);
        // SAFETY: released anonymous pages read back as zero.
        assert_eq!(unsafe { *(*again).base() }, 0);
    }
}
