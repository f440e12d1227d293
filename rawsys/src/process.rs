//! Processes: identity, `clone` (fork-like, on a separate stack, and `clone3`), `execve`,
//! waiting, signalling by pid and pidfd, `prctl`, capabilities, credentials and resource limits.
//!
//! Signals are plain numbers here (`i32`, e.g. 9 for `SIGKILL`, 17 for `SIGCHLD` on x86_64 and
//! aarch64); 0 means "no signal" where the kernel allows it.
//!
//! A child created with a fork-like clone (a copy of the caller's memory, no `CLONE_VM`) inherits
//! locks that other threads held at the time of the call, frozen forever. It must therefore issue
//! only raw system calls (no allocation, no `std` I/O, no panics) until it calls [`execve`] or
//! [`exit_group`]:
//!
//! ```
//! use rawsys::process::{self, CloneFlags, Fork, WaitOptions, WaitStatus};
//!
//! const SIGCHLD: i32 = 17;
//! // SAFETY: the child only issues raw system calls and then exits.
//! match unsafe { process::fork_with(CloneFlags::empty(), SIGCHLD) }? {
//!     Fork::Child => process::exit_group(42),
//!     Fork::Parent(pid) => {
//!         let (reaped, status) = process::wait4(pid, WaitOptions::empty())?.expect("no WNOHANG");
//!         assert_eq!(reaped, pid);
//!         assert_eq!(status, WaitStatus::Exited(42));
//!     }
//! }
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::ffi::{CStr, c_char};

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::Result;
use crate::errno::Errno;
use crate::fd::{AsFd, BorrowedFd, OwnedFd};
use crate::sys::{self, Sysno};

/// A process or thread id. Where the kernel allows it, 0 means "the caller" and negative values
/// name process groups (see each call).
pub type Pid = i32;
/// A user id.
pub type Uid = u32;
/// A group id.
pub type Gid = u32;

/// Passed for an id to [`setresuid`]/[`setresgid`]: leave that id unchanged (the kernel's `-1`).
pub const ID_UNCHANGED: u32 = u32::MAX;

#[inline(always)]
fn raw_fd(fd: impl AsFd) -> usize {
    fd.as_fd().as_raw() as usize
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

/// `getpid(2)`: the caller's process (thread group) id.
pub fn getpid() -> Pid {
    // SAFETY: no arguments; getpid cannot fail.
    unsafe { sys::syscall0(Sysno::getpid) }.unwrap_or(0) as Pid
}

/// `gettid(2)`: the caller's thread id.
pub fn gettid() -> Pid {
    // SAFETY: no arguments; gettid cannot fail.
    unsafe { sys::syscall0(Sysno::gettid) }.unwrap_or(0) as Pid
}

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
            &param as *const SchedParam as usize,
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

/// `umask(2)`: sets the process's file-mode creation mask and returns the previous one.
///
/// The mask is process-wide: every thread's later `openat`/`mkdirat` sees it.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: no pointers; umask cannot fail (the kernel keeps the low 9 bits).
    unsafe { sys::syscall1(Sysno::umask, (mask & 0o777) as usize) }.unwrap_or(0) as u32
}

/// `getppid(2)`: the parent's process id, or 0 when the parent is outside the caller's PID
/// namespace (as for the first process of a new PID namespace).
pub fn getppid() -> Pid {
    // SAFETY: no arguments; getppid cannot fail.
    unsafe { sys::syscall0(Sysno::getppid) }.unwrap_or(0) as Pid
}

/// `getuid(2)`: the real user id.
pub fn getuid() -> Uid {
    // SAFETY: no arguments; getuid cannot fail.
    unsafe { sys::syscall0(Sysno::getuid) }.unwrap_or(0) as Uid
}

/// `geteuid(2)`: the effective user id.
pub fn geteuid() -> Uid {
    // SAFETY: no arguments; geteuid cannot fail.
    unsafe { sys::syscall0(Sysno::geteuid) }.unwrap_or(0) as Uid
}

/// `getgid(2)`: the real group id.
pub fn getgid() -> Gid {
    // SAFETY: no arguments; getgid cannot fail.
    unsafe { sys::syscall0(Sysno::getgid) }.unwrap_or(0) as Gid
}

/// `getegid(2)`: the effective group id.
pub fn getegid() -> Gid {
    // SAFETY: no arguments; getegid cannot fail.
    unsafe { sys::syscall0(Sysno::getegid) }.unwrap_or(0) as Gid
}

// ---------------------------------------------------------------------------------------------
// clone
// ---------------------------------------------------------------------------------------------

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

fn check_exit_signal(sig: i32) -> Result<u64> {
    if (0..=64).contains(&sig) {
        Ok(sig as u64)
    } else {
        Err(Errno::EINVAL)
    }
}

