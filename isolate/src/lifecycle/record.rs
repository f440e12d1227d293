//! The state file: a small versioned text format, one `key value` per line, written to a
//! temporary name and renamed over `state` (atomic for every reader).
//!
//! ```text
//! isolate-state 1
//! id web
//! pid 4242
//! start_time 1234567
//! created 1796600000
//! cgroup /sys/fs/cgroup/memory/web
//! freezer v1 /sys/fs/cgroup/freezer/web
//! annotation bundle /srv/bundles/web
//! hostname web
//! cwd /
//! env PATH=/usr/bin:/bin
//! user 0 0
//! keep 00000000a80425fb
//! nnp 1
//! seccomp 0020000004000000 0015000100003ec0 ...
//! ```
//!
//! The lines from `hostname` on are what a process joining the container gets by default
//! ([`ProcessRecord`]); a record without them (written before they existed) cannot be joined.
//!
//! Values are escaped (`%` as `%25`, newline as `%0A`) so that any string survives; keys of
//! annotations are single words. A reader ignores keys it does not know (newer writers of
//! version 1 may add some); another version is refused.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::process::CapSet;
use rawsys::seccomp::SockFilter;

use crate::plan::Credentials;
use crate::spec::CapabilitySets;

/// The first line of every state file of this format.
const MAGIC: &str = "isolate-state 1";

/// How the container is frozen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FreezerDir {
    /// A cgroup v1 `freezer` hierarchy directory (`freezer.state`).
    V1(String),
    /// The container's cgroup v2 directory (`cgroup.freeze`).
    V2(String),
}

/// What is kept about one container between commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) pid: i32,
    /// `/proc/PID/stat` field 22: with the pid, names the process for good.
    pub(crate) start_time: u64,
    /// Seconds since the epoch at creation.
    pub(crate) created: i64,
    pub(crate) cgroups: Vec<String>,
    pub(crate) freezer: Option<FreezerDir>,
    pub(crate) annotations: Vec<(String, String)>,
    /// What a process joining the container gets unless it asks for something else.
    pub(crate) process: Option<ProcessRecord>,
}

/// The container's process settings a joining process starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessRecord {
    pub(crate) hostname: String,
    pub(crate) cwd: String,
    /// The environment the container was given (without the defaults added at `execve`).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) user: Option<(u32, u32)>,
    /// The supplementary groups of that user.
    pub(crate) groups: Vec<u32>,
    pub(crate) credentials: Credentials,
}

fn escape(v: &str) -> String {
    v.replace('%', "%25").replace('\n', "%0A")
}

fn unescape(v: &str) -> String {
    v.replace("%0A", "\n").replace("%25", "%")
}

/// Whether `k` can be an annotation key in the file: one word of printable characters.
pub(crate) fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 256 && k.bytes().all(|b| b.is_ascii_graphic() && b != b'%')
}

impl Record {
    /// The file's text.
    pub(crate) fn encode(&self) -> String {
        let mut s = format!(
            "{MAGIC}\nid {}\npid {}\nstart_time {}\ncreated {}\n",
            self.id, self.pid, self.start_time, self.created
        );
        for c in &self.cgroups {
            s.push_str(&format!("cgroup {}\n", escape(c)));
        }
        match &self.freezer {
            Some(FreezerDir::V1(p)) => s.push_str(&format!("freezer v1 {}\n", escape(p))),
            Some(FreezerDir::V2(p)) => s.push_str(&format!("freezer v2 {}\n", escape(p))),
            None => {}
        }
        for (k, v) in &self.annotations {
            s.push_str(&format!("annotation {k} {}\n", escape(v)));
        }
        if let Some(p) = &self.process {
            p.encode(&mut s);
        }
        s
    }

