//! What a connection is between two of its events: its socket, its buffers, where it is in
//! its life (which decides its deadline), its timer entry, and the socket options it has.

use std::time::Duration;

use rawsys::OwnedFd;
use rawsys::net::{self, SocketAddr};
use reactor::http::{ChunkedDecoder, RequestParser};
use reactor::{TimerKey, TimerWheel};

use crate::config::Config;
use crate::event_loop::TICK_MS;
use crate::respond::FileSend;

/// Where a connection is in its life, which decides its deadline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Over TLS, the handshake: header timeout from the accept, not extended by its bytes.
    Handshake,
    /// Receiving a request head (or waiting for the first one): header timeout, not
    /// extended by trickling bytes.
    Head,
    /// Between requests: keep-alive timeout.
    Idle,
    /// A response is waiting for room in the send buffer: send timeout, extended on progress.
    Sending,
}

/// How far the client's sending side is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ClientSends {
    /// Open, as far as we know.
    Open,
    /// An event said the client shut its sending side down (`EPOLLRDHUP`): its FIN may wait
    /// behind the data, and an edge-triggered socket would not signal it again, so a short
    /// read does not end the reading.
    Closing,
    /// A read returned the end of the stream.
    Ended,
}

/// Nagle's algorithm on the socket: it would hold a small response back while an earlier
/// one is unacknowledged, so it goes off from the second batch of responses or the first
/// file on (a one-shot `Connection: close` exchange saves the system call).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Nagle {
    /// On; nothing answered yet.
    OnUnanswered,
    /// On; responses have been written before.
    OnAnswered,
    /// `TCP_NODELAY` is set.
    Off,
}

/// The client's address, for the access log.
#[derive(Clone, Copy)]
pub(crate) enum Peer {
    V4([u8; 4]),
    V6([u8; 16]),
    Other,
}

impl Peer {
    /// The peer of an accepted connection.
    pub(crate) fn of(addr: &SocketAddr) -> Peer {
        match addr {
            SocketAddr::V4(a) => Peer::V4(a.ip()),
            SocketAddr::V6(a) => Peer::V6(a.octets()),
            _ => Peer::Other,
        }
    }
}

/// The response to a request whose body is still arriving: released once the body is
/// complete, replaced by a 400 if the body turns out malformed.
pub(super) struct DeferredResponse {
    pub(super) bytes: Vec<u8>,
    pub(super) file: Option<FileSend>,
    pub(super) keep_alive: bool,
}

/// One client connection: its socket and everything between two of its events.
pub(crate) struct Conn {
    pub(crate) fd: OwnedFd,
    /// Tells a reused slot from the connection an old timer entry or event was for.
    pub(crate) generation: u32,
    phase: Phase,
    pub(crate) deadline: u64,
    /// The deadline of this connection's entry in the timer wheel (0: none).
    armed_at: u64,
    /// That entry, to cancel when the connection closes or its deadline comes nearer.
    timer: Option<TimerKey>,
    /// Received bytes not yet consumed: a partial request, or pipelined requests held back
    /// by back-pressure. Empty (and unallocated) while idle.
    pub(super) inbuf: Vec<u8>,
    /// The parser of a partial request head in `inbuf`.
    pub(super) parser: Option<Box<RequestParser>>,
    /// Queued response bytes not yet sent, from `out_pos`.
    pub(super) out: Vec<u8>,
    pub(super) out_pos: usize,
    /// A file region to send after `out`.
    pub(super) file: Option<FileSend>,
    /// Request body bytes still to discard.
    pub(super) body_left: u64,
    pub(super) chunked: Option<Box<ChunkedDecoder>>,
    pub(super) deferred: Option<Box<DeferredResponse>>,
    /// Close once the queued output is sent.
    pub(super) close_when_sent: bool,
    /// `inbuf` may hold complete requests not yet answered (answering paused).
    pub(super) requests_waiting: bool,
    /// Reading stopped before `EAGAIN` (back-pressure): read again once output drains.
    pub(super) unread_input: bool,
    pub(super) client_sends: ClientSends,
    pub(super) nagle: Nagle,
    /// `TCP_CORK` is on while a response's head and file go out (see `output`).
    pub(super) corked: bool,
    /// `TCP_NOTSENT_LOWAT` is set (at the connection's first file, see `output`).
    pub(super) paced: bool,
    pub(super) peer: Peer,
    /// The TLS session of a connection to a TLS listener (`None`: plain HTTP).
    pub(super) tls: Option<Box<rustls::ServerConnection>>,
}

