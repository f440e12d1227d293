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
//! ```
//!
//! Values are escaped (`%` as `%25`, newline as `%0A`) so that any string survives; keys of
//! annotations are single words. A reader ignores keys it does not know (newer writers of
//! version 1 may add some); another version is refused.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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
        };
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
                _ => {}
            }
        }
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
        };
        let text = r.encode();
        assert_eq!(Record::parse(&text), Some(r.clone()));
        assert_eq!(text.lines().count(), 9, "{text}");
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
        ] {
            assert_eq!(Record::parse(bad), None, "{bad:?}");
        }
        assert!(valid_key("io.podman.x"));
        assert!(!valid_key("a b") && !valid_key("") && !valid_key("a%b"));
    }
}
