//! Signal dispositions: default or ignore.

use super::{SIGSET_SIZE, SigSet, Signal};
use crate::sys::{self, Sysno};

/// The disposition [`rt_sigaction`] can install: this crate never installs a handler function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// `SIG_DFL`: the signal's default action.
    Default,
    /// `SIG_IGN`: the signal is discarded.
    Ignore,
}

const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;

/// The kernel's `struct sigaction` (not the C library's), as `rt_sigaction(2)` reads and writes
/// it on x86_64 and aarch64: handler, flags, restorer, mask.
///
/// x86_64 requires `SA_RESTORER` and a restorer only for a handler function that returns; for
/// `SIG_IGN` and `SIG_DFL`, the only dispositions this crate installs, both stay zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct KernelSigaction {
    sa_handler: usize,
    sa_flags: u64,
    sa_restorer: usize,
    sa_mask: SigSet,
}

static_assertions::assert_eq_size!(KernelSigaction, [u8; 32]);
static_assertions::const_assert_eq!(core::mem::offset_of!(KernelSigaction, sa_handler), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(KernelSigaction, sa_flags), 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(KernelSigaction, sa_restorer), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(KernelSigaction, sa_mask), 24);

impl KernelSigaction {
    /// `Some` for `SIG_DFL` and `SIG_IGN`, `None` when a handler function is installed.
    pub const fn disposition(&self) -> Option<Disposition> {
        match self.sa_handler {
            SIG_DFL => Some(Disposition::Default),
            SIG_IGN => Some(Disposition::Ignore),
            _ => None,
        }
    }

    /// The raw handler word: 0 (`SIG_DFL`), 1 (`SIG_IGN`) or a function address.
    pub const fn handler(&self) -> usize {
        self.sa_handler
    }

    /// The `SA_*` flags.
    pub const fn flags(&self) -> u64 {
        self.sa_flags
    }

    /// Signals blocked while the handler runs.
    pub const fn mask(&self) -> SigSet {
        self.sa_mask
    }
}

/// `rt_sigaction(2)`: sets the disposition of `sig` to default or ignore (with `new = Some`)
/// and returns the previous action; with `new = None` it only reads the current one.
///
/// Dispositions are process-wide: changing one affects every thread, so do it only in a
/// process you own (tests do it in a forked child). `SIGKILL` and `SIGSTOP` cannot be changed
/// (`EINVAL`).
pub fn rt_sigaction(sig: Signal, new: Option<Disposition>) -> crate::Result<KernelSigaction> {
    let act = new.map(|d| KernelSigaction {
        sa_handler: match d {
            Disposition::Default => SIG_DFL,
            Disposition::Ignore => SIG_IGN,
        },
        sa_flags: 0,
        sa_restorer: 0,
        sa_mask: SigSet::empty(),
    });
    let act_ptr = sys::opt_ref(act.as_ref());
    let mut old = KernelSigaction {
        sa_handler: 0,
        sa_flags: 0,
        sa_restorer: 0,
        sa_mask: SigSet::empty(),
    };
    // SAFETY: `act_ptr` is null or a valid kernel sigaction installing SIG_DFL/SIG_IGN (no code
    // is registered); `old` is writable; the sigset size matches.
    unsafe {
        sys::syscall4(
            Sysno::rt_sigaction,
            sig.0 as usize,
            act_ptr,
            sys::by_mut(&mut old),
            SIGSET_SIZE,
        )
    }?;
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::process::testing::run;
    use crate::process::{CloneFlags, WaitStatus};
    use crate::signal::test_util::*;
    use crate::signal::{SigmaskHow, rt_sigprocmask};

    #[test]
    fn sigaction_reads_without_changing() {
        // SIGKILL's disposition is always the default and cannot be changed.
        let a = rt_sigaction(Signal::SIGKILL, None).unwrap();
        assert_eq!(a.disposition(), Some(Disposition::Default));
        assert_eq!(
            rt_sigaction(Signal::SIGKILL, Some(Disposition::Ignore)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            rt_sigaction(Signal::SIGSTOP, Some(Disposition::Default)),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn sigaction_ignore_then_default_in_a_child() {
        // Dispositions are process-wide, so they change only in a forked child. Exit codes
        // name the step that failed.
        let sig = Signal::SIGUSR1;
        let status = run(CloneFlags::empty(), &[], || {
            let Ok(old) = rt_sigaction(sig, Some(Disposition::Ignore)) else {
                return 10;
            };
            if old.disposition() != Some(Disposition::Default) {
                return 11;
            }
            let Ok(now) = rt_sigaction(sig, None) else {
                return 12;
            };
            if now.disposition() != Some(Disposition::Ignore) || now.handler() != 1 {
                return 13;
            }
            // An ignored signal sent to ourselves does nothing, even unblocked.
            let unblock = SigSet::from_signals(&[sig]);
            if rt_sigprocmask(SigmaskHow::Unblock, Some(&unblock)).is_err() {
                return 14;
            }
            if raise_on_this_thread(sig).is_err() {
                return 15;
            }
            let Ok(prev) = rt_sigaction(sig, Some(Disposition::Default)) else {
                return 16;
            };
            if prev.disposition() != Some(Disposition::Ignore) || prev.flags() != 0 {
                return 17;
            }
            // Now the default action (terminate) applies.
            let _ = raise_on_this_thread(sig);
            18
        });
        // Terminated by SIGUSR1, not an exit code.
        assert_eq!(
            status,
            WaitStatus::Signaled {
                signal: sig,
                core_dumped: false
            }
        );
    }
}
