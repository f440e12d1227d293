//! The request-head state machine and the parsed [`Request`] view.

use super::chars::{
    self, C_ANY, C_CR, C_OWS, C_TARGET, C_TOKEN, C_VALUE, CLASSES, ows, valid_host,
};
use super::chunked::ChunkedDecoder;
use super::headers::{FieldState, Headers, HostHint, RawHeader};
#[cfg(target_arch = "x86_64")]
use super::simd;
use super::simd::{Portable, Scan};
use super::{BodyFraming, ParseError, ParserConfig};
use core::marker::PhantomData;

/// The outcome of a parse that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is complete.
    Complete(T),
    /// More bytes are needed; call again with the buffer extended.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is `Complete`.
    pub const fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// Whether this is `Partial`.
    pub const fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }

    /// The completed value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::Partial => None,
        }
    }
}

/// The HTTP versions this parser accepts; any other well-formed version is
/// [`ParseError::UnsupportedVersion`] (505).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl Version {
    /// The version as it appears on the wire, `HTTP/1.x`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

/// The form of the request target (RFC 9112 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `scheme://authority/path`: for proxies; servers must accept it too (RFC 9112 3.2.2).
    Absolute,
    /// `host:port`: only with `CONNECT`.
    Authority,
    /// `*`: only with `OPTIONS`.
    Asterisk,
}

/// Where the state machine stopped. Each scanning state resumes at the saved position, so no
/// byte is examined twice whatever the split points, except the at most two bytes of a line
/// ending and the nine of a version, which are re-read when they straddle a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the request line, skipping empty lines.
    Start,
    /// In the method, which starts at `mark`.
    Method,
    /// In the target, which starts at `mark`.
    Target,
    /// In the version, which starts at `mark`.
    Version,
    /// At the start of a field line or of the empty line that ends the head.
    LineStart,
    /// In a field name, which starts at `mark`.
    Name,
    /// After the colon, skipping whitespace.
    ValueStart,
    /// In a field value, which starts at `mark`.
    Value,
    /// The head is complete.
    Done,
    /// Parsing failed; the error (in `RequestParser::failure`) is sticky.
    Failed,
}

/// Per state (by discriminant), the class bits ([`chars::CLASSES`]) of the bytes that only
/// continue its element: one load and one test per byte on the quick path.
const CONTINUE_CLASS: [u8; 10] = {
    let mut t = [0; 10];
    t[State::Method as usize] = C_TOKEN;
    t[State::Name as usize] = C_TOKEN;
    t[State::Target as usize] = C_TARGET;
    t[State::Value as usize] = C_VALUE;
    // Whitespace after the colon leaves the state machine where it was too.
    t[State::ValueStart as usize] = C_OWS;
    // Nothing is decided before the version's eight bytes are there (`scan_limit`).
    t[State::Version as usize] = C_ANY;
    t
};

/// An incremental, strict, zero-copy HTTP/1.1 request-head parser (RFC 9112).
///
/// Keep one per connection. Call [`parse`](Self::parse) with everything received so far for
/// the current request (the same bytes each time, with new ones appended) and the same header
/// slice; it resumes where it stopped, so the total work is linear in the size of the head
/// however the bytes arrive. When it returns [`Status::Complete`], the [`Request`] borrows the
/// buffer and tells how many bytes the head took ([`Request::head_len`]) and how the body is
/// framed ([`Request::body`]). Call [`reset`](Self::reset) before parsing the next request on
/// the connection, with the buffer starting after this request's body.
///
/// ```
/// use reactor::http::{BodyFraming, RawHeader, RequestParser, Status};
///
/// let mut parser = RequestParser::new();
/// let mut headers = [RawHeader::EMPTY; 16];
/// let mut buf = Vec::new();
///
/// buf.extend_from_slice(b"POST /submit HTTP/1.1\r\nHost: exa");
/// assert!(parser.parse(&buf, &mut headers).unwrap().is_partial());
///
/// buf.extend_from_slice(b"mple.com\r\nContent-Length: 5\r\n\r\nhello");
/// let Status::Complete(req) = parser.parse(&buf, &mut headers).unwrap() else { panic!() };
/// assert_eq!(req.method(), "POST");
/// assert_eq!(req.target(), "/submit");
/// assert_eq!(req.header("host"), Some(&b"example.com"[..]));
/// assert_eq!(req.body(), BodyFraming::ContentLength(5));
/// assert_eq!(&buf[req.head_len()..], b"hello");
/// assert!(req.keep_alive());
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    config: ParserConfig,
    state: State,
    failure: ParseError,
    /// The next byte to examine.
    pos: usize,
    /// The start of the element being scanned.
    mark: usize,
    /// When the last call stopped for want of bytes inside a method, target, version or field
    /// line (or at its start), the position at which that element reaches its length limit
    /// (in a version, its eighth byte, where the state machine reads it): a resumed call whose
    /// few new bytes stay below it may take the quick path
    /// ([`quick_resume`](Self::quick_resume)). 0 otherwise, which keeps every other call off
    /// the quick path.
    scan_limit: usize,
    /// `CONTINUE_CLASS` of `state`, kept up to date wherever a call may stop with
    /// `scan_limit` set: the quick path's test without a table lookup. (After a version's
    /// eight bytes, checked, only a CR: `C_CR`.)
    quick_class: u8,
    line_start: usize,
    empty_lines: u32,
    headers_start: usize,
    name: (usize, usize),
    header_count: usize,
    fields: FieldState,
    head: Head,
}

/// What a [`Request`] reports besides the buffer and the header slots. The request borrows
/// it from the parser instead of copying it out.
#[derive(Debug, Clone, Copy)]
struct Head {
    method: (usize, usize),
    target: (usize, usize),
    version: Version,
    target_form: TargetForm,
    head_len: usize,
    body: BodyFraming,
    keep_alive: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    /// A parser with the strict default configuration.
    pub const fn new() -> Self {
        Self::with_config(ParserConfig::DEFAULT)
    }

