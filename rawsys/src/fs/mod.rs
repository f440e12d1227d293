//! The filesystem, one file per concern: opening files ([`openat`], [`openat2`]), the `*at`
//! path calls (`mkdirat`, `unlinkat`, `renameat`, ...), metadata (`fstat`, `statx`, `fchmod`,
//! ...), directory reading and advisory locks. Reading and writing the descriptors these
//! calls return is [`crate::io`]'s.
//!
//! Paths are `&CStr` and resolved relative to a directory descriptor; [`CWD`] stands for the
//! current working directory (`AT_FDCWD`).
//!
//! ```
//! use rawsys::fs::{self, AtFlags, Mode, OFlags, CWD};
//!
//! let fd = fs::openat(CWD, c"/proc/self", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
//! assert!(fs::fstat(&fd)?.is_dir());
//! assert!(fs::statat(CWD, c"/proc/self/stat", AtFlags::empty())?.is_file());
//! # Ok::<(), rawsys::Errno>(())
//! ```

mod dir;
mod lock;
mod meta;
mod open;
mod path;

#[cfg(test)]
pub(crate) mod testing;

pub use dir::*;
pub use lock::*;
pub use meta::*;
pub use open::*;
pub use path::*;
