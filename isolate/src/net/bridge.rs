//! The bridge network: its settings ([`BridgeConfig`]), making sure the bridge and its NAT
//! exist, and removing it all.

use alloc::format;
use alloc::string::String;

use rawsys::Errno;
use rawsys::fs::CWD;

use super::addr::{Ipv4Net, show_ip};
use super::nl::Nl;
use super::{host_err, nft, rtnl, sysctl};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, read_file};

/// The bridge network's settings: bridge name, subnet, nftables table, lease directory and
/// the prefix of the host-side veth names. The defaults suit one host-wide network; tests and
/// separate networks choose their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    pub(super) name: String,
    pub(super) subnet: Ipv4Net,
    pub(super) table: String,
    pub(super) lease_dir: String,
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
    /// Gives back what containers on this bridge still hold after their owner process died
    /// without cleaning up (a `kill -9`): address leases, DNAT rules of published ports and
    /// veths. Starting a container on the bridge does the same first; this is for a caller
    /// that wants it done now (`container cleanup`). Returns how many leases were stale; a
    /// bridge never used has none.
    ///
    /// ```no_run
    /// let n = isolate::BridgeConfig::default().remove_stale()?;
    /// println!("{n} stale leases removed");
    /// # Ok::<(), isolate::Error>(())
    /// ```
    pub fn remove_stale(&self) -> Result<usize, Error> {
        super::attach::remove_stale(self)
    }

    /// Checks, without creating anything, that `ports` can be published on this network now:
    /// no other container of the bridge publishes one of them, and no host program uses one
    /// (each is bound for a moment on every address). Starting the container checks again
    /// (and holds the ports); this gives the same clear error before any other work, as
    /// `container run -d` does before it starts its supervisor.
    ///
    /// ```no_run
    /// use isolate::{BridgeConfig, PortMapping};
    /// BridgeConfig::default().check_ports(&[PortMapping::parse("8080:80")?])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_ports(&self, ports: &[super::PortMapping]) -> Result<(), Error> {
        super::attach::check_ports(self, ports)
    }

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

    /// The prefix of host-side veth names.
    pub fn veth_prefix(&self) -> &str {
        &self.veth_prefix
    }

    /// The host-side veth name for address `ip`.
    pub(super) fn veth_name(&self, ip: [u8; 4]) -> String {
        let off = u32::from_be_bytes(ip).wrapping_sub(u32::from_be_bytes(self.subnet.addr));
        format!("{}{off:x}", self.veth_prefix)
    }
}

/// The bridge's index, creating and configuring it (and the NAT table) when missing.
pub(super) fn ensure_bridge(cfg: &BridgeConfig, rt: &mut Nl, nf: &mut Nl) -> Result<u32, Error> {
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