/// `clone(2)` with a null stack and no `CLONE_VM`: like `fork`, but with any namespace and
/// sharing flags, and the signal sent to the parent when the child ends (`exit_signal`, normally
/// 17 = `SIGCHLD`; 0 sends none, and then the parent must wait with `__WCLONE`/`__WALL`).
///
/// The child runs on a copy of the caller's stack and memory and returns [`Fork::Child`].
/// Flags that share the address space or need pointer arguments (`VM`, `SETTLS`, `*_SETTID`,
/// `CHILD_CLEARTID`, `PIDFD`) and `clone3`-only flags are refused with `EINVAL`; use
/// [`clone_on_stack`] or [`clone3_with_pidfd`] for those.
///
/// # Safety
/// In the child, only async-signal-safe work is allowed until [`execve`] or [`exit_group`]:
/// raw system calls, no allocation, no locks, no panics (other threads' locks are copied in
/// whatever state they were). The child must end in `execve` or `exit_group` and never return
/// into code that believes it is the parent process.
///
/// See the [module example](self).
pub unsafe fn fork_with(flags: CloneFlags, exit_signal: i32) -> Result<Fork> {
    if flags.intersects(CloneFlags::NOT_FOR_CLONE | CloneFlags::VM) {
        return Err(Errno::EINVAL);
    }
    let raw = flags.bits() | check_exit_signal(exit_signal)?;
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
///
/// extern "C" fn child(arg: usize) -> i32 {
///     arg as i32 * 2
/// }
/// let mut stack = vec![0u8; 64 * 1024];
/// // SAFETY: `child` only computes; without CLONE_VM the stack is the child's own copy.
/// let pid = unsafe { process::clone_on_stack(CloneFlags::empty(), 17, &mut stack, child, 21) }?;
/// let (_, status) = process::wait4(pid, WaitOptions::empty())?.unwrap();
/// assert_eq!(status, WaitStatus::Exited(42));
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub unsafe fn clone_on_stack(
    flags: CloneFlags,
    exit_signal: i32,
    stack: &mut [u8],
    entry: CloneEntry,
    arg: usize,
) -> Result<Pid> {
    if flags.intersects(CloneFlags::NOT_FOR_CLONE) || stack.len() < MIN_CLONE_STACK {
        return Err(Errno::EINVAL);
    }
    let raw = flags.bits() | check_exit_signal(exit_signal)?;
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

unsafe extern "C" {
    /// Issues `clone(flags, sp)`. In the child, pops `entry` and `arg` from the new stack
    /// (`sp`), calls `entry(arg)` and `exit`s with its result. In the parent, returns the raw
    /// kernel result (pid or negative errno).
    fn rawsys_clone_trampoline(flags: usize, sp: usize) -> isize;
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl rawsys_clone_trampoline",
    ".hidden rawsys_clone_trampoline",
    ".type rawsys_clone_trampoline,@function",
    "rawsys_clone_trampoline:",
    // clone(rdi = flags, rsi = newsp, rdx = parent_tid, r10 = child_tid, r8 = tls)
    "mov eax, {clone}",
    "xor edx, edx",
    "xor r10d, r10d",
    "xor r8d, r8d",
    "syscall",
    "test rax, rax",
    "jnz 2f",
    // Child, on the new stack: mark the outermost frame, fetch entry and arg.
    "xor ebp, ebp",
    "pop rax",
    "pop rdi",
    // rsp is now 16-byte aligned; the call pushes the return address as the ABI expects.
    "call rax",
    "mov edi, eax",
    "mov eax, {exit}",
    "syscall",
    "ud2",
    "2:",
    "ret",
    ".size rawsys_clone_trampoline, . - rawsys_clone_trampoline",
    clone = const Sysno::clone as usize,
    exit = const Sysno::exit as usize,
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl rawsys_clone_trampoline",
    ".hidden rawsys_clone_trampoline",
    ".type rawsys_clone_trampoline,%function",
    "rawsys_clone_trampoline:",
    // clone(x0 = flags, x1 = newsp, x2 = parent_tid, x3 = tls, x4 = child_tid)
    "mov x2, xzr",
    "mov x3, xzr",
    "mov x4, xzr",
    "mov x8, #{clone}",
    "svc #0",
    "cbnz x0, 2f",
    // Child, on the new stack: clear the frame chain, fetch entry and arg.
    "mov x29, xzr",
    "mov x30, xzr",
    "ldp x9, x0, [sp], #16",
    "blr x9",
    "mov x8, #{exit}",
    "svc #0",
    "brk #0",
    "2:",
    "ret",
    ".size rawsys_clone_trampoline, . - rawsys_clone_trampoline",
    clone = const Sysno::clone as usize,
    exit = const Sysno::exit as usize,
);

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
    /// Arguments with these flags and exit signal, everything else zero.
    pub const fn new(flags: CloneFlags, exit_signal: u32) -> CloneArgs {
        CloneArgs {
            flags: flags.bits(),
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: exit_signal as u64,
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
    let r = unsafe {
        sys::syscall2(
            Sysno::clone3,
            args as *const CloneArgs as usize,
            size_of::<CloneArgs>(),
        )
    }?;
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
/// let args = CloneArgs::new(CloneFlags::empty(), 17);
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

/// `execve(2)`: replaces the process image. Returns only on failure, with the error.
///
/// `argv` and `envp` are the kernel's null-terminated arrays of pointers to C strings: each
/// slice must end with a null pointer, otherwise `EINVAL` is returned without calling the
/// kernel. The kernel validates every pointer (a bad one fails with `EFAULT`), so this call
/// cannot corrupt the caller's memory.
///
/// ```
/// use core::ptr::null;
/// use rawsys::{process, Errno};
///
/// let argv = [c"true".as_ptr(), null()];
/// // Not null-terminated: refused before the kernel sees it.
/// assert_eq!(process::execve(c"/bin/true", &argv[..1], &[null()]), Errno::EINVAL);
/// assert_eq!(process::execve(c"/nonexistent/lp-test", &argv, &[null()]), Errno::ENOENT);
/// ```
pub fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    let terminated = |v: &[*const c_char]| v.last().is_some_and(|p| p.is_null());
    if !terminated(argv) || !terminated(envp) {
        return Errno::EINVAL;
    }
    // SAFETY: path is NUL-terminated; both arrays end with a null pointer, so the kernel's walk
    // stays inside them; it copies the strings with checked user-memory accesses.
    match unsafe {
        sys::syscall3(
            Sysno::execve,
            path.as_ptr() as usize,
            argv.as_ptr() as usize,
            envp.as_ptr() as usize,
        )
    } {
        Err(e) => e,
        // execve does not return on success; a zero return cannot happen.
        Ok(_) => Errno::EINVAL,
    }
}

/// `exit_group(2)`: ends every thread of the process with status `code & 0xff`. No destructors,
/// atexit handlers or stdio flushing run.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an integer and never returns.
    let _ = unsafe { sys::syscall1(Sysno::exit_group, code as usize) };
    // SAFETY: the process no longer exists once exit_group has been issued.
    unsafe { core::hint::unreachable_unchecked() }
}

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

bitflags::bitflags! {
    /// Options for [`wait4`] and [`waitid`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct WaitOptions: u32 {
        /// `WNOHANG`: return at once if no child changed state.
        const NOHANG = 1;
        /// `WUNTRACED` (= `WSTOPPED`): also report stopped children.
        const UNTRACED = 2;
        /// `WSTOPPED` (for `waitid`).
        const STOPPED = 2;
        /// `WEXITED` (for `waitid`): report children that ended.
        const EXITED = 4;
        /// `WCONTINUED`: report children resumed by `SIGCONT`.
        const CONTINUED = 8;
        /// `WNOWAIT` (for `waitid`): leave the child waitable.
        const NOWAIT = 0x0100_0000;
        /// `__WNOTHREAD`: only the caller's own children, not its thread group's.
        const NOTHREAD = 0x2000_0000;
        /// `__WALL`: any child, whatever its exit signal.
        const ALL = 0x4000_0000;
        /// `__WCLONE`: only children whose exit signal is not `SIGCHLD`.
        const CLONE = 0x8000_0000;
    }
}

/// How a child changed state, decoded from a `wait4` status or a `waitid` siginfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It exited with this code (0-255).
    Exited(i32),
    /// A signal ended it.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
    /// A signal stopped it (`WUNTRACED`), or it is in a ptrace stop.
    Stopped(i32),
    /// `SIGCONT` resumed it (`WCONTINUED`).
    Continued,
}

impl WaitStatus {
    /// Decodes the status word of `wait4` (the `WIFEXITED`/`WIFSIGNALED`/... macros). Every value
    /// decodes to something: words the kernel never produces (low byte `0xff`) come out as
    /// `Signaled { signal: 127, core_dumped: true }`.
    pub const fn from_raw(status: i32) -> WaitStatus {
        if status == 0xffff {
            WaitStatus::Continued
        } else if status & 0x7f == 0 {
            WaitStatus::Exited((status >> 8) & 0xff)
        } else if status & 0xff == 0x7f {
            WaitStatus::Stopped((status >> 8) & 0xff)
        } else {
            WaitStatus::Signaled {
                signal: status & 0x7f,
                core_dumped: status & 0x80 != 0,
            }
        }
    }
}

/// `wait4(2)` without resource usage: waits for the child `pid` (-1: any child; 0: any in the
/// caller's process group; < -1: any in group `-pid`).
///
/// Returns `Ok(None)` with [`WaitOptions::NOHANG`] when no child has changed state yet.
pub fn wait4(pid: Pid, options: WaitOptions) -> Result<Option<(Pid, WaitStatus)>> {
    let mut status: i32 = 0;
    // SAFETY: status is a live int for the kernel to write; rusage is null (not wanted).
    let r = unsafe {
        sys::syscall4(
            Sysno::wait4,
            pid as usize,
            &mut status as *mut i32 as usize,
            options.bits() as usize,
            0,
        )
    }?;
    Ok(if r == 0 {
        None
    } else {
        Some((r as Pid, WaitStatus::from_raw(status)))
    })
}

/// Which children [`waitid`] waits for.
#[derive(Clone, Copy, Debug)]
pub enum WaitId<'a> {
    /// `P_ALL`: any child.
    All,
    /// `P_PID`: this child.
    Pid(Pid),
    /// `P_PGID`: any child in this process group (0: the caller's).
    Pgid(Pid),
    /// `P_PIDFD`: the child this pidfd refers to.
    Pidfd(BorrowedFd<'a>),
}

/// What [`waitid`] reports about a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitIdStatus {
    /// The child's pid.
    pub pid: Pid,
    /// The child's real user id.
    pub uid: Uid,
    /// How it changed state.
    pub status: WaitStatus,
}

/// The `SIGCHLD` view of the kernel's 128-byte `siginfo_t`, as `waitid` fills it.
#[repr(C)]
struct ChildSiginfo {
    si_signo: i32,
    si_errno: i32,
    si_code: i32,
    _pad: i32,
    si_pid: i32,
    si_uid: u32,
    si_status: i32,
    _pad2: i32,
    si_utime: i64,
    si_stime: i64,
    _rest: [u64; 10],
}

assert_eq_size!(ChildSiginfo, [u8; 128]);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_signo), 0);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_errno), 4);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_code), 8);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_pid), 16);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_uid), 20);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_status), 24);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_utime), 32);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_stime), 40);

