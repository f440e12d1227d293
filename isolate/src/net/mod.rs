//! Container networking: none, the host's, or a bridge with NAT and published ports.
//!
//! With [`Network::Bridge`] a container gets, all through netlink (rtnetlink for links,
//! addresses and routes; nfnetlink for nftables):
//!
//! - a host bridge (default `lp0` with `172.29.0.1/16`), created on first use and kept;
//!   before creating it the host's routes are read and a subnet that overlaps one of them is
//!   refused;
//! - an address of the subnet, leased from a file under [`BridgeConfig::lease_dir`] that is
//!   only changed under an exclusive `flock` (safe for many processes starting containers at
//!   once); the lease goes when the container ends, and a lease whose owner process is gone
//!   is reclaimed by the next allocation;
//! - a veth pair: the host end (`lpv<n>`) joins the bridge, the other end is created directly
//!   in the container's network namespace as `eth0`, with the address, `lo` and `eth0` up and
//!   a default route via the bridge's address;
//! - NAT in nftables table `ip lp_nat`: a masquerade for the subnet (and IPv4 forwarding on),
//!   created with the bridge and kept; for each published port a DNAT rule in `prerouting`
//!   and `output` (so the port answers on every host address including `127.0.0.1`; the
//!   bridge gets `route_localnet` for that), removed when the container ends.
//!
//! ```no_run
//! use isolate::{BridgeConfig, Container, Network, PortMapping};
//!
//! let c = Container::builder()
//!     .host_rootfs()
//!     .command("busybox", ["httpd", "-f", "-p", "80"])?
//!     .network(Network::Bridge(BridgeConfig::default()))
//!     .publish(PortMapping::parse("8080:80")?)?
//!     .build()?;
//! let running = c.spawn()?; // http://127.0.0.1:8080/ reaches it
//! println!("container address {:?}", running.address());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cleanup
//! When the container ends (also when it is killed) [`crate::Running`] deletes the DNAT rules
//! and the lease; the veth pair goes with the container's network namespace, which the kernel
//! removes in the background right after the last process exits. If the caller
//! crashes, the container dies with it (parent-death signal), its namespace and veth pair go
//! with it, and the lease and rules are removed by the next container started on the bridge.
//! The bridge and the masquerade rule stay for the next container.
//!
//! # Costs
//! Starting on the bridge adds about one veth creation (the kernel registers two devices and
//! a bridge port: 1-2 ms) and a few netlink round trips (tens of microseconds each). The
//! parent connects the container while the child sets up its mounts, and the child waits for
//! it only before `execve`. Ending costs nothing synchronous without published ports; with
//! them, closing the nftables socket after deleting the DNAT rules waits for the kernel to
//! free them (an RCU grace period, a few milliseconds).

mod lease;
mod nft;
mod nl;
mod rtnl;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rawsys::fs::{CWD, Mode, OFlags};
use rawsys::process::CloneFlags;
use rawsys::{BorrowedFd, Errno};

use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, read_file, write_existing};

use lease::{Lease, LeaseFile};
use nl::Nl;

/// How the container reaches the network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// A new network namespace with only the loopback device (up).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// A new network namespace attached to a host bridge with NAT (see the [module
    /// docs](self)).
    Bridge(BridgeConfig),
}

/// The former name of [`Network`].
pub type NetworkMode = Network;

/// An IPv4 network: an address with its host bits zero and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Net {
    pub(crate) addr: [u8; 4],
    pub(crate) prefix: u8,
}

