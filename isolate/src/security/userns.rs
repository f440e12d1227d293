//! User namespaces: uid/gid maps written by the parent, so that root inside is an ordinary
//! user outside, and a non-root caller can start a container (rootless).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::process;

use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, write_existing};

/// One line of `uid_map`/`gid_map`: ids `inside..inside+count` are `outside..outside+count` on
/// the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    /// First id inside the container.
    pub inside: u32,
    /// First id on the host.
    pub outside: u32,
    /// How many consecutive ids.
    pub count: u32,
}

impl IdMap {
    /// Parses `INSIDE:OUTSIDE:COUNT`.
    ///
    /// ```
    /// use isolate::security::IdMap;
    /// assert_eq!(IdMap::parse("0:100000:65536"), Ok(IdMap { inside: 0, outside: 100000, count: 65536 }));
    /// assert!(IdMap::parse("0:1").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<IdMap, ConfigError> {
        let bad = || ConfigError::BadIdMap(s.into());
        let mut it = s.split(':');
        let mut next = || -> Result<u32, ConfigError> {
            it.next()
                .ok_or_else(bad)?
                .trim()
                .parse::<u32>()
                .map_err(|_| bad())
        };
        let m = IdMap {
            inside: next()?,
            outside: next()?,
            count: next()?,
        };
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(m)
    }
}

/// A new user namespace for the container with its id maps.
///
/// [`UserNamespace::rootless`] maps root inside to the caller (the only map an unprivileged
/// caller may write itself, as `unshare -r`, bubblewrap and rootless podman without
/// `newuidmap` do). Root on the host can map ranges ([`UserNamespace::new`]).
///
/// ```
/// use isolate::security::{IdMap, UserNamespace};
///
/// let ns = UserNamespace::new(
///     vec![IdMap { inside: 0, outside: 100000, count: 65536 }],
///     vec![IdMap { inside: 0, outside: 100000, count: 65536 }],
/// )?;
/// assert_eq!(ns.uid_map_text(), "0 100000 65536\n");
/// # Ok::<(), isolate::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserNamespace {
    uid_map: Vec<IdMap>,
    gid_map: Vec<IdMap>,
    deny_setgroups: bool,
}

fn check(maps: &[IdMap], what: &'static str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError::BadIdMap(format!("{what}: {why}"));
    if maps.is_empty() {
        return Err(bad("empty"));
    }
    // The kernel takes at most 340 lines.
    if maps.len() > 340 {
        return Err(ConfigError::TooMany("id map lines"));
    }
    for (i, m) in maps.iter().enumerate() {
        if m.count == 0 {
            return Err(bad("count 0"));
        }
        if m.inside.checked_add(m.count).is_none() || m.outside.checked_add(m.count).is_none() {
            return Err(bad("range overflows"));
        }
        for o in &maps[..i] {
            let overlap = |a: u32, b: u32| a < b + o.count.min(u32::MAX - b) && b < a + m.count;
            if overlap(m.inside, o.inside) || overlap(m.outside, o.outside) {
                return Err(bad("overlapping ranges"));
            }
        }
    }
    Ok(())
}

impl UserNamespace {
    /// Root (0) inside is the caller's effective uid and gid outside; nothing else is mapped;
    /// `setgroups` is denied (required for an unprivileged caller to write the gid map).
    pub fn rootless() -> UserNamespace {
        UserNamespace {
            uid_map: alloc::vec![IdMap {
                inside: 0,
                outside: process::geteuid(),
                count: 1,
            }],
            gid_map: alloc::vec![IdMap {
                inside: 0,
                outside: process::getegid(),
                count: 1,
            }],
            deny_setgroups: true,
        }
    }

    /// Explicit maps (writing anything but the caller's own single id needs root on the host).
    pub fn new(uid_map: Vec<IdMap>, gid_map: Vec<IdMap>) -> Result<UserNamespace, ConfigError> {
        check(&uid_map, "uid map")?;
        check(&gid_map, "gid map")?;
        let ns = UserNamespace {
            uid_map,
            gid_map,
            deny_setgroups: false,
        };
        // The setup runs as root inside.
        if !ns.maps_uid(0) || !ns.maps_gid(0) {
            return Err(ConfigError::BadIdMap(
                "uid and gid 0 (root inside) must be mapped".into(),
            ));
        }
        Ok(ns)
    }

