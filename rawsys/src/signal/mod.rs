//! Signals, one file per concern: numbers ([`Signal`]), the kernel signal set ([`SigSet`]), the
//! per-thread mask and pending signals ([`rt_sigprocmask`], [`rt_sigpending`],
//! [`rt_sigtimedwait`]), and dispositions limited to "ignore" and "default" ([`rt_sigaction`]:
//! no handlers run in this crate).
//!
//! ```
//! use rawsys::signal::{rt_sigprocmask, SigSet, SigmaskHow, Signal};
//!
//! // Block SIGUSR1 on this thread only, then put the old mask back.
//! let old = rt_sigprocmask(SigmaskHow::Block, Some(&SigSet::from_signals(&[Signal::SIGUSR1])))?;
//! assert!(rt_sigprocmask(SigmaskHow::SetMask, None)?.contains(Signal::SIGUSR1));
//! rt_sigprocmask(SigmaskHow::SetMask, Some(&old))?;
//! # Ok::<(), rawsys::Errno>(())
//! ```

mod action;
mod mask;
mod number;
mod set;

pub use action::*;
pub use mask::*;
pub use number::*;
pub use set::*;

/// Test-only raw helpers shared with other modules' tests.
#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::time::Timespec;

    pub(crate) use crate::process::{getpid, gettid};

    /// `tgkill(2)` on the calling thread.
    pub(crate) fn raise_on_this_thread(sig: Signal) -> crate::Result<()> {
        crate::process::tgkill(getpid(), gettid(), sig)
    }

    /// Blocks `set` on this thread and, on drop, takes any of its signals still pending (so
    /// unblocking cannot deliver them with their default action) and restores the old mask.
    pub(crate) struct BlockGuard {
        set: SigSet,
        old: SigSet,
    }

    impl BlockGuard {
        pub(crate) fn new(set: SigSet) -> BlockGuard {
            let old = rt_sigprocmask(SigmaskHow::Block, Some(&set)).unwrap();
            BlockGuard { set, old }
        }
    }

    impl Drop for BlockGuard {
        fn drop(&mut self) {
            while rt_sigtimedwait(&self.set, Some(&Timespec::ZERO)).is_ok() {}
            rt_sigprocmask(SigmaskHow::SetMask, Some(&self.old)).unwrap();
        }
    }
}
