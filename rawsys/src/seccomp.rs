//! Seccomp filters: the kernel's classic-BPF ABI (`sock_filter`, `sock_fprog`, `seccomp_data`),
//! instruction builders, and `seccomp(SECCOMP_SET_MODE_FILTER)`.
//!
//! A filter is a program over [`SeccompData`] (the syscall number, the audit architecture and
//! the six arguments) that returns an action such as [`RET_ALLOW`] or [`ret_errno`]. Installing
//! one is irreversible and inherited by children; without `CAP_SYS_ADMIN` the caller must set
//! `no_new_privs` first ([`crate::process::set_no_new_privs`]).
//!
//! ```no_run
//! use rawsys::seccomp::{self, FilterFlags, RET_ALLOW, SeccompData, jump, ret_errno, stmt};
//! use rawsys::seccomp::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
//!
//! // getppid() answers EPERM, everything else is allowed (a real filter checks the arch first).
//! let nr = seccomp::syscall_number("getppid").unwrap();
//! let prog = [
//!     stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData::NR_OFFSET),
//!     jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
//!     stmt(BPF_RET | BPF_K, ret_errno(1)),
//!     stmt(BPF_RET | BPF_K, RET_ALLOW),
//! ];
//! rawsys::process::set_no_new_privs()?;
//! seccomp::set_mode_filter(&prog, FilterFlags::empty())?;
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::str::FromStr;

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::Result;
use crate::errno::Errno;
use crate::sys::{self, Sysno};

/// The kernel's `struct sock_filter`: one classic-BPF instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SockFilter {
    /// Opcode (class | size | mode, or class | op | source).
    pub code: u16,
    /// Jump offset when the condition holds (relative to the next instruction).
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// The constant operand (offset, value or return action).
    pub k: u32,
}

assert_eq_size!(SockFilter, [u8; 8]);
const_assert_eq!(core::mem::offset_of!(SockFilter, code), 0);
const_assert_eq!(core::mem::offset_of!(SockFilter, jt), 2);
const_assert_eq!(core::mem::offset_of!(SockFilter, jf), 3);
const_assert_eq!(core::mem::offset_of!(SockFilter, k), 4);

/// The kernel's `struct sock_fprog`: a program's length and address.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct SockFprog {
    /// Number of instructions (at most [`BPF_MAXINSNS`]).
    pub len: u16,
    /// The first instruction.
    pub filter: *const SockFilter,
}

#[cfg(target_pointer_width = "64")]
assert_eq_size!(SockFprog, [u64; 2]);
const_assert_eq!(core::mem::offset_of!(SockFprog, len), 0);
const_assert_eq!(
    core::mem::offset_of!(SockFprog, filter),
    core::mem::size_of::<usize>()
);

/// The kernel's `struct seccomp_data`: what a filter reads (with [`BPF_ABS`] loads at these
/// offsets; it is never built in memory by the caller).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SeccompData {
    /// The system call number.
    pub nr: i32,
    /// The `AUDIT_ARCH_*` value of the calling convention used.
    pub arch: u32,
    /// The instruction pointer at the time of the call.
    pub instruction_pointer: u64,
    /// The six arguments, each widened to 64 bits.
    pub args: [u64; 6],
}

assert_eq_size!(SeccompData, [u8; 64]);
const_assert_eq!(core::mem::offset_of!(SeccompData, nr), 0);
const_assert_eq!(core::mem::offset_of!(SeccompData, arch), 4);
const_assert_eq!(core::mem::offset_of!(SeccompData, instruction_pointer), 8);
const_assert_eq!(core::mem::offset_of!(SeccompData, args), 16);

impl SeccompData {
    /// Offset of `nr`.
    pub const NR_OFFSET: u32 = 0;
    /// Offset of `arch`.
    pub const ARCH_OFFSET: u32 = 4;

    /// Offset of the low 32 bits of argument `i` (0..6) on this machine's byte order.
    pub const fn arg_low_offset(i: u32) -> u32 {
        let base = 16 + 8 * i;
        if cfg!(target_endian = "little") {
            base
        } else {
            base + 4
        }
    }

    /// Offset of the high 32 bits of argument `i` (0..6).
    pub const fn arg_high_offset(i: u32) -> u32 {
        let base = 16 + 8 * i;
        if cfg!(target_endian = "little") {
            base + 4
        } else {
            base
        }
    }
}

/// The longest program the kernel accepts.
pub const BPF_MAXINSNS: usize = 4096;

