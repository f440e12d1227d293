//! Descriptor I/O, one file per concern: moving bytes (`read`/`write`, positioned and vectored
//! forms, `lseek`, `sendfile`), pipes, and descriptor control (`close_range`, `dup3`,
//! `fcntl`), and terminals (pseudo-terminal pairs, controlling terminal, window size, attributes and raw mode). Calls on paths and file metadata are in [`crate::fs`].
//!
//! ```
//! use rawsys::fs::{self, Mode, OFlags, CWD};
//! use rawsys::io;
//!
//! let fd = fs::openat(CWD, c"/proc/self/stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
//! let mut buf = [0u8; 64];
//! let n = io::read(&fd, &mut buf)?;
//! assert!(n > 0);
//! # Ok::<(), rawsys::Errno>(())
//! ```

mod control;
mod pipe;
mod rw;
mod termios;
mod tty;

pub use control::*;
pub use pipe::*;
pub use rw::*;
pub use termios::*;
pub use tty::*;
