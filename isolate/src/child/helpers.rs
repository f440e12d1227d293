//! What every child step shares: the sub-step enum naming the system call that failed, the
//! failure record sent to the parent, borrowed descriptors and `/proc/self/fd/N` paths.
//!
//! Everything here runs after `clone` (except [`Report::decode`], which the parent calls):
//! no allocation, no locks, no panics.

use core::ffi::CStr;

use rawsys::fs::{self, CWD, Mode, OFlags, ResolveFlags};
use rawsys::io;
use rawsys::{BorrowedFd, Errno, OwnedFd, RawFd};

/// Which system call of a setup step failed. Steps of one call report [`SubStep::Call`]; the
/// others name the call, so the parent can say exactly what went wrong (see
/// [`crate::plan::Op::describe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubStep {
    /// The step's one system call (or the one that counts).
    Call,
    /// Opening the file or directory the step works on (with the checks on what was opened).
    Open,
    /// Writing the opened file's contents.
    Write,
    /// `fchmod` of the opened directory.
    Chmod,
    /// `fchdir` into the opened directory.
    Fchdir,
    /// `chdir` into the new root before `pivot_root`.
    EnterRoot,
    /// `pivot_root(".", ".")`.
    PivotRoot,
    /// Detaching the old root stacked on the new one.
    DetachOldRoot,
    /// `chdir("/")` in the new root.
    EnterNewRoot,
    /// Dropping capability number `.0` from the bounding set.
    DropBounding(u8),
    /// Clearing the ambient capabilities.
    ClearAmbient,
    /// `capget(2)`.
    ReadCapabilities,
    /// `capset(2)`.
    SetCapabilities,
    /// Resetting the disposition of signal number `.0`.
    SignalDisposition(u8),
    /// Emptying the signal mask.
    SignalMask,
    /// Opening a netlink socket.
    Socket,
    /// Building a netlink message.
    BuildMessage,
    /// Sending a netlink message.
    Send,
    /// Receiving (and parsing) the kernel's answer.
    Receive,
    /// The kernel's answer was an error.
    Answer,
    /// Waiting for a byte from the parent.
    WaitForParent,
    /// `setgroups(2)`.
    SetGroups,
    /// `setresgid(2)`.
    SetGid,
    /// `setresuid(2)`.
    SetUid,
    /// Checking that what was opened is what it must be.
    Verify,
    /// The `mount(2)` of the step.
    Mount,
    /// Binding a path onto itself.
    BindOntoItself,
    /// Opening a path again (to reach the mount just made on it).
    Reopen,
    /// Remounting with new flags.
    Remount,
    /// Moving the child's own pipes above the passed descriptors.
    MovePipes,
    /// Placing passed descriptor number `.0` (counted from 0, placed at `3 + .0`).
    PassFd(u8),
    /// Forking the command under the minimal init.
    Fork,
    /// `execve(2)` of the command.
    Exec,
    /// Raising ambient capability number `.0`.
    RaiseAmbient(u8),
    /// `setsid(2)`.
    NewSession,
    /// Unlocking a pty master.
    Unlock,
    /// Opening a pty master's slave.
    OpenPeer,
    /// Taking a terminal as the controlling one.
    ControllingTerminal,
    /// Placing a descriptor at 0, 1 and 2.
    DupStdio,
    /// Sending a descriptor over a socket.
    SendFd,
}

impl SubStep {
    /// The sub-step as a number for the error pipe: a tag and its argument.
    fn encode(self) -> (u32, u32) {
        use SubStep as S;
        match self {
            S::Call => (0, 0),
            S::Open => (1, 0),
            S::Write => (2, 0),
            S::Chmod => (3, 0),
            S::Fchdir => (4, 0),
            S::EnterRoot => (5, 0),
            S::PivotRoot => (6, 0),
            S::DetachOldRoot => (7, 0),
            S::EnterNewRoot => (8, 0),
            S::DropBounding(n) => (9, n.into()),
            S::ClearAmbient => (10, 0),
            S::ReadCapabilities => (11, 0),
            S::SetCapabilities => (12, 0),
            S::SignalDisposition(n) => (13, n.into()),
            S::SignalMask => (14, 0),
            S::Socket => (15, 0),
            S::BuildMessage => (16, 0),
            S::Send => (17, 0),
            S::Receive => (18, 0),
            S::Answer => (19, 0),
            S::WaitForParent => (20, 0),
            S::SetGroups => (21, 0),
            S::SetGid => (22, 0),
            S::SetUid => (23, 0),
            S::Verify => (24, 0),
            S::Mount => (25, 0),
            S::BindOntoItself => (26, 0),
            S::Reopen => (27, 0),
            S::Remount => (28, 0),
            S::MovePipes => (29, 0),
            S::PassFd(n) => (30, n.into()),
            S::Fork => (31, 0),
            S::Exec => (32, 0),
            S::RaiseAmbient(n) => (33, n.into()),
            S::NewSession => (34, 0),
            S::Unlock => (35, 0),
            S::OpenPeer => (36, 0),
            S::ControllingTerminal => (37, 0),
            S::DupStdio => (38, 0),
            S::SendFd => (39, 0),
        }
    }

