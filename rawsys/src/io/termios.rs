//! Terminal attributes: `ioctl(TCGETS/TCSETS*)` on the kernel's `struct termios`, and the
//! raw mode a terminal relay puts the user's terminal in (`cfmakeraw`).
//!
//! ```no_run
//! use rawsys::fs::{self, Mode, OFlags, CWD};
//! use rawsys::io::{self, SetWhen};
//!
//! let tty = fs::openat(CWD, c"/dev/tty", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
//! let saved = io::terminal_attributes(&tty)?;
//! io::set_terminal_attributes(&tty, SetWhen::Drain, &saved.raw())?;
//! // ... relay bytes ...
//! io::set_terminal_attributes(&tty, SetWhen::Drain, &saved)?;
//! # Ok::<(), rawsys::Errno>(())
//! ```

use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

const TCGETS: usize = 0x5401;
const TCSETS: usize = 0x5402;
const TCSETSW: usize = 0x5403;
const TCSETSF: usize = 0x5404;

/// The number of control characters in the kernel's `struct termios` (`NCCS`).
pub const NCCS: usize = 19;

/// The kernel's `struct termios` (`asm-generic/termbits.h`, which x86_64 and aarch64 share):
/// what `TCGETS` fills in and `TCSETS` takes. The flag words are kept as plain bits; the
/// constants below name the ones raw mode changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Termios {
    /// Input modes (`c_iflag`).
    pub iflag: u32,
    /// Output modes (`c_oflag`).
    pub oflag: u32,
    /// Control modes (`c_cflag`).
    pub cflag: u32,
    /// Local modes (`c_lflag`).
    pub lflag: u32,
    /// The line discipline (`c_line`).
    pub line: u8,
    /// Control characters (`c_cc`), indexed by `VINTR` .. ; [`VMIN`] and [`VTIME`] among them.
    pub cc: [u8; NCCS],
}

static_assertions::assert_eq_size!(Termios, [u8; 36]);
static_assertions::const_assert_eq!(core::mem::offset_of!(Termios, lflag), 12);
static_assertions::const_assert_eq!(core::mem::offset_of!(Termios, line), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(Termios, cc), 17);

/// `c_cc` index: the least bytes a non-canonical read waits for.
pub const VMIN: usize = 6;
/// `c_cc` index: a non-canonical read's timeout, in tenths of a second.
pub const VTIME: usize = 5;
/// `c_cc` index: the character that sends `SIGINT` (Ctrl-C).
pub const VINTR: usize = 0;

// Octal values of asm-generic/termbits.h.
const IGNBRK: u32 = 0o1;
const BRKINT: u32 = 0o2;
const PARMRK: u32 = 0o10;
const ISTRIP: u32 = 0o40;
const INLCR: u32 = 0o100;
const IGNCR: u32 = 0o200;
const ICRNL: u32 = 0o400;
const IXON: u32 = 0o2000;
const OPOST: u32 = 0o1;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHONL: u32 = 0o100;
const IEXTEN: u32 = 0o100000;
const CSIZE: u32 = 0o60;
const CS8: u32 = 0o60;
const PARENB: u32 = 0o400;

impl Termios {
    /// These attributes in raw mode, as glibc's `cfmakeraw`: no echo, no line editing, no
    /// signals from keys (Ctrl-C is the byte 3), no input or output translation, 8-bit
    /// characters, a read returns once one byte is there.
    pub fn raw(&self) -> Termios {
        let mut t = *self;
        t.iflag &= !(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.oflag &= !OPOST;
        t.lflag &= !(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.cflag &= !(CSIZE | PARENB);
        t.cflag |= CS8;
        t.cc[VMIN] = 1;
        t.cc[VTIME] = 0;
        t
    }

    /// Whether the terminal echoes input (`ECHO` in `c_lflag`).
    pub fn echoes(&self) -> bool {
        self.lflag & ECHO != 0
    }

    /// Whether keys send signals (`ISIG` in `c_lflag`).
    pub fn signals_from_keys(&self) -> bool {
        self.lflag & ISIG != 0
    }
}

/// When [`set_terminal_attributes`] applies the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetWhen {
    /// At once (`TCSETS`, `tcsetattr(TCSANOW)`).
    Now,
    /// After the output written so far was sent (`TCSETSW`, `TCSADRAIN`).
    Drain,
    /// After the output was sent, dropping unread input (`TCSETSF`, `TCSAFLUSH`).
    Flush,
}

/// `ioctl(fd, TCGETS, &t)` (`tcgetattr`): the terminal's attributes; `ENOTTY` when `fd` is
/// not a terminal (the `isatty` test).
pub fn terminal_attributes(tty: impl AsFd) -> Result<Termios> {
    let mut t = Termios::default();
    // SAFETY: the kernel writes one struct termios (36 bytes, checked above) into `t`.
    unsafe { sys::syscall3(Sysno::ioctl, sys::fd_arg(tty), TCGETS, sys::by_mut(&mut t)) }?;
    Ok(t)
}

/// `ioctl(fd, TCSETS*, &t)` (`tcsetattr`): sets the terminal's attributes.
pub fn set_terminal_attributes(tty: impl AsFd, when: SetWhen, t: &Termios) -> Result<()> {
    let req = match when {
        SetWhen::Now => TCSETS,
        SetWhen::Drain => TCSETSW,
        SetWhen::Flush => TCSETSF,
    };
    // SAFETY: the kernel reads one struct termios from `t`, alive for the call.
    unsafe { sys::syscall3(Sysno::ioctl, sys::fd_arg(tty), req, sys::by_ref(t)) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::fs::{self, CWD, Mode, OFlags};
    use crate::io;

    #[test]
    fn raw_mode_round_trips_through_a_pty_and_changes_what_the_line_discipline_does() {
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
        let master = fs::openat(CWD, c"/dev/ptmx", flags, Mode::empty()).unwrap();
        io::ptmx_unlock(&master).unwrap();
        let slave: OwnedFd = io::ptmx_open_peer(&master, flags).unwrap();
        let cooked = terminal_attributes(&slave).unwrap();
        assert!(cooked.echoes() && cooked.signals_from_keys());
        assert_eq!(cooked.cc[VINTR], 3, "Ctrl-C");
        let raw = cooked.raw();
        set_terminal_attributes(&slave, SetWhen::Now, &raw).unwrap();
        let now = terminal_attributes(&slave).unwrap();
        assert_eq!(now, raw);
        assert!(!now.echoes() && !now.signals_from_keys());
        // Raw: no output translation (cooked turns \n into \r\n).
        io::write(&slave, b"a\n").unwrap();
        let mut buf = [0u8; 8];
        let n = io::read(&master, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"a\n");
        set_terminal_attributes(&slave, SetWhen::Drain, &cooked).unwrap();
        assert_eq!(terminal_attributes(&slave).unwrap(), cooked);
        let (r, _w) = io::pipe2(io::PipeFlags::CLOEXEC).unwrap();
        assert_eq!(terminal_attributes(&r), Err(Errno::ENOTTY));
    }
}
