//! Reading directories: `getdents64` and a checked walk over the entries it returns.

use core::ffi::CStr;

use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

/// `getdents64(2)`: fills `buf` with directory entries; `Ok(0)` at the end of the directory.
///
/// Walk the filled part with [`DirEntries`].
pub fn getdents64(dirfd: impl AsFd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes of writes.
    unsafe {
        sys::syscall3(
            Sysno::getdents64,
            sys::fd_arg(dirfd),
            sys::by_mut(buf),
            buf.len(),
        )
    }
}

/// The type of a directory entry (`d_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `DT_UNKNOWN`: the filesystem does not say; `stat` it.
    Unknown,
    /// `DT_FIFO`
    Fifo,
    /// `DT_CHR`
    CharDevice,
    /// `DT_DIR`
    Directory,
    /// `DT_BLK`
    BlockDevice,
    /// `DT_REG`
    File,
    /// `DT_LNK`
    Symlink,
    /// `DT_SOCK`
    Socket,
}

/// One entry of a `getdents64` buffer.
#[derive(Clone, Copy, Debug)]
pub struct DirEntry<'a> {
    /// Inode number.
    pub ino: u64,
    /// Entry type.
    pub kind: FileKind,
    /// The name, without any directory part.
    pub name: &'a CStr,
}

/// Iterates over the entries [`getdents64`] wrote into a buffer, checking every length.
///
/// A malformed record ends the iteration instead of reading out of bounds.
pub struct DirEntries<'a> {
    buf: &'a [u8],
}

impl<'a> DirEntries<'a> {
    /// Walks `buf`, the filled part of a `getdents64` buffer.
    pub fn new(buf: &'a [u8]) -> Self {
        DirEntries { buf }
    }
}

/// Offset of `d_name` in `struct linux_dirent64` (u64 ino, i64 off, u16 reclen, u8 type).
const DIRENT_NAME_OFFSET: usize = 19;

impl<'a> Iterator for DirEntries<'a> {
    type Item = DirEntry<'a>;

    fn next(&mut self) -> Option<DirEntry<'a>> {
        let b = self.buf;
        if b.len() < DIRENT_NAME_OFFSET {
            return None;
        }
        let reclen = u16::from_ne_bytes([b[16], b[17]]) as usize;
        if reclen <= DIRENT_NAME_OFFSET || reclen > b.len() {
            self.buf = &[];
            return None;
        }
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&b[..8]);
        let kind = match b[18] {
            1 => FileKind::Fifo,
            2 => FileKind::CharDevice,
            4 => FileKind::Directory,
            6 => FileKind::BlockDevice,
            8 => FileKind::File,
            10 => FileKind::Symlink,
            12 => FileKind::Socket,
            _ => FileKind::Unknown,
        };
        let name = match CStr::from_bytes_until_nul(&b[DIRENT_NAME_OFFSET..reclen]) {
            Ok(n) => n,
            Err(_) => {
                self.buf = &[];
                return None;
            }
        };
        self.buf = &b[reclen..];
        Some(DirEntry {
            ino: u64::from_ne_bytes(ino),
            kind,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_entries_never_read_past_a_malformed_buffer() {
        // reclen larger than the buffer, then a zero reclen: both must stop the walk.
        let mut b = [0u8; 32];
        b[16] = 200;
        assert_eq!(DirEntries::new(&b).count(), 0);
        b[16] = 0;
        assert_eq!(DirEntries::new(&b).count(), 0);
        // A name with no NUL inside its record.
        let mut c = [b'x'; 24];
        c[16] = 24;
        c[17] = 0;
        assert_eq!(DirEntries::new(&c).count(), 0);
        assert_eq!(DirEntries::new(&[]).count(), 0);
    }
}
