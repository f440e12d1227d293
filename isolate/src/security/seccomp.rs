//! The default seccomp filter, built as classic BPF in Rust (no libseccomp).
//!
//! It is a deny list on top of the capability set, in the spirit of Docker's default profile:
//! 1. the architecture is checked first: anything but the native 64-bit ABI
//!    (`AUDIT_ARCH_X86_64` / `AUDIT_ARCH_AARCH64`) kills the process, so the 32-bit `int 0x80`
//!    and compat entry points cannot bypass the number checks; on x86_64, x32 numbers
//!    (`nr >= 0x4000_0000`) fail with `EPERM`;
//! 2. `personality` is allowed only with the values Docker allows (0, 8, 0x20000, 0x20008,
//!    0xffffffff: query);
//! 3. unless `CAP_SYS_ADMIN` is kept, `clone` with any namespace flag fails with `EPERM` and
//!    `clone3` with `ENOSYS` (its flags live in memory a filter cannot read, so libc falls
//!    back to `clone`, as under Docker);
//! 4. the calls in [`DENIED`] fail with `EPERM` unless the capability named beside them is
//!    kept (then the kernel's own check decides, as in Docker).
//!
//! Differences from Docker's default profile (an allow list of about 350 calls, everything
//! else `EPERM`/`ENOSYS`): calls unknown to this list are allowed (a new kernel's new call
//! passes until it is added here); i386 and x32 calls are refused outright (Docker allows
//! them); `ptrace`, `process_vm_*`, `userfaultfd`, `name_to_handle_at` and the `io_uring` calls
//! are refused without the matching capability (Docker allows `ptrace` on kernels >= 4.8 and
//! `name_to_handle_at`, and refuses `io_uring` since 25.0); `keyctl`, `add_key` and
//! `request_key` are refused as in Docker (the keyring is not namespaced).

use alloc::vec::Vec;

use rawsys::Errno;
use rawsys::process::{CapSet, Capability};
use rawsys::seccomp::{
    AUDIT_ARCH_NATIVE, BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W,
    RET_ALLOW, RET_KILL_PROCESS, SeccompData, SockFilter, jump, ret_errno, stmt,
};

/// Whether the container gets the default filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Seccomp {
    /// The default filter (see the [module docs](self)).
    #[default]
    Default,
    /// No filter (`--seccomp unconfined`).
    Unconfined,
}

