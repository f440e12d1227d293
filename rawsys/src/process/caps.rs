//! Capabilities: the numbers, the thread's three sets (`capget`/`capset`), the bounding set
//! and the ambient set (through `prctl`).

use static_assertions::{assert_eq_size, const_assert_eq};

use super::Pid;
use super::prctl::prctl;
use crate::Result;
use crate::sys::{self, Sysno};

const PR_CAPBSET_READ: usize = 23;
const PR_CAPBSET_DROP: usize = 24;
const PR_CAP_AMBIENT: usize = 47;
const PR_CAP_AMBIENT_IS_SET: usize = 1;
const PR_CAP_AMBIENT_RAISE: usize = 2;
const PR_CAP_AMBIENT_LOWER: usize = 3;
const PR_CAP_AMBIENT_CLEAR_ALL: usize = 4;

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
            sys::by_mut(&mut header),
            sys::by_mut(&mut data),
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
    unsafe { sys::syscall2(Sysno::capset, sys::by_mut(&mut header), sys::by_ref(&data)) }.map(drop)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::process::testing::*;
    use crate::process::*;

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
}