    /// Parses a state file; `None` if it is not one of this version or misses a field.
    pub(crate) fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let (mut id, mut pid, mut start_time, mut created) = (None, None, None, None);
        let mut r = Record {
            id: String::new(),
            pid: 0,
            start_time: 0,
            created: 0,
            cgroups: Vec::new(),
            freezer: None,
            annotations: Vec::new(),
            process: None,
        };
        let mut process = ProcessRecord::parser();
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "id" => id = Some(value.into()),
                "pid" => pid = Some(value.parse().ok()?),
                "start_time" => start_time = Some(value.parse().ok()?),
                "created" => created = Some(value.parse().ok()?),
                "cgroup" => r.cgroups.push(unescape(value)),
                "freezer" => {
                    r.freezer = Some(match value.split_once(' ')? {
                        ("v1", p) => FreezerDir::V1(unescape(p)),
                        ("v2", p) => FreezerDir::V2(unescape(p)),
                        _ => return None,
                    })
                }
                "annotation" => {
                    let (k, v) = value.split_once(' ').unwrap_or((value, ""));
                    r.annotations.push((k.into(), unescape(v)));
                }
                _ => process.line(key, value)?,
            }
        }
        r.process = process.finish();
        r.id = id?;
        r.pid = pid?;
        r.start_time = start_time?;
        r.created = created?;
        if r.pid <= 0 {
            return None;
        }
        Some(r)
    }
}

fn hex_caps(v: &str) -> Option<CapSet> {
    u64::from_str_radix(v, 16).ok().map(CapSet::from_bits)
}

/// A [`ProcessRecord`] being read line by line; complete once `hostname` (always written
/// first) has been seen.
pub(crate) struct ProcessParser {
    seen: bool,
    p: ProcessRecord,
}

impl ProcessParser {
    /// Takes one line of the record; unknown keys are skipped, a malformed known one is
    /// `None`.
    fn line(&mut self, key: &str, value: &str) -> Option<()> {
        let p = &mut self.p;
        let c = &mut p.credentials;
        match key {
            "hostname" => {
                p.hostname = value.into();
                self.seen = true;
            }
            "cwd" => p.cwd = unescape(value),
            "env" => {
                let kv = unescape(value);
                let (k, v) = kv.split_once('=')?;
                p.env.push((k.into(), v.into()));
            }
            "user" => {
                let (u, g) = value.split_once(' ')?;
                p.user = Some((u.parse().ok()?, g.parse().ok()?));
            }
            "groups" => {
                for g in value.split(' ').filter(|g| !g.is_empty()) {
                    p.groups.push(g.parse().ok()?);
                }
            }
            "keep" => c.keep = Some(u64::from_str_radix(value, 16).ok()?),
            "capsets" => {
                let mut it = value.split(' ').map(hex_caps);
                c.sets = Some(CapabilitySets {
                    bounding: it.next()??,
                    effective: it.next()??,
                    permitted: it.next()??,
                    inheritable: it.next()??,
                    ambient: it.next()??,
                });
            }
            "nnp" => c.no_new_privs = value == "1",
            "setgroups" => c.set_groups = value == "1",
            "seccomp" => {
                let mut prog = Vec::new();
                for w in value.split(' ') {
                    let n = u64::from_str_radix(w, 16).ok().filter(|_| w.len() == 16)?;
                    prog.push(SockFilter {
                        code: (n >> 48) as u16,
                        jt: (n >> 40) as u8,
                        jf: (n >> 32) as u8,
                        k: n as u32,
                    });
                }
                c.seccomp = Some(prog);
            }
            _ => {}
        }
        Some(())
    }

    fn finish(self) -> Option<ProcessRecord> {
        self.seen.then_some(self.p)
    }
}

impl ProcessRecord {
    fn parser() -> ProcessParser {
        ProcessParser {
            seen: false,
            p: ProcessRecord {
                hostname: String::new(),
                cwd: "/".into(),
                env: Vec::new(),
                user: None,
                groups: Vec::new(),
                credentials: Credentials {
                    keep: None,
                    sets: None,
                    no_new_privs: false,
                    seccomp: None,
                    set_groups: true,
                },
            },
        }
    }

