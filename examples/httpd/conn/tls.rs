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
/// read (`pread`), encrypt into `scratch`, send; at most one chunk waits in user space.
/// Called with the connection's queued output sent. Returns whether anything went too.
pub(super) fn send_file(conn: &mut Conn, scratch: &mut Vec<u8>) -> (FileProgress, bool) {
    let mut progressed = false;
    let (Some(f), Some(tls)) = (conn.file.as_mut(), conn.tls.as_deref_mut()) else {
        return (FileProgress::Done, progressed);
    };
    while f.offset < f.end {
        let want = (f.end - f.offset).min(FILE_CHUNK as u64) as usize;
        scratch.clear();
        scratch.resize(want, 0);
        let n = match io::pread(&*f.fd, &mut scratch[..want], f.offset) {
            Ok(0) | Err(_) => {
                scratch.clear();
                return (FileProgress::Failed, progressed); // the file shrank, or failed
            }
            Ok(n) => n,
        };
        f.offset += n as u64;
        scratch.truncate(n);
        let last = f.offset >= f.end;
        encrypt_batch(tls, scratch, false);
        let more = !last;
        let sent = match super::output::send_all_or_block(&conn.fd, scratch, more) {
            Ok(sent) => sent,
            Err(_) => {
                scratch.clear();
                return (FileProgress::Failed, progressed);
            }
        };
        progressed |= sent > 0;
        if sent < scratch.len() {
            conn.out = scratch[sent..].to_vec();
            conn.out_pos = 0;
            scratch.clear();
            return (FileProgress::Blocked, progressed);
        }
    }
    scratch.clear();
    (FileProgress::Done, progressed)
}