/// The calls the default filter refuses with `EPERM`, each with the capability that lifts the
/// refusal when the container keeps it (`None`: always refused). Names missing on the running
/// architecture are skipped.
pub const DENIED: &[(&str, Option<Capability>)] = &[
    // The kernel keyring is not namespaced.
    ("keyctl", None),
    ("add_key", None),
    ("request_key", None),
    // Kernel code and tracing.
    ("bpf", Some(Capability::SYS_ADMIN)),
    ("perf_event_open", Some(Capability::SYS_ADMIN)),
    ("kexec_load", Some(Capability::SYS_BOOT)),
    ("kexec_file_load", Some(Capability::SYS_BOOT)),
    ("init_module", Some(Capability::SYS_MODULE)),
    ("finit_module", Some(Capability::SYS_MODULE)),
    ("delete_module", Some(Capability::SYS_MODULE)),
    ("create_module", Some(Capability::SYS_MODULE)),
    ("query_module", Some(Capability::SYS_MODULE)),
    ("get_kernel_syms", Some(Capability::SYS_MODULE)),
    // File handles bypass the mount namespace (the "shocker" escape).
    ("open_by_handle_at", Some(Capability::DAC_READ_SEARCH)),
    ("name_to_handle_at", Some(Capability::DAC_READ_SEARCH)),
    // Mounts and namespaces.
    ("mount", Some(Capability::SYS_ADMIN)),
    ("umount2", Some(Capability::SYS_ADMIN)),
    ("pivot_root", Some(Capability::SYS_ADMIN)),
    ("unshare", Some(Capability::SYS_ADMIN)),
    ("setns", Some(Capability::SYS_ADMIN)),
    ("fsopen", Some(Capability::SYS_ADMIN)),
    ("fsconfig", Some(Capability::SYS_ADMIN)),
    ("fsmount", Some(Capability::SYS_ADMIN)),
    ("fspick", Some(Capability::SYS_ADMIN)),
    ("move_mount", Some(Capability::SYS_ADMIN)),
    ("open_tree", Some(Capability::SYS_ADMIN)),
    ("mount_setattr", Some(Capability::SYS_ADMIN)),
    ("swapon", Some(Capability::SYS_ADMIN)),
    ("swapoff", Some(Capability::SYS_ADMIN)),
    ("quotactl", Some(Capability::SYS_ADMIN)),
    ("quotactl_fd", Some(Capability::SYS_ADMIN)),
    ("lookup_dcookie", Some(Capability::SYS_ADMIN)),
    ("fanotify_init", Some(Capability::SYS_ADMIN)),
    ("setdomainname", Some(Capability::SYS_ADMIN)),
    // Other processes' memory.
    ("ptrace", Some(Capability::SYS_PTRACE)),
    ("process_vm_readv", Some(Capability::SYS_PTRACE)),
    ("process_vm_writev", Some(Capability::SYS_PTRACE)),
    ("process_madvise", Some(Capability::SYS_PTRACE)),
    ("kcmp", Some(Capability::SYS_PTRACE)),
    ("userfaultfd", Some(Capability::SYS_PTRACE)),
    // The machine.
    ("reboot", Some(Capability::SYS_BOOT)),
    ("acct", Some(Capability::SYS_PACCT)),
    ("settimeofday", Some(Capability::SYS_TIME)),
    ("clock_settime", Some(Capability::SYS_TIME)),
    ("adjtimex", Some(Capability::SYS_TIME)),
    ("clock_adjtime", Some(Capability::SYS_TIME)),
    ("iopl", Some(Capability::SYS_RAWIO)),
    ("ioperm", Some(Capability::SYS_RAWIO)),
    ("syslog", Some(Capability::SYSLOG)),
    ("vhangup", Some(Capability::SYS_TTY_CONFIG)),
    ("mbind", Some(Capability::SYS_NICE)),
    ("migrate_pages", Some(Capability::SYS_NICE)),
    ("move_pages", Some(Capability::SYS_NICE)),
    ("set_mempolicy", Some(Capability::SYS_NICE)),
    // Obsolete or unneeded interfaces with a history of bugs.
    ("uselib", None),
    ("ustat", None),
    ("sysfs", None),
    ("_sysctl", None),
    ("nfsservctl", None),
    ("vm86", None),
    ("vm86old", None),
    ("io_uring_setup", None),
    ("io_uring_enter", None),
    ("io_uring_register", None),
];

/// The namespace flags of `clone` (`NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID |
/// NEWNET`): Docker's mask.
pub const CLONE_NAMESPACE_FLAGS: u32 = 0x7E02_0000;

/// The `personality` values allowed (Docker's list).
pub const ALLOWED_PERSONALITIES: [u32; 5] = [0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// The names of the calls the filter refuses for a container keeping `keep`, present on this
/// architecture.
pub fn denied_syscalls(keep: CapSet) -> Vec<&'static str> {
    DENIED
        .iter()
        .filter(|(name, cap)| {
            cap.is_none_or(|c| !keep.contains(c)) && rawsys::seccomp::syscall_number(name).is_some()
        })
        .map(|(name, _)| *name)
        .collect()
}

fn nr(name: &str) -> Option<u32> {
    rawsys::seccomp::syscall_number(name)
}

