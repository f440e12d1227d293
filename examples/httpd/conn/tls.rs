//! The TLS layer of a connection, between the socket and the HTTP code: received ciphertext
//! in, plaintext out for `requests`; the plaintext of a batch of responses in, ciphertext
//! out for `output` to send; a file read and encrypted in bounded chunks (this kernel has
//! no kTLS, so `sendfile` cannot carry it). rustls is driven by our own reads and writes
//! (`ServerConnection` over byte slices), so the socket calls stay where they are for plain
//! connections and a plain connection pays one `Option` test per read and per batch.

use std::io::Write as _;

use rawsys::io;
use rawsys::net::{self, SendFlags};
use rustls::ServerConnection;

use super::state::Conn;

/// A file goes through TLS in pieces of this much plaintext (four full records): read,
/// encrypted and handed to the socket before the next piece is read.
pub(super) const FILE_CHUNK: usize = 64 * 1024;

/// What decrypting one read's ciphertext gave.
pub(super) enum Decrypted {
    /// Plaintext (possibly none: handshake records only) was appended.
    Data,
    /// The client sent `close_notify`: what was appended is the last of its input.
    Ended,
    /// A protocol error: an alert was sent (best effort); close the connection.
    Failed,
}

/// Feeds `cipher` (bytes just received) to the session and appends the plaintext to
/// `plain`; handshake messages and alerts the session wants to send are queued on the
/// connection's output (`out`).
pub(super) fn decrypt(conn: &mut Conn, cipher: &[u8], plain: &mut Vec<u8>) -> Decrypted {
    let Some(tls) = conn.tls.as_deref_mut() else {
        plain.extend_from_slice(cipher);
        return Decrypted::Data;
    };
    let mut input = cipher;
    let mut ended = false;
    while !input.is_empty() && !ended {
        match tls.read_tls(&mut input) {
            Ok(0) => ended = true,
            Ok(_) => {}
            Err(_) => return Decrypted::Failed,
        }
        let state = match tls.process_new_packets() {
            Ok(state) => state,
            Err(_) => {
                // The alert that says why, then close.
                let mut alert = Vec::new();
                let _ = tls.write_tls(&mut alert);
                let _ = net::send(&conn.fd, &alert, SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
                return Decrypted::Failed;
            }
        };
        let ready = state.plaintext_bytes_to_read();
        if ready > 0 {
            let start = plain.len();
            plain.resize(start + ready, 0);
            match std::io::Read::read(&mut tls.reader(), &mut plain[start..]) {
                Ok(n) => plain.truncate(start + n),
                Err(_) => plain.truncate(start),
            }
        }
        ended |= state.peer_has_closed();
    }
    queue_records(tls, &mut conn.out);
    if ended {
        Decrypted::Ended
    } else {
        Decrypted::Data
    }
}

/// Appends whatever the session has to send (records, encrypted) to `out`.
fn queue_records(tls: &mut ServerConnection, out: &mut Vec<u8>) {
    while tls.wants_write() {
        if tls.write_tls(out).is_err() {
            break;
        }
    }
}

/// Replaces the plaintext in `buf` by its ciphertext; with `closing`, a `close_notify`
/// follows it.
pub(super) fn encrypt_batch(tls: &mut ServerConnection, buf: &mut Vec<u8>, closing: bool) {
    if !buf.is_empty() {
        // The session has no buffer limit (`Tls::session`): the whole batch is taken; a
        // batch is bounded by the HTTP side's high-water mark and a file by FILE_CHUNK.
        let _ = tls.writer().write_all(buf);
        buf.clear();
    }
    if closing {
        tls.send_close_notify();
    }
    queue_records(tls, buf);
}

/// Sends a `close_notify` alert on a TLS connection about to close (best effort: a full
/// socket drops it), so the client sees the end of the stream as the server's and not as a
/// cut. Nothing on a plain connection.
pub(super) fn notify_close(conn: &mut Conn) {
    if let Some(tls) = conn.tls.as_deref_mut() {
        let mut notify = Vec::new();
        encrypt_batch(tls, &mut notify, true);
        let _ = net::send(&conn.fd, &notify, SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
    }
}

/// The most [`plain_offset`] returns.
const PLAIN_OFFSET_MAX: usize = 128 + 63;

/// Where a file chunk's plaintext goes in the scratch buffer starting at `buf`: 5 bytes past
/// a 64-byte boundary (and at least 128 bytes in). rustls copies each record's plaintext
/// (`memmove`, `rep movsb` for 16 KiB) into a fresh buffer just past the record's 5-byte
/// header, so a chunk read to an aligned address is copied to a destination 5 bytes ahead
/// of its source modulo the page, which this host's AMD EPYC runs 10-17x slower than a
/// mutually aligned copy (measured with glibc's memmove of 16 KiB: 1.3 GB/s at +5 against
/// 24 GB/s at +0; `perf`: the copy was 29 % of httpd's CPU on 1 MiB files over TLS, more
/// than AES-GCM). 128 bytes in rather than 5 keeps the kernel's copy into the chunk (the
/// `pread`) from the same trap (a page-aligned source 5 bytes behind).
fn plain_offset(buf: *const u8) -> usize {
    // The address is only looked at, never dereferenced.
    let misalign = buf.addr() % 64;
    128 + (64 + 5 - misalign) % 64
}

/// How far sending a file through TLS got.
pub(super) enum FileProgress {
    /// The whole region is queued on the socket.
    Done,
    /// The socket is full; the connection's `out` holds the rest of the last chunk.
    Blocked,
    /// Reading the file or sending failed.
    Failed,
}

/// Sends the connection's file region through its TLS session, `FILE_CHUNK` at a time:
/// read (`pread`) into `scratch`, encrypt (the session's record buffers), hand the records to
/// the socket in one `sendmsg` straight from those buffers (no copy in user space; the
/// records the socket does not take stay in the session until it is writable again), and
/// read the next chunk only once the last one went: at most one chunk of ciphertext waits
/// per connection. Called with the connection's queued output sent; `scratch` is left empty.
/// Returns whether anything went too.
pub(super) fn send_file(conn: &mut Conn, scratch: &mut Vec<u8>) -> (FileProgress, bool) {
    let mut progressed = false;
    let (Some(f), Some(tls)) = (conn.file.as_mut(), conn.tls.as_deref_mut()) else {
        return (FileProgress::Done, progressed);
    };
    let progress = loop {
        // First what the session holds: the rest of the last chunk (or of a blocked call's).
        let mut socket = Socket {
            fd: &conn.fd,
            more: f.offset < f.end,
        };
        let mut blocked = None;
        while tls.wants_write() {
            match tls.write_tls(&mut socket) {
                Ok(n) => progressed |= n > 0,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    blocked = Some(FileProgress::Blocked);
                    break;
                }
                Err(_) => {
                    blocked = Some(FileProgress::Failed);
                    break;
                }
            }
        }
        if let Some(p) = blocked {
            break p;
        }
        if f.offset >= f.end {
            break FileProgress::Done;
        }
        let want = (f.end - f.offset).min(FILE_CHUNK as u64) as usize;
        if scratch.len() < PLAIN_OFFSET_MAX + want {
            scratch.resize(PLAIN_OFFSET_MAX + want, 0);
        }
        let at = plain_offset(scratch.as_ptr());
        let n = match io::pread(&*f.fd, &mut scratch[at..at + want], f.offset) {
            Ok(0) | Err(_) => break FileProgress::Failed, // the file shrank, or failed
            Ok(n) => n,
        };
        f.offset += n as u64;
        // The session has no buffer limit (`Tls::session`): the whole chunk is taken.
        if tls.writer().write_all(&scratch[at..at + n]).is_err() {
            break FileProgress::Failed;
        }
    };
    scratch.clear();
    (progress, progressed)
}

/// The socket as rustls' output: `write_tls` hands over its queued records as one vectored
/// write (`sendmsg`), and a full socket is `WouldBlock` (the records stay queued).
struct Socket<'a> {
    fd: &'a rawsys::OwnedFd,
    /// More of the response follows at once (`MSG_MORE`).
    more: bool,
}

impl Socket<'_> {
    fn flags(&self) -> SendFlags {
        if self.more {
            SendFlags::NOSIGNAL | SendFlags::MORE
        } else {
            SendFlags::NOSIGNAL
        }
    }
}

/// rustls gathers at most this many records into one `write_vectored`.
const MAX_IOV: usize = 64;

impl std::io::Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[std::io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        let mut iov = [io::IoSlice::new(&[]); MAX_IOV];
        let n = bufs.len().min(MAX_IOV);
        for (slot, buf) in iov.iter_mut().zip(bufs) {
            *slot = io::IoSlice::new(buf);
        }
        loop {
            match net::sendmsg(self.fd, &net::MsgHdr::new(&iov[..n]), self.flags()) {
                Ok(sent) => return Ok(sent),
                Err(rawsys::Errno::EINTR) => {}
                Err(rawsys::Errno::EAGAIN) => return Err(std::io::ErrorKind::WouldBlock.into()),
                Err(e) => return Err(std::io::Error::from_raw_os_error(e.raw())),
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
