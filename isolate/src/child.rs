//! The child side: after `clone`, walk the prepared [`Plan`] issuing raw system calls only.
//!
//! Nothing here allocates, takes a lock or can panic: the child is a copy of a possibly
//! multi-threaded parent whose other threads' locks are frozen in whatever state they were.
//! A failure is written to the error pipe as `(step index, sub-step, errno)` and the child
//! exits; a successful `execve` closes the pipe (it is close-on-exec), which the parent reads
//! as "started".

use rawsys::fs::{self, Mode, OFlags};
use rawsys::io::{self, FdFlags};
use rawsys::ns::{self, MountFlags, UnmountFlags};
use rawsys::process::{
    self, CapSet, Capabilities, Capability, CloneFlags, Fork, WaitOptions, WaitStatus,
};
use rawsys::signal::{self, Disposition, SigSet, SigmaskHow, Signal};
use rawsys::{BorrowedFd, Errno, OwnedFd, RawFd};

use crate::plan::{Op, Plan};
use crate::security::ops::{ChildState, chdir_in_root};

/// The size of one error record: index, sub-step, errno (native-endian `u32`, `u32`, `i32`).
pub(crate) const REPORT_LEN: usize = 12;

/// Sub-step number for an `execve` failure under init that happened in the forked command.
const SUB_FORK: u32 = 1;

fn fd(raw: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the descriptors named in the plan stay open in the child until it execs or
    // exits (the parent keeps them open while cloning and the child never closes them
    // except where noted).
    unsafe { BorrowedFd::borrow_raw(raw) }
}

fn fail(err_fd: RawFd, index: u32, sub: u32, errno: Errno) -> ! {
    let mut rec = [0u8; REPORT_LEN];
    rec[0..4].copy_from_slice(&index.to_ne_bytes());
    rec[4..8].copy_from_slice(&sub.to_ne_bytes());
    rec[8..12].copy_from_slice(&errno.raw().to_ne_bytes());
    // 12 bytes into an empty pipe cannot be short; if the parent is gone there is nobody to
    // tell.
    let _ = io::write(fd(err_fd), &rec);
    process::exit_group(127)
}

/// Runs the plan and execs the command; never returns.
pub(crate) fn run(plan: &Plan, err_fd: RawFd, status_fd: RawFd) -> ! {
    // The state can move the pipes (out of the way of passed descriptors).
    let mut st = ChildState::new(err_fd, status_fd);
    for (i, op) in plan.ops.iter().enumerate() {
        if let Err((sub, e)) = run_op(op, &mut st) {
            fail(st.err_fd, i as u32, sub, e);
        }
    }
    if plan.exec.init {
        init(plan, st.err_fd, st.status_fd)
    } else {
        exec(plan, st.err_fd)
    }
}

type OpResult = Result<(), (u32, Errno)>;

fn at(sub: u32) -> impl Fn(Errno) -> (u32, Errno) {
    move |e| (sub, e)
}

fn close(f: OwnedFd) {
    let _ = f.close();
}