/// Builds the default filter program for a container keeping `keep`.
pub fn default_filter(keep: CapSet) -> Vec<SockFilter> {
    let eperm = ret_errno(Errno::EPERM.raw() as u16);
    let enosys = ret_errno(Errno::ENOSYS.raw() as u16);
    let ld = |off: u32| stmt(BPF_LD | BPF_W | BPF_ABS, off);
    let jeq = |k: u32, jt: u8, jf: u8| jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
    let ret = |k: u32| stmt(BPF_RET | BPF_K, k);
    let mut p = Vec::with_capacity(128);

    // 1. Architecture, then the number.
    p.push(ld(SeccompData::ARCH_OFFSET));
    p.push(jeq(AUDIT_ARCH_NATIVE, 1, 0));
    p.push(ret(RET_KILL_PROCESS));
    p.push(ld(SeccompData::NR_OFFSET));
    #[cfg(target_arch = "x86_64")]
    {
        use rawsys::seccomp::X32_SYSCALL_BIT;
        p.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
        p.push(ret(eperm));
    }

    // 2. personality: only the allowed values (arg 0 is an unsigned int).
    if let Some(n) = nr("personality") {
        let k = ALLOWED_PERSONALITIES.len() as u8;
        // Block after this jump: load, k compares, ret EPERM, ret ALLOW.
        p.push(jeq(n, 0, k + 3));
        p.push(ld(SeccompData::arg_low_offset(0)));
        for (i, v) in ALLOWED_PERSONALITIES.iter().enumerate() {
            // Jump over the remaining compares and the EPERM to ALLOW.
            p.push(jeq(*v, k - i as u8, 0));
        }
        p.push(ret(eperm));
        p.push(ret(RET_ALLOW));
    }

    // 3. clone without namespace flags; clone3 answers ENOSYS so libc falls back to clone.
    if !keep.contains(Capability::SYS_ADMIN) {
        if let Some(n) = nr("clone") {
            p.push(jeq(n, 0, 4));
            p.push(ld(SeccompData::arg_low_offset(0)));
            p.push(jump(
                BPF_JMP | BPF_JSET | BPF_K,
                CLONE_NAMESPACE_FLAGS,
                0,
                1,
            ));
            p.push(ret(eperm));
            p.push(ret(RET_ALLOW));
        }
        if let Some(n) = nr("clone3") {
            p.push(jeq(n, 0, 1));
            p.push(ret(enosys));
        }
    }

    // 4. The deny list as a binary search: a few comparisons per call instead of one per
    // entry (also when the kernel precomputes which numbers are always allowed).
    let mut numbers: Vec<u32> = denied_syscalls(keep).iter().filter_map(|n| nr(n)).collect();
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.is_empty() {
        p.push(ret(RET_ALLOW));
    } else {
        search_tree(&mut p, &numbers, eperm);
    }
    p
}

