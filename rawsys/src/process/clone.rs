//! Creating processes with `clone`: fork-like (the child continues on a copy of the caller's
//! stack), on a separate stack through the assembly trampoline in [`crate::arch`], and with
//! `clone3` (pidfd, cgroup, clone3-only flags).

use static_assertions::{assert_eq_size, const_assert_eq};

use super::Pid;
use crate::Result;
use crate::arch::rawsys_clone_trampoline;
use crate::errno::Errno;
use crate::fd::{BorrowedFd, OwnedFd};
use crate::signal::Signal;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// `CLONE_*` flags for [`fork_with`], [`clone_on_stack`], [`clone3`],
    /// [`crate::ns::unshare`] and (as the namespace type) [`crate::ns::setns`].
    ///
    /// The exit signal is not a flag: it is a separate argument everywhere.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CloneFlags: u64 {
        /// `CLONE_NEWTIME`: new time namespace (only for `unshare`, `setns`, `clone3`; for
        /// `clone` the bit is part of the exit signal).
        const NEWTIME = 0x80;
        /// `CLONE_VM`: share the address space.
        const VM = 0x100;
        /// `CLONE_FS`: share root, cwd and umask.
        const FS = 0x200;
        /// `CLONE_FILES`: share the descriptor table.
        const FILES = 0x400;
        /// `CLONE_SIGHAND`: share signal handlers.
        const SIGHAND = 0x800;
        /// `CLONE_PIDFD`: return a pidfd for the child.
        const PIDFD = 0x1000;
        /// `CLONE_PTRACE`: continue tracing the child.
        const PTRACE = 0x2000;
        /// `CLONE_VFORK`: suspend the parent until the child execs or exits.
        const VFORK = 0x4000;
        /// `CLONE_PARENT`: the child gets the caller's parent.
        const PARENT = 0x8000;
        /// `CLONE_THREAD`: same thread group.
        const THREAD = 0x10000;
        /// `CLONE_NEWNS`: new mount namespace.
        const NEWNS = 0x20000;
        /// `CLONE_SYSVSEM`: share System V semaphore undo values.
        const SYSVSEM = 0x40000;
        /// `CLONE_SETTLS`: set the thread pointer.
        const SETTLS = 0x80000;
        /// `CLONE_PARENT_SETTID`: store the child's tid in the parent.
        const PARENT_SETTID = 0x0010_0000;
        /// `CLONE_CHILD_CLEARTID`: clear the tid in the child's memory at exit (and futex-wake).
        const CHILD_CLEARTID = 0x0020_0000;
        /// `CLONE_DETACHED`: ignored by the kernel.
        const DETACHED = 0x0040_0000;
        /// `CLONE_UNTRACED`: a tracer cannot force `CLONE_PTRACE`.
        const UNTRACED = 0x0080_0000;
        /// `CLONE_CHILD_SETTID`: store the child's tid in the child's memory.
        const CHILD_SETTID = 0x0100_0000;
        /// `CLONE_NEWCGROUP`: new cgroup namespace.
        const NEWCGROUP = 0x0200_0000;
        /// `CLONE_NEWUTS`: new UTS (hostname) namespace.
        const NEWUTS = 0x0400_0000;
        /// `CLONE_NEWIPC`: new IPC namespace.
        const NEWIPC = 0x0800_0000;
        /// `CLONE_NEWUSER`: new user namespace.
        const NEWUSER = 0x1000_0000;
        /// `CLONE_NEWPID`: new PID namespace.
        const NEWPID = 0x2000_0000;
        /// `CLONE_NEWNET`: new network namespace.
        const NEWNET = 0x4000_0000;
        /// `CLONE_IO`: share the I/O context.
        const IO = 0x8000_0000;
        /// `CLONE_CLEAR_SIGHAND`: reset handled signals to default in the child (`clone3` only).
        const CLEAR_SIGHAND = 0x1_0000_0000;
        /// `CLONE_INTO_CGROUP`: start the child in the cgroup `CloneArgs::cgroup` (`clone3` only).
        const INTO_CGROUP = 0x2_0000_0000;
    }
}

