//! Scheduling: yielding the CPU and the time-sharing policies.

use super::Pid;
use crate::sys::{self, Sysno};

/// `sched_yield(2)`: lets another runnable thread have the CPU.
pub fn sched_yield() {
    // SAFETY: no arguments; sched_yield always succeeds on Linux.
    let _ = unsafe { sys::syscall0(Sysno::sched_yield) };
}

/// A scheduling policy: one of the time-sharing policies [`set_sched_policy`] offers (the
/// real-time ones need a priority and privileges and are not offered), or, as
/// [`sched_policy`] may report it, another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedPolicy {
    /// `SCHED_OTHER`: the default.
    Other,
    /// `SCHED_BATCH`: the same share of the CPU, but a woken thread does not preempt the
    /// running one; it waits for the end of that one's slice (or its sleep). Fewer context
    /// switches for throughput, a little latency under contention.
    Batch,
    /// `SCHED_IDLE`: runs only when nothing else wants the CPU.
    Idle,
    /// A policy this crate does not set, by the kernel's number: a real-time one
    /// (`SCHED_FIFO` 1, `SCHED_RR` 2, `SCHED_DEADLINE` 6) or one newer than this crate.
    /// [`set_sched_policy`] refuses it with `EINVAL`.
    Unrecognized(u32),
}

/// `SCHED_RESET_ON_FORK`: the flag [`sched_policy`] leaves out of the policy.
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

impl SchedPolicy {
    /// The policy with the kernel's number `raw` (`SCHED_RESET_ON_FORK` ignored).
    pub const fn from_raw(raw: u32) -> SchedPolicy {
        match raw & !SCHED_RESET_ON_FORK {
            SCHED_OTHER => SchedPolicy::Other,
            SCHED_BATCH => SchedPolicy::Batch,
            SCHED_IDLE => SchedPolicy::Idle,
            n => SchedPolicy::Unrecognized(n),
        }
    }

    /// The kernel's number for the policy.
    pub const fn raw(self) -> u32 {
        match self {
            SchedPolicy::Other => SCHED_OTHER,
            SchedPolicy::Batch => SCHED_BATCH,
            SchedPolicy::Idle => SCHED_IDLE,
            SchedPolicy::Unrecognized(n) => n,
        }
    }
}

/// `SCHED_OTHER`
pub const SCHED_OTHER: u32 = 0;
/// `SCHED_BATCH`
pub const SCHED_BATCH: u32 = 3;
/// `SCHED_IDLE`
pub const SCHED_IDLE: u32 = 5;

/// `struct sched_param`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SchedParam {
    /// The static priority: 0 for the time-sharing policies.
    pub sched_priority: i32,
}

static_assertions::assert_eq_size!(SchedParam, [u8; 4]);

/// `sched_setscheduler(2)`: sets the scheduling policy of thread `tid` (0: the calling
/// thread). Threads created afterwards by that thread inherit it.
///
/// ```
/// use rawsys::process::{SchedPolicy, sched_policy, set_sched_policy};
/// std::thread::spawn(|| {
///     set_sched_policy(0, SchedPolicy::Batch).unwrap();
///     assert_eq!(sched_policy(0).unwrap(), SchedPolicy::Batch);
/// })
/// .join()
/// .unwrap();
/// assert_eq!(sched_policy(0).unwrap(), SchedPolicy::Other);
/// ```
pub fn set_sched_policy(tid: Pid, policy: SchedPolicy) -> crate::Result<()> {
    if let SchedPolicy::Unrecognized(_) = policy {
        return Err(crate::Errno::EINVAL);
    }
    let raw = policy.raw();
    let param = SchedParam::default();
    // SAFETY: `param` is a valid `struct sched_param` the kernel only reads.
    unsafe {
        sys::syscall3(
            Sysno::sched_setscheduler,
            tid as usize,
            raw as usize,
            sys::by_ref(&param),
        )
    }
    .map(drop)
}

