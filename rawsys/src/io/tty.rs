//! Terminals: the `ioctl(2)` requests that make a pseudo-terminal pair out of `/dev/ptmx`
//! (unlock, number, open the peer), take a terminal as the controlling one, and get or set
//! the window size.
//!
//! The request numbers are those of `asm-generic/ioctls.h`, which x86_64 and aarch64 share.
//!
//! ```no_run
//! use rawsys::fs::{self, Mode, OFlags, CWD};
//! use rawsys::io::{self, Winsize};
//!
//! let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
//! let master = fs::openat(CWD, c"/dev/ptmx", flags, Mode::empty())?;
//! io::ptmx_unlock(&master)?;
//! let slave = io::ptmx_open_peer(&master, flags)?;
//! io::set_window_size(&master, &Winsize { rows: 24, cols: 80, ..Winsize::default() })?;
//! assert_eq!(io::window_size(&slave)?.cols, 80);
//! # Ok::<(), rawsys::Errno>(())
//! ```

use crate::Result;
use crate::fd::{AsFd, OwnedFd};
use crate::fs::OFlags;
use crate::sys::{self, Sysno};

const TIOCSCTTY: usize = 0x540E;
const TIOCGWINSZ: usize = 0x5413;
const TIOCSWINSZ: usize = 0x5414;
const TIOCGPTN: usize = 0x8004_5430;
const TIOCSPTLCK: usize = 0x4004_5431;
const TIOCGPTPEER: usize = 0x5441;

/// `struct winsize`: a terminal's size in characters (and, rarely used, pixels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Winsize {
    /// Rows (`ws_row`).
    pub rows: u16,
    /// Columns (`ws_col`).
    pub cols: u16,
    /// Width in pixels (`ws_xpixel`).
    pub xpixel: u16,
    /// Height in pixels (`ws_ypixel`).
    pub ypixel: u16,
}

static_assertions::assert_eq_size!(Winsize, [u8; 8]);
static_assertions::const_assert_eq!(core::mem::offset_of!(Winsize, rows), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(Winsize, cols), 2);
static_assertions::const_assert_eq!(core::mem::offset_of!(Winsize, xpixel), 4);
static_assertions::const_assert_eq!(core::mem::offset_of!(Winsize, ypixel), 6);

/// `ioctl(fd, TIOCSPTLCK, &0)`: unlocks the slave of a pseudo-terminal master (`unlockpt`),
/// so that it can be opened.
pub fn ptmx_unlock(master: impl AsFd) -> Result<()> {
    let zero: i32 = 0;
    // SAFETY: the kernel reads one int from `zero`, alive for the call.
    unsafe {
        sys::syscall3(
            Sysno::ioctl,
            sys::fd_arg(master),
            TIOCSPTLCK,
            sys::by_ref(&zero),
        )
    }
    .map(drop)
}

/// `ioctl(fd, TIOCGPTN, &n)`: the number N of a master's slave, `/dev/pts/N` in the devpts
/// instance the master came from (`ptsname`).
pub fn ptmx_number(master: impl AsFd) -> Result<u32> {
    let mut n: u32 = 0;
    // SAFETY: the kernel writes one unsigned int into `n`.
    unsafe {
        sys::syscall3(
            Sysno::ioctl,
            sys::fd_arg(master),
            TIOCGPTN,
            sys::by_mut(&mut n),
        )
    }?;
    Ok(n)
}

/// `ioctl(fd, TIOCGPTPEER, flags)` (Linux 4.13): opens the slave of a pseudo-terminal master
/// directly, without a path lookup in `/dev/pts` that a container could redirect. `flags` are
/// open flags (`RDWR | NOCTTY | CLOEXEC`).
pub fn ptmx_open_peer(master: impl AsFd, flags: OFlags) -> Result<OwnedFd> {
    // SAFETY: the third argument is an integer (open flags), not a pointer.
    let r = unsafe {
        sys::syscall3(
            Sysno::ioctl,
            sys::fd_arg(master),
            TIOCGPTPEER,
            flags.bits() as usize,
        )
    }?;
    Ok(sys::ret_fd(r))
}

/// `ioctl(fd, TIOCSCTTY, 0)`: makes the terminal the caller's controlling terminal. The caller
/// must be a session leader without one (after `setsid`); 0 does not steal a terminal that
/// is another session's.
pub fn set_controlling_terminal(tty: impl AsFd) -> Result<()> {
    // SAFETY: integer arguments only.
    unsafe { sys::syscall3(Sysno::ioctl, sys::fd_arg(tty), TIOCSCTTY, 0) }.map(drop)
}

