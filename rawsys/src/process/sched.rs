//! Scheduling: yielding the CPU and the time-sharing policies.

use super::Pid;
use crate::sys::{self, Sysno};

/// `sched_yield(2)`: lets another runnable thread have the CPU.
pub fn sched_yield() {
    // SAFETY: no arguments; sched_yield always succeeds on Linux.
    let _ = unsafe { sys::syscall0(Sysno::sched_yield) };
}

/// A time-sharing scheduling policy for [`set_sched_policy`] (the real-time ones need a
/// priority and privileges and are not offered).
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
/// use rawsys::process::{SCHED_BATCH, SCHED_OTHER, SchedPolicy, sched_policy, set_sched_policy};
/// std::thread::spawn(|| {
///     set_sched_policy(0, SchedPolicy::Batch).unwrap();
///     assert_eq!(sched_policy(0).unwrap(), SCHED_BATCH);
/// })
/// .join()
/// .unwrap();
/// assert_eq!(sched_policy(0).unwrap(), SCHED_OTHER);
/// ```
pub fn set_sched_policy(tid: Pid, policy: SchedPolicy) -> crate::Result<()> {
    let raw = match policy {
        SchedPolicy::Other => SCHED_OTHER,
        SchedPolicy::Batch => SCHED_BATCH,
        SchedPolicy::Idle => SCHED_IDLE,
    };
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

/// `sched_getscheduler(2)`: the scheduling policy of thread `tid` (0: the calling thread), as
/// the kernel's number ([`SCHED_OTHER`], [`SCHED_BATCH`], [`SCHED_IDLE`], or a real-time one),
/// with `SCHED_RESET_ON_FORK` (0x4000_0000) or-ed in if set.
pub fn sched_policy(tid: Pid) -> crate::Result<u32> {
    // SAFETY: no pointers.
    unsafe { sys::syscall1(Sysno::sched_getscheduler, tid as usize) }.map(|v| v as u32)
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
            assert_eq!(sched_policy(0).unwrap(), SCHED_OTHER);
            set_sched_policy(0, SchedPolicy::Batch).unwrap();
            assert_eq!(sched_policy(0).unwrap(), SCHED_BATCH);
            assert_eq!(sched_policy(me).unwrap(), SCHED_BATCH);
            assert_eq!(proc_policy(me), SCHED_BATCH);
            // Only this thread: the one that started it keeps the default.
            assert_eq!(sched_policy(main).unwrap(), SCHED_OTHER);
            assert_eq!(proc_policy(main), SCHED_OTHER);
            // A thread it starts inherits the policy.
            let child = std::thread::spawn(|| (gettid(), sched_policy(0).unwrap()));
            let (child_tid, child_policy) = child.join().unwrap();
            assert_ne!(child_tid, me);
            assert_eq!(child_policy, SCHED_BATCH);
            set_sched_policy(0, SchedPolicy::Idle).unwrap();
            assert_eq!(proc_policy(me), SCHED_IDLE);
            set_sched_policy(0, SchedPolicy::Other).unwrap();
            assert_eq!(sched_policy(0).unwrap(), SCHED_OTHER);
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
    fn sched_yield_returns() {
        for _ in 0..100 {
            sched_yield();
        }
        assert!(getpid() > 0);
    }
}
