//! The caller's mounts ([`MountSpec`]): bind mounts of host paths and fresh tmpfs, every
//! target resolved inside the new root.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::fs::{self, Mode, OFlags};
use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::config::{MountSpec, Options};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, cstring, readlink, stat};

/// The canonical host path of each bind source (symlinks resolved) and whether it is a
/// directory, in the order of the bind mounts; a missing source is a configuration error.
pub(super) fn resolve_bind_sources(o: &Options) -> Result<Vec<(String, bool)>, Error> {
    let mut out = Vec::new();
    for m in &o.mounts {
        if let MountSpec::Bind { source, .. } = m {
            out.push(canonical_source(source)?);
        }
    }
    Ok(out)
}

pub(super) fn canonical_source(src: &str) -> Result<(String, bool), Error> {
    let bad = |errno| ConfigError::BadMountSource {
        path: src.into(),
        errno,
    };
    let c = cstring("mount source", src)?;
    let st = stat(&c).map_err(bad)?;
    let fd = fs::openat(fs::CWD, &c, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).map_err(bad)?;
    let link = cjoin(&["/proc/self/fd/", &format!("{}", fd.as_raw())])?;
    let real = readlink(&link).map_err(|e| Error::host(format!("readlink {src}"), e))?;
    let real = String::from_utf8(real)
        .map_err(|_| Error::Unexpected(format!("mount source {src} is not UTF-8")))?;
    Ok((real, st.is_dir()))
}

pub(super) fn parent_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// The caller's mounts, in the order given.
pub(super) fn caller_mounts(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let mut sources = core::mem::take(&mut p.bind_sources).into_iter();
    for m in &p.o.mounts {
        match m {
            MountSpec::Bind {
                target, readonly, ..
            } => {
                let Some((src, is_dir)) = sources.next() else {
                    return Err(Error::Unexpected("bind list".into()));
                };
                let t = p.in_root(&[target])?;
                if is_dir {
                    p.mkdir_p(target)?;
                } else {
                    p.mkdir_p(parent_of(target))?;
                    p.push(Op::CreateFile { path: t.clone() });
                }
                // nodev as for the root.
                let mut extra = MountFlags::NODEV;
                if *readonly {
                    extra |= MountFlags::RDONLY;
                }
                p.bind(&src, t, extra)?;
            }
            MountSpec::Tmpfs { target, size } => {
                p.mkdir_p(target)?;
                let data = match size {
                    Some(sz) => format!("mode=1777,size={sz}"),
                    None => "mode=1777".into(),
                };
                let t = p.in_root(&[target])?;
                p.mount(
                    Some("tmpfs"),
                    t,
                    Some("tmpfs"),
                    MountFlags::NOSUID | MountFlags::NODEV,
                    Some(&data),
                )?;
            }
            MountSpec::Mount(m) => super::spec::mount(p, m)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_of_targets() {
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
    }
}
