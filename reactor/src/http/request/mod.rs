//! The request-head parser: [`RequestParser`] and its paths, each in its own file.
//!
//! - [`fast`]: a fresh, whole, ordinary head in one pass, with no state dispatch.
//! - [`machine`]: the incremental state machine, which resumes where it stopped and gives
//!   every verdict the fast path declines to give.
//! - [`quick`]: a resumed call adding a few bytes (a byte at a time), without the state
//!   machine's set-up.
//! - [`view`]: the parsed [`Request`].
//!
//! The paths are generic over the safe [`Scanner`](super::simd::Scanner) trait and
//! monomorphised per instruction set; this module chooses the instruction set.

use super::chars::{C_ANY, C_OWS, C_TARGET, C_TOKEN, C_VALUE, valid_host};
use super::chunked::ChunkedDecoder;
use super::headers::{FieldState, RawHeader};
use super::simd::Portable;
#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Sse2};
use super::{BodyFraming, ParseError, ParserConfig};

mod fast;
mod machine;
mod quick;
mod view;

pub use view::{Request, Status, TargetForm, Version};

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

/// Per state (by discriminant), the class bits ([`CLASSES`](super::chars::CLASSES)) of the bytes that only
/// continue its element: one load and one test per byte on the quick path.
const CONTINUE_CLASS: [u8; 10] = {
    let mut t = [0; 10];
    t[State::Method as usize] = C_TOKEN;
    t[State::Name as usize] = C_TOKEN;
    t[State::Target as usize] = C_TARGET;
    t[State::Value as usize] = C_VALUE;
    // Whitespace after the colon leaves the state machine where it was too.
    t[State::ValueStart as usize] = C_OWS;
    // Nothing is decided before the version's eight bytes are there (`set_scan_limit`).
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
    /// ([`quick_resume`](Self::quick_resume)). Kept as that limit minus one (see
    /// [`set_scan_limit`](Self::set_scan_limit)), so that the quick path's one test of the
    /// buffer's last index also proves the buffer non-empty. 0 otherwise, which keeps every
    /// other call off the quick path.
    quick_last: usize,
    /// `CONTINUE_CLASS` of `state`, kept up to date wherever a call may stop with
    /// `quick_last` set: the quick path's test without a table lookup. (After a version's
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
            quick_last: 0,
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
        // `quick_last` is 0 once done or failed, so a call on a finished parser does not take
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

    /// Lets the quick path take resumed calls whose buffer stays shorter than `limit`
    /// (`quick_last` is `limit - 1`; a `limit` of 0 or 1 admits no non-empty buffer, and an
    /// empty one goes to the state machine).
    #[inline(always)]
    fn set_scan_limit(&mut self, limit: usize) {
        self.quick_last = limit.saturating_sub(1);
    }

    /// Sets the state where a call may stop with `quick_last` set, and its `quick_class`.
    #[inline(always)]
    fn set_quick_state(&mut self, state: State) {
        self.state = state;
        self.quick_class = CONTINUE_CLASS[state as usize];
    }

    fn fail(&mut self, e: ParseError) -> ParseError {
        // `quick_resume` must not answer for a failed parser.
        self.quick_last = 0;
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
            self.resume_cold(buf, headers)
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
            let avx2 = if buf.len() < SSE2_HEAD {
                None
            } else {
                Avx2::detect()
            };
            // Each arm returns on its own: one answer merged from both would be a value to
            // build and test again.
            match avx2 {
                // A call into a function compiled with AVX2 (`Avx2::enabled`).
                Some(avx2) => {
                    let fast = avx2.enabled(
                        &mut *self,
                        buf,
                        &mut *headers,
                        #[inline(always)]
                        |avx2, this: &mut Self, buf, headers| this.fast_head(avx2, buf, headers),
                    );
                    if let Some(done) = fast {
                        return done;
                    }
                }
                None => {
                    if let Some(done) = self.fast_head(Sse2, buf, headers) {
                        return done;
                    }
                }
            }
            return self.resume(buf, headers);
        }
        if let Some(done) = self.fast_portable(buf, headers) {
            return done;
        }
        self.resume(buf, headers)
    }

    /// [`resume`](Self::resume) for a resumed call, as a cold call: the quick path, around
    /// which `parse` inlines into the caller's loop of calls, then keeps its registers.
    #[cold]
    #[inline(never)]
    fn resume_cold(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        self.resume(buf, headers)
    }

    /// The state machine from where it stopped. (Out of line, so that `parse`, with its quick
    /// path, stays small.)
    #[inline(never)]
    fn resume(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        // A few new bytes are not worth the SIMD set-up: small requests and small increments
        // (both paths give identical results, so they can take turns on one request).
        #[cfg(target_arch = "x86_64")]
        if self.config.use_simd
            && buf.len() - self.pos >= 64
            && let Some(avx2) = Avx2::detect()
        {
            return avx2.enabled(
                self,
                buf,
                headers,
                #[inline(always)]
                |avx2, this: &mut Self, buf, headers| this.run(avx2, buf, headers),
            );
        }
        self.run_portable(buf, headers)
    }

    #[inline]
    fn run_portable(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> Result<bool, ParseError> {
        self.run(Portable, buf, headers)
    }

    /// Test hook: a fresh parse through the SSE2 fast path whatever the size of the head (as
    /// on a CPU without AVX2), then the state machine.
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(in crate::http) fn run_sse2_fast_path(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Result<bool, ParseError> {
        match self.fast_head(Sse2, buf, headers) {
            Some(done) => done,
            None => self.run_portable(buf, headers),
        }
    }

    fn fast_portable(
        &mut self,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Option<Result<bool, ParseError>> {
        self.fast_head(Portable, buf, headers)
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
        self.quick_last = 0;
        Ok(true)
    }
}

/// Fresh heads shorter than this take the fast path with the SSE2 scanners, inlined into
/// `parse`, instead of the AVX2 ones behind a call (a call into a `#[target_feature]`
/// function, whose set-up a small head does not repay). Heads of any size use SSE2 on CPUs
/// without AVX2.
#[cfg(target_arch = "x86_64")]
const SSE2_HEAD: usize = 128;

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
