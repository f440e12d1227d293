//! The kernel's signal set.

use core::fmt;

use super::Signal;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

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
}