    /// The inverse of [`SubStep::encode`]; `None` for a tag no child sends.
    fn decode(tag: u32, arg: u32) -> Option<SubStep> {
        use SubStep as S;
        let arg = u8::try_from(arg).ok()?;
        Some(match tag {
            0 => S::Call,
            1 => S::Open,
            2 => S::Write,
            3 => S::Chmod,
            4 => S::Fchdir,
            5 => S::EnterRoot,
            6 => S::PivotRoot,
            7 => S::DetachOldRoot,
            8 => S::EnterNewRoot,
            9 => S::DropBounding(arg),
            10 => S::ClearAmbient,
            11 => S::ReadCapabilities,
            12 => S::SetCapabilities,
            13 => S::SignalDisposition(arg),
            14 => S::SignalMask,
            15 => S::Socket,
            16 => S::BuildMessage,
            17 => S::Send,
            18 => S::Receive,
            19 => S::Answer,
            20 => S::WaitForParent,
            21 => S::SetGroups,
            22 => S::SetGid,
            23 => S::SetUid,
            24 => S::Verify,
            25 => S::Mount,
            26 => S::BindOntoItself,
            27 => S::Reopen,
            28 => S::Remount,
            29 => S::MovePipes,
            30 => S::PassFd(arg),
            31 => S::Fork,
            32 => S::Exec,
            33 => S::RaiseAmbient(arg),
            34 => S::NewSession,
            35 => S::Unlock,
            36 => S::OpenPeer,
            37 => S::ControllingTerminal,
            38 => S::DupStdio,
            39 => S::SendFd,
            _ => return None,
        })
    }
}

/// A failed sub-step and the kernel's answer.
pub(crate) type Failure = (SubStep, Errno);

/// The outcome of one setup step.
pub(crate) type StepResult = Result<(), Failure>;

/// Tags an errno with the sub-step it came from: `.map_err(at(SubStep::Write))`.
pub(crate) fn at(sub: SubStep) -> impl Fn(Errno) -> Failure {
    move |e| (sub, e)
}

/// A child failure as it travels over the error pipe: the failing step's index in the plan
/// (`ops.len()` for the command's `execve`), the sub-step and the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// Index of the step in [`crate::plan::Plan::ops`].
    pub(crate) index: u32,
    /// Which call of the step failed.
    pub(crate) sub: SubStep,
    /// The kernel's answer.
    pub(crate) errno: Errno,
}

impl Report {
    /// The size of one record: index, sub-step tag, its argument, errno (native-endian
    /// 32-bit words).
    pub(crate) const LEN: usize = 16;

    /// The record's bytes.
    pub(crate) fn encode(&self) -> [u8; Report::LEN] {
        let (tag, arg) = self.sub.encode();
        let mut rec = [0u8; Report::LEN];
        rec[0..4].copy_from_slice(&self.index.to_ne_bytes());
        rec[4..8].copy_from_slice(&tag.to_ne_bytes());
        rec[8..12].copy_from_slice(&arg.to_ne_bytes());
        rec[12..16].copy_from_slice(&self.errno.raw().to_ne_bytes());
        rec
    }

    /// Reads a record written by [`Report::encode`]; `None` if it is not one.
    pub(crate) fn decode(rec: &[u8; Report::LEN]) -> Option<Report> {
        let word = |i: usize| u32::from_ne_bytes([rec[i], rec[i + 1], rec[i + 2], rec[i + 3]]);
        Some(Report {
            index: word(0),
            sub: SubStep::decode(word(4), word(8))?,
            errno: Errno::from_raw(word(12) as i32),
        })
    }
}