/// `waitid(2)`: waits for a state change of the children `id` selects. `options` must contain
/// at least one of `EXITED`, `STOPPED`, `CONTINUED`.
///
/// Returns `Ok(None)` with [`WaitOptions::NOHANG`] when no child has changed state yet. A
/// `si_code` the kernel does not document for children gives `EINVAL`.
pub fn waitid(id: WaitId<'_>, options: WaitOptions) -> Result<Option<WaitIdStatus>> {
    let (idtype, idval) = match id {
        WaitId::All => (0usize, 0usize),
        WaitId::Pid(p) => (1, p as usize),
        WaitId::Pgid(p) => (2, p as usize),
        WaitId::Pidfd(fd) => (3, fd.as_raw() as usize),
    };
    // SAFETY: an all-zero siginfo is a valid value of this plain-integer struct.
    let mut info: ChildSiginfo = unsafe { core::mem::zeroed() };
    // SAFETY: info is a live 128-byte siginfo for the kernel to write; rusage is null.
    unsafe {
        sys::syscall5(
            Sysno::waitid,
            idtype,
            idval,
            &mut info as *mut ChildSiginfo as usize,
            options.bits() as usize,
            0,
        )
    }?;
    if info.si_pid == 0 {
        return Ok(None);
    }
    let s = info.si_status;
    let status = match info.si_code {
        1 => WaitStatus::Exited(s), // CLD_EXITED
        2 => WaitStatus::Signaled {
            signal: s,
            core_dumped: false,
        }, // CLD_KILLED
        3 => WaitStatus::Signaled {
            signal: s,
            core_dumped: true,
        }, // CLD_DUMPED
        4 | 5 => WaitStatus::Stopped(s), // CLD_TRAPPED, CLD_STOPPED
        6 => WaitStatus::Continued, // CLD_CONTINUED
        _ => return Err(Errno::EINVAL),
    };
    Ok(Some(WaitIdStatus {
        pid: info.si_pid,
        uid: info.si_uid,
        status,
    }))
}

// ---------------------------------------------------------------------------------------------
// Signals by pid and pidfd
// ---------------------------------------------------------------------------------------------

/// `kill(2)`: sends `sig` to `pid` (0: the caller's process group; -1: every process it may
/// signal; < -1: group `-pid`). Signal 0 only checks that the target exists and may be signalled.
pub fn kill(pid: Pid, sig: i32) -> Result<()> {
    // SAFETY: integers only.
    unsafe { sys::syscall2(Sysno::kill, pid as usize, sig as usize) }.map(drop)
}

/// `tgkill(2)`: sends `sig` to thread `tid` of thread group `tgid`.
pub fn tgkill(tgid: Pid, tid: Pid, sig: i32) -> Result<()> {
    // SAFETY: integers only.
    unsafe { sys::syscall3(Sysno::tgkill, tgid as usize, tid as usize, sig as usize) }.map(drop)
}

bitflags::bitflags! {
    /// Flags for [`pidfd_open`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PidfdFlags: u32 {
        /// `PIDFD_NONBLOCK`: `waitid` on the pidfd does not block.
        const NONBLOCK = 0o4000;
        /// `PIDFD_THREAD` (Linux 6.9): refer to the thread `pid`, not its thread group.
        const THREAD = 0o200;
    }
}

/// `pidfd_open(2)`: a descriptor that refers to process `pid` (close-on-exec). Unlike a pid, it
/// can never come to mean another process.
pub fn pidfd_open(pid: Pid, flags: PidfdFlags) -> Result<OwnedFd> {
    // SAFETY: integers only.
    let r = unsafe { sys::syscall2(Sysno::pidfd_open, pid as usize, flags.bits() as usize) }?;
    Ok(sys::ret_fd(r))
}

/// `pidfd_send_signal(2)`: sends `sig` to the process `pidfd` refers to, as `kill` would.
pub fn pidfd_send_signal(pidfd: impl AsFd, sig: i32) -> Result<()> {
    // SAFETY: a null siginfo and no flags; the descriptor is borrowed for the call.
    unsafe { sys::syscall4(Sysno::pidfd_send_signal, raw_fd(pidfd), sig as usize, 0, 0) }.map(drop)
}

// ---------------------------------------------------------------------------------------------
// prctl
// ---------------------------------------------------------------------------------------------

const PR_SET_PDEATHSIG: usize = 1;
const PR_GET_PDEATHSIG: usize = 2;
const PR_SET_NAME: usize = 15;
const PR_GET_NAME: usize = 16;
const PR_CAPBSET_READ: usize = 23;
const PR_CAPBSET_DROP: usize = 24;
const PR_SET_NO_NEW_PRIVS: usize = 38;
const PR_GET_NO_NEW_PRIVS: usize = 39;
const PR_CAP_AMBIENT: usize = 47;
const PR_CAP_AMBIENT_IS_SET: usize = 1;
const PR_CAP_AMBIENT_RAISE: usize = 2;
const PR_CAP_AMBIENT_LOWER: usize = 3;
const PR_CAP_AMBIENT_CLEAR_ALL: usize = 4;

/// # Safety
/// The arguments must be valid for `option` (pointers live and of the right size).
unsafe fn prctl(option: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    unsafe { sys::syscall5(Sysno::prctl, option, a2, a3, a4, a5) }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from now on `execve` never grants privileges (setuid bits,
/// file capabilities). Irreversible, inherited by children.
pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_NO_NEW_PRIVS)`: whether `no_new_privs` is set.
pub fn get_no_new_privs() -> Result<bool> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) }.map(|r| r != 0)
}

/// `prctl(PR_SET_PDEATHSIG)`: the signal the caller gets when the thread that created it dies
/// (0 clears it).
pub fn set_pdeathsig(sig: i32) -> Result<()> {
    // SAFETY: integer argument.
    unsafe { prctl(PR_SET_PDEATHSIG, sig as usize, 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_PDEATHSIG)`: the parent-death signal (0 if none).
pub fn get_pdeathsig() -> Result<i32> {
    let mut sig: i32 = 0;
    // SAFETY: the kernel writes one int through the pointer, which is live.
    unsafe { prctl(PR_GET_PDEATHSIG, &mut sig as *mut i32 as usize, 0, 0, 0) }?;
    Ok(sig)
}

/// `prctl(PR_CAPBSET_READ)`: whether `cap` is in the caller's bounding set.
pub fn capbset_read(cap: Capability) -> Result<bool> {
    // SAFETY: integer argument.
    unsafe { prctl(PR_CAPBSET_READ, cap.0 as usize, 0, 0, 0) }.map(|r| r != 0)
}

/// `prctl(PR_CAPBSET_DROP)`: removes `cap` from the caller's bounding set (needs
/// `CAP_SETPCAP`). Irreversible.
pub fn capbset_drop(cap: Capability) -> Result<()> {
    // SAFETY: integer argument.
    unsafe { prctl(PR_CAPBSET_DROP, cap.0 as usize, 0, 0, 0) }.map(drop)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET)`: whether `cap` is in the ambient set.
pub fn ambient_is_set(cap: Capability) -> Result<bool> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap.0 as usize, 0, 0) }.map(|r| r != 0)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE)`: adds `cap` to the ambient set; it must be in
/// both the permitted and inheritable sets (`EPERM` otherwise).
pub fn ambient_raise(cap: Capability) -> Result<()> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap.0 as usize, 0, 0) }.map(drop)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER)`: removes `cap` from the ambient set.
pub fn ambient_lower(cap: Capability) -> Result<()> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap.0 as usize, 0, 0) }.map(drop)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`: empties the ambient set.
pub fn ambient_clear_all() -> Result<()> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) }.map(drop)
}

/// A thread name as the kernel keeps it (`comm`): at most 15 bytes plus a NUL.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TaskName([u8; 16]);

impl TaskName {
    /// The name, without the NUL.
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }
}

impl core::fmt::Debug for TaskName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_c_str(), f)
    }
}