/// Instruction class: load into A.
pub const BPF_LD: u16 = 0x00;
/// Instruction class: ALU operation on A.
pub const BPF_ALU: u16 = 0x04;
/// Instruction class: jump.
pub const BPF_JMP: u16 = 0x05;
/// Instruction class: return.
pub const BPF_RET: u16 = 0x06;
/// Load size: 32-bit word (the only size seccomp accepts).
pub const BPF_W: u16 = 0x00;
/// Load mode: absolute offset into [`SeccompData`].
pub const BPF_ABS: u16 = 0x20;
/// Jump: always, `k` instructions forward.
pub const BPF_JA: u16 = 0x00;
/// Jump: `A == k`.
pub const BPF_JEQ: u16 = 0x10;
/// Jump: `A > k` (unsigned).
pub const BPF_JGT: u16 = 0x20;
/// Jump: `A >= k` (unsigned).
pub const BPF_JGE: u16 = 0x30;
/// Jump: `A & k != 0`.
pub const BPF_JSET: u16 = 0x40;
/// ALU: `A &= k`.
pub const BPF_AND: u16 = 0x50;
/// Source operand: the constant `k`.
pub const BPF_K: u16 = 0x00;

/// Action: kill the whole process (as by an uncatchable `SIGSYS`).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// Action: kill the calling thread.
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
/// Action: send `SIGSYS`.
pub const RET_TRAP: u32 = 0x0003_0000;
/// Action base: fail with the errno in the low 16 bits (see [`ret_errno`]).
pub const RET_ERRNO: u32 = 0x0005_0000;
/// Action: allow after logging.
pub const RET_LOG: u32 = 0x7ffc_0000;
/// Action: allow.
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// The action "fail with `errno`" (only the low 16 bits count).
pub const fn ret_errno(errno: u16) -> u32 {
    RET_ERRNO | errno as u32
}

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386` (32-bit calls on an x86_64 kernel through `int 0x80`).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM` (32-bit compat calls on an aarch64 kernel).
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// The audit architecture of the native 64-bit calling convention of this build
/// ([`AUDIT_ARCH_X86_64`] or [`AUDIT_ARCH_AARCH64`]).
pub const AUDIT_ARCH_NATIVE: u32 = crate::arch::AUDIT_ARCH_NATIVE;

/// On x86_64, x32 system calls carry this bit in their number (with [`AUDIT_ARCH_X86_64`]).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `BPF_STMT(code, k)`.
pub const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// `BPF_JUMP(code, k, jt, jf)`.
pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// The number of the system call `name` on this architecture (`None` if it has none).
///
/// ```
/// assert!(rawsys::seccomp::syscall_number("keyctl").is_some());
/// assert!(rawsys::seccomp::syscall_number("no_such_call").is_none());
/// ```
pub fn syscall_number(name: &str) -> Option<u32> {
    Sysno::from_str(name).ok().map(|s| s.id() as u32)
}

bitflags::bitflags! {
    /// Flags for [`set_mode_filter`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FilterFlags: u32 {
        /// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process.
        const TSYNC = 1 << 0;
        /// `SECCOMP_FILTER_FLAG_LOG`: log every action but `RET_ALLOW`.
        const LOG = 1 << 1;
        /// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: do not force speculative-store-bypass mitigation.
        const SPEC_ALLOW = 1 << 2;
    }
}

const SECCOMP_SET_MODE_FILTER: usize = 1;
const SECCOMP_GET_ACTION_AVAIL: usize = 2;
const PR_GET_SECCOMP: usize = 21;

