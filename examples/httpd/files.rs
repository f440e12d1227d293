//! The per-worker file cache: safe opening below the root, MIME types, validators, and
//! prebuilt response header tails.
//!
//! Each worker keeps its own cache (no locks). An entry is trusted for [`TTL_MS`] and then
//! rebuilt from the file system, so a changed file is served within a second. Small files
//! are kept in memory (a pipelined burst of requests is answered with one `write`); larger
//! ones keep an open descriptor for `sendfile`.
//!
//! A file's precompressed siblings (`x.css.br`, `x.css.zst`, `x.css.gz`) are looked up when
//! its entry is built and kept with it, so a request for a file without siblings costs no
//! system call more than before, and one with siblings none either until the entry expires.

use std::collections::HashMap;
use std::ffi::CString;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write as _;
use std::sync::Arc;

use rawsys::fs::{self, Mode, OFlags};
use rawsys::io;
use rawsys::{AsFd, Errno, OwnedFd};

use crate::dates::http_date;

/// How long an entry is served without looking at the file system again.
pub(crate) const TTL_MS: u64 = 1000;
/// Files up to this size are held in memory.
pub(crate) const SMALL_FILE: u64 = 64 * 1024;
const MAX_ENTRIES: usize = 4096;
const MAX_CACHED_BYTES: usize = 32 << 20;

/// What a path resolves to.
pub(crate) enum Kind {
    /// A regular file.
    File(FileInfo),
    /// A directory requested without its trailing slash: redirect.
    Redirect,
    /// Not servable: outside the root through a symlink, not a regular file, a directory
    /// without `index.html`, or not readable.
    Forbidden,
    /// Does not exist.
    NotFound,
}

/// Why a path could not be opened: it does not exist (404), or it is not servable (403).
enum Unservable {
    NotFound,
    Forbidden,
}

/// A content coding of a precompressed sibling file, in the server's order of preference
/// when the client's weights tie (RFC 9110 12.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// Brotli, `x.br`.
    Br,
    /// Zstandard, `x.zst`.
    Zstd,
    /// gzip, `x.gz`.
    Gzip,
}

impl Coding {
    /// Every coding, most preferred first.
    pub(crate) const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The suffix of the sibling file.
    fn suffix(self) -> &'static [u8] {
        match self {
            Coding::Br => b".br",
            Coding::Zstd => b".zst",
            Coding::Gzip => b".gz",
        }
    }

    /// The content-coding token (`Content-Encoding`, `Accept-Encoding`).
    pub(crate) fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }
}

/// A servable file: one representation (the file itself, or one of its precompressed
/// siblings).
pub(crate) struct FileInfo {
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) etag: Box<[u8]>,
    pub(crate) last_modified: [u8; 29],
    /// `Content-Type: ...\r\nLast-Modified: ...\r\nETag: ...\r\nAccept-Ranges: bytes\r\n`:
    /// every header of a 200 but the status line, `Date`, `Content-Length` and `Connection`.
    pub(crate) tail: Box<[u8]>,
    /// `Content-Length: N\r\n` for the whole file.
    pub(crate) length_line: Box<[u8]>,
    /// For a small file: its whole `200` response to an HTTP/1.1 keep-alive `GET`, head and
    /// contents, copied out in one piece (see `respond`); its `Date` is renewed in place
    /// when used (at [`DATE_AT`]). The contents are its last `size` bytes.
    pub(crate) whole: Option<Box<[u8]>>,
    /// An open descriptor, for a large file (shared with responses still being sent).
    pub(crate) fd: Option<Arc<OwnedFd>>,
    /// Whether responses carry `Vary: Accept-Encoding` (a file with precompressed siblings,
    /// and the siblings themselves).
    pub(crate) vary: bool,
    /// The precompressed siblings, most preferred first (empty for most files: no
    /// allocation).
    pub(crate) siblings: Box<[(Coding, FileInfo)]>,
}

