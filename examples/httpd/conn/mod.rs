//! A connection and what a serving thread needs to serve it, shared by both designs
//! (`worker`: one reactor per core; `pool`: one epoll thread feeding a worker pool).
//!
//! - `state`: the connection between two events (buffers, deadline phase, timer entry,
//!   socket options);
//! - `driver`: on an event, read until the socket is drained and answer every complete
//!   request, with back-pressure; the thread's buffers ([`ThreadState`]);
//! - `requests`: the HTTP side, from received bytes to response bytes (request bodies
//!   discarded, responses held back until a body is complete);
//! - `output`: the socket's output side (send, sendfile, TCP options);
//! - `tls`: the TLS layer of a connection to a TLS listener, between the socket and
//!   `requests` (decrypting what `driver` read, encrypting what `output` sends);
//! - `access_log`: the access log lines.
//!
//! The socket is read in `driver` and written in `output` only; `tls` sits between them
//! and `requests`.

mod access_log;
mod driver;
mod output;
mod requests;
mod state;
mod tls;

pub(crate) use access_log::{LOG_BATCH, flush_log};
pub(crate) use driver::{Disposition, ThreadState, drive};
pub(crate) use output::refuse_busy;
pub(crate) use state::{Conn, Peer, timeout_ms};
