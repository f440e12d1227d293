//! Clocks and sleeping: `clock_gettime(2)`, `clock_nanosleep(2)`, `nanosleep(2)`.
//!
//! ```
//! use rawsys::time::{clock_gettime, ClockId};
//!
//! let a = clock_gettime(ClockId::Monotonic)?;
//! let b = clock_gettime(ClockId::Monotonic)?;
//! assert!(b >= a);
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::time::Duration;

use crate::sys::{self, Sysno};

/// A kernel clock, as passed to `clock_gettime(2)` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ClockId {
    /// `CLOCK_REALTIME`: wall-clock time, which can jump when the system time is set.
    Realtime = 0,
    /// `CLOCK_MONOTONIC`: never goes backwards; does not count time suspended.
    Monotonic = 1,
    /// `CLOCK_PROCESS_CPUTIME_ID`: CPU time consumed by all threads of the process.
    ProcessCputime = 2,
    /// `CLOCK_THREAD_CPUTIME_ID`: CPU time consumed by the calling thread.
    ThreadCputime = 3,
    /// `CLOCK_MONOTONIC_RAW`: monotonic, not subject to NTP frequency adjustment.
    MonotonicRaw = 4,
    /// `CLOCK_REALTIME_COARSE`: a faster, less precise `CLOCK_REALTIME`.
    RealtimeCoarse = 5,
    /// `CLOCK_MONOTONIC_COARSE`: a faster, less precise `CLOCK_MONOTONIC`.
    MonotonicCoarse = 6,
    /// `CLOCK_BOOTTIME`: monotonic, and counts time the system was suspended.
    Boottime = 7,
}

/// `struct timespec` (the 64-bit `__kernel_timespec` on x86_64 and aarch64).
///
/// A valid value has `0 <= tv_nsec < 1_000_000_000`; the kernel rejects others with `EINVAL`.
/// Ordering compares seconds, then nanoseconds, which is time order for valid values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C)]
pub struct Timespec {
    /// Whole seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub tv_nsec: i64,
}

static_assertions::assert_eq_size!(Timespec, [u8; 16]);
static_assertions::const_assert_eq!(core::mem::offset_of!(Timespec, tv_sec), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(Timespec, tv_nsec), 8);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timespec {
    /// Zero seconds, zero nanoseconds.
    pub const ZERO: Timespec = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };

    /// A timespec of `sec` seconds and `nsec` nanoseconds, normalised so that `tv_nsec` is in
    /// range (for example `new(1, 1_500_000_000)` is 2.5 s). Returns `None` on overflow.
    pub const fn new(sec: i64, nsec: i64) -> Option<Timespec> {
        let carry = nsec.div_euclid(NANOS_PER_SEC);
        match sec.checked_add(carry) {
            Some(tv_sec) => Some(Timespec {
                tv_sec,
                tv_nsec: nsec.rem_euclid(NANOS_PER_SEC),
            }),
            None => None,
        }
    }

    /// The timespec that lies `nanos` nanoseconds from zero (negative values lie before).
    pub const fn from_nanos(nanos: i64) -> Timespec {
        Timespec {
            tv_sec: nanos.div_euclid(NANOS_PER_SEC),
            tv_nsec: nanos.rem_euclid(NANOS_PER_SEC),
        }
    }

    /// The total number of nanoseconds; exact for every value (an `i128` cannot overflow here).
    pub const fn as_nanos(self) -> i128 {
        self.tv_sec as i128 * NANOS_PER_SEC as i128 + self.tv_nsec as i128
    }

    /// A duration as a timespec; `None` if its seconds do not fit an `i64`.
    pub const fn from_duration(d: Duration) -> Option<Timespec> {
        if d.as_secs() > i64::MAX as u64 {
            return None;
        }
        Some(Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: d.subsec_nanos() as i64,
        })
    }

    /// The timespec as a duration; `None` if it is negative or not normalised.
    pub const fn to_duration(self) -> Option<Duration> {
        if self.tv_sec < 0 || self.tv_nsec < 0 || self.tv_nsec >= NANOS_PER_SEC {
            return None;
        }
        Some(Duration::new(self.tv_sec as u64, self.tv_nsec as u32))
    }

    /// `self + d`, or `None` on overflow.
    pub const fn checked_add(self, d: Duration) -> Option<Timespec> {
        let Some(add) = Timespec::from_duration(d) else {
            return None;
        };
        let Some(sec) = self.tv_sec.checked_add(add.tv_sec) else {
            return None;
        };
        Timespec::new(sec, self.tv_nsec + add.tv_nsec)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later than `self`.
    pub const fn duration_since(self, earlier: Timespec) -> Option<Duration> {
        let diff = self.as_nanos() - earlier.as_nanos();
        if diff < 0 {
            return None;
        }
        let secs = diff / NANOS_PER_SEC as i128;
        if secs > u64::MAX as i128 {
            return None;
        }
        Some(Duration::new(
            secs as u64,
            (diff % NANOS_PER_SEC as i128) as u32,
        ))
    }
}