/// The start of a `200` response's head, up to its `Date` value.
pub(crate) const HEAD_200: &[u8] = b"HTTP/1.1 200 OK\r\nServer: httpd\r\nDate: ";
/// Where the 29 bytes of the `Date` value start in [`FileInfo::whole`].
pub(crate) const DATE_AT: usize = HEAD_200.len();

impl FileInfo {
    /// The contents of a small file held in memory.
    pub(crate) fn body(&self) -> Option<&[u8]> {
        let w = self.whole.as_deref()?;
        w.get(w.len().checked_sub(usize::try_from(self.size).ok()?)?..)
    }

    /// The bytes held in memory for this file and its siblings.
    fn cached_bytes(&self) -> usize {
        self.whole.as_deref().map_or(0, <[u8]>::len)
            + self
                .siblings
                .iter()
                .map(|(_, s)| s.cached_bytes())
                .sum::<usize>()
    }
}

/// The bytes an entry holds in memory.
fn cached_bytes(kind: &Kind) -> usize {
    match kind {
        Kind::File(f) => f.cached_bytes(),
        _ => 0,
    }
}

pub(crate) struct Entry {
    checked_ms: u64,
    pub(crate) kind: Kind,
}

/// FxHash (rustc's hasher): much faster than SipHash for short keys, and the cache keys are
/// normalised paths that an attacker can choose only within the cache's size bound.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// The cache of one serving thread.
pub(crate) struct FileCache {
    root: OwnedFd,
    root_canon: Vec<u8>,
    /// Path -> index into `entries` (one hash lookup per request: the index is `Copy`, so
    /// a fresh entry is returned without looking the path up a second time).
    map: HashMap<Box<[u8]>, usize, FxBuild>,
    entries: Vec<Entry>,
    bytes: usize,
}

