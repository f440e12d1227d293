//! The radix page map: page number -> span, two levels of 2^18 entries covering the 48-bit
//! address space. Readers need no lock (free paths look a pointer's span up concurrently);
//! writers hold the page heap lock.
//!
//! Each entry also carries the span's size class in its top byte (span records live below
//! 2^48), so a free without a layout learns the class from the entry alone, without reading
//! the span record (one cache miss fewer per free).

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::size_class::SizeClass;
use crate::source::PageSource;
use crate::span::Span;

const LEAF_BITS: usize = 18;
const ROOT_BITS: usize = 18;
const LEAF_LEN: usize = 1 << LEAF_BITS;
const ROOT_LEN: usize = 1 << ROOT_BITS;
/// Page numbers at or above this (addresses >= 2^48) cannot be mapped.
pub(crate) const PAGE_LIMIT: usize = 1 << (LEAF_BITS + ROOT_BITS);
/// Entries keep the size class in bits 56..64.
const CLASS_SHIFT: u32 = 56;
const ADDR_MASK: usize = (1 << CLASS_SHIFT) - 1;

type Leaf = [AtomicPtr<Span>; LEAF_LEN];
type Root = [AtomicPtr<Leaf>; ROOT_LEN];

/// Two-level radix tree; the root and the leaves are mapped lazily from the page source (they are
/// 2 MiB of address space each, of which only touched pages become resident).
pub(crate) struct PageMap {
    root: AtomicPtr<Root>,
    /// Bytes mapped for the root and the leaves.
    pub(crate) bytes: core::sync::atomic::AtomicUsize,
}

impl PageMap {
    pub(crate) const fn new() -> Self {
        PageMap {
            root: AtomicPtr::new(ptr::null_mut()),
            bytes: core::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The span registered for `page`, or null.
    #[inline]
    pub(crate) fn get(&self, page: usize) -> *mut Span {
        self.lookup(page).0
    }

    /// The span registered for `page` (or null) and the class it was registered with (none
    /// for large objects and free spans).
    #[inline]
    pub(crate) fn lookup(&self, page: usize) -> (*mut Span, Option<SizeClass>) {
        let e = self.entry(page);
        // SAFETY: the top byte of an entry is only ever written by `set_class`, from a class.
        let cls = unsafe { SizeClass::from_bits((e.addr() >> CLASS_SHIFT) as u8) };
        (e.map_addr(|a| a & ADDR_MASK), cls)
    }

    #[inline]
    fn entry(&self, page: usize) -> *mut Span {
        if page >= PAGE_LIMIT {
            return ptr::null_mut();
        }
        let root = self.root.load(Ordering::Acquire);
        if root.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a non-null root points at a live, never-freed Root; the index is in range.
        let leaf = unsafe { (*root)[page >> LEAF_BITS].load(Ordering::Acquire) };
        if leaf.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a non-null leaf is live and never freed; the index is masked into range.
        unsafe { (*leaf)[page & (LEAF_LEN - 1)].load(Ordering::Acquire) }
    }

    /// Makes sure the entries for pages `first..first + count` exist. Caller holds the page
    /// heap lock (the only writer).
    pub(crate) fn ensure<S: PageSource>(&self, source: &S, first: usize, count: usize) -> bool {
        if count == 0 || first.checked_add(count).is_none_or(|end| end > PAGE_LIMIT) {
            return count == 0;
        }
        let mut root = self.root.load(Ordering::Acquire);
        if root.is_null() {
            let Some(p) = source.map(size_of::<Root>()) else {
                return false;
            };
            self.bytes.fetch_add(size_of::<Root>(), Ordering::Relaxed);
            root = p.as_ptr().cast();
            self.root.store(root, Ordering::Release);
        }
        let mut i = first >> LEAF_BITS;
        while i <= (first + count - 1) >> LEAF_BITS {
            // SAFETY: root is live; i < ROOT_LEN because first + count <= PAGE_LIMIT.
            let slot = unsafe { &(*root)[i] };
            if slot.load(Ordering::Acquire).is_null() {
                let Some(p) = source.map(size_of::<Leaf>()) else {
                    return false;
                };
                self.bytes.fetch_add(size_of::<Leaf>(), Ordering::Relaxed);
                slot.store(p.as_ptr().cast(), Ordering::Release);
            }
            i += 1;
        }
        true
    }

    /// Points `page` at `span` with no class. The entry must exist ([`ensure`](Self::ensure));
    /// caller holds the page heap lock.
    #[inline]
    pub(crate) fn set(&self, page: usize, span: *mut Span) {
        self.set_class(page, span, None);
    }

    /// Points `page` at `span`, a span carved into blocks of class `cls` (or, with `None`, a
    /// free span or a large object). As [`set`](Self::set).
    #[inline]
    pub(crate) fn set_class(&self, page: usize, span: *mut Span, cls: Option<SizeClass>) {
        debug_assert!(span.addr() <= ADDR_MASK);
        let bits = cls.map_or(0, SizeClass::bits) as usize;
        let span = span.map_addr(|a| (a & ADDR_MASK) | (bits << CLASS_SHIFT));
        let root = self.root.load(Ordering::Acquire);
        debug_assert!(!root.is_null() && page < PAGE_LIMIT);
        if root.is_null() || page >= PAGE_LIMIT {
            return;
        }
        // SAFETY: root is live and the index in range.
        let leaf = unsafe { (*root)[page >> LEAF_BITS].load(Ordering::Acquire) };
        debug_assert!(!leaf.is_null());
        if let Some(leaf) = NonNull::new(leaf) {
            // SAFETY: leaves are live forever; the index is masked into range.
            unsafe { (*leaf.as_ptr())[page & (LEAF_LEN - 1)].store(span, Ordering::Release) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MmapSource;

    #[test]
    fn set_get_across_leaves_and_unknown_pages_are_null() {
        let map = PageMap::new();
        let src = MmapSource::new();
        assert!(map.get(12345).is_null());
        let first = LEAF_LEN - 2;
        assert!(map.ensure(&src, first, 4));
        let a = 0x1000 as *mut Span;
        let b = 0x2000 as *mut Span;
        map.set(first, a);
        map.set(first + 3, b);
        assert_eq!(map.get(first), a);
        assert_eq!(map.get(first + 3), b);
        assert!(map.get(first + 1).is_null());
        assert!(map.get(PAGE_LIMIT + 5).is_null());
        assert!(!map.ensure(&src, PAGE_LIMIT - 1, 2));
        let c76 = SizeClass::new(76);
        assert!(c76.is_some());
        map.set_class(first + 1, b, c76);
        assert_eq!(map.get(first + 1), b);
        assert_eq!(map.lookup(first + 1), (b, c76));
        assert_eq!(map.lookup(first), (a, None));
        assert_eq!(map.lookup(PAGE_LIMIT + 5), (ptr::null_mut(), None));
        assert_eq!(
            map.bytes.load(Ordering::Relaxed),
            size_of::<Root>() + 2 * size_of::<Leaf>()
        );
    }
}