fn run_op<'a>(op: &'a Op, st: &mut ChildState<'a>) -> OpResult {
    match op {
        Op::ParentDeathSignal => process::set_pdeathsig(Some(Signal::SIGKILL)).map_err(at(0)),
        Op::JoinCgroup { fd: f, .. } => io::write(fd(*f), b"0").map(drop).map_err(at(0)),
        Op::UnshareCgroupNs => ns::unshare(CloneFlags::NEWCGROUP).map_err(at(0)),
        Op::MakePrivate => ns::mount(
            None,
            c"/",
            None,
            MountFlags::REC | MountFlags::PRIVATE,
            None,
        )
        .map_err(at(0)),
        Op::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => st
            .mount(
                source.as_deref(),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            )
            .map_err(at(0)),
        Op::Mkdir { path, mode } => {
            match st.at(path, |d, n| {
                fs::mkdirat(d, n, Mode::from_bits_retain(*mode))
            }) {
                Ok(()) | Err(Errno::EEXIST) => Ok(()),
                Err(e) => Err((0, e)),
            }
        }
        Op::CreateFile { path } => {
            let f = st
                .at(path, |d, n| {
                    fs::openat(
                        d,
                        n,
                        OFlags::RDONLY | OFlags::CREAT | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::from_bits_retain(0o644),
                    )
                })
                .map_err(at(0))?;
            close(f);
            Ok(())
        }
        Op::ChmodDir { path, mode } => {
            let f = st
                .at(path, |d, n| {
                    fs::openat(
                        d,
                        n,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                })
                .map_err(at(0))?;
            let r = fs::fchmod(&f, Mode::from_bits_retain(*mode)).map_err(at(1));
            close(f);
            r
        }
        Op::Symlink { target, link } => match st.at(link, |d, n| fs::symlinkat(target, d, n)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err((0, e)),
        },
        Op::WriteFile { path, contents } => {
            let f = st
                .at(path, |d, n| {
                    fs::openat(
                        d,
                        n,
                        OFlags::WRONLY
                            | OFlags::CREAT
                            | OFlags::TRUNC
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_bits_retain(0o644),
                    )
                })
                .map_err(at(0))?;
            let mut off = 0;
            let mut r = Ok(());
            while off < contents.len() {
                match io::write(&f, contents.get(off..).unwrap_or(&[])) {
                    Ok(0) => {
                        r = Err((1, Errno::EIO));
                        break;
                    }
                    Ok(n) => off += n,
                    Err(Errno::EINTR) => {}
                    Err(e) => {
                        r = Err((1, e));
                        break;
                    }
                }
            }
            close(f);
            r
        }
        Op::PivotRoot { root } => {
            st.leave_root();
            ns::chdir(root).map_err(at(0))?;
            // pivot_root(".", ".") stacks the old root on top of the new one at the same
            // place; detaching "." then removes the old root, no put_old directory needed.
            ns::pivot_root(c".", c".").map_err(at(1))?;
            ns::umount2(c".", UnmountFlags::DETACH).map_err(at(2))?;
            ns::chdir(c"/").map_err(at(3))
        }
        Op::SetHostname { name } => ns::sethostname(name).map_err(at(0)),
        Op::Dup { from, to } => {
            if from == to {
                io::fcntl_setfd(fd(*from), FdFlags::empty()).map_err(at(0))
            } else {
                // The new descriptor must stay open for the command: do not let it drop.
                io::dup3(fd(*from), *to, io::DupFlags::empty())
                    .map(|f| {
                        let _ = f.into_raw();
                    })
                    .map_err(at(0))
            }
        }
        Op::DropBoundingSet { keep } => {
            for n in 0..64u32 {
                if keep & (1u64 << n) != 0 {
                    continue;
                }
                let Some(cap) = Capability::from_raw(n) else {
                    break;
                };
                match process::capbset_drop(cap) {
                    Ok(()) => {}
                    // Past the running kernel's last capability.
                    Err(Errno::EINVAL) => break,
                    Err(e) => return Err((n, e)),
                }
            }
            Ok(())
        }
        Op::SetGroups { .. } => process::setgroups(&[]).map_err(at(0)),
        Op::SetGid { gid } => process::setresgid(*gid, *gid, *gid).map_err(at(0)),
        Op::SetUid { uid } => process::setresuid(*uid, *uid, *uid).map_err(at(0)),
        Op::SetCapabilities { keep } => {
            match process::ambient_clear_all() {
                Ok(()) | Err(Errno::EINVAL) => {}
                Err(e) => return Err((0, e)),
            }
            let cur = process::capget(0).map_err(at(1))?;
            let set = CapSet::from_bits(cur.permitted.bits() & keep);
            process::capset(&Capabilities {
                effective: set,
                permitted: set,
                inheritable: CapSet::empty(),
            })
            .map_err(at(2))
        }
        Op::NoNewPrivs => process::set_no_new_privs().map_err(at(0)),
        // Resolved inside the new root without magic links (CVE-2024-21626).
        Op::Chdir { path } => chdir_in_root(path),
        Op::Security(s) => st.run(s),
        Op::ResetSignals => {
            for n in 1..=31 {
                let Some(sig) = Signal::from_raw(n) else {
                    continue;
                };
                if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
                    continue;
                }
                if let Ok(a) = signal::rt_sigaction(sig, None) {
                    if a.disposition() == Some(Disposition::Ignore) {
                        signal::rt_sigaction(sig, Some(Disposition::Default))
                            .map_err(at(n as u32))?;
                    }
                }
            }
            signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&SigSet::empty()))
                .map(drop)
                .map_err(at(0))
        }
        Op::LoopbackUp => loopback_up(),
        Op::WaitParent { fd: f } => {
            let mut b = [0u8; 1];
            loop {
                match io::read(fd(*f), &mut b) {
                    Ok(1) => return Ok(()),
                    Ok(_) => return Err((0, Errno::ECANCELED)),
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err((0, e)),
                }
            }
        }
    }
}

