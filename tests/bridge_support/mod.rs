//! A private bridge network for the `container` example's tests (`mod bridge_support;`):
//! bridge `lp-test-c<pid><k>`, a free `10.213.x.0/24`, table `lp_test_c<pid>_<k>`, veth prefix
//! `lp-test-<z - k>` and a lease directory under /tmp, all removed on drop; what is left on
//! it (DNAT rules, leases, veths); and the loopback helpers the tests use with it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::example_bin;

fn bin() -> PathBuf {
    example_bin::example_binary("container")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn sh(cmd: &str, args: &[&str]) -> String {
    text(&Command::new(cmd).args(args).output().unwrap().stdout)
}

/// A private network's flags and its removal.
pub(crate) struct Net {
    pub(crate) bridge: String,
    pub(crate) table: String,
    pub(crate) leases: String,
    pub(crate) subnet: String,
    pub(crate) gw: String,
    pub(crate) veth: String,
}

impl Net {
    /// Network `k` of this test process (each test its own, as tests run in parallel).
    pub(crate) fn new(k: u32) -> Net {
        let pid = std::process::id();
        let routes = sh("ip", &["-4", "route", "show", "table", "all"]);
        // A /24 of 10.213.0.0/16 that no host route mentions (and that the library would
        // refuse with a clear error if it overlapped anyway).
        let x = (0..250u32)
            .map(|i| (pid * 3 + k + 131 + i * 11) % 250)
            .find(|x| {
                !routes.contains(&format!("10.213.{x}.")) && !routes.contains("10.213.0.0/16")
            })
            .expect("a free 10.213.x.0/24");
        Net {
            bridge: format!("lp-test-c{}{k}", pid % 100_000),
            table: format!("lp_test_c{pid}_{k}"),
            leases: format!("/tmp/lp-test-netcli-{pid}-{k}"),
            veth: format!("lp-test-{}", (b'z' - k as u8) as char),
            subnet: format!("10.213.{x}.0/24"),
            gw: format!("10.213.{x}.1"),
        }
    }

    pub(crate) fn flags(&self) -> Vec<String> {
        [
            "--net",
            "bridge",
            "--bridge",
            &self.bridge,
            "--subnet",
            &self.subnet,
            "--nft-table",
            &self.table,
            "--veth-prefix",
            &self.veth,
            "--lease-dir",
            &self.leases,
        ]
        .map(String::from)
        .to_vec()
    }

    /// `run`, this network's flags, then `args`.
    pub(crate) fn run_args(&self, args: &[&str]) -> Vec<String> {
        let mut a = vec!["run".to_string()];
        a.extend(self.flags());
        a.extend(args.iter().map(|s| s.to_string()));
        a
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(self.run_args(args))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub(crate) fn dnat_rules(&self) -> usize {
        sh("nft", &["list", "table", "ip", &self.table])
            .lines()
            .filter(|l| l.contains("dnat"))
            .count()
    }

    pub(crate) fn lease_lines(&self) -> usize {
        std::fs::read_to_string(format!("{}/{}.leases", self.leases, self.bridge))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("next "))
            .count()
    }

    pub(crate) fn veths(&self) -> usize {
        sh("ip", &["-o", "link", "show"])
            .lines()
            .filter(|l| l.contains(&format!(": {}", self.veth)))
            .count()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.leases);
    }
}

/// A loopback TCP port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Net {
    /// The lease lines themselves (without the `next` line).
    pub(crate) fn leases(&self) -> Vec<String> {
        std::fs::read_to_string(format!("{}/{}.leases", self.leases, self.bridge))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("next "))
            .map(String::from)
            .collect()
    }

    /// The subnet's first three octets and a dot: its containers' addresses start so.
    pub(crate) fn prefix(&self) -> &str {
        self.subnet.trim_end_matches("0/24")
    }

    /// Whether the bridge exists.
    pub(crate) fn bridge_exists(&self) -> bool {
        std::path::Path::new("/sys/class/net")
            .join(&self.bridge)
            .exists()
    }

    /// No lease, no DNAT rule, and (once the kernel has torn the containers' network
    /// namespaces down, in the background: allow 10 s) no veth.
    pub(crate) fn assert_clean(&self) {
        assert_eq!(self.leases(), Vec::<String>::new(), "leases left");
        assert_eq!(self.dnat_rules(), 0, "DNAT rules left");
        let end = Instant::now() + Duration::from_secs(10);
        while self.veths() > 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(self.veths(), 0, "veths left");
    }
}

/// `GET /` on 127.0.0.1:`port`, retried for up to 10 s until something answers.
pub(crate) fn http_get(port: u16) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let r = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut v = String::new();
            s.read_to_string(&mut v)?;
            Ok(v)
        })();
        match r {
            Ok(v) if !v.is_empty() => return v,
            _ if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("no answer on 127.0.0.1:{port}: {other:?}"),
        }
    }
}
