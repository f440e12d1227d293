//! A small spin lock: critical sections in the allocator are a few dozen instructions long and
//! must not allocate, so a futex-free lock with backoff is enough.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Mutual exclusion by spinning, then sleeping briefly (a lock holder preempted on a busy
/// machine must get the CPU back).
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one thread at a time, so sharing it needs only `T: Send`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the value.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    /// Takes the lock without a guard (for [`Heap::lock_all`](crate::Heap::lock_all)).
    pub(crate) fn lock_raw(&self) {
        core::mem::forget(self.lock());
    }

    /// The value, while the calling thread holds the lock through
    /// [`lock_raw`](Self::lock_raw).
    ///
    /// # Safety
    /// The calling thread holds the lock (taken with `lock_raw`, no guard alive) for as long
    /// as the reference lives.
    pub(crate) unsafe fn get_locked(&self) -> &T {
        // SAFETY: the caller holds the lock, so nobody else reaches the value.
        unsafe { &*self.value.get() }
    }

    /// Releases a lock taken with [`lock_raw`](Self::lock_raw), or one a forked child
    /// inherited in the locked state.
    ///
    /// # Safety
    /// The calling thread holds the lock through `lock_raw` (or, in a child after `fork`, the
    /// thread that held it no longer exists), and no guard of it is alive.
    pub(crate) unsafe fn unlock_raw(&self) {
        self.locked.store(false, Ordering::Release);
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 64 {
                    for _ in 0..(1u32 << (spins / 8).min(6)) {
                        core::hint::spin_loop();
                    }
                } else {
                    yield_cpu();
                }
                spins = spins.saturating_add(1);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Gives the CPU away: `sched_yield`, so that a lock holder preempted on this CPU runs again
/// at once (a `nanosleep` would leave the CPU idle for the kernel's timer slack, some tens of
/// microseconds, each time).
fn yield_cpu() {
    rawsys::process::sched_yield();
}

/// Proof that the lock is held; unlocks on drop.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock, and `&mut self`
        // makes this the only reference derived from the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