impl CloneFlags {
    /// Flags that need pointer arguments or that the legacy `clone` entry cannot express; the
    /// `clone` wrappers here refuse them with `EINVAL`.
    const NOT_FOR_CLONE: CloneFlags = CloneFlags::NEWTIME
        .union(CloneFlags::PIDFD)
        .union(CloneFlags::SETTLS)
        .union(CloneFlags::PARENT_SETTID)
        .union(CloneFlags::CHILD_CLEARTID)
        .union(CloneFlags::CHILD_SETTID)
        .union(CloneFlags::CLEAR_SIGHAND)
        .union(CloneFlags::INTO_CGROUP);
}

/// Which side of a fork-like clone the caller is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fork {
    /// The new child process.
    Child,
    /// The parent; the value is the child's pid.
    Parent(Pid),
}

/// Which side of [`clone3_with_pidfd`] the caller is on.
#[derive(Debug)]
pub enum ForkPidfd {
    /// The new child process.
    Child,
    /// The parent, with the child's pid and a pidfd referring to it.
    Parent {
        /// The child's pid.
        pid: Pid,
        /// A pidfd for the child (close-on-exec).
        pidfd: OwnedFd,
    },
}

/// The exit signal as the low byte of `clone`'s flags word (0: none). Every [`Signal`] fits in
/// the `CSIGNAL` mask (0xff) and leaves `CLONE_NEWTIME` (0x80) clear, as signals end at 64.
fn exit_signal_bits(sig: Option<Signal>) -> u64 {
    sig.map_or(0, |s| s.raw() as u64)
}

/// `clone(2)` with a null stack and no `CLONE_VM`: like `fork`, but with any namespace and
/// sharing flags, and the signal sent to the parent when the child ends (`exit_signal`, normally
/// `Some(Signal::SIGCHLD)`; `None` sends none, and then the parent must wait with
/// `__WCLONE`/`__WALL`).
///
/// The child runs on a copy of the caller's stack and memory and returns [`Fork::Child`].
/// Flags that share the address space or need pointer arguments (`VM`, `SETTLS`, `*_SETTID`,
/// `CHILD_CLEARTID`, `PIDFD`) and `clone3`-only flags are refused with `EINVAL`; use
/// [`clone_on_stack`] or [`clone3_with_pidfd`] for those.
///
/// # Safety
/// In the child, only async-signal-safe work is allowed until [`execve`](super::execve) or [`exit_group`](super::exit_group):
/// raw system calls, no allocation, no locks, no panics (other threads' locks are copied in
/// whatever state they were). The child must end in `execve` or `exit_group` and never return
/// into code that believes it is the parent process.
///
/// See the [module example](super).
pub unsafe fn fork_with(flags: CloneFlags, exit_signal: Option<Signal>) -> Result<Fork> {
    if flags.intersects(CloneFlags::NOT_FOR_CLONE | CloneFlags::VM) {
        return Err(Errno::EINVAL);
    }
    let raw = flags.bits() | exit_signal_bits(exit_signal);
    // SAFETY: a null stack without CLONE_VM makes the child continue on a private copy of this
    // stack, which is valid; no pointer arguments are passed (the flags that would read them
    // were refused above). The caller upholds the child's restrictions.
    let r = unsafe { sys::syscall5(Sysno::clone, raw as usize, 0, 0, 0, 0) }?;
    Ok(if r == 0 {
        Fork::Child
    } else {
        Fork::Parent(r as Pid)
    })
}

/// The entry point of a child started by [`clone_on_stack`]: it receives the `arg` given there
/// and its return value becomes the child's exit code.
pub type CloneEntry = extern "C" fn(arg: usize) -> i32;

