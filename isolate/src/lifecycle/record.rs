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
//! net_bridge lp0 172.29.0.0/16 lp_nat lpv
//! net_lease_dir /run/linux-primitives/net
//! net_name web
//! net_address 172.29.0.5
//! net_mac 02:5e:1c:a0:33:07
//! net_port tcp 8080 80
//! hostname web
//! cwd /
//! env PATH=/usr/bin:/bin
//! user 0 0
//! keep 00000000a80425fb
//! nnp 1
//! seccomp 0020000004000000 0015000100003ec0 ...
//! ```
//!
//! The `net_` lines are what a container on a bridge holds ([`NetworkSettings`]: the network,
//! the name its lease and DNAT rules carry, its address, `eth0`'s MAC address, its published
//! ports); they go when it is given back ([`crate::StateRoot::release_network`]).
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

use crate::net::{BridgeConfig, Ipv4Net, NetworkSettings, PortMapping, Proto};
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
    /// What it holds on a bridge network, until given back.
    pub(crate) network: Option<NetworkSettings>,
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
        if let Some(n) = &self.network {
            encode_network(n, &mut s);
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
            network: None,
            process: None,
        };
        let mut process = ProcessRecord::parser();
        let mut net = NetParser::default();
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
                k if k.starts_with("net_") => net.line(key, value)?,
                _ => process.line(key, value)?,
            }
        }
        r.process = process.finish();
        r.network = net.finish()?;
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

fn show_ip([a, b, c, d]: [u8; 4]) -> String {
    format!("{a}.{b}.{c}.{d}")
}

fn encode_network(n: &NetworkSettings, s: &mut String) {
    let b = &n.bridge;
    s.push_str(&format!(
        "net_bridge {} {} {} {}\nnet_lease_dir {}\nnet_name {}\nnet_address {}\n",
        b.name(),
        b.subnet(),
        b.table(),
        b.veth_prefix(),
        escape(b.lease_dir()),
        n.name,
        show_ip(n.address)
    ));
    if let Some(m) = n.mac {
        let hex: Vec<String> = m.iter().map(|x| format!("{x:02x}")).collect();
        s.push_str(&format!("net_mac {}\n", hex.join(":")));
    }
    for p in &n.ports {
        s.push_str(&format!(
            "net_port {} {} {}\n",
            p.proto.name(),
            p.host_port,
            p.container_port
        ));
    }
}

/// The `net_` lines being read; complete with its bridge, lease directory, name and address.
#[derive(Default)]
struct NetParser {
    bridge: Option<BridgeConfig>,
    lease_dir: Option<String>,
    name: Option<String>,
    address: Option<[u8; 4]>,
    mac: Option<[u8; 6]>,
    ports: Vec<PortMapping>,
    seen: bool,
}

impl NetParser {
    /// Takes one `net_` line; a malformed one is `None` (unknown `net_` keys are skipped).
    fn line(&mut self, key: &str, value: &str) -> Option<()> {
        self.seen = true;
        match key {
            "net_bridge" => {
                let mut w = value.split(' ');
                let (name, subnet, table, veth) = (w.next()?, w.next()?, w.next()?, w.next()?);
                let b = BridgeConfig::default()
                    .with_name(name)
                    .ok()?
                    .with_subnet(Ipv4Net::parse(subnet).ok()?)
                    .with_table(table)
                    .ok()?
                    .with_veth_prefix(veth)
                    .ok()?;
                self.bridge = Some(b);
            }
            "net_lease_dir" => self.lease_dir = Some(unescape(value)),
            "net_name" if !value.is_empty() && !value.contains(' ') => {
                self.name = Some(value.into())
            }
            "net_address" => self.address = Some(crate::net::parse_ipv4(value)?),
            "net_mac" => {
                let mut m = [0u8; 6];
                let mut parts = value.split(':');
                for b in &mut m {
                    let p = parts.next()?;
                    if p.len() != 2 {
                        return None;
                    }
                    *b = u8::from_str_radix(p, 16).ok()?;
                }
                if parts.next().is_some() {
                    return None;
                }
                self.mac = Some(m);
            }
            "net_port" => {
                let mut w = value.split(' ');
                let proto = match w.next()? {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => return None,
                };
                self.ports.push(PortMapping {
                    proto,
                    host_port: w.next()?.parse().ok()?,
                    container_port: w.next()?.parse().ok()?,
                });
            }
            "net_name" => return None,
            _ => {}
        }
        Some(())
    }

    /// `Some(None)` without `net_` lines, `None` when they are incomplete.
    fn finish(self) -> Option<Option<NetworkSettings>> {
        if !self.seen {
            return Some(None);
        }
        let bridge = self.bridge?.with_lease_dir(&self.lease_dir?).ok()?;
        Some(Some(NetworkSettings {
            bridge,
            name: self.name?,
            address: self.address?,
            mac: self.mac,
            ports: self.ports,
        }))
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
            network: None,
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
        // On a bridge, with published ports.
        let mut on_bridge = r.clone();
        on_bridge.network = Some(NetworkSettings {
            bridge: BridgeConfig::default()
                .with_name("lp-test-br")
                .unwrap()
                .with_subnet(Ipv4Net::parse("10.213.7.0/24").unwrap())
                .with_table("lp_test_t")
                .unwrap()
                .with_veth_prefix("lp-test-v")
                .unwrap()
                .with_lease_dir("/tmp/lease dir%\n")
                .unwrap(),
            name: "lp-test-a".into(),
            address: [10, 213, 7, 9],
            mac: Some([2, 0x5e, 0x1c, 0xa0, 0x33, 7]),
            ports: vec![
                PortMapping::parse("8080:80").unwrap(),
                PortMapping::parse("5353:53/udp").unwrap(),
            ],
        });
        let text_net = on_bridge.encode();
        assert!(
            text_net.contains("net_mac 02:5e:1c:a0:33:07\n"),
            "{text_net}"
        );
        assert_eq!(Record::parse(&text_net), Some(on_bridge.clone()));
        let mut no_mac = on_bridge.clone();
        if let Some(n) = no_mac.network.as_mut() {
            n.mac = None;
            n.ports.clear();
        }
        assert_eq!(Record::parse(&no_mac.encode()), Some(no_mac));
        // An incomplete or malformed network is refused, not half read.
        for cut in ["net_address", "net_name", "net_bridge", "net_lease_dir"] {
            let t: String = text_net
                .lines()
                .filter(|l| !l.starts_with(cut))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(Record::parse(&t), None, "without {cut}");
        }
        for bad in [
            "net_mac 02:5e:1c:a0:33",
            "net_port sctp 1 2",
            "net_port tcp 70000 2",
            "net_address 10.213.7",
            "net_bridge lp0 10.0.0.1/24 t p",
        ] {
            let t = format!("{text_net}{bad}\n");
            assert_eq!(Record::parse(&t), None, "{bad}");
        }
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