impl Conn {
    /// A fresh connection, waiting for its first request head.
    /// `tls`: the session of a connection to a TLS listener.
    pub(crate) fn new(
        fd: OwnedFd,
        peer: Peer,
        tls: Option<Box<rustls::ServerConnection>>,
        generation: u32,
        deadline: u64,
    ) -> Conn {
        // TLS sends the handshake's flights as soon as they are written: Nagle's algorithm
        // would hold the server's second flight (TLS 1.2) behind an unacknowledged first.
        let nagle = match tls {
            Some(_) if net::set_tcp_nodelay(&fd, true).is_ok() => Nagle::Off,
            _ => Nagle::OnUnanswered,
        };
        let phase = if tls.is_some() {
            Phase::Handshake
        } else {
            Phase::Head
        };
        Conn {
            fd,
            generation,
            phase,
            deadline,
            armed_at: 0,
            timer: None,
            inbuf: Vec::new(),
            parser: None,
            out: Vec::new(),
            out_pos: 0,
            file: None,
            body_left: 0,
            chunked: None,
            deferred: None,
            close_when_sent: false,
            requests_waiting: false,
            unread_input: false,
            client_sends: ClientSends::Open,
            nagle,
            corked: false,
            paced: false,
            peer,
            tls,
        }
    }

    /// An event said the client shut its sending side down (`EPOLLRDHUP`).
    pub(crate) fn client_closing(&mut self) {
        if self.client_sends == ClientSends::Open {
            self.client_sends = ClientSends::Closing;
        }
    }

    /// Gives the connection an entry in `wheel` (as slot `idx`) for its deadline, unless
    /// its entry fires no later: one entry per connection, a nearer deadline replacing it;
    /// a deadline moved later is re-armed when the entry fires.
    pub(crate) fn arm(&mut self, wheel: &mut TimerWheel<(u32, u32)>, idx: usize) {
        if self.armed_at == 0 || self.armed_at > self.deadline {
            if let Some(k) = self.timer.take() {
                wheel.cancel(k);
            }
            self.armed_at = self.deadline;
            self.timer = Some(wheel.insert(self.deadline, (idx as u32, self.generation)));
        }
    }

    /// Forgets the connection's entry if it is due at `now_ms`: it fired, or fired while the
    /// connection was away (an entry never fires before its deadline).
    pub(crate) fn entry_fired(&mut self, now_ms: u64) {
        if self.armed_at != 0 && self.armed_at <= now_ms {
            self.armed_at = 0;
            self.timer = None;
        }
    }

    /// The key of the connection's entry, for the thread that owns the wheel.
    pub(crate) fn timer_key(&self) -> Option<TimerKey> {
        self.timer
    }

    /// Cancels the connection's entry, before it closes.
    pub(crate) fn disarm(&mut self, wheel: &mut TimerWheel<(u32, u32)>) {
        if let Some(k) = self.timer.take() {
            wheel.cancel(k);
        }
        self.armed_at = 0;
    }

    /// Response bytes or a file region wait to be sent.
    pub(crate) fn has_output(&self) -> bool {
        self.out_pos < self.out.len() || self.file.is_some()
    }

    /// Nothing in flight: no output, no partial request, no body being discarded (a
    /// draining server closes such a connection).
    pub(crate) fn is_quiet(&self) -> bool {
        !self.has_output()
            && self.inbuf.is_empty()
            && self.body_left == 0
            && self.deferred.is_none()
    }

    /// Sets the deadline for the phase the connection is now in.
    pub(crate) fn update_deadline(&mut self, cfg: &Config, now: u64, progressed: bool) {
        if self.has_output() {
            if self.phase != Phase::Sending || progressed {
                self.phase = Phase::Sending;
                self.deadline = now + timeout_ms(cfg.send_timeout);
            }
        } else if self.tls.as_deref().is_some_and(|t| t.is_handshaking()) {
            if self.phase != Phase::Handshake {
                self.phase = Phase::Handshake;
                self.deadline = now + timeout_ms(cfg.header_timeout);
            }
        } else if !self.inbuf.is_empty()
            || self.body_left > 0
            || self.chunked.is_some()
            || self.deferred.is_some()
        {
            // A head's own deadline, also when its first bytes came in the read that ended
            // the handshake (the handshake's deadline ran from the accept).
            if self.phase != Phase::Head {
                self.phase = Phase::Head;
                self.deadline = now + timeout_ms(cfg.header_timeout);
            }
        } else if self.phase != Phase::Idle || progressed {
            self.phase = Phase::Idle;
            self.deadline = now + timeout_ms(cfg.keepalive_timeout);
        }
    }
}

/// A timeout in milliseconds, plus one tick since the event loop's clock may be a tick old.
pub(crate) fn timeout_ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u32::MAX)) as u64 + TICK_MS
}