/// `ioctl(fd, TIOCGWINSZ, &ws)`: the terminal's window size.
pub fn window_size(tty: impl AsFd) -> Result<Winsize> {
    let mut ws = Winsize::default();
    // SAFETY: the kernel writes one struct winsize (8 bytes, checked above) into `ws`.
    unsafe {
        sys::syscall3(
            Sysno::ioctl,
            sys::fd_arg(tty),
            TIOCGWINSZ,
            sys::by_mut(&mut ws),
        )
    }?;
    Ok(ws)
}

/// `ioctl(fd, TIOCSWINSZ, &ws)`: sets the terminal's window size (on a master or its slave);
/// the foreground process group gets `SIGWINCH` when it changes.
pub fn set_window_size(tty: impl AsFd, ws: &Winsize) -> Result<()> {
    // SAFETY: the kernel reads one struct winsize from `ws`, alive for the call.
    unsafe { sys::syscall3(Sysno::ioctl, sys::fd_arg(tty), TIOCSWINSZ, sys::by_ref(ws)) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fs::{self, CWD, Mode};
    use crate::io;
    use crate::process::testing::*;
    use crate::process::{self, CloneFlags, WaitStatus};

    fn open_ptmx() -> OwnedFd {
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
        fs::openat(CWD, c"/dev/ptmx", flags, Mode::empty()).unwrap()
    }

    #[test]
    fn a_pty_pair_carries_bytes_and_its_window_size() {
        let master = open_ptmx();
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
        // Locked until unlocked.
        assert_eq!(
            ptmx_open_peer(&master, flags).map(OwnedFd::into_raw),
            Err(Errno::EIO)
        );
        ptmx_unlock(&master).unwrap();
        let n = ptmx_number(&master).unwrap();
        let slave = ptmx_open_peer(&master, flags).unwrap();
        // The peer is /dev/pts/N of the same instance.
        let by_path = fs::fstat(&slave).unwrap();
        let path = std::ffi::CString::new(std::format!("/dev/pts/{n}")).unwrap();
        let st = fs::statat(CWD, &path, fs::AtFlags::empty()).unwrap();
        assert_eq!(by_path.st_rdev, st.st_rdev);
        let ws = Winsize {
            rows: 33,
            cols: 111,
            xpixel: 0,
            ypixel: 0,
        };
        set_window_size(&master, &ws).unwrap();
        assert_eq!(window_size(&slave).unwrap(), ws);
        // Bytes written to the slave come out of the master (with ONLCR: \n -> \r\n).
        assert_eq!(io::write(&slave, b"hi\n"), Ok(3));
        let mut buf = [0u8; 16];
        let got = io::read(&master, &mut buf).unwrap();
        assert_eq!(&buf[..got], b"hi\r\n");
        // Not a terminal: ENOTTY.
        let (r, _w) = pipe();
        assert_eq!(window_size(&r), Err(Errno::ENOTTY));
        assert_eq!(ptmx_number(&r), Err(Errno::ENOTTY));
    }

    #[test]
    fn a_session_leader_takes_a_pty_as_its_controlling_terminal() {
        let master = open_ptmx();
        ptmx_unlock(&master).unwrap();
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
        let slave = ptmx_open_peer(&master, flags).unwrap();
        let master2 = open_ptmx();
        ptmx_unlock(&master2).unwrap();
        let other = ptmx_open_peer(&master2, flags).unwrap();
        let st = run(
            CloneFlags::empty(),
            &[slave.as_raw(), other.as_raw()],
            || {
                // Not a session leader yet: refused.
                ensure!(set_controlling_terminal(&slave) == Err(Errno::EPERM), 1);
                ensure!(process::setsid().is_ok(), 2);
                ensure!(set_controlling_terminal(&slave).is_ok(), 3);
                // /dev/tty now opens (it is the controlling terminal).
                let tty = fs::openat(
                    CWD,
                    c"/dev/tty",
                    OFlags::RDWR | OFlags::CLOEXEC,
                    Mode::empty(),
                );
                ensure!(tty.is_ok(), 4);
                // A session has one controlling terminal: a second one is refused.
                ensure!(set_controlling_terminal(&other) == Err(Errno::EPERM), 5);
                0
            },
        );
        assert_eq!(st, WaitStatus::Exited(0));
    }
}