/// The smallest stack [`clone_on_stack`] accepts, in bytes.
pub const MIN_CLONE_STACK: usize = 4096;

/// `clone(2)` with the child on `stack`, starting in `entry(arg)`; the child calls `exit(2)`
/// with `entry`'s return value. Returns the child's pid (the thread id with `CLONE_THREAD`).
///
/// This is the form needed with `CLONE_VM` (the child shares memory but not the stack), for
/// example `CLONE_VM | CLONE_VFORK` for a cheap spawn: the parent sleeps until the child execs or
/// exits. An assembly trampoline moves the child onto the new stack before any Rust code runs.
/// `exit_signal` is as for [`fork_with`]. The flags refused by [`fork_with`] other than `VM`
/// are refused here too (`EINVAL`), as is a stack smaller than [`MIN_CLONE_STACK`].
///
/// # Safety
/// - `entry` runs in a new task with no thread-local storage of its own (it shares or copies
///   the caller's thread pointer): it must not use `std`, thread locals, allocation or locks;
///   raw system calls only. A panic in it aborts the child.
/// - With `CLONE_VM`, `stack` and everything `entry` touches through `arg` must stay valid and
///   not be used by the caller until the child has exited or called `execve` (with
///   `CLONE_VFORK` this holds when this function returns).
/// - Without `CLONE_VM`, the rules of [`fork_with`] apply to the child.
///
/// ```
/// use rawsys::process::{self, CloneFlags, WaitOptions, WaitStatus};
/// use rawsys::signal::Signal;
///
/// extern "C" fn child(arg: usize) -> i32 {
///     arg as i32 * 2
/// }
/// let mut stack = vec![0u8; 64 * 1024];
/// // SAFETY: `child` only computes; without CLONE_VM the stack is the child's own copy.
/// let sigchld = Some(Signal::SIGCHLD);
/// let pid = unsafe { process::clone_on_stack(CloneFlags::empty(), sigchld, &mut stack, child, 21) }?;
/// let (_, status) = process::wait4(pid, WaitOptions::empty())?.unwrap();
/// assert_eq!(status, WaitStatus::Exited(42));
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub unsafe fn clone_on_stack(
    flags: CloneFlags,
    exit_signal: Option<Signal>,
    stack: &mut [u8],
    entry: CloneEntry,
    arg: usize,
) -> Result<Pid> {
    if flags.intersects(CloneFlags::NOT_FOR_CLONE) || stack.len() < MIN_CLONE_STACK {
        return Err(Errno::EINVAL);
    }
    let raw = flags.bits() | exit_signal_bits(exit_signal);
    let base = stack.as_mut_ptr();
    let end = base as usize + stack.len();
    // The top of the child's stack, 16-byte aligned as both ABIs require; the two words just
    // below it hold `entry` and `arg` for the trampoline to pick up.
    let frame = (end & !15) - 16;
    // SAFETY: `frame..frame + 16` lies inside `stack` (which is at least MIN_CLONE_STACK long)
    // and is 16-byte aligned, so both usize writes are in bounds and aligned.
    unsafe {
        let p = base.add(frame - base as usize).cast::<usize>();
        p.write(entry as usize);
        p.add(1).write(arg);
    }
    // SAFETY: the trampoline follows the C ABI; `frame` is a valid, aligned stack top holding
    // the entry and argument as it expects. The flags needing pointers were refused above.
    // The caller upholds the child's restrictions.
    let r = unsafe { rawsys_clone_trampoline(raw as usize, frame) };
    if r < 0 {
        Err(Errno::from_raw(-r as i32))
    } else {
        Ok(r as Pid)
    }
}