pub(crate) fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl Ipv4Net {
    /// The network `addr/prefix`; the prefix must be 8 to 30 and the host bits zero.
    pub fn new(addr: [u8; 4], prefix: u8) -> Result<Ipv4Net, ConfigError> {
        let n = Ipv4Net { addr, prefix };
        if !(8..=30).contains(&prefix) || u32::from_be_bytes(addr) & !n.mask() != 0 {
            return Err(ConfigError::Network(format!(
                "bad subnet {n} (want a network address with a prefix of 8 to 30 bits)"
            )));
        }
        Ok(n)
    }

    /// Parses `A.B.C.D/N`.
    ///
    /// ```
    /// let n = isolate::Ipv4Net::parse("10.213.0.0/24")?;
    /// assert_eq!(n.gateway(), [10, 213, 0, 1]);
    /// assert!(isolate::Ipv4Net::parse("10.213.0.1/24").is_err());
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Ipv4Net, ConfigError> {
        let bad = || ConfigError::Network(format!("bad subnet {s:?} (want e.g. 10.213.0.0/24)"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr = parse_ipv4(a).ok_or_else(bad)?;
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Ipv4Net::new(addr, p.parse().map_err(|_| bad())?)
    }

    /// The network address.
    pub fn addr(&self) -> [u8; 4] {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The netmask as a host-order integer.
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The number of addresses.
    pub fn size(&self) -> u32 {
        (!self.mask()).wrapping_add(1)
    }

    /// The bridge's address: the first host address.
    pub fn gateway(&self) -> [u8; 4] {
        (u32::from_be_bytes(self.addr) + 1).to_be_bytes()
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: [u8; 4]) -> bool {
        u32::from_be_bytes(ip) & self.mask() == u32::from_be_bytes(self.addr)
    }

    /// Whether the two networks share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let m = self.mask() & other.mask();
        u32::from_be_bytes(self.addr) & m == u32::from_be_bytes(other.addr) & m
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr;
        write!(f, "{a}.{b}.{c}.{d}/{}", self.prefix)
    }
}

/// A transport protocol for [`PortMapping`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    /// `tcp` or `udp`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A published port: connections to `host_port` on any host address go to `container_port`
/// of the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// The port on the host.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// The protocol.
    pub proto: Proto,
}

impl PortMapping {
    /// Parses docker's `HOSTPORT:CTRPORT[/tcp|/udp]`.
    ///
    /// ```
    /// use isolate::{PortMapping, Proto};
    /// let p = PortMapping::parse("8080:80")?;
    /// assert_eq!((p.host_port, p.container_port, p.proto), (8080, 80, Proto::Tcp));
    /// assert!(PortMapping::parse("0:80").is_err());
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn parse(s: &str) -> Result<PortMapping, ConfigError> {
        let bad = || {
            ConfigError::Network(format!(
                "bad port mapping {s:?} (want HOSTPORT:CTRPORT[/tcp|/udp])"
            ))
        };
        let (ports, proto) = match s.split_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some(_) => return Err(bad()),
            None => (s, Proto::Tcp),
        };
        let (h, c) = ports.split_once(':').ok_or_else(bad)?;
        let port = |p: &str| -> Result<u16, ConfigError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(bad()),
                Ok(v) => Ok(v),
            }
        };
        Ok(PortMapping {
            host_port: port(h)?,
            container_port: port(c)?,
            proto,
        })
    }
}

/// The bridge network's settings: bridge name, subnet, nftables table, lease directory and
/// the prefix of the host-side veth names. The defaults suit one host-wide network; tests and
/// separate networks choose their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    name: String,
    subnet: Ipv4Net,
    table: String,
    lease_dir: String,
    veth_prefix: String,
}

/// The default bridge name.
pub const DEFAULT_BRIDGE: &str = "lp0";
/// The default subnet (the bridge takes its first address).
pub const DEFAULT_SUBNET: Ipv4Net = Ipv4Net {
    addr: [172, 29, 0, 0],
    prefix: 16,
};
/// The default nftables table (family `ip`).
pub const DEFAULT_NFT_TABLE: &str = "lp_nat";
/// The default lease directory.
pub const DEFAULT_LEASE_DIR: &str = "/run/linux-primitives/net";

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            name: DEFAULT_BRIDGE.into(),
            subnet: DEFAULT_SUBNET,
            table: DEFAULT_NFT_TABLE.into(),
            lease_dir: DEFAULT_LEASE_DIR.into(),
            veth_prefix: "lpv".into(),
        }
    }
}

