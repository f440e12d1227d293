//! [`Token`]: the caller's name for a registration, handed back with each event.

/// Associates an event with the registration that produced it.
///
/// The reactor stores the token in the kernel's `epoll_event` and returns it unchanged in
/// [`Event::token`](crate::Event::token). A common choice is the index of the connection in a
/// slab, possibly with a generation in the high bits.
///
/// ```
/// use reactor::Token;
///
/// const LISTENER: Token = Token(0);
/// assert_eq!(usize::from(LISTENER), 0);
/// assert_eq!(Token::from(7usize), Token(7));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub usize);

impl From<Token> for usize {
    fn from(token: Token) -> usize {
        token.0
    }
}

impl From<usize> for Token {
    fn from(value: usize) -> Token {
        Token(value)
    }
}