/// Emits a binary search over the sorted `nums` (A holds the call number): a match returns
/// `eperm`, anything else `RET_ALLOW`. Leaves compare up to four numbers.
fn search_tree(p: &mut Vec<SockFilter>, nums: &[u32], eperm: u32) {
    let ret = |k: u32| stmt(BPF_RET | BPF_K, k);
    if nums.len() <= 4 {
        let len = nums.len();
        for (i, n) in nums.iter().enumerate() {
            // A match skips the remaining compares and the ALLOW.
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, *n, (len - i) as u8, 0));
        }
        p.push(ret(RET_ALLOW));
        p.push(ret(eperm));
        return;
    }
    let mid = nums.len() / 2;
    let at = p.len();
    p.push(jump(BPF_JMP | BPF_JGE | BPF_K, nums[mid], 0, 0));
    search_tree(p, &nums[..mid], eperm);
    // The lower half is (len/2)/4 leaves of at most 6 instructions plus inner nodes: far below
    // the 255 a jump offset can hold for any list of a few hundred entries.
    p[at].jt = u8::try_from(p.len() - at - 1).unwrap_or(u8::MAX);
    search_tree(p, &nums[mid..], eperm);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::caps::DEFAULT_CAPABILITIES;

    /// The shared interpreter with only the first argument set.
    fn eval(prog: &[SockFilter], arch: u32, nr: u32, arg0: u64) -> u32 {
        crate::security::bpf_eval::eval(prog, arch, nr, [arg0, 0, 0, 0, 0, 0])
    }

    fn n(name: &str) -> u32 {
        nr(name).unwrap()
    }

    #[test]
    fn the_filter_checks_arch_denies_the_list_and_allows_the_rest() {
        let p = default_filter(DEFAULT_CAPABILITIES);
        let arch = AUDIT_ARCH_NATIVE;
        let eperm = ret_errno(1);
        assert_eq!(eval(&p, 0x4000_0003, n("getpid"), 0), RET_KILL_PROCESS);
        for name in [
            "read", "write", "getpid", "execve", "chroot", "mknodat", "socket",
        ] {
            assert_eq!(eval(&p, arch, n(name), 0), RET_ALLOW, "{name}");
        }
        for name in denied_syscalls(DEFAULT_CAPABILITIES) {
            assert_eq!(eval(&p, arch, n(name), 0), eperm, "{name}");
        }
        for name in [
            "keyctl",
            "bpf",
            "mount",
            "unshare",
            "ptrace",
            "init_module",
            "reboot",
        ] {
            assert_eq!(eval(&p, arch, n(name), 0), eperm, "{name}");
        }
        assert_eq!(eval(&p, arch, n("personality"), 0), RET_ALLOW);
        assert_eq!(eval(&p, arch, n("personality"), 0xffff_ffff), RET_ALLOW);
        assert_eq!(eval(&p, arch, n("personality"), 0x0040_0000), eperm);
        // SIGCHLD-only clone (fork) passes, CLONE_NEWUSER does not; clone3 -> ENOSYS.
        assert_eq!(eval(&p, arch, n("clone"), 17), RET_ALLOW);
        assert_eq!(eval(&p, arch, n("clone"), 0x1000_0000 | 17), eperm);
        assert_eq!(eval(&p, arch, n("clone3"), 0), ret_errno(38));
        #[cfg(target_arch = "x86_64")]
        assert_eq!(eval(&p, arch, 0x4000_0000 | n("getpid"), 0), eperm);
        assert!(p.len() < 200, "{}", p.len());
        // Every number: refused exactly when listed (the special cases aside).
        let denied: Vec<u32> = denied_syscalls(DEFAULT_CAPABILITIES)
            .iter()
            .map(|s| n(s))
            .collect();
        let special = [n("personality"), n("clone"), n("clone3")];
        for nr in 0..600 {
            if special.contains(&nr) {
                continue;
            }
            let want = if denied.contains(&nr) {
                eperm
            } else {
                RET_ALLOW
            };
            assert_eq!(eval(&p, arch, nr, 0), want, "nr {nr}");
        }
        // No jump offset saturated.
        assert!(p.iter().all(|i| i.jt != u8::MAX && i.jf != u8::MAX));
    }

    #[test]
    fn kept_capabilities_lift_their_refusals() {
        let keep = DEFAULT_CAPABILITIES
            .with(Capability::SYS_ADMIN)
            .with(Capability::SYS_PTRACE);
        let p = default_filter(keep);
        let arch = AUDIT_ARCH_NATIVE;
        for name in ["mount", "unshare", "setns", "ptrace", "bpf"] {
            assert_eq!(eval(&p, arch, n(name), 0), RET_ALLOW, "{name}");
        }
        assert_eq!(eval(&p, arch, n("clone"), 0x1000_0000), RET_ALLOW);
        assert_eq!(eval(&p, arch, n("keyctl"), 0), ret_errno(1));
        assert_eq!(eval(&p, arch, n("init_module"), 0), ret_errno(1));
    }
}