fn ifname_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl BridgeConfig {
    /// The bridge's interface name (at most 15 characters of `[A-Za-z0-9._-]`).
    pub fn with_name(mut self, name: &str) -> Result<Self, ConfigError> {
        if !ifname_ok(name, 15) {
            return Err(ConfigError::Network(format!(
                "bad bridge name {name:?} (1 to 15 characters of A-Z a-z 0-9 . _ -)"
            )));
        }
        self.name = name.into();
        Ok(self)
    }

    /// The subnet; the bridge gets its first address, containers the following ones.
    pub fn with_subnet(mut self, subnet: Ipv4Net) -> Self {
        self.subnet = subnet;
        self
    }

    /// The nftables table (family `ip`) holding the NAT rules.
    pub fn with_table(mut self, table: &str) -> Result<Self, ConfigError> {
        if !ifname_ok(table, 64) {
            return Err(ConfigError::Network(format!(
                "bad nftables table {table:?}"
            )));
        }
        self.table = table.into();
        Ok(self)
    }

    /// The directory of the lease files (absolute; created if missing).
    pub fn with_lease_dir(mut self, dir: &str) -> Result<Self, ConfigError> {
        self.lease_dir = crate::config::check_abs("lease directory", dir)?;
        Ok(self)
    }

    /// The prefix of host-side veth names (at most 9 characters): the name is the prefix and
    /// the address's offset in the subnet in hex.
    pub fn with_veth_prefix(mut self, prefix: &str) -> Result<Self, ConfigError> {
        if !ifname_ok(prefix, 9) {
            return Err(ConfigError::Network(format!(
                "bad veth prefix {prefix:?} (1 to 9 characters)"
            )));
        }
        self.veth_prefix = prefix.into();
        Ok(self)
    }

    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The subnet.
    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    /// The nftables table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The lease directory.
    pub fn lease_dir(&self) -> &str {
        &self.lease_dir
    }

    /// The host-side veth name for address `ip`.
    fn veth_name(&self, ip: [u8; 4]) -> String {
        let off = u32::from_be_bytes(ip).wrapping_sub(u32::from_be_bytes(self.subnet.addr));
        format!("{}{off:x}", self.veth_prefix)
    }
}

fn show_ip(ip: [u8; 4]) -> String {
    let [a, b, c, d] = ip;
    format!("{a}.{b}.{c}.{d}")
}

/// The comment that marks a container's DNAT rules.
fn owner_tag(name: &str, ip: [u8; 4]) -> String {
    format!("{name} {}", show_ip(ip))
}

fn host_err(step: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    move |e| Error::host(step, e)
}

fn sysctl(path: &str, value: &[u8]) -> Result<(), Error> {
    let c = cjoin(&[path])?;
    write_existing(&c, value).map_err(|e| Error::host(format!("write {path}"), e))
}

/// What a container holds on the bridge network; [`Attachment::release`] (or drop) gives it
/// back.
#[derive(Debug)]
pub(crate) struct Attachment {
    cfg: BridgeConfig,
    bridge_index: u32,
    ip: [u8; 4],
    name: String,
    veth: String,
    ports: Vec<PortMapping>,
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
    for p in ports {
        if let Some(l) = file.leases.iter().find(|l| {
            l.ports
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
        ports: ports.to_vec(),
        released: false,
        nf: Some(nf),
    })
}

/// Removes what a crashed owner left: its DNAT rules, and its veth if still on our bridge.
fn reclaim(cfg: &BridgeConfig, rt: &mut Nl, nf: &mut Nl, bridge: u32, l: &Lease) {
    if !l.ports.is_empty() {
        let _ = nft::delete_owned(nf, &cfg.table, &owner_tag(&l.name, l.ip));
    }
    let veth = cfg.veth_name(l.ip);
    if let Ok(Some((_, Some(master)))) = rtnl::link(rt, &veth) {
        if master == bridge {
            let _ = rtnl::delete_link(rt, &veth);
        }
    }
}

/// The bridge's index, creating and configuring it (and the NAT table) when missing.
fn ensure_bridge(cfg: &BridgeConfig, rt: &mut Nl, nf: &mut Nl) -> Result<u32, Error> {
    let gw = cfg.subnet.gateway();
    let index = match rtnl::link_index(rt, &cfg.name)
        .map_err(host_err(format!("look up bridge {}", cfg.name)))?
    {
        Some(i) => {
            let addrs = rtnl::addresses(rt, i)
                .map_err(host_err(format!("read the addresses of {}", cfg.name)))?;
            if !addrs.contains(&(gw, cfg.subnet.prefix)) {
                return Err(ConfigError::Network(format!(
                    "interface {} exists but does not have address {}/{}: choose another \
                     bridge name or subnet",
                    cfg.name,
                    show_ip(gw),
                    cfg.subnet.prefix
                ))
                .into());
            }
            i
        }
        None => create_bridge(cfg, rt)?,
    };
    let exists = nft::table_exists(nf, &cfg.table)
        .map_err(host_err(format!("look up nftables table ip {}", cfg.table)))?;
    if !exists {
        match nft::create_nat(nf, &cfg.table, cfg.subnet, &cfg.name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(Error::host(
                    format!("create nftables table ip {} (masquerade)", cfg.table),
                    e,
                ));
            }
        }
    }
    // Checked on every start (one small read): without it the masquerade is useless.
    if read_file(c"/proc/sys/net/ipv4/ip_forward").map_err(host_err("read ip_forward"))? != b"1\n" {
        sysctl("/proc/sys/net/ipv4/ip_forward", b"1")?;
    }
    Ok(index)
}

