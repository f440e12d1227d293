//! Unpacking one layer (a tar stream, plain or gzip) into its own directory, as overlayfs wants
//! it: OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) become overlay's (a character device 0/0,
//! `trusted.overlay.opaque=y`); ownership, modes, symlinks, hard links and device nodes are
//! kept. Every path is resolved below the layer directory with `openat2(RESOLVE_BENEATH)`, so a
//! `..` or a symlink that would lead out is refused with the entry's name, never followed.

use std::borrow::Cow;
use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rawsys::fs::{self, AtFlags, CWD, Mode, OFlags, ResolveFlags};
use rawsys::{Errno, OwnedFd};

/// A reader that hashes (sha256) and counts what passes through it.
pub(crate) struct Hashing<R> {
    inner: R,
    ctx: ring::digest::Context,
    len: u64,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Hashing {
            inner,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            len: 0,
        }
    }

    /// Reads the rest, then the digest as `sha256:HEX` and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex(self.ctx.finish().as_ref())),
            self.len,
        ))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `r` decompressed according to its first bytes (gzip or nothing); other compressions are a
/// clear error.
pub(crate) fn decompressed<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>, String> {
    let mut r = BufReader::new(r);
    let head = r.fill_buf().map_err(|e| format!("read: {e}"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Box::new(flate2::read::GzDecoder::new(r)));
    }
    let other = [
        (&[0x28, 0xb5, 0x2f, 0xfd][..], "zstd"),
        (b"BZh", "bzip2"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz"),
    ];
    if let Some((_, name)) = other.iter().find(|(m, _)| head.starts_with(m)) {
        return Err(format!(
            "{name}-compressed data is not supported (use a plain or gzip tarball)"
        ));
    }
    Ok(Box::new(r))
}

/// What an unpacked layer came to.
pub(crate) struct Unpacked {
    /// sha256 of the uncompressed tar stream (the OCI `diff_id`).
    pub(crate) diff_id: String,
    /// The sum of the entries' sizes.
    pub(crate) size: u64,
}

/// Unpacks the tar stream `r` (already decompressed) into the existing empty directory `dest`;
/// with `whiteouts`, OCI whiteout entries become overlay whiteouts. `what` names the input in
/// messages.
pub(crate) fn unpack(
    r: impl Read,
    dest: &Path,
    whiteouts: bool,
    what: &str,
) -> Result<Unpacked, String> {
    let root = fs::openat(
        CWD,
        &cpath(dest.as_os_str().as_bytes())?,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("open {}: {e:?}", dest.display()))?;
    let mut hashing = Hashing::new(r);
    let mut size = 0u64;
    let mut n_entries = 0usize;
    {
        let mut ar = tar::Archive::new(&mut hashing);
        let entries = ar
            .entries()
            .map_err(|e| format!("{what}: not a tar archive: {e}"))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| format!("{what}: bad tar archive: {e}"))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            size += entry.size();
            n_entries += 1;
            let u = Unpacker {
                root: &root,
                whiteouts,
            };
            u.entry(&mut entry)
                .map_err(|e| format!("{what}: entry {name:?}: {e}"))?;
        }
    }
    if n_entries == 0 {
        return Err(format!("{what}: not a tar archive (no entries)"));
    }
    let (diff_id, _) = hashing.finish().map_err(|e| format!("{what}: read: {e}"))?;
    Ok(Unpacked { diff_id, size })
}

fn cpath(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "a path with a NUL byte".to_string())
}