    /// A parser with the given configuration.
    pub const fn with_config(config: ParserConfig) -> Self {
        Self {
            config,
            state: State::Start,
            failure: ParseError::ResumeMismatch,
            pos: 0,
            mark: 0,
            scan_limit: 0,
            quick_class: 0,
            line_start: 0,
            empty_lines: 0,
            headers_start: 0,
            name: (0, 0),
            header_count: 0,
            fields: FieldState::new(),
            head: Head {
                method: (0, 0),
                target: (0, 0),
                version: Version::Http11,
                target_form: TargetForm::Origin,
                head_len: 0,
                body: BodyFraming::None,
                keep_alive: false,
            },
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// Forgets the current request, keeping the configuration, to parse the next one.
    pub fn reset(&mut self) {
        *self = Self::with_config(self.config);
    }

    /// A decoder for a chunked body, with this parser's limits and line-ending policy.
    pub const fn chunked_decoder(&self) -> ChunkedDecoder {
        ChunkedDecoder::with_config(&self.config)
    }

    /// Parses as much of the request head in `buf` as there is.
    ///
    /// `buf` holds the request from its first byte; on a resumed call it must start with the
    /// same bytes as before (typically the same growing read buffer), and `headers` must be
    /// the same slice. The header slice bounds the number of fields, together with
    /// [`Limits::max_headers`](super::Limits::max_headers).
    ///
    /// Returns `Ok(Status::Partial)` when more bytes are needed, `Ok(Status::Complete(..))`
    /// once the empty line ending the head has been read (again on every later call, until
    /// [`reset`](Self::reset)), or the first error, which is sticky: the connection should be
    /// answered with [`ParseError::status`] and closed. The [`Request`] borrows the buffer,
    /// the header slots and the parser.
    ///
    /// Each call costs a small constant plus time linear in the new bytes; a resumed call
    /// with fewer than 64 new bytes uses the portable scanners, where SIMD set-up would not
    /// pay.
    // Always inlined: a resumed call a byte at a time is mostly the quick path, and a fresh
    // small head takes the SSE2 fast path inline (`fresh`); the rest is out of line.
    #[inline(always)]
    pub fn parse<'a>(
        &'a mut self,
        buf: &'a [u8],
        headers: &'a mut [RawHeader],
    ) -> Result<Status<Request<'a>>, ParseError> {
        // `scan_limit` is 0 once done or failed, so a call on a finished parser does not take
        // the quick path.
        if self.quick_resume(buf, headers) {
            return Ok(Status::Partial);
        }
        if !matches!(self.state, State::Done) && !self.advance(buf, headers)? {
            return Ok(Status::Partial);
        }
        let (Some(_), Some(headers)) = (buf.get(..self.pos), headers.get(..self.header_count))
        else {
            return Err(ParseError::ResumeMismatch);
        };
        Ok(Status::Complete(Request {
            buf,
            headers,
            head: &self.head,
        }))
    }

