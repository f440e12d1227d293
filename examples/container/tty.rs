//! `-t` / `-it`: the relay between the user's terminal and a container's pseudo-terminal
//! (isolate gives the container's process a pty of the container's own `/dev/pts`, in a
//! session of its own with the pty as its controlling terminal, so job control works
//! inside).
//!
//! While the relay runs, the user's terminal (when stdin is one) is in raw mode: every key,
//! Ctrl-C and Ctrl-Z included, goes to the container's line discipline as a byte, which
//! signals the container's foreground process group only. [`RawMode`] restores the saved
//! attributes on every way out: return, error, and the signals that end `container`
//! (SIGTERM, SIGHUP, SIGINT, SIGQUIT are blocked and read from a signalfd, forwarded to the
//! container's process, and the relay goes on until it exits). SIGWINCH copies the user's
//! window size to the container's pty, whose foreground process group then gets SIGWINCH.

use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags, SignalfdFlags};
use rawsys::fd::stdio::{STDIN, STDOUT};
use rawsys::io::{self, SetWhen, Termios};
use rawsys::signal::{self, SigSet, SigmaskHow, Signal};
use rawsys::{Errno, OwnedFd};

/// The user's terminal in raw mode until dropped.
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode; `None` when stdin is no terminal.
    pub(crate) fn enter() -> Option<RawMode> {
        let saved = io::terminal_attributes(STDIN).ok()?;
        io::set_terminal_attributes(STDIN, SetWhen::Drain, &saved.raw()).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = io::set_terminal_attributes(STDIN, SetWhen::Drain, &self.saved);
    }
}

/// Whether stdin is a terminal.
pub(crate) fn stdin_is_terminal() -> bool {
    io::terminal_attributes(STDIN).is_ok()
}

/// Copies the user's window size (if stdin is a terminal) to the pty `master`.
pub(crate) fn copy_window_size(master: &OwnedFd) {
    if let Ok(ws) = io::window_size(STDIN) {
        let _ = io::set_window_size(master, &ws);
    }
}

/// The signals the relay takes over while it runs.
const SIGNALS: [Signal; 5] = [
    Signal::SIGWINCH,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
];

fn write_all(fd: impl rawsys::AsFd + Copy, mut b: &[u8]) -> Result<(), Errno> {
    while !b.is_empty() {
        match io::write(fd, b) {
            Ok(n) => b = &b[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Relays between the user's stdin/stdout and the pty `master` until the process behind
/// `pidfd` has exited and its output is drained. `input`: copy stdin to the container (`-i`).
/// `forward` sends a signal that would end `container` to the container's process.
pub(crate) fn relay(
    master: &OwnedFd,
    pidfd: &OwnedFd,
    input: bool,
    forward: &dyn Fn(Signal),
) -> Result<(), String> {
    let set = SigSet::from_signals(&SIGNALS);
    let old = signal::rt_sigprocmask(SigmaskHow::Block, Some(&set))
        .map_err(|e| format!("block signals: {e}"))?;
    let raw = if input { RawMode::enter() } else { None };
    copy_window_size(master);
    let r = relay_loop(master, pidfd, input, forward, &set);
    drop(raw);
    let _ = signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&old));
    r
}

fn relay_loop(
    master: &OwnedFd,
    pidfd: &OwnedFd,
    input: bool,
    forward: &dyn Fn(Signal),
    set: &SigSet,
) -> Result<(), String> {
    let e = |what: &'static str| move |err: Errno| format!("terminal relay: {what}: {err}");
    let sfd = epoll::signalfd4(set, SignalfdFlags::CLOEXEC | SignalfdFlags::NONBLOCK)
        .map_err(e("signalfd"))?;
    let ep = epoll::epoll_create1(EpollCreateFlags::CLOEXEC).map_err(e("epoll"))?;
    const MASTER: u64 = 0;
    const STDIN_T: u64 = 1;
    const SIG: u64 = 2;
    const EXIT: u64 = 3;
    epoll::epoll_ctl_add(&ep, master, EpollEvent::new(EpollFlags::IN, MASTER))
        .map_err(e("epoll master"))?;
    epoll::epoll_ctl_add(&ep, &sfd, EpollEvent::new(EpollFlags::IN, SIG))
        .map_err(e("epoll signalfd"))?;
    epoll::epoll_ctl_add(&ep, pidfd, EpollEvent::new(EpollFlags::IN, EXIT))
        .map_err(e("epoll pidfd"))?;
    let mut reading_stdin =
        input && epoll::epoll_ctl_add(&ep, STDIN, EpollEvent::new(EpollFlags::IN, STDIN_T)).is_ok();
    let mut buf = vec![0u8; 16 << 10];
    let mut events = [EpollEvent::default(); 4];
    let mut exited = false;
    loop {
        let n = match epoll::epoll_pwait(&ep, &mut events, if exited { 0 } else { -1 }, None) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(e("epoll_pwait")(err)),
        };
        if n == 0 && exited {
            // Exited and nothing more to read.
            return Ok(());
        }
        for ev in &events[..n] {
            match ev.token() {
                MASTER => match io::read(master, &mut buf) {
                    Ok(0) | Err(Errno::EIO) => return Ok(()),
                    Ok(k) => write_all(STDOUT, &buf[..k]).map_err(e("write stdout"))?,
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(err) => return Err(e("read the pty")(err)),
                },
                STDIN_T => match io::read(STDIN, &mut buf) {
                    Ok(0) | Err(_) => {
                        // End of input: as a terminal's Ctrl-D at the start of a line.
                        let _ = epoll::epoll_ctl_delete(&ep, STDIN);
                        reading_stdin = false;
                        let eof = io::terminal_attributes(master).map_or(4, |t| t.cc[4]);
                        let _ = write_all(master, &[eof]);
                    }
                    Ok(k) => write_all(master, &buf[..k]).map_err(e("write the pty"))?,
                },
                SIG => {
                    let mut infos = [epoll::SignalfdSiginfo::default(); 8];
                    while let Ok(k) = epoll::signalfd_read(&sfd, &mut infos) {
                        for i in &infos[..k] {
                            match i.signal() {
                                Some(Signal::SIGWINCH) => copy_window_size(master),
                                Some(s) => forward(s),
                                None => {}
                            }
                        }
                    }
                }
                _ => {
                    // The process has exited: drain what its pty still holds, then stop.
                    exited = true;
                    let _ = epoll::epoll_ctl_delete(&ep, pidfd);
                }
            }
        }
        let _ = reading_stdin;
    }
}
