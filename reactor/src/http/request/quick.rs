//! The quick path of a resumed call: a few new bytes (a byte at a time, typically) inside a
//! method, target, version or field line, taken without the state machine's set-up.

use super::{RequestParser, State};
use crate::http::chars::{self, C_OWS, C_TARGET, C_TOKEN, C_VALUE, CLASSES, ows};
use crate::http::headers::{FieldState, RawHeader};

impl RequestParser {
    /// The cheap way through a resumed call that adds a few bytes (a byte at a time,
    /// typically) inside a method, target, version or field line. When every new byte only
    /// continues the element, or takes one of the simple steps between elements (see
    /// [`quick_byte`](Self::quick_byte) and [`quick_step`](Self::quick_step)), and everything
    /// stays below the element's limit, the state machine would do the same and stop at the
    /// end of the buffer for want of more, so this takes those steps and reports `Partial`,
    /// without the state machine's set-up. Returns whether it did; anything else (a limit, a
    /// byte needing a verdict, a line the parser must look into) is left to the state
    /// machine, which resumes from the state left here. A fresh parser, or one that stopped
    /// anywhere else, has `quick_last == 0` and pays one comparison.
    #[inline(always)]
    pub(super) fn quick_resume(&mut self, buf: &[u8], headers: &mut [RawHeader]) -> bool {
        /// Larger increments go to the state machine, whose scanners are faster per byte.
        const QUICK_MAX: usize = 16;
        let (pos, len) = (self.pos, buf.len());
        // `len < limit`, as `len - 1 < limit - 1`: an empty buffer wraps around to the
        // largest count and fails it, so `last` is the buffer's last index. A fresh or
        // finished parser has `quick_last == 0`.
        let last = len.wrapping_sub(1);
        if last >= self.quick_last {
            return false;
        }
        // Inline, the common case: the new bytes continue the element (a table load and a
        // test per byte; the states without such bytes have class 0). One new byte (fed a
        // byte at a time) without the loop.
        let class = self.quick_class;
        if last == pos {
            // `last < len` (see above): the optimiser drops the bounds check.
            let Some(&b) = buf.get(last) else {
                return false;
            };
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
        let Some(new) = buf.get(pos..) else {
            return false;
        };
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
    /// (at `self.pos`, ending the buffer, below the limit `quick_last` stands for) may also take the simple steps
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
                self.set_scan_limit(at + 9);
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
    /// does there. The limit checks it would make hold: the line ends below the limit `quick_last` stands for, the
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
}