    fn encode(&self, s: &mut String) {
        s.push_str(&format!(
            "hostname {}\ncwd {}\n",
            self.hostname,
            escape(&self.cwd)
        ));
        for (k, v) in &self.env {
            s.push_str(&format!("env {}\n", escape(&format!("{k}={v}"))));
        }
        if let Some((u, g)) = self.user {
            s.push_str(&format!("user {u} {g}\n"));
        }
        if !self.groups.is_empty() {
            let g: Vec<String> = self.groups.iter().map(|g| format!("{g}")).collect();
            s.push_str(&format!("groups {}\n", g.join(" ")));
        }
        let c = &self.credentials;
        if let Some(k) = c.keep {
            s.push_str(&format!("keep {k:016x}\n"));
        }
        if let Some(x) = c.sets {
            s.push_str(&format!(
                "capsets {:016x} {:016x} {:016x} {:016x} {:016x}\n",
                x.bounding.bits(),
                x.effective.bits(),
                x.permitted.bits(),
                x.inheritable.bits(),
                x.ambient.bits()
            ));
        }
        s.push_str(&format!(
            "nnp {}\nsetgroups {}\n",
            u8::from(c.no_new_privs),
            u8::from(c.set_groups)
        ));
        if let Some(prog) = &c.seccomp {
            let words: Vec<String> = prog
                .iter()
                .map(|f| {
                    let n = (u64::from(f.code) << 48)
                        | (u64::from(f.jt) << 40)
                        | (u64::from(f.jf) << 32)
                        | u64::from(f.k);
                    format!("{n:016x}")
                })
                .collect();
            if !words.is_empty() {
                s.push_str(&format!("seccomp {}\n", words.join(" ")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn records_round_trip_with_awkward_values_and_garbage_is_refused() {
        let r = Record {
            id: "lp-test-a".into(),
            pid: 42,
            start_time: 123456,
            created: 1_796_600_000,
            cgroups: vec!["/sys/fs/cgroup/memory/lp-test-a".into()],
            freezer: Some(FreezerDir::V1("/sys/fs/cgroup/freezer/lp-test-a".into())),
            annotations: vec![
                ("bundle".into(), "/srv/a b%20\nc".into()),
                ("empty".into(), String::new()),
            ],
            process: None,
        };
        let text = r.encode();
        assert_eq!(Record::parse(&text), Some(r.clone()));
        assert_eq!(text.lines().count(), 9, "{text}");
        // With the process defaults.
        let mut full = r.clone();
        full.process = Some(ProcessRecord {
            hostname: "web".into(),
            cwd: "/srv/a b\n%".into(),
            env: vec![
                ("PATH".into(), "/bin".into()),
                ("X".into(), "a=b\nc".into()),
            ],
            user: Some((1000, 100)),
            groups: vec![5, 20],
            credentials: Credentials {
                keep: Some(0xa80425fb),
                sets: Some(CapabilitySets {
                    bounding: CapSet::from_bits(7),
                    effective: CapSet::from_bits(1),
                    permitted: CapSet::from_bits(3),
                    inheritable: CapSet::from_bits(2),
                    ambient: CapSet::from_bits(2),
                }),
                no_new_privs: true,
                seccomp: Some(vec![
                    SockFilter {
                        code: 0x20,
                        jt: 0,
                        jf: 0,
                        k: 4,
                    },
                    SockFilter {
                        code: 0x15,
                        jt: 1,
                        jf: 255,
                        k: 0xc000_003e,
                    },
                ]),
                set_groups: false,
            },
        });
        assert_eq!(Record::parse(&full.encode()), Some(full.clone()));
        let mut privileged = full;
        if let Some(p) = privileged.process.as_mut() {
            p.user = None;
            p.credentials.keep = None;
            p.credentials.sets = None;
            p.credentials.seccomp = None;
        }
        assert_eq!(Record::parse(&privileged.encode()), Some(privileged));
        // Unknown keys of the same version are skipped.
        let newer = format!("{text}future_key whatever\n");
        assert_eq!(Record::parse(&newer), Some(r));
        for bad in [
            "",
            "isolate-state 2\nid a\npid 1\nstart_time 1\ncreated 0\n",
            "isolate-state 1\nid a\npid x\nstart_time 1\ncreated 0\n",
            "isolate-state 1\nid a\npid 0\nstart_time 1\ncreated 0\n",
            "isolate-state 1\nid a\nstart_time 1\ncreated 0\n",
            "isolate-state 1\nid a\npid 3\nstart_time 1\ncreated 0\nfreezer v9 /x\n",
            "isolate-state 1\nid a\npid 3\nstart_time 1\ncreated 0\nhostname h\nuser 1\n",
            "isolate-state 1\nid a\npid 3\nstart_time 1\ncreated 0\nhostname h\nseccomp 12\n",
        ] {
            assert_eq!(Record::parse(bad), None, "{bad:?}");
        }
        assert!(valid_key("io.podman.x"));
        assert!(!valid_key("a b") && !valid_key("") && !valid_key("a%b"));
    }
}
