//! Address leases: one text file per bridge under the lease directory, changed only under an
//! exclusive `flock`, one line per container:
//!
//! ```text
//! 172.29.0.2 4242 881234 isolate-4242-0 tcp:8080:80
//! ```
//!
//! (after a first line `next <offset>`: where the search for a free address resumes, so that
//! an address just given back, whose veth the kernel may still be removing, is not reused at
//! once) address, owner pid, the owner's start time (field 22 of `/proc/<pid>/stat`, so a recycled
//! pid is not mistaken for the owner), the container's name, and its published ports (`-` for
//! none). A line whose owner is gone (or a zombie) is stale: the next allocation reclaims it.
//!
//! # The owner
//! The owner is the process whose end means the container's end. For a container started by
//! [`crate::Container::spawn`] that is the caller: the container dies with it (parent-death
//! signal). A created container ([`crate::StateRoot::create`]) outlives its creator, so its
//! lease is handed over ([`LeaseFile::hand_over`]) to the container's own process (PID 1
//! inside) as soon as that exists: the lease is then live exactly while the container runs,
//! whoever created or supervises it, and a `kill -9` of both leaves a stale line that the next
//! allocation or [`crate::BridgeConfig::remove_stale`] gives back.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::Errno;
use rawsys::OwnedFd;
use rawsys::fs::{self, CWD, FlockOp, Mode, OFlags};
use rawsys::io;

use crate::fsutil::{cjoin, read_string};

use super::{Ipv4Net, PortMapping, Proto};

/// One lease line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) ip: [u8; 4],
    pub(crate) pid: i32,
    pub(crate) start: u64,
    pub(crate) name: String,
    pub(crate) ports: Vec<PortMapping>,
}

impl Lease {
    fn line(&self) -> String {
        let [a, b, c, d] = self.ip;
        let mut ports = String::new();
        for p in &self.ports {
            if !ports.is_empty() {
                ports.push(',');
            }
            ports.push_str(&format!(
                "{}:{}:{}",
                p.proto.name(),
                p.host_port,
                p.container_port
            ));
        }
        if ports.is_empty() {
            ports.push('-');
        }
        format!(
            "{a}.{b}.{c}.{d} {} {} {} {ports}\n",
            self.pid, self.start, self.name
        )
    }

    fn parse(line: &str) -> Option<Lease> {
        let mut f = line.split_ascii_whitespace();
        let ip = super::addr::parse_ipv4(f.next()?)?;
        let pid = f.next()?.parse().ok()?;
        let start = f.next()?.parse().ok()?;
        let name = String::from(f.next()?);
        let mut ports = Vec::new();
        let pf = f.next()?;
        if pf != "-" {
            for p in pf.split(',') {
                let mut parts = p.split(':');
                let proto = match parts.next()? {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => return None,
                };
                ports.push(PortMapping {
                    host_port: parts.next()?.parse().ok()?,
                    container_port: parts.next()?.parse().ok()?,
                    proto,
                });
            }
        }
        Some(Lease {
            ip,
            pid,
            start,
            name,
            ports,
        })
    }

    /// Whether the owner process is still the one that took the lease and has not exited (a
    /// zombie has: a container's process nobody reaps must not keep its lease).
    pub(crate) fn owner_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// The start time of live process `pid` in clock ticks since boot; `None` if it does not exist
/// or has exited (a zombie).
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    let path = cjoin(&["/proc/", &format!("{pid}"), "/stat"]).ok()?;
    let s = read_string(&path).ok()?;
    // The command name (field 2) may contain spaces and parentheses: count from its end.
    let mut rest = s[s.rfind(')')? + 1..].split_ascii_whitespace();
    if matches!(rest.next()?, "Z" | "X" | "x") {
        return None;
    }
    rest.nth(18)?.parse().ok()
}

/// The lease file of one bridge, open and exclusively locked until dropped.
pub(crate) struct LeaseFile {
    fd: OwnedFd,
    next: u32,
    pub(crate) leases: Vec<Lease>,
}

