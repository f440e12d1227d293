//! x86_64: the kernel's own layouts and numbers where they differ from aarch64's.

use crate::sys::Sysno;

/// `O_DIRECTORY` on x86_64.
pub(crate) const O_DIRECTORY: u32 = 0o200000;
/// `O_NOFOLLOW` on x86_64.
pub(crate) const O_NOFOLLOW: u32 = 0o400000;
/// `O_DIRECT` on x86_64.
pub(crate) const O_DIRECT: u32 = 0o40000;

/// The `fstatat` system call: x86_64 names it `newfstatat`.
pub(crate) const FSTATAT: Sysno = Sysno::newfstatat;

/// The audit architecture of the native 64-bit calling convention.
pub(crate) const AUDIT_ARCH_NATIVE: u32 = crate::seccomp::AUDIT_ARCH_X86_64;

/// The kernel's `struct stat` for this architecture.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    __pad0: i32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    __unused: [i64; 3],
}

mod stat_layout {
    use super::Stat;
    use core::mem::offset_of;
    static_assertions::assert_eq_size!(Stat, [u8; 144]);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_nlink), 16);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mode), 24);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_uid), 28);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_rdev), 40);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_size), 48);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_blocks), 64);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mtime), 88);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_ctime_nsec), 112);
}

/// `struct epoll_event`: the event bits and the caller's 64-bit token.
///
/// The kernel packs it on x86_64 (12 bytes, for compatibility with 32-bit code); it is not
/// packed on other architectures such as aarch64 (16 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[repr(C, packed)]
pub struct EpollEvent {
    pub(crate) events: u32,
    pub(crate) data: u64,
}

mod epoll_event_layout {
    use super::EpollEvent;
    static_assertions::assert_eq_size!(EpollEvent, [u8; 12]);
    static_assertions::const_assert_eq!(core::mem::offset_of!(EpollEvent, events), 0);
    static_assertions::const_assert_eq!(core::mem::offset_of!(EpollEvent, data), 4);
}

// The clone trampoline (see `super::rawsys_clone_trampoline`).
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
