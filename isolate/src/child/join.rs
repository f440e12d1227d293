//! Steps of a process joining a running container ([`crate::lifecycle::ExecProcess`]) and
//! the terminal step it shares with a new container: closing the caller's descriptors,
//! forking into the joined PID namespace, and a pseudo-terminal from the container's own
//! `/dev/pts`.

use rawsys::fs::{self, CWD, Mode, OFlags, ResolveFlags};
use rawsys::io::{self, CloseRangeFlags, DupFlags};
use rawsys::net::{self, IoSlice, MsgHdr, SendFlags};
use rawsys::process::{self, CloneFlags, Fork};
use rawsys::signal::Signal;
use rawsys::{Errno, OwnedFd, RawFd};

use super::ChildState;
use super::helpers::{PATH_FLAGS, StepResult, SubStep, at, borrowed, close};

/// Closes every descriptor but `keep` (sorted ascending, no duplicates).
pub(super) fn close_all_but(keep: &[RawFd]) -> StepResult {
    let mut lo: u32 = 0;
    for &fd in keep {
        let fd = fd as u32;
        if fd > lo {
            // SAFETY: the caller's descriptors are copies in this process that nothing here
            // uses: every descriptor a later step needs is in `keep`.
            unsafe { io::close_range(lo, fd - 1, CloseRangeFlags::empty()) }
                .map_err(at(SubStep::Call))?;
        }
        lo = fd + 1;
    }
    // SAFETY: as above.
    unsafe { io::close_range(lo, u32::MAX, CloseRangeFlags::empty()) }.map_err(at(SubStep::Call))
}

/// Forks with `CLONE_PARENT`: the new process, in the PID namespace `setns` chose for this
/// one's children, is the caller's child. This process reports its pid on `pid_pipe` and
/// exits; the new one closes `close` (the joining descriptors: pidfd, cgroup files) and
/// returns to go on with the steps.
pub(super) fn fork_joined(pid_pipe: RawFd, close_fds: &[RawFd]) -> StepResult {
    // SAFETY: both sides follow the child's rules: raw system calls only, ending in
    // execve or exit_group.
    match unsafe { process::fork_with(CloneFlags::PARENT, Some(Signal::SIGCHLD)) } {
        Err(e) => Err((SubStep::Fork, e)),
        Ok(Fork::Child) => {
            for &fd in close_fds.iter().chain([&pid_pipe]) {
                // SAFETY: these descriptors are this process's copies, not used after this.
                close(unsafe { OwnedFd::from_raw(fd) });
            }
            Ok(())
        }
        Ok(Fork::Parent(pid)) => {
            // Four bytes into an empty pipe are not short; a caller that is gone reads
            // nothing, and the new process then reports to nobody either.
            let _ = io::write(borrowed(pid_pipe), &pid.to_ne_bytes());
            process::exit_group(0)
        }
    }
}

/// The name sent with the master, as runc sends it over a console socket.
const MASTER_NAME: &[u8] = b"/dev/ptmx";

/// A new session and a new pseudo-terminal: the master is opened as `/dev/pts/ptmx` below
/// the process's root (the container's, resolved inside it) and checked to be a pty master,
/// the slave is opened from it (`TIOCGPTPEER`, no path), becomes the controlling terminal
/// and descriptors 0, 1 and 2 (and with `console` is bound onto `/dev/console`, see
/// [`ChildState::bind_console`]); the master is sent over `socket` and closed here.
pub(super) fn terminal(state: &ChildState<'_>, socket: RawFd, console: bool) -> StepResult {
    process::setsid().map_err(at(SubStep::NewSession))?;
    let root = fs::openat(CWD, c"/", PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
        .map_err(at(SubStep::Open))?;
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    let master = fs::openat2(
        &root,
        c"/dev/pts/ptmx",
        flags,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(at(SubStep::Open));
    close(root);
    let master = master?;
    let r = (|| {
        let st = fs::fstat(&master).map_err(at(SubStep::Verify))?;
        if st.file_type() != 0o020000 || st.st_rdev != fs::makedev(5, 2) {
            return Err((SubStep::Verify, Errno::ENOTTY));
        }
        io::ptmx_unlock(&master).map_err(at(SubStep::Unlock))?;
        let slave = io::ptmx_open_peer(&master, flags).map_err(at(SubStep::OpenPeer))?;
        let r = io::set_controlling_terminal(&slave)
            .map_err(at(SubStep::ControllingTerminal))
            .and_then(|()| {
                for n in 0..3 {
                    let f =
                        io::dup3(&slave, n, DupFlags::empty()).map_err(at(SubStep::DupStdio))?;
                    // Descriptors 0-2 stay open for the command.
                    let _ = f.into_raw();
                }
                Ok(())
            })
            .and_then(|()| {
                if console {
                    state
                        .bind_console(slave.as_raw())
                        .map_err(at(SubStep::Mount))?;
                }
                Ok(())
            });
        close(slave);
        r?;
        send_fd(socket, master.as_raw()).map_err(at(SubStep::SendFd))
    })();
    close(master);
    r
}

/// Sends descriptor `fd` over `socket` with [`MASTER_NAME`] as the message.
fn send_fd(socket: RawFd, fd: RawFd) -> Result<(), Errno> {
    let mut control = [0u8; net::cmsg_space(4)];
    let n = net::encode_scm_rights(&mut control, &[borrowed(fd)])?;
    let iov = [IoSlice::new(MASTER_NAME)];
    let msg = MsgHdr::new(&iov).with_control(&control[..n]);
    let sent = net::sendmsg(borrowed(socket), &msg, SendFlags::NOSIGNAL)?;
    if sent != MASTER_NAME.len() {
        return Err(Errno::EMSGSIZE);
    }
    Ok(())
}