pub(crate) fn mime_type(name: &[u8]) -> &'static str {
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(p) if !name[p + 1..].contains(&b'/') => &name[p + 1..],
        _ => return "application/octet-stream",
    };
    let mut lower = [0u8; 8];
    if ext.len() > lower.len() {
        return "application/octet-stream";
    }
    for (d, s) in lower.iter_mut().zip(ext) {
        *d = s.to_ascii_lowercase();
    }
    match &lower[..ext.len()] {
        b"html" | b"htm" => "text/html; charset=utf-8",
        b"css" => "text/css; charset=utf-8",
        b"js" | b"mjs" => "text/javascript; charset=utf-8",
        b"json" | b"map" => "application/json",
        b"txt" | b"text" | b"log" => "text/plain; charset=utf-8",
        b"md" => "text/markdown; charset=utf-8",
        b"csv" => "text/csv; charset=utf-8",
        b"xml" => "application/xml",
        b"svg" => "image/svg+xml",
        b"png" => "image/png",
        b"jpg" | b"jpeg" => "image/jpeg",
        b"gif" => "image/gif",
        b"webp" => "image/webp",
        b"avif" => "image/avif",
        b"ico" => "image/x-icon",
        b"bmp" => "image/bmp",
        b"pdf" => "application/pdf",
        b"wasm" => "application/wasm",
        b"woff" => "font/woff",
        b"woff2" => "font/woff2",
        b"ttf" => "font/ttf",
        b"otf" => "font/otf",
        b"mp3" => "audio/mpeg",
        b"ogg" | b"oga" => "audio/ogg",
        b"wav" => "audio/wav",
        b"mp4" => "video/mp4",
        b"webm" => "video/webm",
        b"zip" => "application/zip",
        b"gz" => "application/gzip",
        b"tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

impl FileCache {
    /// A cache serving below `root` (an open directory) whose canonical path is `root_canon`.
    pub(crate) fn new(root: OwnedFd, root_canon: Vec<u8>) -> FileCache {
        FileCache {
            root,
            root_canon,
            map: HashMap::default(),
            entries: Vec::new(),
            bytes: 0,
        }
    }

    /// The entry for the normalised relative path `key` (see `paths::normalize_path`).
    pub(crate) fn lookup(&mut self, key: &[u8], now_ms: u64) -> &mut Entry {
        let found = self.map.get(key).copied();
        if let Some(i) = found
            && now_ms.wrapping_sub(self.entries[i].checked_ms) < TTL_MS
        {
            return &mut self.entries[i];
        }
        let kind = self.resolve(key);
        let entry = Entry {
            checked_ms: now_ms,
            kind,
        };
        let added = cached_bytes(&entry.kind);
        let full = match found {
            Some(i) => {
                let old = cached_bytes(&self.entries[i].kind);
                let bytes = self.bytes.saturating_sub(old) + added;
                if bytes <= MAX_CACHED_BYTES {
                    self.entries[i] = entry;
                    self.bytes = bytes;
                    return &mut self.entries[i];
                }
                true
            }
            None => self.entries.len() >= MAX_ENTRIES || self.bytes >= MAX_CACHED_BYTES,
        };
        if full {
            self.map.clear();
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += added;
        self.map.insert(key.into(), self.entries.len());
        self.entries.push(entry);
        let last = self.entries.len() - 1;
        &mut self.entries[last]
    }

    /// Whether the open `fd` really lies below the root (no symlink led outside).
    fn is_below_root(&self, fd: &OwnedFd) -> bool {
        let link = format!("/proc/self/fd/{}\0", fd.as_raw());
        let Ok(link) = CString::from_vec_with_nul(link.into_bytes()) else {
            return false;
        };
        let mut buf = [0u8; 4096];
        let Ok(n) = fs::readlinkat(fs::CWD, &link, &mut buf) else {
            return false;
        };
        let real = &buf[..n];
        let root = &self.root_canon;
        real == &root[..]
            || (real.starts_with(root)
                && (root.ends_with(b"/") || real.get(root.len()) == Some(&b'/')))
    }

    fn open_below(&self, rel: &[u8]) -> Result<(OwnedFd, fs::Stat), Unservable> {
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        let Ok(path) = CString::new(rel) else {
            return Err(Unservable::Forbidden);
        };
        // NONBLOCK: opening a FIFO must not block the event loop.
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = match fs::openat(&self.root, &path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG) => {
                return Err(Unservable::NotFound);
            }
            Err(_) => return Err(Unservable::Forbidden),
        };
        if !self.is_below_root(&fd) {
            return Err(Unservable::Forbidden);
        }
        let st = fs::fstat(&fd).map_err(|_| Unservable::Forbidden)?;
        Ok((fd, st))
    }

    fn resolve(&self, key: &[u8]) -> Kind {
        let (fd, st, name) = match self.open_below(key) {
            Err(Unservable::NotFound) => return Kind::NotFound,
            Err(Unservable::Forbidden) => return Kind::Forbidden,
            Ok((_dir, st)) if st.is_dir() => {
                if !key.is_empty() && !key.ends_with(b"/") {
                    return Kind::Redirect;
                }
                let mut index = key.to_vec();
                index.extend_from_slice(b"index.html");
                match self.open_below(&index) {
                    Ok((fd, st)) => (fd, st, index),
                    Err(_) => return Kind::Forbidden,
                }
            }
            Ok((fd, st)) => (fd, st, key.to_vec()),
        };
        if !st.is_file() {
            return Kind::Forbidden;
        }
        let content_type = mime_type(&name);
        let siblings = self.siblings(&name, st.st_mtime, content_type);
        let vary = !siblings.is_empty();
        match file_info(fd, &st, content_type, None, vary) {
            Some(mut f) => {
                f.siblings = siblings;
                Kind::File(f)
            }
            None => Kind::Forbidden,
        }
    }

    /// The precompressed siblings of the regular file `name` (modified at `mtime`) that can be
    /// served in its place: regular files below the root (opened with the same checks as any
    /// file), no older than the file itself (a sibling left behind by an edit of the file is
    /// stale: it is ignored, and the file served as it is). Not looked for beside a file that
    /// is itself compressed (`x.gz`: its siblings would be `x.gz.gz`, ...).
    fn siblings(&self, name: &[u8], mtime: i64, content_type: &str) -> Box<[(Coding, FileInfo)]> {
        if Coding::ALL.iter().any(|c| name.ends_with(c.suffix())) {
            return Box::default();
        }
        let mut found = Vec::new();
        let mut path = name.to_vec();
        for coding in Coding::ALL {
            path.truncate(name.len());
            path.extend_from_slice(coding.suffix());
            let Ok((fd, st)) = self.open_below(&path) else {
                continue;
            };
            if !st.is_file() || st.st_mtime < mtime {
                continue;
            }
            if let Some(f) = file_info(fd, &st, content_type, Some(coding), true) {
                found.push((coding, f));
            }
        }
        found.into_boxed_slice()
    }

    /// The root directory (for tests of the cache).
    #[allow(dead_code)]
    pub(crate) fn root(&self) -> impl AsFd + '_ {
        &self.root
    }
}