/// Sends the report on `err_fd` and exits with 127.
pub(crate) fn fail(err_fd: RawFd, index: u32, (sub, errno): Failure) -> ! {
    let rec = Report { index, sub, errno }.encode();
    // 16 bytes into an empty pipe cannot be short; if the parent is gone there is nobody to
    // tell.
    let _ = io::write(borrowed(err_fd), &rec);
    rawsys::process::exit_group(127)
}

/// Borrows a descriptor the child holds.
pub(crate) fn borrowed(raw: RawFd) -> BorrowedFd<'static> {
    // SAFETY: every descriptor the child borrows (named in the plan, or kept in the child's
    // state) stays open until `execve` or exit: the parent keeps the plan's open while
    // cloning, and the child closes none of them while it is borrowed.
    unsafe { BorrowedFd::borrow_raw(raw) }
}

/// Closes a descriptor, ignoring the answer (nothing useful can be done about it here).
pub(crate) fn close(f: OwnedFd) {
    let _ = f.close();
}

/// `O_PATH | O_CLOEXEC`: how the child opens what it only names to other calls.
pub(crate) const PATH_FLAGS: OFlags = OFlags::PATH.union(OFlags::CLOEXEC);

/// The decimal digits of `fd` as a C string in `buf` (a descriptor's name in a `fd`
/// directory of procfs).
pub(crate) fn fd_name(fd: RawFd, buf: &mut [u8; 12]) -> &CStr {
    let mut digits = [0u8; 11];
    let mut n = fd.unsigned_abs();
    let mut k = 0;
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 || k == digits.len() {
            break;
        }
    }
    let mut i = 0;
    while k > 0 {
        k -= 1;
        buf[i] = digits[k];
        i += 1;
    }
    buf[i] = 0;
    CStr::from_bytes_with_nul(&buf[..=i]).unwrap_or(c"-1")
}

/// `/proc/self/fd/N` as a C string in `buf`.
pub(crate) fn fd_path(fd: RawFd, buf: &mut [u8; 32]) -> &CStr {
    let prefix = b"/proc/self/fd/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut nb = [0u8; 12];
    let name = fd_name(fd, &mut nb).to_bytes_with_nul();
    let end = prefix.len() + name.len();
    buf[prefix.len()..end].copy_from_slice(name);
    CStr::from_bytes_with_nul(&buf[..end]).unwrap_or(c"/proc/self/fd/-1")
}

/// Opens a container path as `O_PATH` refusing every symlink and magic link; `None` when it
/// does not exist.
pub(crate) fn open_nofollow(path: &CStr) -> Result<Option<OwnedFd>, Errno> {
    match fs::openat2(
        CWD,
        path,
        PATH_FLAGS | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(f) => Ok(Some(f)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_are_formatted_without_allocating() {
        let mut b = [0u8; 32];
        assert_eq!(fd_path(0, &mut b), c"/proc/self/fd/0");
        assert_eq!(fd_path(1234567, &mut b), c"/proc/self/fd/1234567");
        assert_eq!(fd_path(i32::MAX, &mut b), c"/proc/self/fd/2147483647");
        let mut b = [0u8; 12];
        assert_eq!(fd_name(0, &mut b), c"0");
        assert_eq!(fd_name(i32::MAX, &mut b), c"2147483647");
    }

    #[test]
    fn reports_round_trip_through_their_bytes() {
        for sub in [
            SubStep::Call,
            SubStep::DropBounding(40),
            SubStep::SignalDisposition(31),
            SubStep::PassFd(63),
            SubStep::Exec,
            SubStep::RaiseAmbient(40),
        ] {
            let r = Report {
                index: 7,
                sub,
                errno: Errno::EPERM,
            };
            assert_eq!(Report::decode(&r.encode()), Some(r));
        }
        let mut bad = Report {
            index: 0,
            sub: SubStep::Call,
            errno: Errno::EPERM,
        }
        .encode();
        bad[4] = 200;
        assert_eq!(Report::decode(&bad), None);
        // Every tag decodes to the sub-step that encodes to it.
        for tag in 0..=39 {
            let s = SubStep::decode(tag, 0).unwrap();
            assert_eq!(s.encode().0, tag);
        }
    }
}