impl TryFrom<Duration> for Timespec {
    type Error = crate::Errno;
    /// Fails with `EOVERFLOW` when the seconds do not fit an `i64`.
    fn try_from(d: Duration) -> crate::Result<Timespec> {
        Timespec::from_duration(d).ok_or(crate::Errno::EOVERFLOW)
    }
}

impl TryFrom<Timespec> for Duration {
    type Error = crate::Errno;
    /// Fails with `EINVAL` for negative or unnormalised values.
    fn try_from(t: Timespec) -> crate::Result<Duration> {
        t.to_duration().ok_or(crate::Errno::EINVAL)
    }
}

/// `struct itimerspec`: a timer's period and its next expiry (used by `timerfd`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Itimerspec {
    /// The period after the first expiry; zero for a one-shot timer.
    pub it_interval: Timespec,
    /// The first expiry (relative, or absolute with `TFD_TIMER_ABSTIME`); zero disarms.
    pub it_value: Timespec,
}

static_assertions::assert_eq_size!(Itimerspec, [u8; 32]);
static_assertions::const_assert_eq!(core::mem::offset_of!(Itimerspec, it_interval), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(Itimerspec, it_value), 16);

bitflags::bitflags! {
    /// Flags for [`clock_nanosleep`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SleepFlags: u32 {
        /// `TIMER_ABSTIME`: the request is an absolute time on the clock, not an interval.
        const ABSTIME = 1;
    }
}

/// `clock_gettime(2)`: reads the clock.
pub fn clock_gettime(clock: ClockId) -> crate::Result<Timespec> {
    let mut ts = Timespec::ZERO;
    // SAFETY: `ts` is a valid, writable `struct timespec`.
    unsafe {
        sys::syscall2(
            Sysno::clock_gettime,
            clock as i32 as usize,
            sys::by_mut(&mut ts),
        )
    }?;
    Ok(ts)
}

/// `clock_getres(2)`: the resolution of the clock.
pub fn clock_getres(clock: ClockId) -> crate::Result<Timespec> {
    let mut ts = Timespec::ZERO;
    // SAFETY: `ts` is a valid, writable `struct timespec`.
    unsafe {
        sys::syscall2(
            Sysno::clock_getres,
            clock as i32 as usize,
            sys::by_mut(&mut ts),
        )
    }?;
    Ok(ts)
}

/// `clock_nanosleep(2)`: sleeps on `clock` for the interval `request`, or until the absolute
/// time `request` with [`SleepFlags::ABSTIME`].
///
/// An interrupted relative sleep fails with `EINTR` and, if `remaining` is given, stores the
/// time left there (the kernel does not write it for absolute sleeps, which can simply be
/// repeated).
pub fn clock_nanosleep(
    clock: ClockId,
    flags: SleepFlags,
    request: &Timespec,
    remaining: Option<&mut Timespec>,
) -> crate::Result<()> {
    let rem = sys::opt_mut(remaining);
    // SAFETY: `request` is a valid timespec; `rem` is null or a valid, writable timespec.
    unsafe {
        sys::syscall4(
            Sysno::clock_nanosleep,
            clock as i32 as usize,
            flags.bits() as usize,
            sys::by_ref(request),
            rem,
        )
    }
    .map(drop)
}