/// `sched_getscheduler(2)`: the scheduling policy of thread `tid` (0: the calling thread). A
/// real-time policy comes back as [`SchedPolicy::Unrecognized`]; the `SCHED_RESET_ON_FORK`
/// flag (children start with the default policy), which the kernel or-s in, is left out.
pub fn sched_policy(tid: Pid) -> crate::Result<SchedPolicy> {
    // SAFETY: no pointers.
    unsafe { sys::syscall1(Sysno::sched_getscheduler, tid as usize) }
        .map(|v| SchedPolicy::from_raw(v as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::process::gettid;
    use crate::process::*;

    /// The policy of thread `tid` of this process as /proc shows it (field 41 of `stat`).
    fn proc_policy(tid: Pid) -> u32 {
        let stat = std::fs::read_to_string(std::format!("/proc/self/task/{tid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(38).unwrap().parse().unwrap()
    }

    #[test]
    fn sched_policy_per_thread_and_inherited() {
        let main = gettid();
        std::thread::spawn(move || {
            let me = gettid();
            assert_eq!(sched_policy(0).unwrap(), SchedPolicy::Other);
            set_sched_policy(0, SchedPolicy::Batch).unwrap();
            assert_eq!(sched_policy(0).unwrap(), SchedPolicy::Batch);
            assert_eq!(sched_policy(me).unwrap(), SchedPolicy::Batch);
            assert_eq!(proc_policy(me), SCHED_BATCH);
            // Only this thread: the one that started it keeps the default.
            assert_eq!(sched_policy(main).unwrap(), SchedPolicy::Other);
            assert_eq!(proc_policy(main), SCHED_OTHER);
            // A thread it starts inherits the policy.
            let child = std::thread::spawn(|| (gettid(), sched_policy(0).unwrap()));
            let (child_tid, child_policy) = child.join().unwrap();
            assert_ne!(child_tid, me);
            assert_eq!(child_policy, SchedPolicy::Batch);
            set_sched_policy(0, SchedPolicy::Idle).unwrap();
            assert_eq!(proc_policy(me), SCHED_IDLE);
            set_sched_policy(0, SchedPolicy::Other).unwrap();
            assert_eq!(sched_policy(0).unwrap(), SchedPolicy::Other);
        })
        .join()
        .unwrap();
        assert_eq!(
            set_sched_policy(Pid::MAX, SchedPolicy::Batch),
            Err(Errno::ESRCH)
        );
        assert_eq!(sched_policy(Pid::MAX), Err(Errno::ESRCH));
    }

    #[test]
    fn policies_the_crate_does_not_set_are_reported_not_set() {
        assert_eq!(SchedPolicy::from_raw(1), SchedPolicy::Unrecognized(1));
        assert_eq!(SchedPolicy::from_raw(6).raw(), 6);
        for p in [SchedPolicy::Other, SchedPolicy::Batch, SchedPolicy::Idle] {
            assert_eq!(SchedPolicy::from_raw(p.raw()), p);
            assert_eq!(SchedPolicy::from_raw(p.raw() | SCHED_RESET_ON_FORK), p);
        }
        assert_eq!(
            set_sched_policy(0, SchedPolicy::Unrecognized(SCHED_BATCH)),
            Err(Errno::EINVAL)
        );
        std::thread::spawn(|| {
            // SCHED_BATCH with SCHED_RESET_ON_FORK, which this crate does not offer: the
            // policy reads back without the flag.
            let param = SchedParam::default();
            let raw = (SCHED_BATCH | SCHED_RESET_ON_FORK) as usize;
            // SAFETY: `param` is a valid `struct sched_param` the kernel only reads.
            let set =
                unsafe { sys::syscall3(Sysno::sched_setscheduler, 0, raw, sys::by_ref(&param)) };
            assert_eq!(set, Ok(0));
            assert_eq!(sched_policy(0), Ok(SchedPolicy::Batch));
            assert_eq!(proc_policy(gettid()), SCHED_BATCH);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn sched_yield_returns() {
        for _ in 0..100 {
            sched_yield();
        }
        assert!(getpid() > 0);
    }
}
