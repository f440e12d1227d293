//! The socket's output side: a batch of responses from the thread's write buffer to the
//! socket (or the connection's queue when the socket is full), a file with `sendfile`, and
//! the TCP options that shape how it goes out. (A TLS layer would encrypt here, between the
//! HTTP code's bytes and the socket.)

use rawsys::io;
use rawsys::net::{self, SendFlags};
use rawsys::{Errno, OwnedFd};
use reactor::http::Version;

use super::requests::BatchEnd;
use super::state::{Conn, Nagle};
use super::tls::{FileProgress, encrypt_batch, notify_close, send_file};
use crate::respond::simple_response;

/// A thread's write buffer is given back to the allocator down to this once it grew past
/// 1 MiB.
const WRITE_BUF_KEEP: usize = 64 * 1024;

/// How far [`flush`] got.
pub(super) enum Flushed {
    /// Everything queued went.
    All,
    /// The socket is full: wait for `EPOLLOUT`.
    Blocked,
    /// The connection failed.
    Failed,
}

/// Sends `buf` until done or the socket is full; returns the bytes sent. `more`: more
/// follows at once (`MSG_MORE`).
pub(super) fn send_all_or_block(fd: &OwnedFd, buf: &[u8], more: bool) -> Result<usize, Errno> {
    let flags = if more {
        SendFlags::NOSIGNAL | SendFlags::MORE
    } else {
        SendFlags::NOSIGNAL
    };
    let mut sent = 0;
    while sent < buf.len() {
        match net::send(fd, &buf[sent..], flags) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => break,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Answers a connection above the cap with 503 (best effort, never blocking); the caller
/// closes it.
pub(crate) fn refuse_busy(fd: &OwnedFd, date: &[u8; 29]) {
    let mut out = Vec::with_capacity(256);
    simple_response(&mut out, date, 503, false, Version::Http11, b"", false);
    let _ = net::send(fd, &out, SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
}

/// Moves the responses of one batch from the thread's write buffer `wbuf` to the socket
/// (or the connection's queue), and applies how the batch ended. `notsent_lowat`: the
/// `TCP_NOTSENT_LOWAT` a socket gets at its first file (`--notsent-lowat`; 0: none, the
/// default; measured: see the README, "Files paced by the connection").
pub(super) fn finish_batch(wbuf: &mut Vec<u8>, conn: &mut Conn, end: BatchEnd, notsent_lowat: u32) {
    if matches!(end, BatchEnd::Close) {
        conn.close_when_sent = true;
        conn.inbuf = Vec::new();
        conn.requests_waiting = false;
    }
    if let Some(tls) = conn.tls.as_deref_mut() {
        // What goes out is the batch's ciphertext (and the handshake's records, if any).
        let closing = conn.close_when_sent && conn.file.is_none();
        encrypt_batch(tls, wbuf, closing);
    }
    if conn.nagle != Nagle::Off && (conn.nagle == Nagle::OnAnswered || conn.file.is_some()) {
        let _ = net::set_tcp_nodelay(&conn.fd, true);
        conn.nagle = Nagle::Off;
    }
    if conn.nagle == Nagle::OnUnanswered && !wbuf.is_empty() {
        conn.nagle = Nagle::OnAnswered;
    }
    // A file goes out with sendfile: cork the socket until all of it is queued (uncorked in
    // `flush`), so no partial segment is pushed between the head and the file or within it,
    // as lighttpd does. Measured: see the README ("Corked file responses").
    if conn.file.is_some() && !conn.corked {
        conn.corked = net::set_tcp_cork(&conn.fd, true).is_ok();
    }
    // And at most `notsent_lowat` bytes of it wait in the socket unsent: `sendfile` hands the
    // file over as the connection takes it, instead of queueing up to the whole send buffer
    // that only the peer's acknowledgements push out.
    if conn.file.is_some() && !conn.paced {
        conn.paced = true;
        if notsent_lowat > 0 {
            let _ = net::set_tcp_notsent_lowat(&conn.fd, notsent_lowat);
        }
    }
    if wbuf.is_empty() {
        return;
    }
    if conn.out_pos < conn.out.len() {
        conn.out.extend_from_slice(wbuf);
    } else {
        // The last response of a connection that closes: hold its last segment back
        // (MSG_MORE) and shut the sending side down, so the FIN rides on that segment
        // instead of following in a packet of its own (see the README, "Fewer packets").
        let last = conn.close_when_sent && conn.file.is_none();
        match send_all_or_block(&conn.fd, wbuf, conn.file.is_some() || last) {
            Ok(n) if n == wbuf.len() => {
                if last {
                    let _ = net::shutdown(&conn.fd, net::Shutdown::Write);
                }
            }
            Ok(n) => {
                conn.out = wbuf[n..].to_vec();
                conn.out_pos = 0;
            }
            Err(_) => {
                wbuf.clear();
                conn.out = Vec::new();
                conn.out_pos = 0;
                conn.file = None;
                conn.close_when_sent = true;
                return;
            }
        }
    }
    wbuf.clear();
    if wbuf.capacity() > 1 << 20 {
        wbuf.shrink_to(WRITE_BUF_KEEP);
    }
}

/// Sends queued bytes, then the file region (over TLS read and encrypted in chunks, in
/// `scratch`). Returns how far it got, and whether anything went.
pub(super) fn flush(conn: &mut Conn, scratch: &mut Vec<u8>) -> (Flushed, bool) {
    let mut progressed = false;

    if conn.out_pos < conn.out.len() {
        match send_all_or_block(&conn.fd, &conn.out[conn.out_pos..], conn.file.is_some()) {
            Ok(n) => {
                progressed = n > 0;
                conn.out_pos += n;
                if conn.out_pos < conn.out.len() {
                    return (Flushed::Blocked, progressed);
                }
                conn.out = Vec::new();
                conn.out_pos = 0;
            }
            Err(_) => return (Flushed::Failed, progressed),
        }
    }
    if conn.tls.is_some() && conn.file.is_some() {
        match send_file(conn, scratch) {
            (FileProgress::Done, p) => progressed |= p,
            (FileProgress::Blocked, p) => return (Flushed::Blocked, progressed | p),
            (FileProgress::Failed, p) => return (Flushed::Failed, progressed | p),
        }
        conn.file = None;
        if conn.close_when_sent {
            notify_close(conn);
        }
        if conn.corked {
            let _ = net::set_tcp_cork(&conn.fd, false);
            conn.corked = false;
        }
    }
    if let Some(f) = conn.file.as_mut() {
        while f.offset < f.end {
            let want = (f.end - f.offset).min(1 << 30) as usize;
            match io::sendfile(&conn.fd, &*f.fd, Some(&mut f.offset), want) {
                Ok(0) => return (Flushed::Failed, progressed), // the file shrank
                Ok(_) => progressed = true,
                Err(Errno::EAGAIN) => return (Flushed::Blocked, progressed),
                Err(Errno::EINTR) => {}
                Err(_) => return (Flushed::Failed, progressed),
            }
        }
        conn.file = None;
        if conn.corked {
            // Pushes the last partial segment out now.
            let _ = net::set_tcp_cork(&conn.fd, false);
            conn.corked = false;
        }
    }
    (Flushed::All, progressed)
}