/// The components of an entry's path, below the layer's root: `.` and empty ones dropped, a
/// leading `/` ignored (as tar does), `..` refused.
fn components(p: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    for c in p.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("the path contains '..' (refused: it could leave the root)".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

struct Unpacker<'a> {
    root: &'a OwnedFd,
    whiteouts: bool,
}

/// Says why a path could not be resolved below the root.
fn resolve_error(e: Errno) -> String {
    match e {
        Errno::EXDEV | Errno::ELOOP => {
            "its path leads out of the root through '..' or a symlink (refused)".into()
        }
        e => format!("{e:?}"),
    }
}

impl Unpacker<'_> {
    /// The directory holding the last component (created, with its parents, if missing) and
    /// that component. None for the root itself.
    fn parent_of(&self, path: &[u8]) -> Result<Option<(OwnedFd, CString)>, String> {
        let comps = components(path)?;
        let Some((last, dirs)) = comps.split_last() else {
            return Ok(None);
        };
        let mut rel = Vec::new();
        for d in dirs {
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(d);
            let c = cpath(&rel)?;
            match fs::mkdirat(self.root, &c, Mode::from_bits_retain(0o755)) {
                // EEXIST: there (or a symlink: resolved, and refused, below).
                Ok(()) | Err(Errno::EEXIST) => {}
                // ENOENT/ENOTDIR/...: resolution of an earlier part failed; say so below.
                Err(_) => {}
            }
        }
        let dir = if rel.is_empty() {
            fs::openat(
                self.root,
                c".",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        } else {
            fs::openat2(
                self.root,
                &cpath(&rel)?,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            )
        }
        .map_err(resolve_error)?;
        Ok(Some((dir, cpath(last)?)))
    }

    fn entry<R: Read>(&self, e: &mut tar::Entry<'_, R>) -> Result<(), String> {
        use tar::EntryType as T;
        let path: Vec<u8> = e.path_bytes().into_owned();
        let h = e.header();
        let kind = h.entry_type();
        let mode = h.mode().map_err(|e| e.to_string())? & 0o7777;
        let uid = h.uid().map_err(|e| e.to_string())? as u32;
        let gid = h.gid().map_err(|e| e.to_string())? as u32;
        let mtime = h.mtime().unwrap_or(0);
        let Some((dir, name)) = self.parent_of(&path)? else {
            // The root directory itself ("./"): its owner and mode.
            return self.own(self.root, c".", uid, gid, mode, false);
        };
        let base = name.as_bytes();
        if self.whiteouts && base.starts_with(b".wh.") {
            if base == b".wh..wh..opq" {
                let d = fs::openat(
                    &dir,
                    c".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| format!("open its directory: {e:?}"))?;
                return fs::fsetxattr(&d, c"trusted.overlay.opaque", b"y", 0)
                    .map_err(|e| format!("set trusted.overlay.opaque: {e:?}"));
            }
            let hidden = cpath(&base[4..])?;
            self.replace(&dir, &hidden)?;
            return fs::mknodat(&dir, &hidden, Mode::IFCHR, 0)
                .map_err(|e| format!("make the whiteout: {e:?}"));
        }
        match kind {
            T::Directory => {
                match fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if st.is_dir() => {}
                    Ok(_) => {
                        self.replace(&dir, &name)?;
                        mkdir(&dir, &name)?;
                    }
                    Err(_) => mkdir(&dir, &name)?,
                }
                self.own(&dir, &name, uid, gid, mode, false)
            }
            T::Regular | T::Continuous => {
                self.replace(&dir, &name)?;
                let f = fs::openat(
                    &dir,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREAT
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_bits_retain(0o600),
                )
                .map_err(|e| format!("create: {e:?}"))?;
                for (k, v) in &xattrs(e) {
                    fs::fsetxattr(&f, k, v, 0).map_err(|e| format!("set xattr {k:?}: {e:?}"))?;
                }
                let mut file = std::fs::File::from(std::os::fd::OwnedFd::from(f));
                io::copy(e, &mut file).map_err(|e| format!("write: {e}"))?;
                use std::os::unix::fs::{PermissionsExt, fchown};
                fchown(&file, Some(uid), Some(gid)).map_err(|e| format!("chown: {e}"))?;
                // After chown, which clears set-id bits.
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("chmod: {e}"))?;
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
                file.set_modified(t).map_err(|e| format!("set mtime: {e}"))
            }
            T::Symlink => {
                let target = link_name(e)?;
                self.replace(&dir, &name)?;
                fs::symlinkat(&cpath(&target)?, &dir, &name)
                    .map_err(|e| format!("symlink: {e:?}"))?;
                self.own(&dir, &name, uid, gid, mode, true)
            }
            T::Link => {
                let target = link_name(e)?;
                let (tdir, tname) = self
                    .parent_of(&target)
                    .map_err(|m| format!("hard link target: {m}"))?
                    .ok_or("a hard link to the root")?;
                self.replace(&dir, &name)?;
                fs::linkat(&tdir, &tname, &dir, &name, AtFlags::empty()).map_err(|e| {
                    let t = String::from_utf8_lossy(&target);
                    format!("hard link to {t:?}: {e:?}")
                })
            }
            T::Char | T::Block | T::Fifo => {
                let ty = match kind {
                    T::Char => Mode::IFCHR,
                    T::Block => Mode::IFBLK,
                    _ => Mode::IFIFO,
                };
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                self.replace(&dir, &name)?;
                let dev = fs::makedev(major, minor);
                fs::mknodat(&dir, &name, ty, dev).map_err(|e| format!("mknod: {e:?}"))?;
                self.own(&dir, &name, uid, gid, mode, false)
            }
            // Global PAX headers carry nothing for us; others (sparse files, ...) are refused.
            T::XGlobalHeader => Ok(()),
            other => Err(format!("unsupported tar entry type {other:?}")),
        }
    }

    /// Removes what an entry replaces (a later entry of the same name wins, as with tar); a
    /// directory is removed with its contents only when an entry of another type replaces it.
    fn replace(&self, dir: &OwnedFd, name: &CString) -> Result<(), String> {
        match fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(Errno::EISDIR) => {
                let mut buf = [0u8; 32];
                let dir_path = fd_path(dir, &mut buf);
                let p = Path::new(std::ffi::OsStr::from_bytes(dir_path))
                    .join(std::ffi::OsStr::from_bytes(name.as_bytes()));
                std::fs::remove_dir_all(&p).map_err(|e| format!("replace a directory: {e}"))
            }
            Err(e) => Err(format!("replace: {e:?}")),
        }
    }

    /// Owner, then mode (chown clears set-id bits); a symlink keeps its mode.
    fn own(
        &self,
        dir: &OwnedFd,
        name: &std::ffi::CStr,
        uid: u32,
        gid: u32,
        mode: u32,
        symlink: bool,
    ) -> Result<(), String> {
        fs::fchownat(dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| format!("chown: {e:?}"))?;
        if symlink {
            return Ok(());
        }
        fs::fchmodat(dir, name, Mode::from_bits_retain(mode)).map_err(|e| format!("chmod: {e:?}"))
    }
}