fn create_bridge(cfg: &BridgeConfig, rt: &mut Nl) -> Result<u32, Error> {
    let routes = rtnl::routes(rt).map_err(host_err("read the host's routes"))?;
    for r in routes {
        if r.len == 0 {
            continue; // the default route overlaps everything and is fine
        }
        let net = Ipv4Net {
            addr: (u32::from_be_bytes(r.dst)
                & Ipv4Net {
                    addr: r.dst,
                    prefix: r.len,
                }
                .mask())
            .to_be_bytes(),
            prefix: r.len,
        };
        if net.overlaps(&cfg.subnet) {
            return Err(ConfigError::Network(format!(
                "subnet {} of bridge {} overlaps the host's route to {net}: choose another \
                 subnet",
                cfg.subnet, cfg.name
            ))
            .into());
        }
    }
    match rtnl::create_bridge(rt, &cfg.name) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::host(format!("create bridge {}", cfg.name), e)),
    }
    let index = rtnl::link_index(rt, &cfg.name)
        .map_err(host_err(format!("look up bridge {}", cfg.name)))?
        .ok_or_else(|| Error::host(format!("look up bridge {}", cfg.name), Errno::ENODEV))?;
    let mut msgs = rtnl::add_addr_msg(index, cfg.subnet.gateway(), cfg.subnet.prefix)
        .map_err(host_err("build RTM_NEWADDR"))?;
    msgs.extend(rtnl::link_up_msg(index).map_err(host_err("build RTM_NEWLINK"))?);
    match rt.transact(msgs, 2) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => {
            return Err(Error::host(
                format!("add {} to bridge {} and set it up", cfg.subnet, cfg.name),
                e,
            ));
        }
    }
    // Published ports reached at 127.0.0.1 are routed to the bridge after DNAT.
    sysctl(
        &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", cfg.name),
        b"1",
    )?;
    Ok(index)
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
                    Some((_, Some(m))) if m == self.bridge_index => {
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
        let eth0 = rtnl::link_index(&mut inside, "eth0")
            .map_err(host_err("look up eth0 in the container"))?
            .ok_or_else(|| Error::host("look up eth0 in the container", Errno::ENODEV))?;
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
        let mut first: Option<Error> = None;
        let mut note = |r: Result<(), Error>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        if !self.ports.is_empty() {
            let owner = owner_tag(&self.name, self.ip);
            let table = &self.cfg.table;
            let r = match &mut self.nf {
                Some(nf) => nft::delete_owned(nf, table, &owner),
                None => {
                    Nl::netfilter().and_then(|mut nf| nft::delete_owned(&mut nf, table, &owner))
                }
            };
            note(r.map(drop).map_err(host_err(format!(
                "delete DNAT rules of {} from table ip {}",
                self.name, self.cfg.table
            ))));
        }
        // The veth pair is not deleted here: it goes with the container's network namespace,
        // which the kernel tears down in the background once the last process has exited.
        // Deleting it by hand would make the caller wait for that teardown (an RCU grace
        // period and more: tens of milliseconds). The address just freed is not handed out
        // again right away (the search is round-robin), and a veth still in the way then is
        // removed at that point.
        note(
            LeaseFile::lock(&self.cfg.lease_dir, &self.cfg.name)
                .map_err(|(s, e)| Error::host(s, e))
                .and_then(|mut f| {
                    f.leases
                        .retain(|l| !(l.ip == self.ip && l.name == self.name));
                    f.store().map_err(host_err(format!(
                        "write lease file of bridge {}",
                        self.cfg.name
                    )))
                }),
        );
        // Last, with the lease already given back: closing may wait (see the field).
        self.nf = None;
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// The `/etc/resolv.conf` for a container on the bridge: the host's, unless it names a
/// loopback resolver (such as systemd-resolved's 127.0.0.53), which the container cannot
/// reach; then public resolvers, saying so in a comment.
pub(crate) fn resolv_conf(host: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(host);
    let loopback = text.lines().any(|l| {
        let mut f = l.split_ascii_whitespace();
        f.next() == Some("nameserver")
            && f.next()
                .is_some_and(|a| a.starts_with("127.") || a == "::1" || a == "0.0.0.0")
    });
    if !loopback && text.lines().any(|l| l.starts_with("nameserver")) {
        return host.to_vec();
    }
    let mut out = String::from(
        "# isolate: the host's resolver is on its loopback (or none is set), which the\n\
         # container cannot reach: public resolvers are used instead.\n",
    );
    for l in text.lines() {
        if l.starts_with("search") || l.starts_with("options") {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("nameserver 1.1.1.1\nnameserver 8.8.8.8\n");
    out.into_bytes()
}

/// Removes a bridge network completely: every DNAT and masquerade rule (the whole nftables
/// table), the bridge, and the lease file. For tests and for `container network rm`-style
/// teardown; containers still running on it lose their network.
pub fn remove_bridge_network(cfg: &BridgeConfig) -> Result<(), Error> {
    let mut nf = Nl::netfilter().map_err(host_err("open a NETLINK_NETFILTER socket"))?;
    match nft::delete_table(&mut nf, &cfg.table) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::host(format!("delete table ip {}", cfg.table), e)),
    }
    let mut rt = Nl::route().map_err(host_err("open a NETLINK_ROUTE socket"))?;
    match rtnl::delete_link(&mut rt, &cfg.name) {
        Ok(()) | Err(Errno::ENODEV) => {}
        Err(e) => return Err(Error::host(format!("delete bridge {}", cfg.name), e)),
    }
    let path = cjoin(&[&cfg.lease_dir, "/", &cfg.name, ".leases"])?;
    match rawsys::fs::unlinkat(CWD, &path, rawsys::fs::AtFlags::empty()) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::host(
            format!("remove lease file of bridge {}", cfg.name),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_validate_and_overlap() {
        let n = Ipv4Net::parse("10.213.4.0/24").unwrap();
        assert_eq!(n.gateway(), [10, 213, 4, 1]);
        assert_eq!(n.size(), 256);
        assert!(n.contains([10, 213, 4, 200]));
        assert!(!n.contains([10, 213, 5, 1]));
        assert!(n.overlaps(&Ipv4Net::parse("10.213.0.0/16").unwrap()));
        assert!(!n.overlaps(&Ipv4Net::parse("10.213.5.0/24").unwrap()));
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.1/24",
            "10.0.0.0/31",
            "10.0.0.0/7",
            "1.2.3/8",
            "a.b.c.d/8",
            "300.0.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/1x",
        ] {
            assert!(Ipv4Net::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(alloc::format!("{n}"), "10.213.4.0/24");
    }

    #[test]
    fn port_mappings_parse_and_reject_garbage() {
        let p = PortMapping::parse("8080:80/udp").unwrap();
        assert_eq!(
            (p.host_port, p.container_port, p.proto),
            (8080, 80, Proto::Udp)
        );
        for bad in [
            "",
            "80",
            ":80",
            "80:",
            "70000:80",
            "80:80/sctp",
            "8o:80",
            "-1:80",
            "0:1",
        ] {
            assert!(PortMapping::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resolv_conf_replaces_only_loopback_resolvers() {
        let host = b"search example.org\nnameserver 10.255.255.53\n";
        assert_eq!(resolv_conf(host), host.to_vec());
        let out = String::from_utf8(resolv_conf(b"nameserver 127.0.0.53\nsearch lan\n")).unwrap();
        assert!(out.starts_with("# isolate:"));
        assert!(out.contains("search lan\n") && out.contains("nameserver 1.1.1.1\n"));
        assert!(!out.contains("127.0.0.53"));
        assert!(
            String::from_utf8(resolv_conf(b""))
                .unwrap()
                .contains("nameserver 8.8.8.8")
        );
    }

    #[test]
    fn config_validates_names_and_veth_names_fit() {
        let c = BridgeConfig::default();
        assert!(c.clone().with_name("a-name-too-long-x").is_err());
        assert!(c.clone().with_name("bad name").is_err());
        assert!(c.clone().with_veth_prefix("ten-chars-").is_err());
        assert!(c.clone().with_lease_dir("relative").is_err());
        let c = c
            .with_veth_prefix("lp-test-v")
            .unwrap()
            .with_subnet(Ipv4Net::parse("10.0.0.0/8").unwrap());
        assert_eq!(c.veth_name([10, 255, 255, 254]), "lp-test-vfffffe");
        assert!(c.veth_name([10, 255, 255, 254]).len() <= 15);
    }
}
