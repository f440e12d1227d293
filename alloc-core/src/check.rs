//! Support for [`Heap::check_invariants`](crate::Heap::check_invariants): a violation is
//! recorded as a message in a fixed buffer (no allocation: the check runs with the heap's
//! locks held, and allocating there could wait for those very locks), and the heap panics
//! with it once every lock is released.

use core::fmt::{self, Write};

/// Bytes of a violation's message (kept small: every check returns a `Result` of it).
const MESSAGE_LEN: usize = 120;

/// An invariant of INTERNALS.md that does not hold, and where.
pub(crate) struct Violation(heapless::String<MESSAGE_LEN, u8>);

impl Violation {
    /// A violation described by `args` (cut at [`MESSAGE_LEN`] bytes).
    #[cold]
    pub(crate) fn new(args: fmt::Arguments<'_>) -> Self {
        let mut s = heapless::String::new();
        // A message longer than the buffer is cut short, which is fine for a diagnosis.
        let _ = s.write_fmt(args);
        Violation(s)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The result of a check.
pub(crate) type Checked<T = ()> = Result<T, Violation>;

/// `ensure!(condition, "format", args...)`: returns a [`Violation`] with that message from
/// the enclosing function when the condition is false.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::check::Violation::new(format_args!($($arg)+)));
        }
    };
}
pub(crate) use ensure;
