//! The UTS namespace's names: `sethostname`, `setdomainname`, `uname`.

use core::ffi::CStr;

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::Result;
use crate::sys::{self, Sysno};

/// `sethostname(2)`: sets the host name of the caller's UTS namespace (at most 64 bytes,
/// `EINVAL` beyond).
pub fn sethostname(name: &[u8]) -> Result<()> {
    // SAFETY: the kernel reads name.len() bytes from the slice.
    unsafe { sys::syscall2(Sysno::sethostname, sys::by_ref(name), name.len()) }.map(drop)
}

/// `setdomainname(2)`: sets the NIS domain name of the caller's UTS namespace (at most 64
/// bytes).
pub fn setdomainname(name: &[u8]) -> Result<()> {
    // SAFETY: the kernel reads name.len() bytes from the slice.
    unsafe { sys::syscall2(Sysno::setdomainname, sys::by_ref(name), name.len()) }.map(drop)
}

/// The kernel's `struct new_utsname`: six NUL-terminated fields of 65 bytes.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Utsname {
    sysname: [u8; 65],
    nodename: [u8; 65],
    release: [u8; 65],
    version: [u8; 65],
    machine: [u8; 65],
    domainname: [u8; 65],
}

assert_eq_size!(Utsname, [u8; 390]);
const_assert_eq!(core::mem::offset_of!(Utsname, sysname), 0);
const_assert_eq!(core::mem::offset_of!(Utsname, nodename), 65);
const_assert_eq!(core::mem::offset_of!(Utsname, release), 130);
const_assert_eq!(core::mem::offset_of!(Utsname, version), 195);
const_assert_eq!(core::mem::offset_of!(Utsname, machine), 260);
const_assert_eq!(core::mem::offset_of!(Utsname, domainname), 325);

fn field(b: &[u8; 65]) -> &CStr {
    // The kernel always terminates each field; an empty name is the fallback otherwise.
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

impl Utsname {
    /// The operating system name (`"Linux"`).
    pub fn sysname(&self) -> &CStr {
        field(&self.sysname)
    }
    /// The host name of the caller's UTS namespace.
    pub fn nodename(&self) -> &CStr {
        field(&self.nodename)
    }
    /// The kernel release, such as `"6.8.0-45-generic"`.
    pub fn release(&self) -> &CStr {
        field(&self.release)
    }
    /// The kernel build version string.
    pub fn version(&self) -> &CStr {
        field(&self.version)
    }
    /// The hardware name, such as `"x86_64"` or `"aarch64"`.
    pub fn machine(&self) -> &CStr {
        field(&self.machine)
    }
    /// The NIS domain name of the caller's UTS namespace.
    pub fn domainname(&self) -> &CStr {
        field(&self.domainname)
    }
}

impl core::fmt::Debug for Utsname {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Utsname")
            .field("sysname", &self.sysname())
            .field("nodename", &self.nodename())
            .field("release", &self.release())
            .field("version", &self.version())
            .field("machine", &self.machine())
            .field("domainname", &self.domainname())
            .finish()
    }
}

/// `uname(2)`: system names, including the host name of the caller's UTS namespace.
///
/// ```
/// let u = rawsys::ns::uname()?;
/// assert_eq!(u.sysname(), c"Linux");
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn uname() -> Result<Utsname> {
    let mut u = Utsname {
        sysname: [0; 65],
        nodename: [0; 65],
        release: [0; 65],
        version: [0; 65],
        machine: [0; 65],
        domainname: [0; 65],
    };
    // SAFETY: u is a live 390-byte new_utsname for the kernel to fill.
    unsafe { sys::syscall1(Sysno::uname, sys::by_mut(&mut u)) }?;
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::ns::unshare;
    use crate::process::testing::*;
    use crate::process::{self, WaitStatus};

    #[test]
    fn uts_namespace_hostname_and_domainname() {
        let before = uname().unwrap();
        assert_eq!(before.sysname(), c"Linux");
        assert_eq!(
            before.machine().to_bytes(),
            std::env::consts::ARCH.as_bytes()
        );
        assert_eq!(
            before.release().to_bytes(),
            std::fs::read("/proc/sys/kernel/osrelease")
                .unwrap()
                .trim_ascii_end()
        );
        assert_eq!(
            before.nodename().to_bytes(),
            std::fs::read("/proc/sys/kernel/hostname")
                .unwrap()
                .trim_ascii_end()
        );
        assert!(!before.version().is_empty());
        let st = run(process::CloneFlags::empty(), &[], || {
            ensure!(unshare(process::CloneFlags::NEWUTS).is_ok(), 1);
            ensure!(sethostname(b"lp-test-uts").is_ok(), 2);
            ensure!(setdomainname(b"lp-test-domain").is_ok(), 3);
            let Ok(u) = uname() else { return 4 };
            ensure!(
                u.nodename() == c"lp-test-uts" && u.domainname() == c"lp-test-domain",
                5
            );
            ensure!(sethostname(&[b'x'; 65]) == Err(Errno::EINVAL), 6);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        let after = uname().unwrap();
        assert_eq!(
            after.nodename(),
            before.nodename(),
            "the harness's hostname is unchanged"
        );
        assert_eq!(after.domainname(), before.domainname());
    }
}