    /// Writes `deny` to `/proc/<pid>/setgroups` (forced when the caller is not root).
    pub fn deny_setgroups(mut self, yes: bool) -> UserNamespace {
        self.deny_setgroups = yes;
        self
    }

    /// Whether `setgroups(2)` will be refused inside.
    pub fn setgroups_denied(&self) -> bool {
        self.deny_setgroups || process::geteuid() != 0
    }

    /// The uid map lines.
    pub fn uid_map(&self) -> &[IdMap] {
        &self.uid_map
    }

    /// The gid map lines.
    pub fn gid_map(&self) -> &[IdMap] {
        &self.gid_map
    }

    /// The uid map in the kernel's text form.
    pub fn uid_map_text(&self) -> String {
        text(&self.uid_map)
    }

    /// Whether `uid` inside is mapped.
    pub fn maps_uid(&self, uid: u32) -> bool {
        self.uid_map
            .iter()
            .any(|m| uid >= m.inside && uid - m.inside < m.count)
    }

    /// Whether `gid` inside is mapped.
    pub fn maps_gid(&self, gid: u32) -> bool {
        self.gid_map
            .iter()
            .any(|m| gid >= m.inside && gid - m.inside < m.count)
    }

    /// Writes the maps of the child `pid` (parent side, before letting the child go on).
    pub(crate) fn write_maps(&self, pid: i32) -> Result<(), Error> {
        let file = |name: &str| cjoin(&["/proc/", &format!("{pid}"), "/", name]);
        let put = |name: &str, data: &str| {
            write_existing(&file(name)?, data.as_bytes())
                .map_err(|e| Error::host(format!("write /proc/{pid}/{name}"), e))
        };
        put("uid_map", &text(&self.uid_map))?;
        if self.setgroups_denied() {
            put("setgroups", "deny")?;
        }
        put("gid_map", &text(&self.gid_map))
    }
}

fn text(maps: &[IdMap]) -> String {
    let mut s = String::new();
    for m in maps {
        s.push_str(&format!("{} {} {}\n", m.inside, m.outside, m.count));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_validate_and_render() {
        let m = |i, o, c| IdMap {
            inside: i,
            outside: o,
            count: c,
        };
        assert!(UserNamespace::new(alloc::vec![], alloc::vec![m(0, 0, 1)]).is_err());
        assert!(UserNamespace::new(alloc::vec![m(0, 0, 0)], alloc::vec![m(0, 0, 1)]).is_err());
        assert!(
            UserNamespace::new(
                alloc::vec![m(0, 1000, 10), m(5, 5000, 10)],
                alloc::vec![m(0, 0, 1)]
            )
            .is_err()
        );
        assert!(
            UserNamespace::new(alloc::vec![m(u32::MAX, 0, 2)], alloc::vec![m(0, 0, 1)]).is_err()
        );
        assert!(UserNamespace::new(alloc::vec![m(1, 1, 1)], alloc::vec![m(0, 0, 1)]).is_err());
        let ns = UserNamespace::new(
            alloc::vec![m(0, 100000, 1000), m(1000, 1000, 1)],
            alloc::vec![m(0, 100000, 65536)],
        )
        .unwrap();
        assert_eq!(ns.uid_map_text(), "0 100000 1000\n1000 1000 1\n");
        assert!(ns.maps_uid(999) && ns.maps_uid(1000) && !ns.maps_uid(1001));
        assert!(ns.maps_gid(65535) && !ns.maps_gid(65536));
        let r = UserNamespace::rootless();
        assert_eq!(r.uid_map()[0].outside, process::geteuid());
        assert!(r.setgroups_denied());
        assert_eq!(IdMap::parse("1:2:3"), Ok(m(1, 2, 3)));
        for bad in ["", "1:2", "1:2:3:4", "a:b:c", "-1:0:1"] {
            assert!(IdMap::parse(bad).is_err(), "{bad}");
        }
    }
}