fn mkdir_p(dir: &str) -> Result<(), Errno> {
    let mut cur = String::new();
    for comp in dir.split('/').filter(|c| !c.is_empty()) {
        cur.push('/');
        cur.push_str(comp);
        let c = cjoin(&[&cur]).map_err(|_| Errno::EINVAL)?;
        match fs::mkdirat(CWD, &c, Mode::from_bits_retain(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl LeaseFile {
    /// Opens (creating the directory and file if needed) and locks `<dir>/<bridge>.leases`.
    pub(crate) fn lock(dir: &str, bridge: &str) -> Result<LeaseFile, (String, Errno)> {
        let path = format!("{dir}/{bridge}.leases");
        let c = cjoin(&[&path]).map_err(|_| (path.clone(), Errno::EINVAL))?;
        let open = || {
            fs::openat(
                CWD,
                &c,
                OFlags::RDWR | OFlags::CREAT | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_bits_retain(0o644),
            )
        };
        // The directory exists after the first container: create it only when missing.
        let fd = match open() {
            Err(Errno::ENOENT) => {
                mkdir_p(dir).map_err(|e| (format!("create lease directory {dir}"), e))?;
                open()
            }
            r => r,
        }
        .map_err(|e| (format!("open lease file {path}"), e))?;
        loop {
            match fs::flock(&fd, FlockOp::EXCLUSIVE) {
                Ok(()) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err((format!("lock lease file {path}"), e)),
            }
        }
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        let mut off = 0u64;
        loop {
            match io::pread(&fd, &mut buf, off) {
                Ok(0) => break,
                Ok(n) => {
                    text.extend_from_slice(&buf[..n]);
                    off += n as u64;
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err((format!("read lease file {path}"), e)),
            }
        }
        // Lines that do not parse (a torn write by a crashed owner) are dropped.
        let text = String::from_utf8_lossy(&text);
        let next = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("next "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let leases = text.lines().filter_map(Lease::parse).collect();
        Ok(LeaseFile { fd, next, leases })
    }

    /// Writes the leases back (the lock is still held).
    pub(crate) fn store(&self) -> Result<(), Errno> {
        let mut text = format!("next {}\n", self.next);
        for l in &self.leases {
            text.push_str(&l.line());
        }
        let bytes = text.as_bytes();
        let mut off = 0;
        while off < bytes.len() {
            match io::pwrite(&self.fd, &bytes[off..], off as u64) {
                Ok(0) => return Err(Errno::EIO),
                Ok(n) => off += n,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        fs::ftruncate(&self.fd, bytes.len() as u64)
    }

    /// Makes process `to` (pid, start time) the owner of the lease of `ip` and `name` held by
    /// `from`; false if there is no such lease (it was reclaimed: `from` had died).
    pub(crate) fn hand_over(
        &mut self,
        ip: [u8; 4],
        name: &str,
        from: (i32, u64),
        to: (i32, u64),
    ) -> bool {
        let held = self
            .leases
            .iter_mut()
            .find(|l| l.ip == ip && l.name == name && (l.pid, l.start) == from);
        match held {
            Some(l) => {
                (l.pid, l.start) = to;
                true
            }
            None => false,
        }
    }

    /// Removes the lease of `ip` and `name`, whoever owns it.
    pub(crate) fn remove(&mut self, ip: [u8; 4], name: &str) {
        self.leases.retain(|l| !(l.ip == ip && l.name == name));
    }

    /// Removes and returns the leases whose owner is gone.
    pub(crate) fn take_stale(&mut self) -> Vec<Lease> {
        let (live, stale) = core::mem::take(&mut self.leases)
            .into_iter()
            .partition(|l| l.owner_alive());
        self.leases = live;
        stale
    }

    /// A free address of `subnet` (neither the network address, the gateway `.1` nor the
    /// broadcast address), searching round-robin from where the last search ended; `None`
    /// when the subnet is full.
    pub(crate) fn free_address(&mut self, subnet: Ipv4Net) -> Option<[u8; 4]> {
        let (ip, next) = pick_free(&self.leases, self.next, subnet)?;
        self.next = next;
        Some(ip)
    }
}

/// The first address of `subnet` at or after offset `next` (wrapping) that no lease holds,
/// and the offset to resume from.
fn pick_free(leases: &[Lease], next: u32, subnet: Ipv4Net) -> Option<([u8; 4], u32)> {
    let base = u32::from_be_bytes(subnet.addr);
    let size = subnet.size();
    let usable = size.checked_sub(3)?;
    let mut used: Vec<u32> = leases
        .iter()
        .map(|l| u32::from_be_bytes(l.ip).wrapping_sub(base))
        .filter(|o| *o < size)
        .collect();
    used.sort_unstable();
    let start = if (2..size - 1).contains(&next) {
        next
    } else {
        2
    };
    (0..usable)
        .map(|i| 2 + (start - 2 + i) % usable)
        .find(|cand| used.binary_search(cand).is_err())
        .map(|cand| ((base + cand).to_be_bytes(), cand + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_lines_round_trip_and_garbage_is_dropped() {
        let l = Lease {
            ip: [10, 213, 0, 7],
            pid: 42,
            start: 12345,
            name: "c1".into(),
            ports: alloc::vec![PortMapping {
                host_port: 8080,
                container_port: 80,
                proto: Proto::Tcp
            }],
        };
        assert_eq!(l.line(), "10.213.0.7 42 12345 c1 tcp:8080:80\n");
        assert_eq!(Lease::parse(&l.line()), Some(l));
        for bad in [
            "",
            "next 5",
            "10.0.0.1",
            "10.0.0.1 x 1 n -",
            "10.0.0.1 1 1 n tcp:1",
            "1.2.3 1 1 n -",
        ] {
            assert_eq!(Lease::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_are_picked_round_robin_skipping_held_ones_until_full() {
        let lease = |d: u8| Lease {
            ip: [10, 1, 2, d],
            pid: 1,
            start: 1,
            name: "x".into(),
            ports: alloc::vec::Vec::new(),
        };
        let n24 = Ipv4Net::new([10, 1, 2, 0], 24).unwrap();
        assert_eq!(pick_free(&[], 0, n24), Some(([10, 1, 2, 2], 3)));
        // Resumes after the last pick even though .2 is free again.
        assert_eq!(pick_free(&[], 3, n24), Some(([10, 1, 2, 3], 4)));
        assert_eq!(
            pick_free(&[lease(3), lease(4)], 3, n24),
            Some(([10, 1, 2, 5], 6))
        );
        // Wraps past the broadcast address back to .2.
        assert_eq!(pick_free(&[], 255, n24), Some(([10, 1, 2, 2], 3)));
        assert_eq!(pick_free(&[lease(254)], 254, n24), Some(([10, 1, 2, 2], 3)));
        // A /30 has exactly one container address.
        let n30 = Ipv4Net::new([10, 1, 2, 0], 30).unwrap();
        assert_eq!(pick_free(&[], 7, n30), Some(([10, 1, 2, 2], 3)));
        assert_eq!(pick_free(&[lease(2)], 2, n30), None);
        let full: alloc::vec::Vec<Lease> = (2..=254).map(lease).collect();
        assert_eq!(pick_free(&full, 100, n24), None);
    }

    #[test]
    fn own_start_time_is_readable_and_a_dead_pid_has_none() {
        let me = rawsys::process::getpid();
        assert!(start_time(me).is_some());
        assert_eq!(start_time(i32::MAX), None);
    }

    #[test]
    fn a_zombie_owner_has_no_start_time_so_its_lease_is_stale() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Not reaped yet: it stays a zombie until `wait` below.
        let stat = || std::fs::read_to_string(std::format!("/proc/{pid}/stat")).unwrap();
        let t = std::time::Instant::now();
        while !stat().contains(") Z ") {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(10),
                "{}",
                stat()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(start_time(pid), None);
        let lease = Lease {
            ip: [10, 1, 2, 3],
            pid,
            start: 1,
            name: "z".into(),
            ports: alloc::vec::Vec::new(),
        };
        assert!(!lease.owner_alive());
        child.wait().unwrap();
    }
}
