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
//! with it, and the lease and rules are removed by the next container started on the bridge
//! (or [`BridgeConfig::remove_stale`]).
//! The bridge and the masquerade rule stay for the next container.
//!
//! A created container ([`crate::StateRoot::create`]) outlives its creator: its lease names
//! the container's own process as owner (see `lease.rs`), its state records what it holds
//! ([`NetworkSettings`]), and whoever sees it end gives that back by the record
//! ([`crate::StateRoot::release_network`], also part of [`crate::StateRoot::delete`]); if
//! nobody does (every process involved was killed), its lease is stale once its process is
//! gone and goes as above.
//!
//! # Costs
//! Starting on the bridge adds about one veth creation (the kernel registers two devices and
//! a bridge port: 1-2 ms) and a few netlink round trips (tens of microseconds each). The
//! parent connects the container while the child sets up its mounts, and the child waits for
//! it only before `execve`. Ending costs nothing synchronous without published ports; with
//! them, closing the nftables socket after deleting the DNAT rules waits for the kernel to
//! free them (an RCU grace period, a few milliseconds).
//!
//! # Layout
//! `addr` (subnets and published ports), `bridge` (the bridge network's settings, creating
//! the bridge and its NAT, removing it all), `attach` (a container's lease, veth, address,
//! route and DNAT rules), `resolv` (its `resolv.conf`); underneath, `lease` (the lease file),
//! `rtnl` and `nft` (the netlink messages) over `nl` (the sockets); `settings` (what a created
//! container holds, as its state records it).

mod addr;
mod attach;
mod bridge;
mod lease;
mod nft;
mod nl;
mod resolv;
mod rtnl;
mod settings;

use alloc::format;
use alloc::string::String;

use rawsys::Errno;

use crate::error::Error;
use crate::fsutil::{cjoin, write_existing};

pub(crate) use addr::parse_ipv4;
pub use addr::{Ipv4Net, PortMapping, Proto};
pub(crate) use attach::{Attachment, prepare};
pub use bridge::{
    BridgeConfig, DEFAULT_BRIDGE, DEFAULT_LEASE_DIR, DEFAULT_NFT_TABLE, DEFAULT_SUBNET,
    remove_bridge_network,
};
pub(crate) use resolv::resolv_conf;
pub use settings::NetworkSettings;
pub(crate) use settings::release;

/// How the container reaches the network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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

fn host_err(step: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    move |e| Error::host(step, e)
}

fn sysctl(path: &str, value: &[u8]) -> Result<(), Error> {
    let c = cjoin(&[path])?;
    write_existing(&c, value).map_err(|e| Error::host(format!("write {path}"), e))
}