    /// The cheap way through a resumed call that adds a few bytes (a byte at a time,
    /// typically) inside a method, target, version or field line. When every new byte only
    /// continues the element, or takes one of the simple steps between elements (see
    /// [`quick_byte`](Self::quick_byte) and [`quick_step`](Self::quick_step)), and everything
    /// stays below the element's limit, the state machine would do the same and stop at the
    /// end of the buffer for want of more, so this takes those steps and reports `Partial`,
    /// without the state machine's set-up. Returns whether it did; anything else (a limit, a
    /// byte needing a verdict, a line the parser must look into) is left to the state
    /// machine, which resumes from the state left here. A fresh parser, or one that stopped
    /// anywhere else, has `scan_limit == 0` and pays one comparison.
    #[inline(always)]
    fn quick_resume(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> bool {
        /// Larger increments go to the state machine, whose scanners are faster per byte.
        const QUICK_MAX: usize = 16;
        let (pos, len) = (self.pos, buf.len());
        // A fresh or finished parser has `scan_limit == 0`.
        if len >= self.scan_limit {
            return false;
        }
        // Inline, the common case: the new bytes continue the element (a table load and a
        // test per byte; the states without such bytes have class 0). One new byte (fed a
        // byte at a time) without the loop.
        let class = self.quick_class;
        if len == pos + 1 {
            // SAFETY: pos < len.
            let b = unsafe { *buf.get_unchecked(pos) };
            let c = CLASSES[b as usize];
            if c & class != 0 {
                self.pos = len;
                return true;
            }
            return self.quick_byte(b, c, buf, headers);
        }
        // A shorter buffer than before wraps around to a large count (left to the state
        // machine, which reports it).
        if len.wrapping_sub(pos) > QUICK_MAX {
            return false;
        }
        // The LF after the CR that ends a value (fed a byte at a time, the CR was taken
        // alone).
        if len == pos + 2 && matches!(self.state, State::Value) && buf.get(pos..) == Some(b"\r\n") {
            return self.quick_line_end(buf, headers);
        }
        // SAFETY: pos <= len, checked above.
        let new = unsafe { buf.get_unchecked(pos..) };
        if new.iter().all(|&b| chars::in_class(b, class)) {
            self.pos = len;
            return true;
        }
        self.quick_step(buf, headers)
    }

    /// One new byte `b` (of classes `c`) at `self.pos` that does not continue the element:
    /// inline, the steps of a field line that come once a line each (the first byte of a
    /// name, the colon, the first byte of a value, the CR ending it, which is left for the
    /// next call to take with its LF); everything else out of line
    /// ([`quick_step`](Self::quick_step)).
    #[inline(always)]
    fn quick_byte(&mut self, b: u8, c: u8, buf: &[u8], headers: &mut [RawHeader]) -> bool {
        let at = self.pos;
        match self.state {
            State::Name if b == b':' && at > self.mark => {
                self.name = (self.mark, at);
                self.set_quick_state(State::ValueStart);
            }
            State::ValueStart if c & (C_VALUE | C_OWS) == C_VALUE => {
                self.mark = at;
                self.set_quick_state(State::Value);
            }
            // The CR of a line ending, last: the state machine would stop there too.
            State::Value if b == b'\r' => return true,
            State::LineStart
                if c & C_TOKEN != 0
                    && self.header_count
                        < (self.config.limits.max_headers as usize).min(headers.len()) =>
            {
                self.mark = at;
                self.set_quick_state(State::Name);
            }
            _ => return self.quick_step(buf, headers),
        }
        self.pos = at + 1;
        true
    }

    /// The rest of [`quick_resume`](Self::quick_resume), out of line: the new bytes `new`
    /// (at `self.pos`, ending the buffer, below `scan_limit`) may also take the simple steps
    /// of a request line or field line: the space ending a method or target, the first byte of
    /// a name, the colon, whitespace before the value, its first byte, and the CR of a line
    /// ending as the last byte (where the state machine stops too, waiting for the LF), and
    /// the empty line that ends the head. (The LF after a value's CR goes to
    /// [`quick_line_end`](Self::quick_line_end) directly.)
    /// Returns whether it took all of them and the head is still incomplete; on `false` the
    /// parser may also have completed the head or failed, which the state machine reports.
    #[inline(never)]
    fn quick_step(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> bool {
        // `quick_resume` checked that `self.pos <= buf.len()`.
        let Some(new) = buf.get(self.pos..) else {
            return false;
        };
        let at = self.pos;
        // One new byte (fed a byte at a time): each step directly.
        match (self.state, new) {
            // The space ending the method, and that ending the target, where the state
            // machine goes on with the same limit, and with the version's own (its eight
            // bytes) respectively.
            (State::Method, b" ") if at > self.mark => {
                self.head.method = (self.mark, at);
                self.mark = at + 1;
                self.set_quick_state(State::Target);
                self.pos = at + 1;
                return true;
            }
            (State::Target, b" ") if at > self.mark => {
                self.head.target = (self.mark, at);
                self.mark = at + 1;
                self.set_quick_state(State::Version);
                self.scan_limit = at + 9;
                self.pos = at + 1;
                return true;
            }
            // The empty line ending the head: its CR first, as in a value.
            (State::LineStart, b"\r") => return true,
            (State::LineStart, b"\r\n") => {
                if let Err(e) = self.finish(at + 2) {
                    self.fail(e);
                }
                return false;
            }
            (State::ValueStart, b"\r") => {
                self.mark = at;
                self.set_quick_state(State::Value);
                return true;
            }
            _ => {}
        }
        self.quick_steps(new, headers.len())
    }

    /// The rest of [`quick_step`](Self::quick_step): several new bytes `new`, at `self.pos`.
    fn quick_steps(&mut self, new: &[u8], header_slots: usize) -> bool {
        let (mut state, mut mark, mut name) = (self.state, self.mark, self.name);
        let max_fields = (self.config.limits.max_headers as usize).min(header_slots);
        let mut at = self.pos;
        let end = at + new.len();
        for &b in new {
            let c = CLASSES[b as usize];
            match state {
                State::Method | State::Name if c & C_TOKEN != 0 => {}
                State::Target if c & C_TARGET != 0 => {}
                State::Value if c & C_VALUE != 0 => {}
                State::Name if b == b':' && at > mark => {
                    name = (mark, at);
                    state = State::ValueStart;
                }
                State::ValueStart if c & C_OWS != 0 => {}
                State::ValueStart if c & C_VALUE != 0 => {
                    mark = at;
                    state = State::Value;
                }
                State::Value | State::ValueStart if b == b'\r' && at + 1 == end => {
                    if matches!(state, State::ValueStart) {
                        mark = at;
                        state = State::Value;
                    }
                    break;
                }
                State::LineStart if c & C_TOKEN != 0 && self.header_count < max_fields => {
                    mark = at;
                    state = State::Name;
                }
                _ => return false,
            }
            at += 1;
        }
        self.pos = at;
        self.set_quick_state(state);
        self.mark = mark;
        self.name = name;
        true
    }

    /// The end of a field line whose CR the quick path stopped at (`self.pos`, in a value
    /// starting at `self.mark`), with its LF the last byte of `buf`: what the state machine
    /// does there. The limit checks it would make hold: the line ends below `scan_limit`, the
    /// header section's limit, and the slot was counted against the limits when the name
    /// started. Returns whether it took the line; on `false` the parser may also have failed
    /// (a field the parser checks was wrong), which the state machine reports.
    #[inline(never)]
    fn quick_line_end(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> bool {
        let (name, mark, pos) = (self.name, self.mark, self.pos);
        let (Some(value), Some(name_bytes)) = (buf.get(mark..pos), buf.get(name.0..name.1)) else {
            return false;
        };
        let Some(slot) = headers.get_mut(self.header_count) else {
            return false;
        };
        let mut value = value;
        while let Some((&last, rest)) = value.split_last() {
            if !ows(last) {
                break;
            }
            value = rest;
        }
        *slot = RawHeader::new(name, (mark, mark + value.len()));
        self.header_count += 1;
        if FieldState::may_matter(name_bytes.len()) {
            let allow_identical = self.config.allow_identical_content_lengths;
            if let Err(e) = self.fields.on_field(name_bytes, value, allow_identical) {
                self.fail(e);
                return false;
            }
        }
        self.pos = pos + 2;
        self.mark = pos + 2;
        self.set_quick_state(State::LineStart);
        true
    }

    /// Sets the state where a call may stop with `scan_limit` set, and its `quick_class`.
    #[inline(always)]
    fn set_quick_state(&mut self, state: State) {
        self.state = state;
        self.quick_class = CONTINUE_CLASS[state as usize];
    }

    fn fail(&mut self, e: ParseError) -> ParseError {
        // `quick_resume` must not answer for a failed parser.
        self.scan_limit = 0;
        self.state = State::Failed;
        self.failure = e;
        e
    }

    /// Everything but the quick path and the final view: a fresh parse or the state machine
    /// (both out of line). Returns whether the head is complete.
    #[inline(always)]
    fn advance(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        match self.state {
            State::Done => return Ok(true),
            State::Failed => return Err(self.failure),
            _ => {}
        }
        if buf.len() < self.pos {
            return Err(self.fail(ParseError::ResumeMismatch));
        }
        let result = if matches!(self.state, State::Start) && self.pos == 0 {
            self.fresh(buf, headers)
        } else {
            self.resume(buf, headers)
        };
        result.map_err(|e| self.fail(e))
    }

    /// A fresh parse: the fast path takes a whole, ordinary head in one pass. Small heads use
    /// SSE2, inlined here; larger ones AVX2, where one 32-byte load covers a typical field
    /// line. Inlined into `parse` (and so into the caller): for a small request the call and
    /// its register saves were a sixth of the work (tiny request: 417 -> 351 instructions).
    /// Resumed calls do not enter it; they pay only for the registers it occupies around the
    /// caller's loop (a byte at a time: +1.6% instructions).
    #[inline(always)]
    fn fresh(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        #[cfg(target_arch = "x86_64")]
        if self.config.use_simd {
            if buf.len() < SSE2_HEAD || !simd::avx2_available() {
                // SAFETY: every x86_64 CPU has SSE2.
                if let Some(done) = unsafe { self.fast_head::<simd::Sse2>(buf, headers) } {
                    return done;
                }
            } else {
                // SAFETY: AVX2, BMI1 and BMI2 were detected (`avx2_available`).
                if let Some(done) = unsafe { self.fast_avx2(buf, headers) } {
                    return done;
                }
            }
            return self.resume(buf, headers);
        }
        if let Some(done) = self.fast_portable(buf, headers) {
            return done;
        }
        self.resume(buf, headers)
    }

    /// The state machine from where it stopped. (Out of line, so that `parse`, with its quick
    /// path, stays small.)
    #[inline(never)]
    fn resume(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        // A few new bytes are not worth the SIMD set-up: small requests and small increments
        // (both paths give identical results, so they can take turns on one request).
        #[cfg(target_arch = "x86_64")]
        if self.config.use_simd && buf.len() - self.pos >= 64 && simd::avx2_available() {
            // SAFETY: AVX2, BMI1 and BMI2 were detected (`avx2_available`).
            return unsafe { self.run_avx2(buf, headers) };
        }
        self.run_portable(buf, headers)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    fn run_avx2(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        // SAFETY: this function is compiled for and only called on CPUs with AVX2, BMI1 and
        // BMI2.
        unsafe { self.run::<simd::Avx2>(buf, headers) }
    }

    #[inline]
    fn run_portable(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        // SAFETY: the portable scanners need no CPU feature.
        unsafe { self.run::<Portable>(buf, headers) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    fn fast_avx2(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Option<Result<bool, ParseError>> {
        // SAFETY: this function is compiled for and only called on CPUs with AVX2, BMI1 and
        // BMI2.
        unsafe { self.fast_head::<simd::Avx2>(buf, headers) }
    }

    /// Test hook: a fresh parse through the SSE2 fast path whatever the size of the head (as
    /// on a CPU without AVX2), then the state machine.
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(super) fn run_sse2_fast_path(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Result<bool, ParseError> {
        // SAFETY: every x86_64 CPU has SSE2.
        match unsafe { self.fast_head::<simd::Sse2>(buf, headers) } {
            Some(done) => done,
            None => self.run_portable(buf, headers),
        }
    }

    fn fast_portable(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Option<Result<bool, ParseError>> {
        // SAFETY: the portable scanners need no CPU feature.
        unsafe { self.fast_head::<Portable>(buf, headers) }
    }

    /// The state machine. Returns whether the head is complete.
    ///
    /// # Safety
    /// The CPU supports the target features of `S`.
    #[inline(always)]
    unsafe fn run<S: Scan>(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Result<bool, ParseError> {
        use ParseError::*;
        let len = buf.len();
        let limits = self.config.limits;
        let lf_ok = self.config.allow_lf_line_endings;
        let max_line = limits.max_request_line as usize;
        let max_fields = (limits.max_headers as usize).min(headers.len());
        let max_field_bytes = limits.max_header_bytes as usize;
        let mut pos = self.pos;
        let mut mark = self.mark;
        let mut state = self.state;

        macro_rules! partial {
            () => {{
                self.scan_limit = 0;
                partial!(@save)
            }};
            (@save) => {{
                self.pos = pos;
                self.mark = mark;
                self.set_quick_state(state);
                return Ok(false);
            }};
        }
        // The bytes at `pos` end a line: their length, or an error, or a partial return.
        macro_rules! line_ending {
            ($other:expr) => {
                match buf[pos] {
                    b'\r' => match buf.get(pos + 1) {
                        Some(b'\n') => 2,
                        Some(_) => return Err(BareCr),
                        None => partial!(),
                    },
                    b'\n' if lf_ok => 1,
                    b'\n' => return Err(BareLf),
                    _ => return Err($other),
                }
            };
        }
        // The scanning end for the current element: the end of the buffer or the limit,
        // whichever comes first; reaching the limit means the element is too long.
        macro_rules! scan_end {
            ($start:expr, $max:expr, $err:expr) => {{
                let limit = $start.saturating_add($max);
                (len.min(limit), limit, $err)
            }};
        }
        macro_rules! at_end {
            ($end:expr) => {{
                let (end, limit, err) = $end;
                if pos == end {
                    if end == limit {
                        return Err(err);
                    }
                    self.scan_limit = limit;
                    partial!(@save);
                }
            }};
        }

        // The states run in order; each block falls through to the next, and a resumed call
        // enters at the block it stopped in. (Straight-line blocks instead of a `match` in a
        // loop: the compiler threads the `state` tests away, so a whole head in one buffer
        // runs without dispatch.)
        if matches!(state, State::Start) {
            loop {
                if pos >= len {
                    partial!();
                }
                if buf[pos] != b'\r' && buf[pos] != b'\n' {
                    break;
                }
                pos += line_ending!(InvalidMethod);
                self.empty_lines += 1;
                if self.empty_lines > limits.max_empty_lines {
                    return Err(TooManyEmptyLines);
                }
            }
            mark = pos;
            self.line_start = pos;
            state = State::Method;
        }
        if matches!(state, State::Method) {
            let end = scan_end!(self.line_start, max_line, RequestLineTooLong);
            if pos == mark && end.0 >= pos + 4 && buf[pos..pos + 4] == *b"GET " {
                self.head.method = (pos, pos + 3);
                pos += 4;
            } else {
                // SAFETY: the caller guarantees the CPU supports `S`.
                pos = unsafe { S::token_end(buf, pos, end.0) };
                at_end!(end);
                if buf[pos] != b' ' || pos == mark {
                    return Err(InvalidMethod);
                }
                self.head.method = (mark, pos);
                pos += 1;
            }
            mark = pos;
            state = State::Target;
        }
        if matches!(state, State::Target) {
            let end = scan_end!(self.line_start, max_line, RequestLineTooLong);
            // SAFETY: the caller guarantees the CPU supports `S`.
            pos = unsafe { S::target_end(buf, pos, end.0) };
            at_end!(end);
            if buf[pos] != b' ' || pos == mark {
                return Err(InvalidTarget);
            }
            self.head.target = (mark, pos);
            pos += 1;
            mark = pos;
            state = State::Version;
        }
        if matches!(state, State::Version) {
            // The quick path may have taken some of the version's bytes unexamined.
            pos = mark;
            let version;
            let line_end = pos + 8;
            if len >= pos + 10 && buf[pos..pos + 10] == *b"HTTP/1.1\r\n" {
                version = Version::Http11;
                pos += 10;
            } else {
                let Some(v) = buf.get(pos..pos + 8) else {
                    // Nothing is decided before 8 bytes: the quick path takes the bytes until
                    // then (the request-line limit is checked once the version is there).
                    self.scan_limit = pos + 8;
                    partial!(@save)
                };
                if v[..5] != *b"HTTP/"
                    || !v[5].is_ascii_digit()
                    || v[6] != b'.'
                    || !v[7].is_ascii_digit()
                {
                    return Err(InvalidVersion);
                }
                let (major, minor) = (v[5], v[7]);
                let Some(&eol_byte) = buf.get(pos + 8) else {
                    // The version is checked: the quick path may take a CR after it (and
                    // nothing else); the line is complete here, with its LF.
                    self.scan_limit = pos + 10;
                    self.pos = pos + 8;
                    self.mark = mark;
                    self.state = state;
                    self.quick_class = C_CR;
                    return Ok(false);
                };
                let eol = match eol_byte {
                    b'\r' => match buf.get(pos + 9) {
                        Some(b'\n') => 2,
                        Some(_) => return Err(BareCr),
                        None => partial!(),
                    },
                    b'\n' if lf_ok => 1,
                    b'\n' => return Err(BareLf),
                    _ => return Err(InvalidVersion),
                };
                version = match (major, minor) {
                    (b'1', b'1') => Version::Http11,
                    (b'1', b'0') => Version::Http10,
                    _ => return Err(UnsupportedVersion),
                };
                pos += 8 + eol;
            }
            if line_end - self.line_start > max_line {
                return Err(RequestLineTooLong);
            }
            self.head.version = version;
            self.head.target_form = classify_target(
                &buf[self.head.method.0..self.head.method.1],
                &buf[self.head.target.0..self.head.target.1],
                self.config.allow_absolute_form,
            )?;
            self.headers_start = pos;
            state = State::LineStart;
        }
        // Within the header section, everything is bounded by the same limit.
        // Header offsets are stored as u32 (RawHeader): the section never reaches 4 GiB.
        let field_limit = self
            .headers_start
            .saturating_add(max_field_bytes)
            .min(u32::MAX as usize);
        let field_end = len.min(field_limit);
        // Lines end before `field_end`; only when that is the limit can a line ending (CRLF
        // after the last byte scanned) go past it.
        let near_limit = field_end + 1 >= field_limit;
        loop {
            if matches!(state, State::LineStart) {
                // Fast path: a whole, ordinary field line ending in CRLF is taken in one go.
                // Anything else (incomplete, over a limit, malformed, the end of the head)
                // goes through the byte-by-byte states below, which give the verdict.
                if self.header_count < max_fields {
                    // SAFETY: the caller guarantees the CPU supports `S`.
                    if let Some((colon, stop)) = unsafe { S::field_line(buf, pos, field_end) } {
                        if buf[stop] == b'\r'
                            && buf.get(stop + 1) == Some(&b'\n')
                            && (!near_limit || stop + 2 - self.headers_start <= max_field_bytes)
                        {
                            // Usually exactly one space follows the colon.
                            let mut value_start = colon + 1;
                            if buf[value_start] == b' ' {
                                value_start += 1;
                            }
                            while value_start < stop && ows(buf[value_start]) {
                                value_start += 1;
                            }
                            let mut value_end = stop;
                            while value_end > value_start && ows(buf[value_end - 1]) {
                                value_end -= 1;
                            }
                            let Some(slot) = headers.get_mut(self.header_count) else {
                                return Err(TooManyHeaders);
                            };
                            *slot = RawHeader::new((pos, colon), (value_start, value_end));
                            self.header_count += 1;
                            self.fields.on_field(
                                &buf[pos..colon],
                                &buf[value_start..value_end],
                                self.config.allow_identical_content_lengths,
                            )?;
                            pos = stop + 2;
                            continue;
                        }
                    }
                }
                if pos >= len {
                    // Resumable by `quick_resume` (at the start of a field line).
                    self.scan_limit = field_limit;
                    partial!(@save);
                }
                match buf[pos] {
                    b'\r' | b'\n' => {
                        pos += line_ending!(InvalidHeaderName);
                        return self.finish(pos);
                    }
                    b' ' | b'\t' => return Err(ObsoleteLineFolding),
                    _ => {}
                }
                if self.header_count >= max_fields {
                    return Err(TooManyHeaders);
                }
                mark = pos;
                state = State::Name;
            }
            if matches!(state, State::Name) {
                let end = (field_end, field_limit, HeadersTooLarge);
                // SAFETY: the caller guarantees the CPU supports `S`.
                pos = unsafe { S::token_end(buf, pos, end.0) };
                at_end!(end);
                match buf[pos] {
                    b':' if pos > mark => {}
                    b' ' | b'\t' if pos > mark => return Err(WhitespaceBeforeColon),
                    _ => return Err(InvalidHeaderName),
                }
                self.name = (mark, pos);
                pos += 1;
                state = State::ValueStart;
            }
            if matches!(state, State::ValueStart) {
                let end = (field_end, field_limit, HeadersTooLarge);
                while pos < end.0 && ows(buf[pos]) {
                    pos += 1;
                }
                at_end!(end);
                mark = pos;
                state = State::Value;
            }
            if !matches!(state, State::Value) {
                // Only Done and Failed are left, and `parse` does not call `run` in those.
                return match state {
                    State::Failed => Err(self.failure),
                    _ => Ok(true),
                };
            }
            let end = (field_end, field_limit, HeadersTooLarge);
            // SAFETY: the caller guarantees the CPU supports `S`.
            pos = unsafe { S::value_end(buf, pos, end.0) };
            at_end!(end);
            let eol = line_ending!(InvalidHeaderValue);
            let mut value_end = pos;
            while value_end > mark && ows(buf[value_end - 1]) {
                value_end -= 1;
            }
            if pos + eol - self.headers_start > max_field_bytes {
                return Err(HeadersTooLarge);
            }
            let Some(slot) = headers.get_mut(self.header_count) else {
                return Err(TooManyHeaders);
            };
            *slot = RawHeader::new(self.name, (mark, value_end));
            self.header_count += 1;
            self.fields.on_field(
                &buf[self.name.0..self.name.1],
                &buf[mark..value_end],
                self.config.allow_identical_content_lengths,
            )?;
            pos += eol;
            state = State::LineStart;
        }
    }

    /// The fast path for a fresh parse: an ordinary request line and whole, ordinary field
    /// lines ending in CRLF, in one pass with no state dispatch. Returns the final answer
    /// (complete, or an error that the general path would report at the same point), or
    /// `None` to let the general path go on from what was saved: nothing when the request line
    /// was not ordinary, or the field lines taken so far (`State::LineStart`). Everything
    /// unusual (an incomplete head, a limit reached, bare LF, malformed input) goes to the
    /// general path, which gives the verdict.
    ///
    /// # Safety
    /// The CPU supports the target features of `S`.
    #[inline(always)]
    unsafe fn fast_head<S: Scan>(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Option<Result<bool, ParseError>> {
        let len = buf.len();
        let limits = self.config.limits;
        let max_line = limits.max_request_line as usize;
        // SAFETY: the caller's guarantee is passed on.
        let (method_end, target_end) = unsafe { S::request_line(buf, max_line) }?;
        // The general path checks the line's length at the end of the version (8 bytes).
        if target_end + 9 > max_line {
            return None;
        }
        let version_at = target_end + 1;
        // One 8-byte and one 2-byte compare instead of a byte-by-byte match.
        let v = buf.get(version_at..version_at + 10)?;
        let (name, eol) = v.split_at(8);
        if eol != b"\r\n" {
            return None;
        }
        let version = match u64::from_le_bytes(name.try_into().ok()?) {
            HTTP_11 => Version::Http11,
            HTTP_10 => Version::Http10,
            _ => return None,
        };
        let target = (method_end + 1, target_end);
        let target_form = if buf[target.0] == b'/' && method_end != 7 {
            // Origin form, and the method is not CONNECT (the only 7-byte method that
            // changes the verdict).
            TargetForm::Origin
        } else {
            match classify_target(
                &buf[..method_end],
                &buf[target.0..target.1],
                self.config.allow_absolute_form,
            ) {
                Ok(form) => form,
                Err(e) => return Some(Err(e)),
            }
        };
        self.head.method = (0, method_end);
        self.head.target = target;
        self.head.version = version;
        self.head.target_form = target_form;
        let headers_start = version_at + 10;
        self.headers_start = headers_start;

        let max_fields = (limits.max_headers as usize).min(headers.len());
        // The general path's bounds: lines are scanned up to `field_end`, and a line with its
        // CRLF must end by `field_limit`. A line taken here has `stop + 1 < field_end`, which
        // keeps its CRLF inside the buffer and inside the limit.
        let field_limit = headers_start
            .saturating_add(limits.max_header_bytes as usize)
            .min(u32::MAX as usize);
        let field_end = len.min(field_limit);
        let allow_identical = self.config.allow_identical_content_lengths;
        let mut pos = headers_start;
        // The slots left to fill: a pointer and an end, one register fewer than an index, its
        // bound and the slice.
        let mut slots = headers.get_mut(..max_fields)?.iter_mut();
        // A user agent should send Host as the first field (RFC 9110 7.2): an ordinary
        // `Host: value` line there is taken without the name scan and the name dispatch.
        // Anything else about it (more whitespace, an empty value, no CRLF, a limit) is left
        // to the loop below.
        // A line that ends inside the limit is at least 9 bytes long.
        if pos + 8 <= field_end && slots.len() > 0 {
            // SAFETY: pos + 8 <= field_end <= len.
            let w = u64::from_le_bytes(unsafe { *buf.as_ptr().add(pos).cast::<[u8; 8]>() });
            // Bytes 0-3 fold to "host" only from "host" in any case; 4-5 must be ": " (the
            // shift drops bytes 6 and 7).
            if (w | 0x2020_2020) << 16 == HOST_FIELD << 16 {
                let value_start = pos + 6;
                // SAFETY: the caller's guarantee is passed on.
                let stop = unsafe { S::value_end(buf, value_start, field_end) };
                // value_start <= stop and stop + 1 < field_end <= len: `value_start`,
                // `stop - 1` (at least `pos + 5`), `stop` and `stop + 1` are in the buffer.
                let in_line = stop + 1 < field_end && {
                    // SAFETY: as said above.
                    let (first, last, cr, lf) = unsafe {
                        (
                            *buf.get_unchecked(value_start),
                            *buf.get_unchecked(stop - 1),
                            *buf.get_unchecked(stop),
                            *buf.get_unchecked(stop + 1),
                        )
                    };
                    [cr, lf] == *b"\r\n"
                        && (CLASSES[first as usize] | CLASSES[last as usize]) & C_OWS == 0
                };
                // `slots.len() > 0`: `next` gives a slot.
                if let Some(slot) = in_line.then(|| slots.next()).flatten() {
                    // SAFETY: value_start <= stop < len.
                    let value = unsafe { buf.get_unchecked(value_start..stop) };
                    let hint = SpanHint::<S>(buf, value_start, stop, PhantomData);
                    if let Err(e) = self.fields.on_host(value, hint) {
                        return Some(Err(e));
                    }
                    *slot = RawHeader::new((pos, pos + 4), (value_start, stop));
                    pos = stop + 2;
                }
            }
        }
        // AVX2: the CRs of the 64 bytes before `next_block` (bit `i` for `next_block - 64 + i`)
        // that are at or after `pos`, found ahead of the lines: no CR lies in `pos..next_block`
        // other than those. The lowest bit is the CR ending the line at `pos`, so a line's end
        // comes from the bits (one `tzcnt`; one `blsr` drops it once the line is taken), not
        // from a load at the line's start that waits for the previous line's end. Every bit
        // stands for a CR at `cr` with `cr + 1 < field_end`, so its LF can be read. When the
        // bits run out, the next 64 bytes are read (`next_cr_block`). Each line is still
        // classified whole (`field_line_to`); anything unusual takes the usual way (where a
        // line's CR is the first CR after its start too, so the same `blsr` drops it).
        let mut crs: u64 = 0;
        let mut next_block = pos;
        'lines: loop {
            if S::WIDE && crs == 0 {
                // SAFETY: the caller's guarantee is passed on.
                (crs, next_block) = unsafe { next_cr_block::<S>(buf, pos, next_block, field_end) };
            }
            let (colon, stop) = 'line: {
                if S::WIDE && crs != 0 {
                    // At or after `pos` (see above), and `cr + 1 < field_end`. (At `pos`, the
                    // empty line ending the head, which `field_line_to` declines.)
                    let cr = next_block - 64 + crs.trailing_zeros() as usize;
                    // SAFETY: the caller's guarantee is passed on.
                    if let Some(colon) = unsafe { S::field_line_to(buf, pos, cr, field_end) } {
                        // SAFETY: cr + 1 < field_end <= len.
                        if unsafe { *buf.get_unchecked(cr + 1) } != b'\n' {
                            break 'lines;
                        }
                        break 'line (colon, cr);
                    }
                }
                // A name never starts with CR. The narrow scanners look for the empty line
                // first, before a field line scan's set-up; for AVX2, which classifies a whole
                // line at once, it is among the lines `field_line` declines and looked for
                // only then, unless fewer than 32 bytes are left (the usual end of a head,
                // where `field_line` would shift a vector to decline it).
                if S::WIDE && pos + 32 > field_end && buf.get(pos..pos + 2) == Some(b"\r\n") {
                    self.header_count = max_fields - slots.len();
                    return Some(self.finish(pos + 2));
                }
                if !S::WIDE && buf.get(pos) == Some(&b'\r') {
                    if buf.get(pos + 1) == Some(&b'\n') {
                        self.header_count = max_fields - slots.len();
                        return Some(self.finish(pos + 2));
                    }
                    break 'lines;
                }
                // SAFETY: the caller's guarantee is passed on.
                let Some((colon, stop)) = (unsafe { S::field_line(buf, pos, field_end) }) else {
                    if S::WIDE && buf.get(pos..pos + 2) == Some(b"\r\n") {
                        self.header_count = max_fields - slots.len();
                        return Some(self.finish(pos + 2));
                    }
                    break 'lines;
                };
                // `pos < colon < stop < field_end <= len`.
                if stop + 1 >= field_end {
                    break 'lines;
                }
                // SAFETY: stop + 1 < field_end <= buf.len().
                let eol = unsafe { [*buf.get_unchecked(stop), *buf.get_unchecked(stop + 1)] };
                if eol != *b"\r\n" {
                    break 'lines;
                }
                (colon, stop)
            };
            // `pos < colon < stop`, `buf[stop..stop + 2]` is CRLF.
            // No slot left: the general path reports it.
            let Some(slot) = slots.next() else {
                break 'lines;
            };
            // Usually exactly one space follows the colon and none precedes the CR: a test
            // of that space, of the value's first byte after it and of the byte before the CR
            // (anything else is trimmed out of line). Among value bytes, only SP and HTAB are
            // at most `b' '`; the CR at `stop` is too, for an empty value.
            let mut value_start = colon + 2;
            let mut value_end = stop;
            // SAFETY: every index read is in `colon + 1..=stop`, inside the buffer (`colon + 2`
            // is read only when `colon + 1`, a space, is before the CR).
            unsafe {
                if *buf.get_unchecked(colon + 1) != b' '
                    || *buf.get_unchecked(colon + 2) <= b' '
                    || *buf.get_unchecked(stop - 1) <= b' '
                {
                    (value_start, value_end) = trim_ows(buf, colon + 1, stop);
                }
            }
            *slot = RawHeader::new((pos, colon), (value_start, value_end));
            // Only four names mean something to the parser; their lengths sort out the rest.
            if FieldState::may_matter(colon - pos) {
                // SAFETY: pos <= colon and value_start <= value_end <= stop < buf.len().
                let (name, value) = unsafe {
                    (
                        buf.get_unchecked(pos..colon),
                        buf.get_unchecked(value_start..value_end),
                    )
                };
                let hint = SpanHint::<S>(buf, value_start, value_end, PhantomData);
                if let Err(e) = self
                    .fields
                    .on_field_with(name, value, allow_identical, hint)
                {
                    return Some(Err(e));
                }
            }
            pos = stop + 2;
            // The CR at `stop` is the lowest bit, if it is among them (see above).
            crs &= crs.wrapping_sub(1);
        }
        self.header_count = max_fields - slots.len();
        self.pos = pos;
        self.mark = pos;
        self.state = State::LineStart;
        None
    }

    /// The end-of-head checks.
    #[inline]
    fn finish(&mut self, pos: usize) -> Result<bool, ParseError> {
        let (body, keep_alive) = self.fields.finish(self.head.version)?;
        self.head.body = body;
        self.head.keep_alive = keep_alive;
        self.head.head_len = pos;
        self.pos = pos;
        self.state = State::Done;
        // Keeps `quick_resume` off a finished parser.
        self.scan_limit = 0;
        Ok(true)
    }
}

/// The CR bits for the loop of [`RequestParser::fast_head`] once its bits ran out: those of
/// the 64 bytes from `max(next_block, pos)` (no CR lies in `pos..next_block`), with the new
/// `next_block`, the end of those 64 bytes. Only CRs at `cr` with `cr + 1 < field_end` are
/// given, so that their LF can be read: when 64 bytes and one more are not left, the last 64
/// bytes before `field_end` are read, shifted to start at `max(next_block, pos)` and without
/// their last bit; after that, `next_block` is past `field_end` and no bits come any more. No
/// bits (a long line) leaves that line to the usual way.
///
/// # Safety
/// The CPU supports the target features of `S`.
#[inline(always)]
unsafe fn next_cr_block<S: Scan>(
    buf: &[u8],
    pos: usize,
    next_block: usize,
    field_end: usize,
) -> (u64, usize) {
    let field_end = field_end.min(buf.len());
    let at = next_block.max(pos);
    if at + 64 < field_end {
        // SAFETY: at + 64 < field_end <= buf.len(); the caller's guarantee is passed on.
        return (unsafe { S::cr_mask64(buf, at) }, at + 64);
    }
    if at + 1 < field_end && field_end >= 64 {
        let base = field_end - 64;
        // SAFETY: base + 64 == field_end <= buf.len(); the caller's guarantee is passed on.
        let crs = unsafe { S::cr_mask64(buf, base) } & u64::MAX >> 1;
        // `base < at` (at + 64 >= field_end): the bits from `at` on.
        return (crs >> (at - base), at + 64);
    }
    (0, at)
}

/// A field value, `buf[start..end]` (fields 0 to 2), that the scanners `S` may vouch for as a plain `Host`.
struct SpanHint<'a, S>(&'a [u8], usize, usize, PhantomData<S>);

impl<S: Scan> HostHint for SpanHint<'_, S> {
    #[inline(always)]
    fn plain_host(self) -> bool {
        S::plain_host(self.0, self.1, self.2)
    }
}

/// `start..end` without the whitespace at either end (rare case of the fast path, kept out of
/// it).
#[cold]
fn trim_ows(buf: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && buf.get(start).is_some_and(|&b| ows(b)) {
        start += 1;
    }
    while end > start && buf.get(end - 1).is_some_and(|&b| ows(b)) {
        end -= 1;
    }
    (start, end)
}

/// Fresh heads shorter than this take the fast path with the SSE2 scanners, inlined into
/// `parse`, instead of the AVX2 ones behind a call (a call into a `#[target_feature]`
/// function, whose set-up a small head does not repay). Heads of any size use SSE2 on CPUs
/// without AVX2.
#[cfg(target_arch = "x86_64")]
const SSE2_HEAD: usize = 128;

const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
/// `host: ` in the low six bytes.
const HOST_FIELD: u64 = u64::from_le_bytes(*b"host: \0\0");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// Finds the form of a request target (RFC 9112 3.2) and checks it goes with the method.
fn classify_target(
    method: &[u8],
    target: &[u8],
    allow_absolute: bool,
) -> Result<TargetForm, ParseError> {
    if method == b"CONNECT" {
        // authority-form = uri-host ":" port
        let colon = target.iter().rposition(|&b| b == b':');
        let ok = colon.is_some_and(|c| {
            let (host, port) = (&target[..c], &target[c + 1..]);
            !host.is_empty()
                && !port.is_empty()
                && port.iter().all(u8::is_ascii_digit)
                && (host[0] != b'[' || host.ends_with(b"]"))
                && valid_host(target)
        });
        return if ok {
            Ok(TargetForm::Authority)
        } else {
            Err(ParseError::InvalidAuthorityForm)
        };
    }
    match target {
        [b'/', ..] => Ok(TargetForm::Origin),
        b"*" if method == b"OPTIONS" => Ok(TargetForm::Asterisk),
        b"*" => Err(ParseError::AsteriskWithoutOptions),
        [first, rest @ ..] if first.is_ascii_alphabetic() => {
            // absolute-URI = scheme ":" hier-part [ "?" query ]
            let scheme_len = rest
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
                .unwrap_or(rest.len());
            if rest.get(scheme_len) != Some(&b':') {
                Err(ParseError::InvalidTarget)
            } else if allow_absolute {
                Ok(TargetForm::Absolute)
            } else {
                Err(ParseError::AbsoluteFormRejected)
            }
        }
        _ => Err(ParseError::InvalidTarget),
    }
}

/// A parsed request head, borrowing the buffer it was parsed from, the header slice and the
/// parser.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    buf: &'a [u8],
    headers: &'a [RawHeader],
    head: &'a Head,
}

/// Checked token text: every span was validated as ASCII when parsed (from this buffer, as
/// long as the caller kept the contract of [`RequestParser::parse`]).
#[inline]
fn ascii(buf: &[u8], span: (usize, usize)) -> &str {
    buf.get(span.0..span.1)
        .map_or("", super::headers::ascii_str)
}

impl<'a> Request<'a> {
    /// The method, e.g. `GET` (case-sensitive; unknown methods are not an error here).
    pub fn method(&self) -> &'a str {
        ascii(self.buf, self.head.method)
    }

    /// The request target as sent, e.g. `/index.html?x=1`.
    pub fn target(&self) -> &'a str {
        ascii(self.buf, self.head.target)
    }

    /// The path of an origin-form target: the target up to `?`.
    pub fn path(&self) -> &'a str {
        let t = self.target();
        t.split_once('?').map_or(t, |(p, _)| p)
    }

    /// The query of an origin-form target: what follows the first `?`, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// The form of the target.
    pub const fn target_form(&self) -> TargetForm {
        self.head.target_form
    }

    /// The HTTP version.
    pub const fn version(&self) -> Version {
        self.head.version
    }

    /// The header fields, in the order received.
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            buf: self.buf,
            raw: self.headers.iter(),
        }
    }

    /// The number of header fields.
    pub const fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The value of the first field named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        // Compares the name's bytes: no UTF-8 conversion per field.
        let name = name.as_bytes();
        self.headers
            .iter()
            .find(|h| h.name_bytes(self.buf).eq_ignore_ascii_case(name))
            .map(|h| h.resolve(self.buf).value)
    }

    /// How many bytes of the buffer the head took, including the empty lines skipped before
    /// the request line and the empty line ending the head. The body (or the next pipelined
    /// request) starts there.
    pub const fn head_len(&self) -> usize {
        self.head.head_len
    }

    /// How the body is delimited.
    pub const fn body(&self) -> BodyFraming {
        self.head.body
    }

    /// Whether the connection may serve another request after this one: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub const fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }
}
