//! One set of the page heap's free lists: spans of exactly `n` pages on list `n` (1..=128,
//! with a bitmap of the non-empty ones), longer spans on one list searched best-fit. The page
//! heap keeps two sets, resident spans and released ones (tcmalloc's normal and returned
//! lists), so that either kind is found without walking the other.

use core::ptr;

use crate::span::{Span, SpanList};

/// Free spans up to this many pages sit on an exact-length list; longer ones on one list
/// searched best-fit.
pub(crate) const MAX_PAGES: usize = 128;

/// Free spans by length (all of one kind: resident or released).
pub(crate) struct FreeLists {
    /// `exact[n]`: free spans of exactly `n` pages (index 0 unused).
    pub(crate) exact: [SpanList; MAX_PAGES + 1],
    /// Bit `n` set when `exact[n]` is not empty.
    pub(crate) nonempty: [u64; 3],
    /// Free spans longer than `MAX_PAGES`.
    pub(crate) large: SpanList,
}

impl FreeLists {
    pub(crate) const fn new() -> Self {
        FreeLists {
            exact: [const { SpanList::new() }; MAX_PAGES + 1],
            nonempty: [0; 3],
            large: SpanList::new(),
        }
    }

    /// The first span on the list a span of `pages` pages belongs on (null when it is
    /// empty): `pages` from 1 to `MAX_PAGES + 1` visits every list once.
    pub(crate) fn first_on_list(&self, pages: usize) -> *mut Span {
        if pages <= MAX_PAGES {
            self.exact[pages].first()
        } else {
            self.large.first()
        }
    }

    /// The list a span of `pages` pages belongs on, and 0 or its exact length.
    fn list(&mut self, pages: usize) -> &mut SpanList {
        if pages <= MAX_PAGES {
            &mut self.exact[pages]
        } else {
            &mut self.large
        }
    }

    /// Links the live, unlisted free span of `pages` pages.
    ///
    /// # Safety
    /// `span` is live, on no list, and has `pages` pages.
    pub(crate) unsafe fn link(&mut self, span: *mut Span, pages: usize) {
        if pages <= MAX_PAGES {
            self.nonempty[pages / 64] |= 1 << (pages % 64);
        }
        // SAFETY: the caller's contract.
        unsafe { self.list(pages).push_front(span) };
    }

    /// Unlinks the span of `pages` pages.
    ///
    /// # Safety
    /// `span` is on this set's list for `pages` pages.
    pub(crate) unsafe fn unlink(&mut self, span: *mut Span, pages: usize) {
        // SAFETY: the caller's contract.
        unsafe { self.list(pages).remove(span) };
        if pages <= MAX_PAGES && self.exact[pages].is_empty() {
            self.nonempty[pages / 64] &= !(1 << (pages % 64));
        }
    }

    /// The first span of the smallest non-empty exact list of at least `pages` pages (null if
    /// none, or `pages > MAX_PAGES`): one bitmap scan.
    pub(crate) fn smallest_exact(&self, pages: usize) -> *mut Span {
        if pages > MAX_PAGES {
            return ptr::null_mut();
        }
        let mut word = pages / 64;
        let mut bits = self.nonempty[word] & (!0u64 << (pages % 64));
        loop {
            if bits != 0 {
                let n = word * 64 + bits.trailing_zeros() as usize;
                return self.exact[n].first();
            }
            word += 1;
            if word == self.nonempty.len() {
                return ptr::null_mut();
            }
            bits = self.nonempty[word];
        }
    }

    /// Best fit among the large spans of at least `pages` pages: fewest pages, lowest address
    /// on ties; null if none.
    pub(crate) fn best_large(&self, pages: usize) -> *mut Span {
        let mut best: *mut Span = ptr::null_mut();
        let mut s = self.large.first();
        while !s.is_null() {
            // SAFETY: members of the large list are live free spans.
            let span = unsafe { &*s };
            if span.pages >= pages {
                // SAFETY: best, when set, is a live member too.
                let better = best.is_null()
                    || unsafe {
                        span.pages < (*best).pages
                            || (span.pages == (*best).pages && span.start < (*best).start)
                    };
                if better {
                    best = s;
                }
            }
            s = span.next;
        }
        best
    }

    /// The smallest span of at least `pages` pages: exact lists first, then best fit among
    /// the large ones; null if none.
    pub(crate) fn find(&self, pages: usize) -> *mut Span {
        let s = self.smallest_exact(pages);
        if s.is_null() {
            self.best_large(pages)
        } else {
            s
        }
    }
}
