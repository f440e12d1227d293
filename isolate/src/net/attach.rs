//! A container on the bridge: leasing its address before `clone` ([`prepare`]), connecting
//! it after ([`Attachment::attach`]: veth into the bridge, address, route, published ports),
//! and giving everything back ([`Attachment::release`]); or, for a created container that
//! outlives its creator, handing the lease over to the container's process and keeping what
//! it holds in its state ([`Attachment::hand_over`], [`Attachment::keep`]), given back later
//! from that record ([`super::settings::release`]).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::fs::{CWD, Mode, OFlags};
use rawsys::net::{self, AddressFamily, Protocol, SocketAddrV4, SocketFlags, SocketType};
use rawsys::process::CloneFlags;
use rawsys::{BorrowedFd, Errno, OwnedFd};

use super::addr::{PortMapping, Proto, show_ip};
use super::bridge::{BridgeConfig, ensure_bridge};
use super::lease::{self, Lease, LeaseFile};
use super::nl::Nl;
use super::settings::NetworkSettings;
use super::{host_err, nft, rtnl};
use crate::error::{ConfigError, Error};
use crate::fsutil::cjoin;

/// The comment that marks a container's DNAT rules.
fn owner_tag(name: &str, ip: [u8; 4]) -> String {
    format!("{name} {}", show_ip(ip))
}

/// What a container holds on the bridge network; [`Attachment::release`] (or drop) gives it
/// back.
#[derive(Debug)]
pub(crate) struct Attachment {
    cfg: BridgeConfig,
    bridge_index: u32,
    ip: [u8; 4],
    name: String,
    /// Who owns the lease: the caller of `prepare`, or the container after `hand_over`.
    owner: (i32, u64),
    /// `eth0`'s Ethernet address, read once it is configured.
    mac: Option<[u8; 6]>,
    veth: String,
    ports: Vec<PortMapping>,
    /// One socket bound to each published host port (0.0.0.0, never listening), held until
    /// release: a host program cannot take the port while the container publishes it, as
    /// docker's proxy holds it.
    reserved: Vec<OwnedFd>,
    released: bool,
    /// The nftables socket, kept from `prepare` to `release`: closing one waits for the
    /// kernel to free rules deleted by anyone (an RCU grace period), which must not happen
    /// on the way to starting a container.
    nf: Option<Nl>,
}

impl Attachment {
    /// The container's address.
    pub(crate) fn ip(&self) -> [u8; 4] {
        self.ip
    }
}

/// Before `clone`: makes sure the bridge and NAT exist and leases an address.
pub(crate) fn prepare(
    cfg: &BridgeConfig,
    name: &str,
    ports: &[PortMapping],
) -> Result<Attachment, Error> {
    if rawsys::process::geteuid() != 0 {
        return Err(ConfigError::Network(
            "the bridge network needs root (a rootless container can use none or host)".into(),
        )
        .into());
    }
    let mut file =
        LeaseFile::lock(&cfg.lease_dir, &cfg.name).map_err(|(s, e)| Error::host(s, e))?;
    let mut rt = Nl::route().map_err(host_err("open a NETLINK_ROUTE socket"))?;
    let mut nf = Nl::netfilter().map_err(host_err("open a NETLINK_NETFILTER socket"))?;
    let bridge_index = ensure_bridge(cfg, &mut rt, &mut nf)?;
    let stale = file.take_stale();
    for l in &stale {
        reclaim(cfg, &mut rt, &mut nf, bridge_index, l);
    }
    if !stale.is_empty() {
        file.store()
            .map_err(host_err(format!("write lease file of bridge {}", cfg.name)))?;
    }
    not_published(&file, ports)?;
    let reserved = ports
        .iter()
        .map(reserve_port)
        .collect::<Result<Vec<_>, _>>()?;
    let Some(ip) = file.free_address(cfg.subnet) else {
        return Err(ConfigError::Network(format!(
            "no free address left in {} on bridge {}",
            cfg.subnet, cfg.name
        ))
        .into());
    };
    let me = rawsys::process::getpid();
    let start = lease::start_time(me)
        .ok_or_else(|| Error::Unexpected("cannot read our own /proc/self/stat".into()))?;
    file.leases.push(Lease {
        ip,
        pid: me,
        start,
        name: name.into(),
        ports: ports.to_vec(),
    });
    file.store()
        .map_err(host_err(format!("write lease file of bridge {}", cfg.name)))?;
    Ok(Attachment {
        veth: cfg.veth_name(ip),
        cfg: cfg.clone(),
        bridge_index,
        ip,
        name: name.into(),
        owner: (me, start),
        mac: None,
        ports: ports.to_vec(),
        reserved,
        released: false,
        nf: Some(nf),
    })
}

