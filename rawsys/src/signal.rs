//! Signals: numbers, the kernel signal set, the per-thread mask, pending signals, and
//! dispositions limited to "ignore" and "default" (no handlers run in this crate).
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

use core::fmt;

use crate::Errno;
use crate::sys::{self, Sysno};
use crate::time::Timespec;

/// A signal number, `1..=64` (see [`Signal::from_raw`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Signal(i32);

macro_rules! signals {
    ($($name:ident = $num:expr, $desc:expr;)*) => {
        impl Signal {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($num), "): ", $desc, ".")]
                pub const $name: Signal = Signal($num);
            )*
        }

        const NAMES: [&str; 31] = [$(stringify!($name)),*];
    };
}

signals! {
    SIGHUP = 1, "hangup"; SIGINT = 2, "interrupt"; SIGQUIT = 3, "quit";
    SIGILL = 4, "illegal instruction"; SIGTRAP = 5, "trace trap"; SIGABRT = 6, "abort";
    SIGBUS = 7, "bus error"; SIGFPE = 8, "arithmetic exception"; SIGKILL = 9, "kill";
    SIGUSR1 = 10, "user signal 1"; SIGSEGV = 11, "invalid memory reference";
    SIGUSR2 = 12, "user signal 2"; SIGPIPE = 13, "broken pipe"; SIGALRM = 14, "alarm clock";
    SIGTERM = 15, "termination"; SIGSTKFLT = 16, "stack fault"; SIGCHLD = 17, "child status";
    SIGCONT = 18, "continue"; SIGSTOP = 19, "stop"; SIGTSTP = 20, "terminal stop";
    SIGTTIN = 21, "background read"; SIGTTOU = 22, "background write";
    SIGURG = 23, "urgent socket data"; SIGXCPU = 24, "CPU limit"; SIGXFSZ = 25, "file size limit";
    SIGVTALRM = 26, "virtual alarm"; SIGPROF = 27, "profiling timer";
    SIGWINCH = 28, "window size change"; SIGIO = 29, "I/O possible"; SIGPWR = 30, "power failure";
    SIGSYS = 31, "bad system call";
}

impl Signal {
    /// The kernel's first real-time signal, 32. (C libraries reserve a few above it for
    /// themselves; this crate does not, so any of `SIGRTMIN..=SIGRTMAX` is usable.)
    pub const SIGRTMIN: Signal = Signal(32);
    /// The last real-time signal, 64.
    pub const SIGRTMAX: Signal = Signal(64);

    /// The signal with number `n`, if `1 <= n <= 64`.
    pub const fn from_raw(n: i32) -> Option<Signal> {
        if n >= 1 && n <= 64 {
            Some(Signal(n))
        } else {
            None
        }
    }

    /// The real-time signal `SIGRTMIN + n`, if it exists (`n <= 32`).
    pub const fn rt(n: u32) -> Option<Signal> {
        if n <= 32 {
            Some(Signal(32 + n as i32))
        } else {
            None
        }
    }

    /// The signal number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The name of a standard signal, such as `"SIGTERM"`; `None` for real-time signals.
    pub const fn name(self) -> Option<&'static str> {
        if self.0 >= 1 && self.0 <= 31 {
            Some(NAMES[self.0 as usize - 1])
        } else {
            None
        }
    }
}

impl TryFrom<i32> for Signal {
    type Error = Errno;

    /// [`Signal::from_raw`], with `EINVAL` (as the kernel answers) for a number outside
    /// `1..=64`.
    fn try_from(n: i32) -> crate::Result<Signal> {
        Signal::from_raw(n).ok_or(Errno::EINVAL)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "SIGRTMIN+{}", self.0 - 32),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The kernel's signal set (`kernel_sigset_t`): one bit per signal, 64 bits on x86_64 and
/// aarch64. This is what the `rt_*` calls take, with a size argument of 8.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct SigSet(u64);

static_assertions::assert_eq_size!(SigSet, [u8; 8]);

/// The size of [`SigSet`] that the `rt_*` calls are told.
pub(crate) const SIGSET_SIZE: usize = core::mem::size_of::<SigSet>();

impl SigSet {
    /// The set with no signals.
    pub const fn empty() -> SigSet {
        SigSet(0)
    }

    /// The set with every signal.
    pub const fn full() -> SigSet {
        SigSet(u64::MAX)
    }