/// The kernel's `struct clone_args` for [`clone3`] (version 2, 88 bytes).
///
/// Pointer fields are user addresses as `u64`. Build one with [`CloneArgs::new`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct CloneArgs {
    /// `CLONE_*` flags ([`CloneFlags`] bits).
    pub flags: u64,
    /// With `CLONE_PIDFD`: where the kernel stores the pidfd (an `int`).
    pub pidfd: u64,
    /// With `CLONE_CHILD_SETTID`/`CLEARTID`: the child's tid location.
    pub child_tid: u64,
    /// With `CLONE_PARENT_SETTID`: where the parent gets the child's tid.
    pub parent_tid: u64,
    /// The signal sent to the parent when the child ends (not part of `flags` here).
    pub exit_signal: u64,
    /// Lowest address of the child's stack (0: share the caller's stack pointer).
    pub stack: u64,
    /// Size of the child's stack.
    pub stack_size: u64,
    /// With `CLONE_SETTLS`: the new thread pointer.
    pub tls: u64,
    /// Array of pids to request, one per nested PID namespace.
    pub set_tid: u64,
    /// Number of entries in `set_tid`.
    pub set_tid_size: u64,
    /// With `CLONE_INTO_CGROUP`: a descriptor of the target cgroup v2 directory.
    pub cgroup: u64,
}

assert_eq_size!(CloneArgs, [u64; 11]);
const_assert_eq!(core::mem::align_of::<CloneArgs>(), 8);
const_assert_eq!(core::mem::offset_of!(CloneArgs, flags), 0);
const_assert_eq!(core::mem::offset_of!(CloneArgs, pidfd), 8);
const_assert_eq!(core::mem::offset_of!(CloneArgs, child_tid), 16);
const_assert_eq!(core::mem::offset_of!(CloneArgs, parent_tid), 24);
const_assert_eq!(core::mem::offset_of!(CloneArgs, exit_signal), 32);
const_assert_eq!(core::mem::offset_of!(CloneArgs, stack), 40);
const_assert_eq!(core::mem::offset_of!(CloneArgs, stack_size), 48);
const_assert_eq!(core::mem::offset_of!(CloneArgs, tls), 56);
const_assert_eq!(core::mem::offset_of!(CloneArgs, set_tid), 64);
const_assert_eq!(core::mem::offset_of!(CloneArgs, set_tid_size), 72);
const_assert_eq!(core::mem::offset_of!(CloneArgs, cgroup), 80);

impl CloneArgs {
    /// Arguments with these flags and exit signal (`None`: no signal when the child ends),
    /// everything else zero.
    pub const fn new(flags: CloneFlags, exit_signal: Option<Signal>) -> CloneArgs {
        CloneArgs {
            flags: flags.bits(),
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: match exit_signal {
                Some(s) => s.raw() as u64,
                None => 0,
            },
            stack: 0,
            stack_size: 0,
            tls: 0,
            set_tid: 0,
            set_tid_size: 0,
            cgroup: 0,
        }
    }

    /// Starts the child directly in the cgroup v2 directory `cgroup` (sets `CLONE_INTO_CGROUP`).
    /// The descriptor must stay open until [`clone3`] returns.
    pub fn into_cgroup(mut self, cgroup: BorrowedFd<'_>) -> CloneArgs {
        self.flags |= CloneFlags::INTO_CGROUP.bits();
        self.cgroup = cgroup.as_raw() as u64;
        self
    }
}

/// `clone3(2)`, fork-like: the child continues on a copy of the caller's stack.
///
/// A non-zero `stack` or the `CLONE_VM` flag is refused with `EINVAL` (returning into Rust code
/// on a fresh stack or on a shared one is not possible); use [`clone_on_stack`] for that.
///
/// # Safety
/// The rules of [`fork_with`] apply to the child. Every pointer field of `args` (`pidfd`,
/// `child_tid`, `parent_tid`, `set_tid`) that the flags make the kernel use must be valid for
/// the kernel to read or write, and `cgroup` must be an open descriptor with `INTO_CGROUP`.
pub unsafe fn clone3(args: &CloneArgs) -> Result<Fork> {
    if args.stack != 0 || args.flags & CloneFlags::VM.bits() != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: args points to a live clone_args of the stated size; the caller guarantees its
    // pointer fields; without a stack or CLONE_VM the child runs on a private copy of ours.
    let r = unsafe { sys::syscall2(Sysno::clone3, sys::by_ref(args), size_of::<CloneArgs>()) }?;
    Ok(if r == 0 {
        Fork::Child
    } else {
        Fork::Parent(r as Pid)
    })
}