/// Refuses a port that a live lease of `file` publishes already, naming its container.
fn not_published(file: &LeaseFile, ports: &[PortMapping]) -> Result<(), Error> {
    for p in ports {
        if let Some(l) = file.leases.iter().find(|l| {
            l.owner_alive()
                && l.ports
                    .iter()
                    .any(|q| q.host_port == p.host_port && q.proto == p.proto)
        }) {
            return Err(ConfigError::Network(format!(
                "port {}/{} is already published by container {}",
                p.host_port,
                p.proto.name(),
                l.name
            ))
            .into());
        }
    }
    Ok(())
}

/// The checks `prepare` makes of `ports` before it creates anything, made now without
/// creating anything (no lease, no bridge, no file): none is published by another container
/// of bridge `cfg`, and each can be bound on the host (no host program uses it). A later
/// `prepare` checks again: this is for a clear error before other work.
pub(crate) fn check_ports(cfg: &BridgeConfig, ports: &[PortMapping]) -> Result<(), Error> {
    if ports.is_empty() {
        return Ok(());
    }
    if lease_file_exists(cfg)? {
        let file =
            LeaseFile::lock(&cfg.lease_dir, &cfg.name).map_err(|(s, e)| Error::host(s, e))?;
        not_published(&file, ports)?;
    }
    for p in ports {
        drop(reserve_port(p)?);
    }
    Ok(())
}

/// Binds a socket to host port `p` on every IPv4 address, so that a port a host program
/// already serves is refused by name ("address in use") rather than silently taken over by
/// the DNAT rule, and no program can take it while the container runs. Without
/// `SO_REUSEADDR`: with it, a program setting it too (most servers do) could still bind and
/// listen beside this socket. The price: a port with connections of an earlier host server
/// still in `TIME_WAIT` counts as in use for those seconds.
fn reserve_port(p: &PortMapping) -> Result<OwnedFd, Error> {
    let (ty, proto) = match p.proto {
        Proto::Tcp => (SocketType::STREAM, Protocol::TCP),
        Proto::Udp => (SocketType::DGRAM, Protocol::UDP),
    };
    let what = || format!("reserve host port {}/{}", p.host_port, p.proto.name());
    let fd = net::socket(AddressFamily::INET, ty, SocketFlags::CLOEXEC, proto)
        .map_err(host_err(what()))?;
    match net::bind(&fd, &SocketAddrV4::new([0, 0, 0, 0], p.host_port)) {
        Ok(()) => Ok(fd),
        Err(Errno::EADDRINUSE) => Err(ConfigError::Network(format!(
            "host port {}/{} is already in use by another program (address in use)",
            p.host_port,
            p.proto.name()
        ))
        .into()),
        Err(e) => Err(Error::host(what(), e)),
    }
}

/// Gives back what containers of bridge `cfg` whose owner process is gone still hold: their
/// leases, DNAT rules and veths (the next container start on the bridge does the same).
/// Returns how many leases were stale. A bridge that was never used has nothing to remove.
pub(crate) fn remove_stale(cfg: &BridgeConfig) -> Result<usize, Error> {
    if !lease_file_exists(cfg)? {
        return Ok(0);
    }
    let mut file =
        LeaseFile::lock(&cfg.lease_dir, &cfg.name).map_err(|(s, e)| Error::host(s, e))?;
    let stale = file.take_stale();
    if stale.is_empty() {
        return Ok(0);
    }
    let mut rt = Nl::route().map_err(host_err("open a NETLINK_ROUTE socket"))?;
    let mut nf = Nl::netfilter().map_err(host_err("open a NETLINK_NETFILTER socket"))?;
    let bridge = rtnl::link_index(&mut rt, &cfg.name)
        .map_err(host_err(format!("look up bridge {}", cfg.name)))?
        .unwrap_or(0);
    for l in &stale {
        reclaim(cfg, &mut rt, &mut nf, bridge, l);
    }
    file.store()
        .map_err(host_err(format!("write lease file of bridge {}", cfg.name)))?;
    Ok(stale.len())
}

/// Whether bridge `cfg` has a lease file (it has once a container was started on it).
fn lease_file_exists(cfg: &BridgeConfig) -> Result<bool, Error> {
    let path = format!("{}/{}.leases", cfg.lease_dir, cfg.name);
    let c = cjoin(&[&path])?;
    match rawsys::fs::openat(CWD, &c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(_) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(Error::host(format!("open {path}"), e)),
    }
}