    /// The set of exactly these signals.
    pub const fn from_signals(signals: &[Signal]) -> SigSet {
        let mut s = SigSet(0);
        let mut i = 0;
        while i < signals.len() {
            s = s.with(signals[i]);
            i += 1;
        }
        s
    }

    const fn bit(sig: Signal) -> u64 {
        1u64 << (sig.0 - 1)
    }

    /// The set with `sig` added (for building constants).
    pub const fn with(self, sig: Signal) -> SigSet {
        SigSet(self.0 | SigSet::bit(sig))
    }

    /// Adds `sig`.
    pub fn add(&mut self, sig: Signal) {
        self.0 |= SigSet::bit(sig);
    }

    /// Removes `sig`.
    pub fn remove(&mut self, sig: Signal) {
        self.0 &= !SigSet::bit(sig);
    }

    /// Whether `sig` is in the set.
    pub const fn contains(&self, sig: Signal) -> bool {
        self.0 & SigSet::bit(sig) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The raw bits: bit `n - 1` stands for signal `n`.
    pub const fn bits(&self) -> u64 {
        self.0
    }

    /// The set with these raw bits.
    pub const fn from_bits(bits: u64) -> SigSet {
        SigSet(bits)
    }

    /// The signals in the set, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = Signal> + '_ {
        (1..=64).map(Signal).filter(|s| self.contains(*s))
    }
}

impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

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
        sa_mask: SigSet(0),
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

/// Test-only raw helpers shared with other modules' tests.
#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

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

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use crate::process::testing::run;
    use crate::process::{CloneFlags, WaitStatus};
    use std::format;

    #[test]
    fn numbers_and_names() {
        assert_eq!(Signal::SIGHUP.raw(), 1);
        assert_eq!(Signal::SIGSYS.raw(), 31);
        assert_eq!(Signal::SIGTERM.name(), Some("SIGTERM"));
        assert_eq!(Signal::SIGCHLD.name(), Some("SIGCHLD"));
        assert_eq!(Signal::rt(3), Signal::from_raw(35));
        assert_eq!(Signal::rt(32), Some(Signal::SIGRTMAX));
        assert_eq!(Signal::rt(33), None);
        assert_eq!(Signal::from_raw(0), None);
        assert_eq!(Signal::from_raw(65), None);
        assert_eq!(format!("{:?}", Signal::rt(3).unwrap()), "SIGRTMIN+3");
        assert_eq!(format!("{}", Signal::SIGUSR2), "SIGUSR2");
        for n in 1..=31 {
            assert!(
                Signal::from_raw(n)
                    .unwrap()
                    .name()
                    .unwrap()
                    .starts_with("SIG")
            );
        }
    }

    #[test]
    fn every_linux_signal_is_representable() {
        for n in 1..=64 {
            let s = Signal::from_raw(n).unwrap();
            assert_eq!(s.raw(), n);
            assert_eq!(Signal::try_from(n), Ok(s));
        }
        // `kill 40`: a real-time signal by number.
        let forty = Signal::try_from(40).unwrap();
        assert_eq!(Some(forty), Signal::rt(8));
        assert_eq!(forty.name(), None);
        assert_eq!(format!("{forty}"), "SIGRTMIN+8");
        for bad in [0, -1, 65, i32::MIN, i32::MAX] {
            assert_eq!(Signal::from_raw(bad), None);
            assert_eq!(Signal::try_from(bad), Err(Errno::EINVAL));
        }
    }

    #[test]
    fn sigset_operations() {
        let mut s = SigSet::empty();
        assert!(s.is_empty());
        s.add(Signal::SIGINT);
        s.add(Signal::SIGRTMAX);
        assert!(s.contains(Signal::SIGINT) && s.contains(Signal::SIGRTMAX));
        assert!(!s.contains(Signal::SIGTERM));
        assert_eq!(s.bits(), (1 << 1) | (1 << 63));
        s.remove(Signal::SIGINT);
        assert_eq!(s.iter().collect::<std::vec::Vec<_>>(), [Signal::SIGRTMAX]);
        assert_eq!(SigSet::full().iter().count(), 64);
        assert_eq!(
            SigSet::from_signals(&[Signal::SIGHUP, Signal::SIGKILL]).bits(),
            0b1_0000_0001
        );
        assert_eq!(
            format!("{:?}", SigSet::from_signals(&[Signal::SIGHUP])),
            "{SIGHUP}"
        );
    }

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