fn mkdir(dir: &OwnedFd, name: &CString) -> Result<(), String> {
    fs::mkdirat(dir, name, Mode::from_bits_retain(0o755)).map_err(|e| format!("mkdir: {e:?}"))
}

/// `/proc/self/fd/N` of a descriptor: a path for std calls that resolves to it exactly.
fn fd_path<'b>(fd: &OwnedFd, buf: &'b mut [u8; 32]) -> &'b [u8] {
    use std::io::Write;
    let mut w = &mut buf[..];
    let _ = write!(w, "/proc/self/fd/{}", fd.as_raw());
    let left = w.len();
    &buf[..32 - left]
}

fn link_name<R: Read>(e: &tar::Entry<'_, R>) -> Result<Vec<u8>, String> {
    match e.link_name_bytes() {
        Some(Cow::Borrowed(b)) => Ok(b.to_vec()),
        Some(Cow::Owned(b)) => Ok(b),
        None => Err("a link without a target".into()),
    }
}

/// The extended attributes of an entry kept on unpacking: file capabilities and `user.*`
/// (never `trusted.*`, which could forge overlayfs's own attributes).
fn xattrs<R: Read>(e: &mut tar::Entry<'_, R>) -> Vec<(CString, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(Some(exts)) = e.pax_extensions() else {
        return out;
    };
    for ext in exts.flatten() {
        let Ok(key) = ext.key() else { continue };
        let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
            continue;
        };
        if (name == "security.capability" || name.starts_with("user."))
            && let Ok(c) = CString::new(name)
        {
            out.push((c, ext.value_bytes().to_vec()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_below_the_root_and_dot_dot_is_refused() {
        assert_eq!(components(b"./a//b/").unwrap(), [&b"a"[..], b"b"]);
        assert_eq!(
            components(b"/etc/passwd").unwrap(),
            [&b"etc"[..], b"passwd"]
        );
        assert!(components(b"./").unwrap().is_empty());
        assert!(components(b"a/../../etc").unwrap_err().contains("'..'"));
    }

    #[test]
    fn compression_is_recognised() {
        assert!(decompressed(&[0x28, 0xb5, 0x2f, 0xfd, 0][..]).is_err_and(|e| e.contains("zstd")));
        let mut s = String::new();
        decompressed(&b"plain"[..])
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "plain");
    }
}
