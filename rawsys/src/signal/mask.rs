//! The per-thread signal mask, pending signals and waiting for one.

use super::{SIGSET_SIZE, SigSet, Signal};
use crate::Errno;
use crate::sys::{self, Sysno};
use crate::time::Timespec;

/// What [`rt_sigprocmask`] does with its set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum SigmaskHow {
    /// `SIG_BLOCK`: add the set to the mask.
    Block = 0,
    /// `SIG_UNBLOCK`: remove the set from the mask.
    Unblock = 1,
    /// `SIG_SETMASK`: replace the mask with the set.
    SetMask = 2,
}

/// `rt_sigprocmask(2)`: changes the calling thread's signal mask and returns the previous one.
///
/// With `set = None` nothing changes and the current mask is returned. The mask is per thread;
/// `SIGKILL` and `SIGSTOP` are silently never blocked.
pub fn rt_sigprocmask(how: SigmaskHow, set: Option<&SigSet>) -> crate::Result<SigSet> {
    let mut old = SigSet::empty();
    let set_ptr = sys::opt_ref(set);
    // SAFETY: `set_ptr` is null or a valid sigset; `old` is writable; the size matches.
    unsafe {
        sys::syscall4(
            Sysno::rt_sigprocmask,
            how as i32 as usize,
            set_ptr,
            sys::by_mut(&mut old),
            SIGSET_SIZE,
        )
    }?;
    Ok(old)
}

/// `rt_sigpending(2)`: the signals pending for the calling thread or its process while
/// blocked.
pub fn rt_sigpending() -> crate::Result<SigSet> {
    let mut set = SigSet::empty();
    // SAFETY: `set` is a writable sigset of the size passed.
    unsafe { sys::syscall2(Sysno::rt_sigpending, sys::by_mut(&mut set), SIGSET_SIZE) }?;
    Ok(set)
}

/// `rt_sigtimedwait(2)`: takes one pending signal of `set` (which should be blocked) and
/// returns it, waiting up to `timeout` (`None` waits forever; a zero timeout polls and fails
/// with `EAGAIN` when none is pending).
pub fn rt_sigtimedwait(set: &SigSet, timeout: Option<&Timespec>) -> crate::Result<Signal> {
    let t = sys::opt_ref(timeout);
    // SAFETY: `set` is a valid sigset of the size passed; `t` is null or a valid timespec;
    // a null siginfo pointer asks the kernel not to report details.
    let n = unsafe { sys::syscall4(Sysno::rt_sigtimedwait, sys::by_ref(set), 0, t, SIGSET_SIZE) }?;
    Signal::from_raw(n as i32).ok_or(Errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::*;

    #[test]
    fn sigprocmask_round_trips() {
        let sig = Signal::rt(10).unwrap();
        let set = SigSet::from_signals(&[sig, Signal::SIGKILL]);
        let before = rt_sigprocmask(SigmaskHow::SetMask, None).unwrap();
        let old = rt_sigprocmask(SigmaskHow::Block, Some(&set)).unwrap();
        assert_eq!(old, before);
        let now = rt_sigprocmask(SigmaskHow::Block, None).unwrap();
        assert!(now.contains(sig));
        assert!(
            !now.contains(Signal::SIGKILL),
            "the kernel never blocks SIGKILL"
        );
        let blocked = rt_sigprocmask(SigmaskHow::Unblock, Some(&set)).unwrap();
        assert_eq!(blocked, now);
        assert_eq!(
            rt_sigprocmask(SigmaskHow::SetMask, Some(&before)).unwrap(),
            before
        );
        assert_eq!(rt_sigprocmask(SigmaskHow::SetMask, None).unwrap(), before);
    }

    #[test]
    fn pending_and_timedwait_see_a_blocked_thread_signal() {
        let sig = Signal::rt(11).unwrap();
        let set = SigSet::from_signals(&[sig]);
        let _guard = BlockGuard::new(set);
        assert_eq!(
            rt_sigtimedwait(&set, Some(&Timespec::ZERO)),
            Err(Errno::EAGAIN)
        );
        assert!(!rt_sigpending().unwrap().contains(sig));
        raise_on_this_thread(sig).unwrap();
        assert!(rt_sigpending().unwrap().contains(sig));
        assert_eq!(rt_sigtimedwait(&set, Some(&Timespec::ZERO)), Ok(sig));
        assert!(!rt_sigpending().unwrap().contains(sig));
        // A short timeout expires with EAGAIN.
        let t = Timespec::from_nanos(1_000_000);
        assert_eq!(rt_sigtimedwait(&set, Some(&t)), Err(Errno::EAGAIN));
    }
}