/// [`clone3`] with `CLONE_PIDFD`: the parent also gets a pidfd for the child (any `pidfd`
/// field in `args` is replaced).
///
/// ```
/// use rawsys::process::{self, CloneArgs, CloneFlags, ForkPidfd, WaitId, WaitOptions, WaitStatus};
///
/// let args = CloneArgs::new(CloneFlags::empty(), Some(rawsys::signal::Signal::SIGCHLD));
/// // SAFETY: the child only issues raw system calls and exits; args has no pointer fields.
/// match unsafe { process::clone3_with_pidfd(&args) }? {
///     ForkPidfd::Child => process::exit_group(3),
///     ForkPidfd::Parent { pid, pidfd } => {
///         let info = process::waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED)?.unwrap();
///         assert_eq!((info.pid, info.status), (pid, WaitStatus::Exited(3)));
///     }
/// }
/// # use rawsys::AsFd;
/// # Ok::<(), rawsys::Errno>(())
/// ```
///
/// # Safety
/// As for [`clone3`].
pub unsafe fn clone3_with_pidfd(args: &CloneArgs) -> Result<ForkPidfd> {
    let mut fd: i32 = -1;
    let mut a = *args;
    a.flags |= CloneFlags::PIDFD.bits();
    a.pidfd = &mut fd as *mut i32 as u64;
    // SAFETY: `a.pidfd` points to a live int; the rest is the caller's contract.
    match unsafe { clone3(&a) }? {
        Fork::Child => Ok(ForkPidfd::Child),
        Fork::Parent(pid) => Ok(ForkPidfd::Parent {
            pid,
            pidfd: sys::ret_fd(fd as usize),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// execve, exit
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::{AsFd, OwnedFd};
    use crate::process::testing::*;
    use crate::process::*;
    use crate::{fs, io};
    use core::sync::atomic::{AtomicUsize, Ordering};
    use std::string::String;
    use std::{format, vec};

    #[test]
    fn fork_with_returns_the_childs_exit_code_and_refuses_bad_flags() {
        let me = getpid();
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(getppid() == me, 1);
            ensure!(getpid() != me, 2);
            7
        });
        assert_eq!(st, WaitStatus::Exited(7));
        for bad in [
            CloneFlags::VM,
            CloneFlags::SETTLS,
            CloneFlags::PIDFD,
            CloneFlags::NEWTIME,
            CloneFlags::INTO_CGROUP,
        ] {
            // SAFETY: refused before any child exists.
            let r = unsafe { fork_with(bad, Some(SIGCHLD)) };
            assert_eq!(r, Err(Errno::EINVAL), "{bad:?}");
        }
        // An exit signal beyond 64 (once refused here with EINVAL) cannot be expressed now.
        assert_eq!(Signal::from_raw(65), None);
        // No exit signal at all: the parent must wait with __WALL.
        // SAFETY: the child exits at once.
        match unsafe { fork_with(CloneFlags::empty(), None) }.unwrap() {
            Fork::Child => exit_group(9),
            Fork::Parent(pid) => assert_eq!(
                wait4(pid, WaitOptions::ALL).unwrap(),
                Some((pid, WaitStatus::Exited(9)))
            ),
        }
    }

    #[test]
    fn a_new_pid_namespace_makes_the_child_pid_1() {
        let st = run(CloneFlags::NEWPID, &[], || {
            ensure!(getpid() == 1, 1);
            ensure!(gettid() == 1, 2);
            ensure!(getppid() == 0, 3);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    extern "C" fn add_one(arg: usize) -> i32 {
        arg as i32 + 1
    }

    /// Records where its stack is and what pid it runs as, through shared memory.
    extern "C" fn report(arg: usize) -> i32 {
        let local = 0u8;
        // SAFETY: the parent passes a pointer to two live AtomicUsize, shared through CLONE_VM
        // and kept alive by CLONE_VFORK until this child exits.
        let out = unsafe { &*(arg as *const [AtomicUsize; 2]) };
        out[0].store(sys::by_ref(&local), Ordering::SeqCst);
        out[1].store(getpid() as usize, Ordering::SeqCst);
        33
    }

    #[test]
    fn clone_on_stack_runs_the_entry_on_the_given_stack() {
        let mut stack = vec![0u8; 64 * 1024];
        // SAFETY: add_one only computes; without CLONE_VM the child has its own copy of memory.
        let pid =
            unsafe { clone_on_stack(CloneFlags::empty(), Some(SIGCHLD), &mut stack, add_one, 41) }
                .unwrap();
        assert_eq!(reap(pid), WaitStatus::Exited(42));

        let shared = [AtomicUsize::new(0), AtomicUsize::new(0)];
        let range = stack.as_ptr_range();
        // SAFETY: with CLONE_VM | CLONE_VFORK this call returns only after the child exited,
        // so `stack` and `shared` outlive its use of them; `report` uses no TLS or allocation.
        let pid = unsafe {
            clone_on_stack(
                CloneFlags::VM | CloneFlags::VFORK,
                Some(SIGCHLD),
                &mut stack,
                report,
                sys::by_ref(&shared),
            )
        }
        .unwrap();
        let local_addr = shared[0].load(Ordering::SeqCst);
        assert!(
            range.contains(&(local_addr as *const u8)),
            "child stack {local_addr:#x} outside {range:?}"
        );
        assert_eq!(shared[1].load(Ordering::SeqCst), pid as usize);
        assert_eq!(reap(pid), WaitStatus::Exited(33));

        let mut small = [0u8; 1024];
        // SAFETY: refused before any child exists.
        let r =
            unsafe { clone_on_stack(CloneFlags::empty(), Some(SIGCHLD), &mut small, add_one, 0) };
        assert_eq!(r, Err(Errno::EINVAL));
        // SAFETY: refused before any child exists.
        let r =
            unsafe { clone_on_stack(CloneFlags::SETTLS, Some(SIGCHLD), &mut stack, add_one, 0) };
        assert_eq!(r, Err(Errno::EINVAL));
    }

    /// Starts a clone3 child with a pidfd that waits for a byte on `go` then exits with `code`.
    fn clone3_child(args: &CloneArgs, go: &OwnedFd, code: i32) -> (Pid, OwnedFd) {
        // SAFETY: the child only reads a pipe and exits; args has no pointer fields.
        match unsafe { clone3_with_pidfd(args) }.unwrap() {
            ForkPidfd::Child => {
                close_other_fds(&[go.as_raw()]);
                let c = if await_poke(go) { code } else { 99 };
                exit_group(c)
            }
            ForkPidfd::Parent { pid, pidfd } => (pid, pidfd),
        }
    }

    #[test]
    fn clone3_pidfd_works_with_waitid_and_pidfd_send_signal() {
        let (r, w) = pipe();
        let args = CloneArgs::new(CloneFlags::empty(), Some(SIGCHLD));
        let (pid, pidfd) = clone3_child(&args, &r, 5);
        assert!(
            io::fcntl_getfd(&pidfd)
                .unwrap()
                .contains(io::FdFlags::CLOEXEC)
        );
        assert_eq!(
            waitid(
                WaitId::Pidfd(pidfd.as_fd()),
                WaitOptions::EXITED | WaitOptions::NOHANG
            ),
            Ok(None)
        );
        assert!(poke(&w));
        let info = waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED)
            .unwrap()
            .unwrap();
        assert_eq!(
            info,
            WaitIdStatus {
                pid,
                uid: getuid(),
                status: WaitStatus::Exited(5)
            }
        );

        let (pid, pidfd) = clone3_child(&args, &r, 6);
        pidfd_send_signal(&pidfd, SIGKILL).unwrap();
        let info = waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED)
            .unwrap()
            .unwrap();
        assert_eq!(
            (info.pid, info.status),
            (
                pid,
                WaitStatus::Signaled {
                    signal: SIGKILL,
                    core_dumped: false
                }
            )
        );
        // The process is gone for good; the pidfd does not come to mean another one.
        assert_eq!(pidfd_send_signal(&pidfd, SIGKILL), Err(Errno::ESRCH));

        let mut with_stack = args;
        with_stack.stack = 0x1000;
        // SAFETY: refused before any child exists.
        assert_eq!(unsafe { clone3(&with_stack) }, Err(Errno::EINVAL));
    }

    #[test]
    fn clone3_takes_clone3_only_flags() {
        let args = CloneArgs::new(
            CloneFlags::NEWPID | CloneFlags::CLEAR_SIGHAND,
            Some(SIGCHLD),
        );
        // SAFETY: the child only issues raw system calls and exits; args has no pointer fields.
        let pid = match unsafe { clone3(&args) }.unwrap() {
            Fork::Child => exit_group(if getpid() == 1 && getppid() == 0 {
                0
            } else {
                1
            }),
            Fork::Parent(pid) => pid,
        };
        assert_eq!(reap(pid), WaitStatus::Exited(0));
        // CLONE_VM without a stack of its own would share ours: refused.
        let vm = CloneArgs::new(CloneFlags::VM, Some(SIGCHLD));
        // SAFETY: refused before any child exists.
        let r = unsafe { clone3(&vm) };
        assert_eq!(r, Err(Errno::EINVAL));
    }

    /// The cgroup v2 directory this process is in, if cgroup v2 is mounted.
    fn own_cgroup2_dir() -> Option<std::path::PathBuf> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mnt = info.lines().find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            post.starts_with("cgroup2 ")
                .then(|| pre.split(' ').nth(4).map(String::from))?
        })?;
        let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
        Some(std::path::Path::new(&mnt).join(rel.trim_start_matches('/')))
    }

    struct RemoveDirOnDrop(std::path::PathBuf);
    impl Drop for RemoveDirOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    #[test]
    fn clone3_into_cgroup_starts_the_child_in_that_cgroup() {
        let Some(parent) = own_cgroup2_dir() else {
            std::eprintln!("skipped: cgroup v2 is not mounted");
            return;
        };
        let dir = parent.join(format!("lp-test-clone3-{}", getpid()));
        std::fs::create_dir(&dir).unwrap();
        let _guard = RemoveDirOnDrop(dir.clone());
        let cpath = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let cg = fs::openat(
            fs::CWD,
            &cpath,
            fs::OFlags::RDONLY | fs::OFlags::DIRECTORY | fs::OFlags::CLOEXEC,
            fs::Mode::empty(),
        )
        .unwrap();
        let (r, w) = pipe();
        let args = CloneArgs::new(CloneFlags::empty(), Some(SIGCHLD)).into_cgroup(cg.as_fd());
        assert!(CloneFlags::from_bits_retain(args.flags).contains(CloneFlags::INTO_CGROUP));
        let (pid, pidfd) = clone3_child(&args, &r, 0);
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        let inside = procs.lines().any(|l| l == format!("{pid}"));
        assert!(poke(&w));
        let info = waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED)
            .unwrap()
            .unwrap();
        assert_eq!(info.status, WaitStatus::Exited(0));
        assert!(inside, "child {pid} not in {procs:?}");
    }
}
