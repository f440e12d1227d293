//! The `fork` protocol: every lock taken before, released after, in parent and child.

use super::Heap;
use crate::source::PageSource;

impl<S: PageSource> Heap<S> {
    /// Takes every lock of the heap (each class lock in index order, then the page heap lock)
    /// and keeps them, so that no other thread is inside the heap. This is the `fork` prepare
    /// step: a child forked now inherits a consistent heap, and [`unlock_all`](Self::unlock_all)
    /// in both processes makes it usable again. Until then the calling thread must not
    /// allocate from the heap's shared tiers (it would wait for itself).
    pub fn lock_all(&self) {
        self.parked.lock_raw();
        for c in &self.transfer {
            c.lock_raw();
        }
        self.page_heap.lock_raw();
    }

    /// Releases the locks [`lock_all`](Self::lock_all) took.
    ///
    /// # Safety
    /// The calling thread called `lock_all` and has not called `unlock_all` since; or the
    /// caller is a child forked while its parent held them that way (the copy of the thread
    /// that took them is the caller).
    pub unsafe fn unlock_all(&self) {
        // SAFETY: caller's contract: this thread holds every lock, with no guard alive.
        unsafe {
            self.page_heap.unlock_raw();
            for c in self.transfer.iter().rev() {
                c.unlock_raw();
            }
            self.parked.unlock_raw();
        }
    }
}
