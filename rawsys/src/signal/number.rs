//! Signal numbers: the standard signals by name and the real-time ones by offset.

use core::fmt;

use crate::Errno;

/// A signal number, `1..=64` (see [`Signal::from_raw`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Signal(pub(super) i32);

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

#[cfg(test)]
mod tests {
    use super::*;
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
}
