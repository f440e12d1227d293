//! The process's own state in the child: standard descriptors and signals.

use rawsys::RawFd;
use rawsys::io::{self, FdFlags};
use rawsys::signal::{self, Disposition, SigSet, SigmaskHow, Signal};

use super::helpers::{StepResult, SubStep, at, borrowed};

/// `dup3(from, to)`, or clearing close-on-exec when `from == to`.
pub(super) fn dup(from: RawFd, to: RawFd) -> StepResult {
    if from == to {
        io::fcntl_setfd(borrowed(from), FdFlags::empty()).map_err(at(SubStep::Call))
    } else {
        // The new descriptor must stay open for the command: do not let it drop.
        io::dup3(borrowed(from), to, io::DupFlags::empty())
            .map(|f| {
                let _ = f.into_raw();
            })
            .map_err(at(SubStep::Call))
    }
}

/// Default dispositions for the signals the parent ignored, and an empty signal mask.
pub(super) fn reset_signals() -> StepResult {
    for n in 1..=31u8 {
        let Some(sig) = Signal::from_raw(n.into()) else {
            continue;
        };
        if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
            continue;
        }
        if let Ok(a) = signal::rt_sigaction(sig, None) {
            if a.disposition() == Some(Disposition::Ignore) {
                signal::rt_sigaction(sig, Some(Disposition::Default))
                    .map_err(at(SubStep::SignalDisposition(n)))?;
            }
        }
    }
    signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&SigSet::empty()))
        .map(drop)
        .map_err(at(SubStep::SignalMask))
}
