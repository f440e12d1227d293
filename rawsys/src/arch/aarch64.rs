//! aarch64 (the asm-generic layouts): the kernel's own layouts and numbers where they differ
//! from x86_64's.

use crate::sys::Sysno;

/// `O_DIRECTORY` on aarch64.
pub(crate) const O_DIRECTORY: u32 = 0o40000;
/// `O_NOFOLLOW` on aarch64.
pub(crate) const O_NOFOLLOW: u32 = 0o100000;
/// `O_DIRECT` on aarch64.
pub(crate) const O_DIRECT: u32 = 0o200000;

/// The `fstatat` system call: asm-generic names it `fstatat` (`newfstatat` in C).
pub(crate) const FSTATAT: Sysno = Sysno::fstatat;

/// The audit architecture of the native 64-bit calling convention.
pub(crate) const AUDIT_ARCH_NATIVE: u32 = crate::seccomp::AUDIT_ARCH_AARCH64;

/// The kernel's `struct stat` for this architecture (asm-generic layout).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: u64,
    __pad1: u64,
    pub st_size: i64,
    pub st_blksize: i32,
    __pad2: i32,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    __unused: [u32; 2],
}

mod stat_layout {
    use super::Stat;
    use core::mem::offset_of;
    static_assertions::assert_eq_size!(Stat, [u8; 128]);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mode), 16);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_rdev), 32);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_size), 48);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_blocks), 64);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mtime), 88);
}

/// `struct epoll_event`: the event bits and the caller's 64-bit token.
///
/// Not packed on aarch64 (16 bytes); x86_64 packs it (12 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct EpollEvent {
    pub(crate) events: u32,
    pub(crate) data: u64,
}

mod epoll_event_layout {
    use super::EpollEvent;
    static_assertions::assert_eq_size!(EpollEvent, [u8; 16]);
    static_assertions::const_assert_eq!(core::mem::offset_of!(EpollEvent, events), 0);
    static_assertions::const_assert_eq!(core::mem::offset_of!(EpollEvent, data), 8);
}

// The clone trampoline (see `super::rawsys_clone_trampoline`).
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