/// `nanosleep(2)`: sleeps for the interval `request` on `CLOCK_MONOTONIC`.
///
/// On `EINTR` the time left is stored in `remaining` when given.
pub fn nanosleep(request: &Timespec, remaining: Option<&mut Timespec>) -> crate::Result<()> {
    let rem = sys::opt_mut(remaining);
    // SAFETY: `request` is a valid timespec; `rem` is null or a valid, writable timespec.
    unsafe { sys::syscall2(Sysno::nanosleep, sys::by_ref(request), rem) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;

    #[test]
    fn monotonic_never_goes_backwards() {
        let mut prev = clock_gettime(ClockId::Monotonic).unwrap();
        for _ in 0..10_000 {
            let now = clock_gettime(ClockId::Monotonic).unwrap();
            assert!(now >= prev, "{now:?} < {prev:?}");
            assert!((0..NANOS_PER_SEC).contains(&now.tv_nsec));
            prev = now;
        }
    }

    #[test]
    fn every_clock_reads() {
        for c in [
            ClockId::Realtime,
            ClockId::Monotonic,
            ClockId::ProcessCputime,
            ClockId::ThreadCputime,
            ClockId::MonotonicRaw,
            ClockId::RealtimeCoarse,
            ClockId::MonotonicCoarse,
            ClockId::Boottime,
        ] {
            let t = clock_gettime(c).unwrap();
            assert!((0..NANOS_PER_SEC).contains(&t.tv_nsec), "{c:?}: {t:?}");
            let res = clock_getres(c).unwrap();
            assert!(res > Timespec::ZERO && res.tv_sec == 0, "{c:?}: {res:?}");
        }
        // The realtime clock is after 2020-01-01 on any sane machine.
        assert!(clock_gettime(ClockId::Realtime).unwrap().tv_sec > 1_577_836_800);
        // Boottime counts at least as much as monotonic.
        let m = clock_gettime(ClockId::Monotonic).unwrap();
        let b = clock_gettime(ClockId::Boottime).unwrap();
        assert!(b >= m);
    }

    #[test]
    fn thread_cputime_advances_with_work() {
        let a = clock_gettime(ClockId::ThreadCputime).unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        core::hint::black_box(x);
        let b = clock_gettime(ClockId::ThreadCputime).unwrap();
        assert!(b > a);
    }

    #[test]
    fn conversions() {
        assert_eq!(
            Timespec::new(1, 1_500_000_000),
            Some(Timespec {
                tv_sec: 2,
                tv_nsec: 500_000_000
            })
        );
        assert_eq!(
            Timespec::new(0, -1),
            Some(Timespec {
                tv_sec: -1,
                tv_nsec: 999_999_999
            })
        );
        assert_eq!(Timespec::new(i64::MAX, NANOS_PER_SEC), None);
        assert_eq!(Timespec::from_nanos(-1).as_nanos(), -1);
        assert_eq!(Timespec::from_nanos(i64::MIN).as_nanos(), i64::MIN as i128);
        let d = Duration::new(3, 7);
        let t = Timespec::try_from(d).unwrap();
        assert_eq!(
            t,
            Timespec {
                tv_sec: 3,
                tv_nsec: 7
            }
        );
        assert_eq!(Duration::try_from(t), Ok(d));
        assert_eq!(
            Duration::try_from(Timespec {
                tv_sec: -1,
                tv_nsec: 0
            }),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            Duration::try_from(Timespec {
                tv_sec: 0,
                tv_nsec: NANOS_PER_SEC
            }),
            Err(Errno::EINVAL)
        );
        assert_eq!(Timespec::try_from(Duration::MAX), Err(Errno::EOVERFLOW));
        assert_eq!(
            t.checked_add(Duration::from_nanos(999_999_999)),
            Some(Timespec {
                tv_sec: 4,
                tv_nsec: 6
            })
        );
        assert_eq!(
            Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0
            }
            .checked_add(Duration::from_secs(1)),
            None
        );
        assert_eq!(t.duration_since(Timespec::ZERO), Some(d));
        assert_eq!(Timespec::ZERO.duration_since(t), None);
    }

    #[test]
    fn clock_nanosleep_relative_and_absolute() {
        let start = clock_gettime(ClockId::Monotonic).unwrap();
        let req = Timespec::from_nanos(2_000_000);
        let mut rem = Timespec {
            tv_sec: 99,
            tv_nsec: 0,
        };
        clock_nanosleep(
            ClockId::Monotonic,
            SleepFlags::empty(),
            &req,
            Some(&mut rem),
        )
        .unwrap();
        let mid = clock_gettime(ClockId::Monotonic).unwrap();
        assert!(mid.duration_since(start).unwrap() >= Duration::from_millis(2));

        let target = mid.checked_add(Duration::from_millis(3)).unwrap();
        clock_nanosleep(ClockId::Monotonic, SleepFlags::ABSTIME, &target, None).unwrap();
        assert!(clock_gettime(ClockId::Monotonic).unwrap() >= target);

        // An absolute time in the past returns at once.
        clock_nanosleep(
            ClockId::Monotonic,
            SleepFlags::ABSTIME,
            &Timespec::ZERO,
            None,
        )
        .unwrap();
        // An unnormalised request is rejected by the kernel.
        let bad = Timespec {
            tv_sec: 0,
            tv_nsec: NANOS_PER_SEC,
        };
        assert_eq!(
            clock_nanosleep(ClockId::Monotonic, SleepFlags::empty(), &bad, None),
            Err(Errno::EINVAL)
        );
        // The calling thread's CPU-time clock cannot be slept on (EINVAL in the man page,
        // EOPNOTSUPP from recent kernels).
        let r = clock_nanosleep(ClockId::ThreadCputime, SleepFlags::empty(), &req, None);
        assert!(matches!(r, Err(Errno::EINVAL | Errno::EOPNOTSUPP)), "{r:?}");
    }

    #[test]
    fn nanosleep_sleeps_at_least_the_request() {
        let start = clock_gettime(ClockId::Monotonic).unwrap();
        nanosleep(&Timespec::from_nanos(3_000_000), None).unwrap();
        let end = clock_gettime(ClockId::Monotonic).unwrap();
        assert!(end.duration_since(start).unwrap() >= Duration::from_millis(3));
        assert_eq!(
            nanosleep(
                &Timespec {
                    tv_sec: -1,
                    tv_nsec: 0
                },
                None
            ),
            Err(Errno::EINVAL)
        );
    }
}