/// Removes what a crashed owner left: its DNAT rules, and its veth if still on our bridge.
fn reclaim(cfg: &BridgeConfig, rt: &mut Nl, nf: &mut Nl, bridge: u32, l: &Lease) {
    if !l.ports.is_empty() {
        let _ = nft::delete_owned(nf, &cfg.table, &owner_tag(&l.name, l.ip));
    }
    let veth = cfg.veth_name(l.ip);
    if let Ok(Some(link)) = rtnl::link(rt, &veth) {
        if link.master == Some(bridge) {
            let _ = rtnl::delete_link(rt, &veth);
        }
    }
}

/// A `NETLINK_ROUTE` socket in the network namespace of the process behind `pidfd` (the
/// calling thread enters it for the `socket` call only).
fn socket_in(pidfd: BorrowedFd<'_>) -> Result<Nl, Error> {
    let own = rawsys::fs::openat(
        CWD,
        c"/proc/thread-self/ns/net",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(host_err("open /proc/thread-self/ns/net"))?;
    rawsys::ns::setns(pidfd, CloneFlags::NEWNET)
        .map_err(host_err("enter the container's network namespace"))?;
    let sock = Nl::route();
    rawsys::ns::setns(&own, CloneFlags::NEWNET)
        .map_err(host_err("return to our own network namespace"))?;
    sock.map_err(host_err(
        "open a NETLINK_ROUTE socket in the container's namespace",
    ))
}

impl Attachment {
    /// After `clone`: connects the container (`pid`, `pidfd`) to the bridge and publishes
    /// its ports.
    pub(crate) fn attach(&mut self, pid: i32, pidfd: BorrowedFd<'_>) -> Result<(), Error> {
        let mut rt = Nl::route().map_err(host_err("open a NETLINK_ROUTE socket"))?;
        let step = || format!("create veth {} on bridge {}", self.veth, self.cfg.name);
        match rtnl::create_veth(&mut rt, &self.veth, self.bridge_index, "eth0", pid) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // A veth of this name on our bridge belongs to a lease that is gone (its
                // namespace is still being torn down): remove it. Anything else is not ours.
                match rtnl::link(&mut rt, &self.veth).map_err(host_err(step()))? {
                    Some(l) if l.master == Some(self.bridge_index) => {
                        let _ = rtnl::delete_link(&mut rt, &self.veth);
                    }
                    _ => return Err(Error::host(step(), Errno::EEXIST)),
                }
                rtnl::create_veth(&mut rt, &self.veth, self.bridge_index, "eth0", pid)
                    .map_err(host_err(step()))?;
            }
            Err(e) => return Err(Error::host(step(), e)),
        }
        let mut inside = socket_in(pidfd)?;
        let link = rtnl::link(&mut inside, "eth0")
            .map_err(host_err("look up eth0 in the container"))?
            .ok_or_else(|| Error::host("look up eth0 in the container", Errno::ENODEV))?;
        self.mac = link.mac;
        let eth0 = link.index;
        let build = || -> Result<Vec<u8>, Errno> {
            let mut m = rtnl::add_addr_msg(eth0, self.ip, self.cfg.subnet.prefix)?;
            m.extend(rtnl::link_up_msg(eth0)?);
            m.extend(rtnl::default_route_msg(eth0, self.cfg.subnet.gateway())?);
            Ok(m)
        };
        let msgs = build().map_err(host_err("build eth0 configuration"))?;
        inside.transact(msgs, 3).map_err(host_err(format!(
            "configure eth0 {}/{} via {} in the container",
            show_ip(self.ip),
            self.cfg.subnet.prefix,
            show_ip(self.cfg.subnet.gateway())
        )))?;
        if !self.ports.is_empty() {
            let nf = match &mut self.nf {
                Some(nf) => nf,
                None => self
                    .nf
                    .insert(Nl::netfilter().map_err(host_err("open a NETLINK_NETFILTER socket"))?),
            };
            nft::add_dnat(
                nf,
                &self.cfg.table,
                &self.ports,
                self.ip,
                &owner_tag(&self.name, self.ip),
            )
            .map_err(host_err(format!(
                "add DNAT rules to nftables table ip {}",
                self.cfg.table
            )))?;
        }
        Ok(())
    }

    /// Removes the DNAT rules and gives the address back. Idempotent; the
    /// first failure is reported after every step was tried.
    pub(crate) fn release(&mut self) -> Result<(), Error> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        let r = give_back(
            &self.cfg,
            &self.name,
            self.ip,
            !self.ports.is_empty(),
            self.owner,
            self.nf.as_mut(),
        );
        // The host ports are free again once the rules that sent their traffic are gone.
        self.reserved.clear();
        // Last, with the lease already given back: closing may wait (see the field).
        self.nf = None;
        r
    }

    /// For a created container, right after its process exists: makes that process (`pid`,
    /// started at `start`, see [`super::lease`]) the owner of the lease, so that the lease
    /// lives as long as the container rather than as its creator.
    pub(crate) fn hand_over(&mut self, pid: i32, start: u64) -> Result<(), Error> {
        let mut file = LeaseFile::lock(&self.cfg.lease_dir, &self.cfg.name)
            .map_err(|(s, e)| Error::host(s, e))?;
        if !file.hand_over(self.ip, &self.name, self.owner, (pid, start)) {
            return Err(Error::Unexpected(format!(
                "the lease of {} on bridge {} is gone",
                show_ip(self.ip),
                self.cfg.name
            )));
        }
        file.store().map_err(host_err(format!(
            "write lease file of bridge {}",
            self.cfg.name
        )))?;
        self.owner = (pid, start);
        Ok(())
    }

    /// What the container holds, for its state.
    pub(crate) fn settings(&self) -> NetworkSettings {
        NetworkSettings {
            bridge: self.cfg.clone(),
            name: self.name.clone(),
            address: self.ip,
            mac: self.mac,
            ports: self.ports.clone(),
        }
    }

    /// Keeps everything in place beyond this value (a created container's state has it now:
    /// [`super::settings::release`] gives it back) and returns the sockets holding the
    /// published host ports (see the field): while the caller keeps them open no host program
    /// can take the ports.
    pub(crate) fn keep(mut self) -> Vec<OwnedFd> {
        self.released = true;
        self.nf = None;
        core::mem::take(&mut self.reserved)
    }
}