/// Sets `lo` (index 1 in every network namespace) up: one `RTM_NEWLINK` over a netlink
/// socket, built on the stack, and its ACK.
fn loopback_up() -> OpResult {
    use rawsys::net::{self, RecvFlags, SendFlags, SocketAddrNl};
    use rawsys::netlink::{IFF_UP, IfInfoMsg, MsgBuilder, NlMsgIter, NlmFlags, RTM_NEWLINK};
    let sock = rawsys::netlink::route_socket().map_err(at(0))?;
    let mut buf = [0u8; 64];
    let r = (|| {
        let mut b = MsgBuilder::new(&mut buf, RTM_NEWLINK, NlmFlags::REQUEST | NlmFlags::ACK, 1)
            .map_err(at(1))?;
        b.push_struct(&IfInfoMsg {
            ifi_index: 1,
            ifi_flags: IFF_UP,
            ifi_change: IFF_UP,
            ..Default::default()
        })
        .map_err(at(1))?;
        let msg = b.finish();
        net::sendto(&sock, msg, SendFlags::empty(), &SocketAddrNl::new(0, 0)).map_err(at(2))?;
        let mut rbuf = [0u8; 256];
        let n = net::recv(&sock, &mut rbuf, RecvFlags::empty()).map_err(at(3))?;
        for m in NlMsgIter::new(rbuf.get(..n).unwrap_or(&[])) {
            let m = m.map_err(at(3))?;
            if let Some(res) = m.error() {
                return res.map_err(at(4));
            }
        }
        Err((3, Errno::EBADMSG))
    })();
    close(sock);
    r
}

/// Tries each candidate path like `execvp`: a missing file moves on, anything else is the
/// answer (`EACCES` is remembered but the search goes on, as the shells do).
fn exec(plan: &Plan, err_fd: RawFd) -> ! {
    let x = &plan.exec;
    let mut err = Errno::ENOENT;
    for cand in &x.candidates {
        match process::execve(cand, &x.argv, &x.envp) {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => err = Errno::EACCES,
            e => {
                err = e;
                break;
            }
        }
    }
    fail(err_fd, plan.ops.len() as u32, 0, err)
}

fn encode(st: WaitStatus) -> (i32, i32) {
    match st {
        WaitStatus::Exited(c) => ((c & 0xff) << 8, c & 0xff),
        WaitStatus::Signaled {
            signal,
            core_dumped,
        } => (
            signal.raw() | if core_dumped { 0x80 } else { 0 },
            128 + signal.raw(),
        ),
        WaitStatus::Stopped(_) | WaitStatus::Continued | WaitStatus::Unrecognized(_) => (0, 0),
    }
}

/// The minimal init: forks the command, then reaps every child and forwards every signal it
/// receives to the command; when the command ends it reports the command's raw wait status
/// on `status_fd` and exits (the kernel then kills whatever is left in the PID namespace).
fn init(plan: &Plan, err_fd: RawFd, status_fd: RawFd) -> ! {
    let all = SigSet::full();
    if let Err(e) = signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&all)) {
        fail(err_fd, plan.ops.len() as u32, SUB_FORK, e);
    }
    // SAFETY: the grandchild follows the same rules as this child: raw system calls only,
    // ending in execve or exit_group.
    let main = match unsafe { process::fork_with(CloneFlags::empty(), Some(Signal::SIGCHLD)) } {
        Err(e) => fail(err_fd, plan.ops.len() as u32, SUB_FORK, e),
        Ok(Fork::Child) => {
            let _ = process::set_pdeathsig(Some(Signal::SIGKILL));
            if let Err(e) = signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&SigSet::empty())) {
                fail(err_fd, plan.ops.len() as u32, 0, e);
            }
            exec(plan, err_fd)
        }
        Ok(Fork::Parent(pid)) => pid,
    };
    // The error pipe now belongs to the command: our copy must close for the parent to see
    // the exec succeed.
    // SAFETY: err_fd is this process's copy, used by nothing else here from now on.
    close(unsafe { OwnedFd::from_raw(err_fd) });
    loop {
        let Ok(sig) = signal::rt_sigtimedwait(&all, None) else {
            continue;
        };
        if sig != Signal::SIGCHLD {
            let _ = process::kill_process(main, sig);
            continue;
        }
        loop {
            match process::wait4(-1, WaitOptions::NOHANG) {
                Ok(Some((pid, st))) if pid == main => {
                    let (raw, code) = encode(st);
                    let _ = io::write(fd(status_fd), &raw.to_ne_bytes());
                    process::exit_group(code);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(Errno::ECHILD) => break,
                Err(_) => break,
            }
        }
    }
}