/// `prctl(PR_SET_NAME)`: names the calling thread; the kernel keeps the first 15 bytes.
pub fn set_name(name: &CStr) -> Result<()> {
    // SAFETY: the kernel reads at most 16 bytes up to the NUL, which `name` contains.
    unsafe { prctl(PR_SET_NAME, name.as_ptr() as usize, 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_NAME)`: the calling thread's name.
pub fn get_name() -> Result<TaskName> {
    let mut buf = [0u8; 16];
    // SAFETY: the kernel writes at most 16 bytes (NUL-terminated) into buf, which has 16.
    unsafe { prctl(PR_GET_NAME, buf.as_mut_ptr() as usize, 0, 0, 0) }?;
    Ok(TaskName(buf))
}

// ---------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------

/// A capability number (`CAP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(u32);

macro_rules! capabilities {
    ($($name:ident = $num:expr;)*) => {
        impl Capability {
            $(
                #[doc = concat!("`CAP_", stringify!($name), "`")]
                pub const $name: Capability = Capability($num);
            )*
        }
    };
}

capabilities! {
    CHOWN = 0; DAC_OVERRIDE = 1; DAC_READ_SEARCH = 2; FOWNER = 3; FSETID = 4; KILL = 5;
    SETGID = 6; SETUID = 7; SETPCAP = 8; LINUX_IMMUTABLE = 9; NET_BIND_SERVICE = 10;
    NET_BROADCAST = 11; NET_ADMIN = 12; NET_RAW = 13; IPC_LOCK = 14; IPC_OWNER = 15;
    SYS_MODULE = 16; SYS_RAWIO = 17; SYS_CHROOT = 18; SYS_PTRACE = 19; SYS_PACCT = 20;
    SYS_ADMIN = 21; SYS_BOOT = 22; SYS_NICE = 23; SYS_RESOURCE = 24; SYS_TIME = 25;
    SYS_TTY_CONFIG = 26; MKNOD = 27; LEASE = 28; AUDIT_WRITE = 29; AUDIT_CONTROL = 30;
    SETFCAP = 31; MAC_OVERRIDE = 32; MAC_ADMIN = 33; SYSLOG = 34; WAKE_ALARM = 35;
    BLOCK_SUSPEND = 36; AUDIT_READ = 37; PERFMON = 38; BPF = 39; CHECKPOINT_RESTORE = 40;
}

impl Capability {
    /// The highest capability this crate names (`CAP_CHECKPOINT_RESTORE`); the running kernel's
    /// is in `/proc/sys/kernel/cap_last_cap`.
    pub const LAST: Capability = Capability::CHECKPOINT_RESTORE;

    /// A capability by number; `None` above 63 (outside the 64-bit sets).
    pub const fn from_raw(n: u32) -> Option<Capability> {
        if n < 64 { Some(Capability(n)) } else { None }
    }

    /// The capability number.
    pub const fn raw(self) -> u32 {
        self.0
    }
}

/// A set of capabilities (one of effective, permitted, inheritable), as a 64-bit mask.
///
/// ```
/// use rawsys::process::{CapSet, Capability};
///
/// let s = CapSet::empty().with(Capability::SYS_ADMIN).with(Capability::CHOWN);
/// assert!(s.contains(Capability::CHOWN));
/// assert_eq!(s.without(Capability::CHOWN).bits(), 1 << 21);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CapSet(u64);

impl CapSet {
    /// No capability.
    pub const fn empty() -> CapSet {
        CapSet(0)
    }

    /// The set whose bit `n` stands for capability `n`.
    pub const fn from_bits(bits: u64) -> CapSet {
        CapSet(bits)
    }

    /// The mask.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `cap` is in the set.
    pub const fn contains(self, cap: Capability) -> bool {
        self.0 & (1 << cap.0) != 0
    }

    /// The set plus `cap`.
    pub const fn with(self, cap: Capability) -> CapSet {
        CapSet(self.0 | 1 << cap.0)
    }

    /// The set minus `cap`.
    pub const fn without(self, cap: Capability) -> CapSet {
        CapSet(self.0 & !(1 << cap.0))
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The three capability sets of a thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// What the thread may use now.
    pub effective: CapSet,
    /// What it may make effective (an upper bound for the others).
    pub permitted: CapSet,
    /// What `execve` may preserve.
    pub inheritable: CapSet,
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets as two [`CapUserData`].
pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The kernel's `struct __user_cap_header_struct`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapUserHeader {
    /// [`LINUX_CAPABILITY_VERSION_3`].
    pub version: u32,
    /// The thread (0: the caller).
    pub pid: i32,
}

assert_eq_size!(CapUserHeader, [u32; 2]);
const_assert_eq!(core::mem::offset_of!(CapUserHeader, version), 0);
const_assert_eq!(core::mem::offset_of!(CapUserHeader, pid), 4);

/// The kernel's `struct __user_cap_data_struct`: 32 bits of each set (version 3 uses two: the
/// low and the high word).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapUserData {
    /// Effective set bits.
    pub effective: u32,
    /// Permitted set bits.
    pub permitted: u32,
    /// Inheritable set bits.
    pub inheritable: u32,
}

assert_eq_size!(CapUserData, [u32; 3]);
const_assert_eq!(core::mem::offset_of!(CapUserData, effective), 0);
const_assert_eq!(core::mem::offset_of!(CapUserData, permitted), 4);
const_assert_eq!(core::mem::offset_of!(CapUserData, inheritable), 8);

/// `capget(2)`: the capability sets of thread `pid` (0: the caller).
///
/// ```
/// use rawsys::process::{self, Capability};
/// let caps = process::capget(0)?;
/// // Nothing is effective that is not permitted.
/// assert_eq!(caps.effective.bits() & !caps.permitted.bits(), 0);
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn capget(pid: Pid) -> Result<Capabilities> {
    let mut header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid,
    };
    let mut data = [CapUserData::default(); 2];
    // SAFETY: header is live; with version 3 the kernel writes two CapUserData, which data has.
    unsafe {
        sys::syscall2(
            Sysno::capget,
            &mut header as *mut CapUserHeader as usize,
            data.as_mut_ptr() as usize,
        )
    }?;
    let join = |lo: u32, hi: u32| CapSet((hi as u64) << 32 | lo as u64);
    Ok(Capabilities {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)`: sets the calling thread's capability sets. Permitted may only shrink;
/// effective must stay within permitted.
pub fn capset(caps: &Capabilities) -> Result<()> {
    let mut header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let split = |s: CapSet| (s.0 as u32, (s.0 >> 32) as u32);
    let (e, p, i) = (
        split(caps.effective),
        split(caps.permitted),
        split(caps.inheritable),
    );
    let data = [
        CapUserData {
            effective: e.0,
            permitted: p.0,
            inheritable: i.0,
        },
        CapUserData {
            effective: e.1,
            permitted: p.1,
            inheritable: i.1,
        },
    ];
    // SAFETY: header is live (the kernel may write the preferred version into it); the kernel
    // reads two CapUserData from data.
    unsafe {
        sys::syscall2(
            Sysno::capset,
            &mut header as *mut CapUserHeader as usize,
            data.as_ptr() as usize,
        )
    }
    .map(drop)
}

// ---------------------------------------------------------------------------------------------
// Credentials, sessions
// ---------------------------------------------------------------------------------------------

/// `setresuid(2)`: sets the real, effective and saved user ids ([`ID_UNCHANGED`] keeps one).
///
/// The raw call affects only the calling thread; a multi-threaded process that wants
/// process-wide ids must call it in every thread (libc does this for you; this does not).
pub fn setresuid(ruid: Uid, euid: Uid, suid: Uid) -> Result<()> {
    // SAFETY: integers only.
    unsafe {
        sys::syscall3(
            Sysno::setresuid,
            ruid as usize,
            euid as usize,
            suid as usize,
        )
    }
    .map(drop)
}

/// `setresgid(2)`: sets the real, effective and saved group ids ([`ID_UNCHANGED`] keeps one).
/// Per thread, as [`setresuid`].
pub fn setresgid(rgid: Gid, egid: Gid, sgid: Gid) -> Result<()> {
    // SAFETY: integers only.
    unsafe {
        sys::syscall3(
            Sysno::setresgid,
            rgid as usize,
            egid as usize,
            sgid as usize,
        )
    }
    .map(drop)
}

/// `getresuid(2)`: the (real, effective, saved) user ids.
pub fn getresuid() -> Result<(Uid, Uid, Uid)> {
    let mut ids = [0u32; 3];
    // SAFETY: each pointer is a live u32 for the kernel to write.
    unsafe {
        let p = ids.as_mut_ptr();
        sys::syscall3(
            Sysno::getresuid,
            p as usize,
            p.add(1) as usize,
            p.add(2) as usize,
        )
    }?;
    Ok((ids[0], ids[1], ids[2]))
}

/// `getresgid(2)`: the (real, effective, saved) group ids.
pub fn getresgid() -> Result<(Gid, Gid, Gid)> {
    let mut ids = [0u32; 3];
    // SAFETY: each pointer is a live u32 for the kernel to write.
    unsafe {
        let p = ids.as_mut_ptr();
        sys::syscall3(
            Sysno::getresgid,
            p as usize,
            p.add(1) as usize,
            p.add(2) as usize,
        )
    }?;
    Ok((ids[0], ids[1], ids[2]))
}

/// `setgroups(2)`: replaces the supplementary group list (per thread, as [`setresuid`]).
pub fn setgroups(groups: &[Gid]) -> Result<()> {
    // SAFETY: the kernel reads groups.len() gids from the slice.
    unsafe { sys::syscall2(Sysno::setgroups, groups.len(), groups.as_ptr() as usize) }.map(drop)
}

/// `getgroups(2)`: fills `groups` with the supplementary groups and returns how many there are.
/// With an empty slice it only returns the count; a too small one gives `EINVAL`.
pub fn getgroups(groups: &mut [Gid]) -> Result<usize> {
    // SAFETY: the kernel writes at most groups.len() gids into the slice.
    unsafe { sys::syscall2(Sysno::getgroups, groups.len(), groups.as_mut_ptr() as usize) }
}

/// `setsid(2)`: starts a new session and process group led by the caller; returns the session
/// id. Fails with `EPERM` for a process group leader.
pub fn setsid() -> Result<Pid> {
    // SAFETY: no arguments.
    unsafe { sys::syscall0(Sysno::setsid) }.map(|r| r as Pid)
}

/// `getsid(2)`: the session id of `pid` (0: the caller).
pub fn getsid(pid: Pid) -> Result<Pid> {
    // SAFETY: integer argument.
    unsafe { sys::syscall1(Sysno::getsid, pid as usize) }.map(|r| r as Pid)
}

// ---------------------------------------------------------------------------------------------
// Resource limits
// ---------------------------------------------------------------------------------------------

/// "No limit" for [`Rlimit`] fields.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// The kernel's `struct rlimit64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Rlimit {
    /// The soft limit, enforced; raisable up to `max`.
    pub cur: u64,
    /// The hard limit.
    pub max: u64,
}

assert_eq_size!(Rlimit, [u64; 2]);
const_assert_eq!(core::mem::offset_of!(Rlimit, cur), 0);
const_assert_eq!(core::mem::offset_of!(Rlimit, max), 8);

/// A limited resource (`RLIMIT_*`; the same numbers on x86_64 and aarch64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Resource {
    /// `RLIMIT_CPU`: CPU seconds.
    Cpu = 0,
    /// `RLIMIT_FSIZE`: largest file size.
    Fsize = 1,
    /// `RLIMIT_DATA`: data segment size.
    Data = 2,
    /// `RLIMIT_STACK`: main stack size.
    Stack = 3,
    /// `RLIMIT_CORE`: core file size.
    Core = 4,
    /// `RLIMIT_RSS`: resident set (not enforced).
    Rss = 5,
    /// `RLIMIT_NPROC`: processes of the real user.
    Nproc = 6,
    /// `RLIMIT_NOFILE`: one more than the highest descriptor number.
    Nofile = 7,
    /// `RLIMIT_MEMLOCK`: locked memory.
    Memlock = 8,
    /// `RLIMIT_AS`: address space size.
    As = 9,
    /// `RLIMIT_LOCKS`: file locks.
    Locks = 10,
    /// `RLIMIT_SIGPENDING`: queued signals.
    Sigpending = 11,
    /// `RLIMIT_MSGQUEUE`: POSIX message queue bytes.
    Msgqueue = 12,
    /// `RLIMIT_NICE`: ceiling of the nice value.
    Nice = 13,
    /// `RLIMIT_RTPRIO`: real-time priority ceiling.
    Rtprio = 14,
    /// `RLIMIT_RTTIME`: real-time CPU microseconds without blocking.
    Rttime = 15,
}

/// `prlimit64(2)`: reads the limit of `resource` for process `pid` (0: the caller) and, if
/// `new` is given, replaces it. Returns the old limit.
pub fn prlimit(pid: Pid, resource: Resource, new: Option<&Rlimit>) -> Result<Rlimit> {
    let mut old = Rlimit::default();
    let new_ptr = new.map_or(0, |n| n as *const Rlimit as usize);
    // SAFETY: new (if any) is a live rlimit64 to read; old is a live one to write.
    unsafe {
        sys::syscall4(
            Sysno::prlimit64,
            pid as usize,
            resource as usize,
            new_ptr,
            &mut old as *mut Rlimit as usize,
        )
    }?;
    Ok(old)
}

/// `getrlimit` through `prlimit64(2)`: the caller's limit of `resource`.
///
/// ```
/// use rawsys::process::{self, Resource};
/// let l = process::getrlimit(Resource::Nofile)?;
/// assert!(l.cur <= l.max);
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn getrlimit(resource: Resource) -> Result<Rlimit> {
    prlimit(0, resource, None)
}

/// `setrlimit` through `prlimit64(2)`: sets the caller's (whole process's) limit of `resource`.
pub fn setrlimit(resource: Resource, limit: &Rlimit) -> Result<()> {
    prlimit(0, resource, Some(limit)).map(drop)
}

/// Helpers for tests that run code in fork-like children (used by this module and `ns`).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::fd::RawFd;
    use crate::io;

    pub(crate) const SIGKILL: i32 = 9;
    pub(crate) const SIGTERM: i32 = 15;
    pub(crate) const SIGCHLD: i32 = 17;
    pub(crate) const SIGCONT: i32 = 18;
    pub(crate) const SIGSTOP: i32 = 19;

    /// Returns `$code` from the child closure when `$cond` is false.
    macro_rules! ensure {
        ($cond:expr, $code:expr) => {
            if !$cond {
                return $code;
            }
        };
    }
    pub(crate) use ensure;

    /// Ends the child if its closure unwinds, so it never returns into the test harness.
    struct ExitOnUnwind;
    impl Drop for ExitOnUnwind {
        fn drop(&mut self) {
            exit_group(125)
        }
    }

    fn close_range(lo: u32, hi: u32) {
        // SAFETY: closes descriptors of this (child) process only; nothing in the child uses
        // them afterwards.
        let _ = unsafe { io::close_range(lo, hi, io::CloseRangeFlags::empty()) };
    }

    /// Closes every descriptor from 3 up except those in `keep` (at most 8), so that the child
    /// does not hold copies of other tests' pipes open.
    pub(crate) fn close_other_fds(keep: &[RawFd]) {
        let mut k = [0i32; 8];
        let n = keep.len().min(8);
        k[..n].copy_from_slice(&keep[..n]);
        k[..n].sort_unstable();
        let mut lo: u32 = 3;
        for &fd in &k[..n] {
            let fd = fd as u32;
            if fd >= lo {
                if fd > lo {
                    close_range(lo, fd - 1);
                }
                lo = fd + 1;
            }
        }
        close_range(lo, u32::MAX);
    }

    /// Runs `f` in a fork-like child (`flags`, exit signal SIGCHLD) that keeps only the
    /// descriptors in `keep` and exits with `f`'s result. Returns the child's pid.
    pub(crate) fn spawn(flags: CloneFlags, keep: &[RawFd], f: impl FnOnce() -> i32) -> Pid {
        // SAFETY: the child closes descriptors, runs `f` (which in these tests issues only raw
        // system calls, no allocation) and exits; the guard ends it even if `f` unwinds.
        match unsafe { fork_with(flags, SIGCHLD) }.expect("fork_with") {
            Fork::Child => {
                let guard = ExitOnUnwind;
                close_other_fds(keep);
                let code = f();
                core::mem::forget(guard);
                exit_group(code)
            }
            Fork::Parent(pid) => pid,
        }
    }

    /// Waits for the child `pid` to end.
    pub(crate) fn reap(pid: Pid) -> WaitStatus {
        let (p, st) = wait4(pid, WaitOptions::empty())
            .expect("wait4")
            .expect("no WNOHANG");
        assert_eq!(p, pid);
        st
    }

    /// [`spawn`] then [`reap`].
    pub(crate) fn run(flags: CloneFlags, keep: &[RawFd], f: impl FnOnce() -> i32) -> WaitStatus {
        reap(spawn(flags, keep, f))
    }

    /// Sends one byte: wakes the other side of a pipe.
    pub(crate) fn poke(fd: impl AsFd) -> bool {
        io::write(fd, b"x") == Ok(1)
    }

    /// Waits for one byte from the other side of a pipe.
    pub(crate) fn await_poke(fd: impl AsFd) -> bool {
        let mut b = [0u8; 1];
        io::read(fd, &mut b) == Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::io::{self, PipeFlags};
    use core::sync::atomic::{AtomicUsize, Ordering};
    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    /// The whitespace-separated fields after `key` in a `/proc/.../status`-like file.
    fn proc_fields(path: &str, key: &str) -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} in {path}"));
        line[key.len()..]
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    fn cap_field(key: &str) -> u64 {
        u64::from_str_radix(&proc_fields("/proc/thread-self/status", key)[0], 16).unwrap()
    }

    fn pipe() -> (OwnedFd, OwnedFd) {
        io::pipe2(PipeFlags::CLOEXEC).unwrap()
    }

    #[test]
    fn umask_sets_and_returns_the_previous_mask() {
        // In a child: the mask is process-wide and other tests create files.
        let st = run(CloneFlags::empty(), &[], || {
            let old = umask(0o027);
            ensure!(umask(0o077) == 0o027, 1);
            ensure!(umask(old) == 0o077, 2);
            // A file made under mask 0o027 loses group-write and all "other" bits.
            umask(0o027);
            let dir = crate::io::CWD;
            let path = c"/tmp/lp-test-umask-probe";
            let _ = crate::io::unlinkat(dir, path, crate::io::AtFlags::empty());
            let fd = match crate::io::openat(
                dir,
                path,
                crate::io::OFlags::CREAT | crate::io::OFlags::WRONLY | crate::io::OFlags::EXCL,
                crate::io::Mode::from_bits_retain(0o666),
            ) {
                Ok(fd) => fd,
                Err(_) => return 3,
            };
            let mode = crate::io::fstat(&fd).map(|s| s.st_mode & 0o777);
            let _ = crate::io::unlinkat(dir, path, crate::io::AtFlags::empty());
            ensure!(mode == Ok(0o640), 4);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

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

    #[test]
    fn identity_matches_proc() {
        assert_eq!(getpid() as u32, std::process::id());
        assert_eq!(getppid() as u32, std::os::unix::process::parent_id());
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        assert_eq!(
            link.to_str().unwrap(),
            format!("{}/task/{}", getpid(), gettid())
        );
        let uids: Vec<u32> = proc_fields("/proc/self/status", "Uid:")
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let gids: Vec<u32> = proc_fields("/proc/self/status", "Gid:")
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!((getuid(), geteuid()), (uids[0], uids[1]));
        assert_eq!((getgid(), getegid()), (gids[0], gids[1]));
        assert_eq!(getresuid().unwrap(), (uids[0], uids[1], uids[2]));
        assert_eq!(getresgid().unwrap(), (gids[0], gids[1], gids[2]));
    }

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
            let r = unsafe { fork_with(bad, SIGCHLD) };
            assert_eq!(r, Err(Errno::EINVAL), "{bad:?}");
        }
        // SAFETY: refused before any child exists.
        let r = unsafe { fork_with(CloneFlags::empty(), 65) };
        assert_eq!(r, Err(Errno::EINVAL));
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
        out[0].store(&local as *const u8 as usize, Ordering::SeqCst);
        out[1].store(getpid() as usize, Ordering::SeqCst);
        33
    }

    #[test]
    fn clone_on_stack_runs_the_entry_on_the_given_stack() {
        let mut stack = vec![0u8; 64 * 1024];
        // SAFETY: add_one only computes; without CLONE_VM the child has its own copy of memory.
        let pid = unsafe { clone_on_stack(CloneFlags::empty(), SIGCHLD, &mut stack, add_one, 41) }
            .unwrap();
        assert_eq!(reap(pid), WaitStatus::Exited(42));

        let shared = [AtomicUsize::new(0), AtomicUsize::new(0)];
        let range = stack.as_ptr_range();
        // SAFETY: with CLONE_VM | CLONE_VFORK this call returns only after the child exited,
        // so `stack` and `shared` outlive its use of them; `report` uses no TLS or allocation.
        let pid = unsafe {
            clone_on_stack(
                CloneFlags::VM | CloneFlags::VFORK,
                SIGCHLD,
                &mut stack,
                report,
                &shared as *const _ as usize,
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
        let r = unsafe { clone_on_stack(CloneFlags::empty(), SIGCHLD, &mut small, add_one, 0) };
        assert_eq!(r, Err(Errno::EINVAL));
        // SAFETY: refused before any child exists.
        let r = unsafe { clone_on_stack(CloneFlags::SETTLS, SIGCHLD, &mut stack, add_one, 0) };
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
        let args = CloneArgs::new(CloneFlags::empty(), SIGCHLD as u32);
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
        assert_eq!(pidfd_send_signal(&pidfd, 0), Err(Errno::ESRCH));

        let mut with_stack = args;
        with_stack.stack = 0x1000;
        // SAFETY: refused before any child exists.
        assert_eq!(unsafe { clone3(&with_stack) }, Err(Errno::EINVAL));
    }

    #[test]
    fn clone3_takes_clone3_only_flags() {
        let args = CloneArgs::new(
            CloneFlags::NEWPID | CloneFlags::CLEAR_SIGHAND,
            SIGCHLD as u32,
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
        let vm = CloneArgs::new(CloneFlags::VM, SIGCHLD as u32);
        // SAFETY: refused before any child exists.
        let r = unsafe { clone3(&vm) };
        assert_eq!(r, Err(Errno::EINVAL));
    }

    #[test]
    fn pidfd_open_refers_to_a_fork_child() {
        let (r, _w) = pipe();
        let pid = spawn(CloneFlags::empty(), &[r.as_raw()], || {
            if await_poke(&r) { 0 } else { 1 }
        });
        let pidfd = pidfd_open(pid, PidfdFlags::NONBLOCK).unwrap();
        assert_eq!(
            waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED),
            Err(Errno::EAGAIN)
        );
        pidfd_send_signal(&pidfd, SIGTERM).unwrap();
        let info = waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED).unwrap_or_else(|e| {
            // NONBLOCK may report EAGAIN until the child has finished dying; block for it then.
            assert_eq!(e, Errno::EAGAIN);
            waitid(WaitId::Pid(pid), WaitOptions::EXITED).unwrap()
        });
        assert_eq!(
            info.unwrap().status,
            WaitStatus::Signaled {
                signal: SIGTERM,
                core_dumped: false
            }
        );
        assert_eq!(
            pidfd_open(-5, PidfdFlags::empty()).map(OwnedFd::into_raw),
            Err(Errno::EINVAL)
        );
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
        let cg = io::openat(
            io::CWD,
            &cpath,
            io::OFlags::RDONLY | io::OFlags::DIRECTORY | io::OFlags::CLOEXEC,
            io::Mode::empty(),
        )
        .unwrap();
        let (r, w) = pipe();
        let args = CloneArgs::new(CloneFlags::empty(), SIGCHLD as u32).into_cgroup(cg.as_fd());
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

    #[test]
    fn wait4_and_waitid_decode_stop_continue_and_signals() {
        let (r, _w) = pipe();
        let pid = spawn(CloneFlags::empty(), &[r.as_raw()], || {
            if await_poke(&r) { 0 } else { 1 }
        });
        assert_eq!(wait4(pid, WaitOptions::NOHANG), Ok(None));
        kill(pid, 0).unwrap();
        kill(pid, SIGSTOP).unwrap();
        assert_eq!(
            wait4(pid, WaitOptions::UNTRACED).unwrap(),
            Some((pid, WaitStatus::Stopped(SIGSTOP)))
        );
        kill(pid, SIGCONT).unwrap();
        assert_eq!(
            wait4(pid, WaitOptions::CONTINUED).unwrap(),
            Some((pid, WaitStatus::Continued))
        );
        tgkill(pid, pid, SIGTERM).unwrap();
        assert_eq!(
            reap(pid),
            WaitStatus::Signaled {
                signal: SIGTERM,
                core_dumped: false
            }
        );
        assert_eq!(kill(pid, 0), Err(Errno::ESRCH));
        assert_eq!(tgkill(pid, pid, 0), Err(Errno::ESRCH));

        let pid = spawn(CloneFlags::empty(), &[r.as_raw()], || {
            if await_poke(&r) { 0 } else { 1 }
        });
        tgkill(pid, pid, SIGSTOP).unwrap();
        let st = waitid(WaitId::Pid(pid), WaitOptions::STOPPED)
            .unwrap()
            .unwrap();
        assert_eq!((st.pid, st.status), (pid, WaitStatus::Stopped(SIGSTOP)));
        kill(pid, SIGCONT).unwrap();
        let st = waitid(WaitId::Pid(pid), WaitOptions::CONTINUED)
            .unwrap()
            .unwrap();
        assert_eq!(st.status, WaitStatus::Continued);
        // WNOWAIT reports without reaping; the second waitid reaps.
        kill(pid, SIGKILL).unwrap();
        let killed = WaitStatus::Signaled {
            signal: SIGKILL,
            core_dumped: false,
        };
        let st = waitid(WaitId::Pid(pid), WaitOptions::EXITED | WaitOptions::NOWAIT)
            .unwrap()
            .unwrap();
        assert_eq!(st.status, killed);
        assert_eq!(
            waitid(WaitId::Pid(pid), WaitOptions::EXITED)
                .unwrap()
                .unwrap()
                .status,
            killed
        );
        assert_eq!(
            waitid(WaitId::Pid(pid), WaitOptions::EXITED),
            Err(Errno::ECHILD)
        );
        assert_eq!(wait4(pid, WaitOptions::empty()), Err(Errno::ECHILD));
    }

    #[test]
    fn waiting_for_any_child_inside_a_child() {
        // P_ALL and pid -1 would race with other tests' children in the harness, so a child
        // does it with children of its own.
        let st = run(CloneFlags::empty(), &[], || {
            let b = spawn_raw(7);
            ensure!(b > 0, 1);
            match waitid(WaitId::All, WaitOptions::EXITED) {
                Ok(Some(i)) => ensure!(
                    i.pid == b && i.status == WaitStatus::Exited(7) && i.uid == getuid(),
                    2
                ),
                _ => return 3,
            }
            let c = spawn_raw(9);
            ensure!(
                wait4(-1, WaitOptions::empty()) == Ok(Some((c, WaitStatus::Exited(9)))),
                4
            );
            let d = spawn_raw(11);
            ensure!(
                matches!(waitid(WaitId::Pgid(0), WaitOptions::EXITED), Ok(Some(i)) if i.pid == d),
                5
            );
            ensure!(
                waitid(WaitId::All, WaitOptions::EXITED) == Err(Errno::ECHILD),
                6
            );
            ensure!(wait4(-1, WaitOptions::NOHANG) == Err(Errno::ECHILD), 7);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    /// A grandchild that exits with `code` at once (for use inside a test child).
    fn spawn_raw(code: i32) -> Pid {
        // SAFETY: the new child exits immediately.
        match unsafe { fork_with(CloneFlags::empty(), SIGCHLD) } {
            Ok(Fork::Child) => exit_group(code),
            Ok(Fork::Parent(pid)) => pid,
            Err(_) => -1,
        }
    }

    #[test]
    fn wait_status_decoding_matches_the_c_macros() {
        for code in 0..256 {
            assert_eq!(WaitStatus::from_raw(code << 8), WaitStatus::Exited(code));
        }
        for sig in 1..0x7f {
            assert_eq!(
                WaitStatus::from_raw(sig),
                WaitStatus::Signaled {
                    signal: sig,
                    core_dumped: false
                }
            );
            assert_eq!(
                WaitStatus::from_raw(sig | 0x80),
                WaitStatus::Signaled {
                    signal: sig,
                    core_dumped: true
                }
            );
            assert_eq!(
                WaitStatus::from_raw(sig << 8 | 0x7f),
                WaitStatus::Stopped(sig)
            );
        }
        assert_eq!(WaitStatus::from_raw(0xffff), WaitStatus::Continued);
    }

    proptest::proptest! {
        #[test]
        fn wait_status_decodes_every_word(raw in proptest::num::i32::ANY) {
            match WaitStatus::from_raw(raw) {
                WaitStatus::Exited(c) => proptest::prop_assert!((0..256).contains(&c) && raw & 0x7f == 0),
                WaitStatus::Signaled { signal, .. } => proptest::prop_assert!((1..=0x7f).contains(&signal)),
                WaitStatus::Stopped(s) => proptest::prop_assert!((0..256).contains(&s) && raw & 0xff == 0x7f),
                WaitStatus::Continued => proptest::prop_assert_eq!(raw, 0xffff),
            }
        }
    }

    #[test]
    fn execve_runs_a_program_with_argv_and_envp() {
        use core::ptr::null;
        let sh = c"/bin/sh";
        assert!(std::path::Path::new("/bin/sh").exists());
        let argv = [
            c"sh".as_ptr(),
            c"-c".as_ptr(),
            c"test \"$LP_TEST\" = yes && exit 7; exit 1".as_ptr(),
            null(),
        ];
        let envp = [c"LP_TEST=yes".as_ptr(), null()];
        let st = run(CloneFlags::empty(), &[], || {
            execve(sh, &argv, &envp).raw() + 100
        });
        assert_eq!(st, WaitStatus::Exited(7));
        let st = run(CloneFlags::empty(), &[], || {
            execve(sh, &argv, &[null()]).raw() + 100
        });
        assert_eq!(st, WaitStatus::Exited(1), "the environment is exactly envp");
        // Failures return before anything changes, so they are safe in the harness itself.
        assert_eq!(execve(sh, &argv[..3], &envp), Errno::EINVAL);
        assert_eq!(execve(sh, &argv, &envp[..1]), Errno::EINVAL);
        assert_eq!(execve(sh, &[], &envp), Errno::EINVAL);
        assert_eq!(execve(c"/nonexistent/lp-test", &argv, &envp), Errno::ENOENT);
        assert_eq!(execve(c"/proc/self", &argv, &envp), Errno::EACCES);
    }

    #[test]
    fn prctl_no_new_privs_pdeathsig_and_name_in_a_child() {
        let before = get_no_new_privs().unwrap();
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(set_no_new_privs().is_ok(), 1);
            ensure!(get_no_new_privs() == Ok(true), 2);
            ensure!(set_pdeathsig(SIGKILL).is_ok(), 3);
            ensure!(get_pdeathsig() == Ok(SIGKILL), 4);
            ensure!(set_pdeathsig(0).is_ok() && get_pdeathsig() == Ok(0), 5);
            ensure!(set_pdeathsig(1000) == Err(Errno::EINVAL), 6);
            ensure!(set_name(c"lp-test-name").is_ok(), 7);
            ensure!(
                matches!(get_name(), Ok(n) if n.as_c_str() == c"lp-test-name"),
                8
            );
            ensure!(set_name(c"lp-test-a-much-longer-name").is_ok(), 9);
            ensure!(
                matches!(get_name(), Ok(n) if n.as_c_str() == c"lp-test-a-much-"),
                10
            );
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(
            get_no_new_privs().unwrap(),
            before,
            "the harness is unchanged"
        );
    }

    #[test]
    fn pdeathsig_kills_the_orphan() {
        // A (child) starts B, which asks for SIGKILL when A dies and then waits for a byte on
        // `hold`. After A is reaped, the signal has been sent; the byte we then write would make
        // B report "survived" on `report`, but a killed B only closes it (EOF).
        let (hold_r, hold_w) = pipe();
        let (rep_r, rep_w) = pipe();
        let (ready_r, ready_w) = pipe();
        let keep = [
            hold_r.as_raw(),
            rep_w.as_raw(),
            ready_w.as_raw(),
            ready_r.as_raw(),
        ];
        let a = spawn(CloneFlags::empty(), &keep, || {
            // SAFETY: B only issues raw system calls and exits.
            match unsafe { fork_with(CloneFlags::empty(), SIGCHLD) } {
                Ok(Fork::Child) => {
                    let ok = set_pdeathsig(SIGKILL).is_ok() && poke(&ready_w);
                    if ok && await_poke(&hold_r) {
                        let _ = io::write(&rep_w, b"survived");
                    }
                    exit_group(0)
                }
                // A ends only once B has asked for the signal.
                Ok(Fork::Parent(_)) => {
                    if await_poke(&ready_r) {
                        0
                    } else {
                        2
                    }
                }
                Err(_) => 1,
            }
        });
        drop((hold_r, rep_w, ready_w, ready_r));
        assert_eq!(reap(a), WaitStatus::Exited(0));
        // EPIPE means B is already gone (it held the only read end); both outcomes are fine.
        let w = io::write(&hold_w, b"x");
        assert!(w == Ok(1) || w == Err(Errno::EPIPE), "{w:?}");
        let mut buf = [0u8; 16];
        assert_eq!(io::read(&rep_r, &mut buf), Ok(0), "B survived its parent");
    }

    #[test]
    fn capget_matches_proc_status() {
        let caps = capget(0).unwrap();
        assert_eq!(caps.effective.bits(), cap_field("CapEff:"));
        assert_eq!(caps.permitted.bits(), cap_field("CapPrm:"));
        assert_eq!(caps.inheritable.bits(), cap_field("CapInh:"));
        assert_eq!(capget(gettid()).unwrap(), caps);
        assert_eq!(capget(-7), Err(Errno::EINVAL));
        let bounding = cap_field("CapBnd:");
        for n in [0, 12, 21, 40] {
            let cap = Capability::from_raw(n).unwrap();
            assert_eq!(
                capbset_read(cap).unwrap(),
                bounding & 1 << n != 0,
                "CAP {n}"
            );
            assert_eq!(
                ambient_is_set(cap).unwrap(),
                cap_field("CapAmb:") & 1 << n != 0
            );
        }
        assert_eq!(Capability::from_raw(64), None);
        assert_eq!(capbset_read(Capability(63)), Err(Errno::EINVAL));
    }

    #[test]
    fn capset_and_bounding_and_ambient_changes_in_a_child() {
        let before = capget(0).unwrap();
        if !before.effective.contains(Capability::SYS_ADMIN)
            || !before.effective.contains(Capability::SETPCAP)
        {
            std::eprintln!("skipped: needs CAP_SYS_ADMIN and CAP_SETPCAP");
            return;
        }
        let st = run(CloneFlags::NEWUTS, &[], || {
            let Ok(caps) = capget(0) else { return 1 };
            let nba = Capability::NET_BIND_SERVICE;
            // Ambient needs the capability in permitted and inheritable.
            ensure!(ambient_raise(nba) == Err(Errno::EPERM), 2);
            let with_inh = Capabilities {
                inheritable: caps.inheritable.with(nba),
                ..caps
            };
            ensure!(capset(&with_inh).is_ok(), 3);
            ensure!(
                ambient_raise(nba).is_ok() && ambient_is_set(nba) == Ok(true),
                4
            );
            ensure!(
                ambient_lower(nba).is_ok() && ambient_is_set(nba) == Ok(false),
                5
            );
            ensure!(ambient_raise(nba).is_ok() && ambient_clear_all().is_ok(), 6);
            ensure!(ambient_is_set(nba) == Ok(false), 7);

            ensure!(capbset_read(Capability::SYS_ADMIN) == Ok(true), 8);
            ensure!(capbset_drop(Capability::SYS_ADMIN).is_ok(), 9);
            ensure!(capbset_read(Capability::SYS_ADMIN) == Ok(false), 10);

            let admin = Capability::SYS_ADMIN;
            let dropped = Capabilities {
                effective: with_inh.effective.without(admin),
                permitted: with_inh.permitted.without(admin),
                inheritable: with_inh.inheritable,
            };
            ensure!(capset(&dropped).is_ok(), 11);
            ensure!(capget(0) == Ok(dropped), 12);
            ensure!(
                crate::ns::sethostname(b"lp-test-caps") == Err(Errno::EPERM),
                13
            );
            // Permitted never grows back.
            ensure!(capset(&with_inh) == Err(Errno::EPERM), 14);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(capget(0).unwrap(), before, "the harness is unchanged");
        assert!(capbset_read(Capability::SYS_ADMIN).unwrap());
    }

    #[test]
    fn credentials_and_groups_change_in_a_child() {
        if geteuid() != 0 {
            std::eprintln!("skipped: needs root");
            return;
        }
        let before = (getresuid().unwrap(), getresgid().unwrap());
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(setgroups(&[1234, 5678]).is_ok(), 1);
            let mut g = [0u32; 4];
            ensure!(getgroups(&mut []) == Ok(2), 2);
            ensure!(getgroups(&mut g) == Ok(2) && g[..2] == [1234, 5678], 3);
            ensure!(getgroups(&mut g[..1]) == Err(Errno::EINVAL), 4);
            ensure!(setresgid(1000, 1001, 1002).is_ok(), 5);
            ensure!(
                getresgid() == Ok((1000, 1001, 1002)) && getgid() == 1000 && getegid() == 1001,
                6
            );
            ensure!(setresuid(2000, 2001, 2002).is_ok(), 7);
            ensure!(
                getresuid() == Ok((2000, 2001, 2002)) && getuid() == 2000 && geteuid() == 2001,
                8
            );
            ensure!(setresuid(ID_UNCHANGED, 2002, ID_UNCHANGED).is_ok(), 9);
            ensure!(getresuid() == Ok((2000, 2002, 2002)), 10);
            // No longer privileged: neither root nor new groups come back.
            ensure!(setresuid(0, 0, 0) == Err(Errno::EPERM), 11);
            ensure!(setgroups(&[0]) == Err(Errno::EPERM), 12);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!((getresuid().unwrap(), getresgid().unwrap()), before);
    }

    #[test]
    fn setsid_makes_a_new_session_in_a_child() {
        let mine = getsid(0).unwrap();
        assert_eq!(getsid(getpid()), Ok(mine));
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(getsid(0) == Ok(mine), 1);
            ensure!(setsid() == Ok(getpid()), 2);
            ensure!(getsid(0) == Ok(getpid()), 3);
            // A session leader cannot start another session.
            ensure!(setsid() == Err(Errno::EPERM), 4);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(getsid(0), Ok(mine));
        assert_eq!(getsid(-3), Err(Errno::ESRCH));
    }

    #[test]
    fn rlimits_read_set_and_prlimit_another_process() {
        let nofile = getrlimit(Resource::Nofile).unwrap();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (f[3].parse::<u64>().unwrap(), f[4].parse::<u64>().unwrap()),
            (nofile.cur, nofile.max)
        );

        let (r, w) = pipe();
        let (done_r, done_w) = pipe();
        let low = Rlimit {
            cur: 16,
            max: nofile.max,
        };
        let keep = [r.as_raw(), done_w.as_raw()];
        let pid = spawn(CloneFlags::empty(), &keep, || {
            // Wait until the parent has set our limit with prlimit.
            ensure!(await_poke(&r), 1);
            ensure!(getrlimit(Resource::Nofile) == Ok(low), 2);
            ensure!(
                io::fcntl_dupfd_cloexec(&r, 20).map(OwnedFd::into_raw) == Err(Errno::EINVAL),
                3
            );
            let lower = Rlimit { cur: 8, max: 8 };
            ensure!(setrlimit(Resource::Nofile, &lower).is_ok(), 4);
            ensure!(getrlimit(Resource::Nofile) == Ok(lower), 5);
            // Raising the hard limit back needs CAP_SYS_RESOURCE.
            let raised = Rlimit { cur: 8, max: 9 };
            let Ok(caps) = capget(0) else { return 6 };
            let expect = if caps.effective.contains(Capability::SYS_RESOURCE) {
                Ok(())
            } else {
                Err(Errno::EPERM)
            };
            ensure!(setrlimit(Resource::Nofile, &raised) == expect, 6);
            ensure!(poke(&done_w), 7);
            0
        });
        drop(done_w);
        assert_eq!(prlimit(pid, Resource::Nofile, Some(&low)).unwrap(), nofile);
        assert!(poke(&w));
        let poked = await_poke(&done_r);
        assert_eq!(reap(pid), WaitStatus::Exited(0));
        assert!(poked);
        assert_eq!(
            getrlimit(Resource::Nofile).unwrap(),
            nofile,
            "the harness is unchanged"
        );
        let bad = Rlimit { cur: 10, max: 5 };
        assert_eq!(prlimit(0, Resource::Core, Some(&bad)), Err(Errno::EINVAL));
    }
}
