//! `--console-socket`: the caller (conmon, containerd's shim) listens on a unix socket; the
//! runtime connects and sends the terminal's pty master with `SCM_RIGHTS`, the message's
//! bytes being a name, as runc sends it (`utils.SendFile`). Also the create path with a
//! terminal.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use isolate::{Container, ContainerState, StateRoot};
use rawsys::net::{
    self, AddressFamily, IoSlice, MsgHdr, Protocol, SendFlags, SocketAddrUnix, SocketFlags,
    SocketType,
};
use rawsys::{AsFd, OwnedFd};

use crate::create::Failure;
use crate::state::describe;

/// The name sent with the master (runc sends the master's name).
const NAME: &[u8] = b"/dev/ptmx";

/// Connects to `socket` and sends `master` over it.
pub(crate) fn send_master(socket: &Path, master: &OwnedFd) -> Result<(), Failure> {
    let e = |what: &str| {
        let what = format!("--console-socket {}: {what}", socket.display());
        move |err: rawsys::Errno| format!("{what}: {err}")
    };
    let path = CString::new(socket.as_os_str().as_bytes())
        .map_err(|_| format!("--console-socket {}: NUL in path", socket.display()))?;
    let addr = SocketAddrUnix::new(&path).map_err(e("address"))?;
    let sock = net::socket(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        Protocol::DEFAULT,
    )
    .map_err(e("socket"))?;
    net::connect(&sock, &addr).map_err(e("connect"))?;
    let mut control = [0u8; net::cmsg_space(4)];
    let n = net::encode_scm_rights(&mut control, &[master.as_fd()]).map_err(e("encode"))?;
    let iov = [IoSlice::new(NAME)];
    let msg = MsgHdr::new(&iov).with_control(&control[..n]);
    net::sendmsg(&sock, &msg, SendFlags::NOSIGNAL).map_err(e("sendmsg"))?;
    Ok(())
}

/// `create` of `c`: with a terminal (process.terminal) the master goes to `console_socket`,
/// which is then required; without one a console socket is refused, as runc does. On a
/// failure to send, the container is deleted.
pub(crate) fn create(
    root: &StateRoot,
    c: &Container,
    id: &str,
    annotations: &[(&str, &str)],
    terminal: bool,
    console_socket: Option<&Path>,
) -> Result<ContainerState, Failure> {
    match (terminal, console_socket) {
        (false, None) => root.create(c, id, annotations).map_err(|e| describe(&e)),
        (false, Some(_)) => Err("--console-socket without process.terminal".into()),
        (true, None) => Err("process.terminal needs --console-socket".into()),
        (true, Some(sock)) => {
            let (st, master) = root
                .create_with_terminal(c, id, annotations)
                .map_err(|e| describe(&e))?;
            if let Err(e) = send_master(sock, &master) {
                let _ = root.delete(id, true);
                let _ = rawsys::process::waitid(
                    rawsys::process::WaitId::Pid(st.pid),
                    rawsys::process::WaitOptions::EXITED,
                );
                return Err(e);
            }
            Ok(st)
        }
    }
}