/// The representation held in the open regular file `fd` (whose metadata is `st`): its
/// validators, its prebuilt header lines, and its contents if small. `coding` names the
/// content coding of a precompressed sibling (which gets its own ETag, `"...-br"`, as its
/// bytes differ from the file's); `vary` adds `Vary: Accept-Encoding`. `None` if a small
/// file could not be read whole.
fn file_info(
    fd: OwnedFd,
    st: &fs::Stat,
    content_type: &str,
    coding: Option<Coding>,
    vary: bool,
) -> Option<FileInfo> {
    let size = st.st_size.max(0) as u64;
    let mtime = st.st_mtime;
    let last_modified = http_date(mtime);
    let suffix = coding.map_or("", Coding::token);
    let dash = if coding.is_some() { "-" } else { "" };
    let etag = format!("\"{mtime:x}-{size:x}{dash}{suffix}\"")
        .into_bytes()
        .into_boxed_slice();
    let mut tail = Vec::with_capacity(200);
    let _ = write!(tail, "Content-Type: {content_type}\r\n");
    if let Some(c) = coding {
        let _ = write!(tail, "Content-Encoding: {}\r\n", c.token());
    }
    if vary {
        tail.extend_from_slice(b"Vary: Accept-Encoding\r\n");
    }
    tail.extend_from_slice(b"Last-Modified: ");
    tail.extend_from_slice(&last_modified);
    tail.extend_from_slice(b"\r\nETag: ");
    tail.extend_from_slice(&etag);
    tail.extend_from_slice(b"\r\nAccept-Ranges: bytes\r\n");
    let length_line = format!("Content-Length: {size}\r\n")
        .into_bytes()
        .into_boxed_slice();
    let (whole, fd) = if size <= SMALL_FILE {
        // The Date is a placeholder until the first response fills it in.
        let head = HEAD_200.len() + last_modified.len() + tail.len() + length_line.len() + 4;
        let mut w = Vec::with_capacity(head + size as usize);
        w.extend_from_slice(HEAD_200);
        w.extend_from_slice(&last_modified);
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(&tail);
        w.extend_from_slice(&length_line);
        w.extend_from_slice(b"\r\n");
        if !read_all(&fd, size, &mut w) {
            return None;
        }
        (Some(w.into_boxed_slice()), None)
    } else {
        (None, Some(Arc::new(fd)))
    };
    Some(FileInfo {
        size,
        mtime,
        etag,
        last_modified,
        tail: tail.into_boxed_slice(),
        length_line,
        whole,
        fd,
        vary,
        siblings: Box::default(),
    })
}

/// Appends exactly `size` bytes from the start of `fd` to `out` (a file that shrinks
/// meanwhile is refused, and served at the next look).
fn read_all(fd: &OwnedFd, size: u64, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.resize(start + size as usize, 0);
    let mut off = 0usize;
    while start + off < out.len() {
        match io::pread(fd, &mut out[start + off..], off as u64) {
            Ok(0) => return false,
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}