/// `seccomp(SECCOMP_SET_MODE_FILTER)`: installs `prog` on the calling thread (all threads with
/// [`FilterFlags::TSYNC`]). Needs `no_new_privs` or `CAP_SYS_ADMIN`; `EINVAL` for an empty or
/// too long program or one the kernel's checker rejects.
///
/// Issues no allocation, so it can run in a child after a fork-like clone.
pub fn set_mode_filter(prog: &[SockFilter], flags: FilterFlags) -> Result<()> {
    if prog.is_empty() || prog.len() > BPF_MAXINSNS {
        return Err(Errno::EINVAL);
    }
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: fprog and the instructions it points to are live for the call; the kernel copies
    // the program before returning.
    unsafe {
        sys::syscall3(
            Sysno::seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags.bits() as usize,
            sys::by_ref(&fprog),
        )
    }
    .map(drop)
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL)`: whether the kernel knows the action `action`.
pub fn action_available(action: u32) -> Result<bool> {
    // SAFETY: the kernel reads one u32 through the pointer, which is live.
    match unsafe {
        sys::syscall3(
            Sysno::seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0,
            sys::by_ref(&action),
        )
    } {
        Ok(_) => Ok(true),
        Err(Errno::EOPNOTSUPP) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `prctl(PR_GET_SECCOMP)`: the caller's seccomp mode (0 off, 1 strict, 2 filter). A thread in
/// strict mode is killed by this call, so it answers only 0 or 2.
pub fn mode() -> Result<u32> {
    // SAFETY: integer arguments only.
    unsafe { sys::syscall5(Sysno::prctl, PR_GET_SECCOMP, 0, 0, 0, 0) }.map(|r| r as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{self, CloneFlags, Fork, WaitOptions, WaitStatus};
    use crate::signal::Signal;

    const SIGCHLD: Signal = Signal::SIGCHLD;
    const SIGSYS: Signal = Signal::SIGSYS;

    /// Runs `f` in a forked child and returns how it ended. The child only issues raw calls.
    fn in_child(f: fn() -> i32) -> WaitStatus {
        // SAFETY: the child runs `f`, which issues raw system calls only, then exit_group.
        match unsafe { process::fork_with(CloneFlags::empty(), Some(SIGCHLD)) }.unwrap() {
            Fork::Child => process::exit_group(f()),
            Fork::Parent(pid) => {
                process::wait4(pid, WaitOptions::empty())
                    .unwrap()
                    .unwrap()
                    .1
            }
        }
    }

    fn deny_getppid(arch: u32) -> [SockFilter; 7] {
        let nr = syscall_number("getppid").unwrap_or(u32::MAX);
        [
            stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData::ARCH_OFFSET),
            jump(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
            stmt(BPF_RET | BPF_K, RET_KILL_PROCESS),
            stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData::NR_OFFSET),
            jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
            stmt(BPF_RET | BPF_K, ret_errno(Errno::EPERM.raw() as u16)),
            stmt(BPF_RET | BPF_K, RET_ALLOW),
        ]
    }

    #[test]
    fn a_filter_denies_one_call_with_eperm_and_allows_the_rest() {
        let st = in_child(|| {
            if mode() != Ok(0) {
                return 10;
            }
            if process::set_no_new_privs().is_err() {
                return 11;
            }
            if set_mode_filter(&deny_getppid(AUDIT_ARCH_NATIVE), FilterFlags::empty()).is_err() {
                return 12;
            }
            if mode() != Ok(2) {
                return 13;
            }
            // SAFETY: getppid takes no arguments.
            match unsafe { sys::syscall0(Sysno::getppid) } {
                Err(Errno::EPERM) => {}
                _ => return 14,
            }
            // Another call still works.
            if process::getpid() <= 0 {
                return 15;
            }
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    #[test]
    fn a_wrong_architecture_kills_the_process_with_sigsys() {
        let st = in_child(|| {
            if process::set_no_new_privs().is_err() {
                return 11;
            }
            // The filter expects another architecture: the very next call kills.
            if set_mode_filter(&deny_getppid(AUDIT_ARCH_ARM), FilterFlags::empty()).is_err() {
                return 12;
            }
            let _ = process::getpid();
            20
        });
        assert!(
            matches!(st, WaitStatus::Signaled { signal: SIGSYS, .. }),
            "{st:?}"
        );
    }

    #[test]
    fn bad_programs_are_refused() {
        let st = in_child(|| {
            if process::set_no_new_privs().is_err() {
                return 11;
            }
            if set_mode_filter(&[], FilterFlags::empty()) != Err(Errno::EINVAL) {
                return 12;
            }
            // A program that can fall off its end is rejected by the kernel's checker.
            let bad = [stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData::NR_OFFSET)];
            if set_mode_filter(&bad, FilterFlags::empty()) != Err(Errno::EINVAL) {
                return 13;
            }
            if mode() != Ok(0) {
                return 14;
            }
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(action_available(RET_ALLOW), Ok(true));
        assert_eq!(action_available(RET_KILL_PROCESS), Ok(true));
        assert_eq!(action_available(0x1234_0000), Ok(false));
        assert_eq!(SeccompData::arg_low_offset(0), 16);
        assert_eq!(SeccompData::arg_high_offset(5), 60);
    }
}