/// Removes the DNAT rules of container `name` at `ip` (when it has published ports) and its
/// lease on bridge `cfg`, through `nf` if given, unless the lease of that address and name
/// is held by another owner than `owner` now (ours was reclaimed as stale and both were
/// given out again: nothing there is ours). Idempotent; the first failure is reported after
/// every step was tried. The lease file stays locked throughout, so that nobody is given
/// the address or publishes the ports while its rules are deleted.
///
/// The veth pair is not deleted here: it goes with the container's network namespace, which
/// the kernel tears down in the background once the last process has exited. Deleting it by
/// hand would make the caller wait for that teardown (an RCU grace period and more: tens of
/// milliseconds). The address just freed is not handed out again right away (the search is
/// round-robin), and a veth still in the way then is removed at that point.
pub(crate) fn give_back(
    cfg: &BridgeConfig,
    name: &str,
    ip: [u8; 4],
    ports: bool,
    owner: (i32, u64),
    nf: Option<&mut Nl>,
) -> Result<(), Error> {
    let mut first: Option<Error> = None;
    // Opened before the lock and closed after it (its closing may wait: see `Attachment`).
    let mut opened = match (ports, &nf) {
        (true, None) => Some(Nl::netfilter()),
        _ => None,
    };
    // A lease file removed with its whole network holds nothing (and is not made again).
    let mut file = match lease_file_exists(cfg) {
        Ok(true) => match LeaseFile::lock(&cfg.lease_dir, &cfg.name) {
            Ok(f) => Some(f),
            Err((s, e)) => {
                first = Some(Error::host(s, e));
                None
            }
        },
        Ok(false) => None,
        Err(e) => {
            first = Some(e);
            None
        }
    };
    let someone_elses = file.as_ref().is_some_and(|f| {
        f.leases
            .iter()
            .any(|l| l.ip == ip && l.name == name && (l.pid, l.start) != owner)
    });
    if someone_elses {
        return first.map_or(Ok(()), Err);
    }
    let mut note = |r: Result<(), Error>| {
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    };
    if ports {
        let tag = owner_tag(name, ip);
        let table = &cfg.table;
        let r = match (nf, opened.as_mut()) {
            (Some(nf), _) => nft::delete_owned(nf, table, &tag),
            (None, Some(Ok(nf))) => nft::delete_owned(nf, table, &tag),
            (None, Some(Err(e))) => Err(*e),
            (None, None) => Ok(0),
        };
        note(r.map(drop).map_err(host_err(format!(
            "delete DNAT rules of {name} from table ip {table}"
        ))));
    }
    if let Some(f) = file.as_mut() {
        f.remove(ip, name);
        note(
            f.store()
                .map_err(host_err(format!("write lease file of bridge {}", cfg.name))),
        );
    }
    drop(file);
    drop(opened);
    first.map_or(Ok(()), Err)
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let _ = self.release();
    }
}
