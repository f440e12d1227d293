//! What a container holds on a bridge network, as its state records it
//! ([`NetworkSettings`]), and giving it back from any process ([`release`]).

use alloc::string::String;
use alloc::vec::Vec;

use super::addr::PortMapping;
use super::bridge::BridgeConfig;

/// A container's place on a bridge network: the network, its address (and the Ethernet
/// address of its `eth0`) and its published ports. [`crate::ContainerState::network`] reports
/// it for a created container while the container holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkSettings {
    pub(crate) bridge: BridgeConfig,
    /// The name its lease and DNAT rules carry (the container's cgroup name).
    pub(crate) name: String,
    pub(crate) address: [u8; 4],
    pub(crate) mac: Option<[u8; 6]>,
    pub(crate) ports: Vec<PortMapping>,
}

impl NetworkSettings {
    /// The bridge network.
    pub fn bridge(&self) -> &BridgeConfig {
        &self.bridge
    }

    /// The container's address.
    pub fn address(&self) -> [u8; 4] {
        self.address
    }

    /// The bridge's address: the container's default route.
    pub fn gateway(&self) -> [u8; 4] {
        self.bridge.subnet.gateway()
    }

    /// The prefix length of the container's address (the bridge's subnet).
    pub fn prefix_len(&self) -> u8 {
        self.bridge.subnet.prefix
    }

    /// The Ethernet address of the container's `eth0`, when it was read at creation.
    pub fn mac_address(&self) -> Option<[u8; 6]> {
        self.mac
    }

    /// The published ports.
    pub fn ports(&self) -> &[PortMapping] {
        &self.ports
    }

    /// The name its lease and DNAT rules carry (the container's cgroup name).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Gives back what `n` holds for the container's process `owner` (pid, start time: the
/// lease's owner): its DNAT rules and its lease, unless another owner holds a lease of that
/// address and name now. The veth pair goes with the container's network namespace once its
/// last process has exited. Idempotent: what is gone already is no error.
pub(crate) fn release(n: &NetworkSettings, owner: (i32, u64)) -> Result<(), crate::Error> {
    super::attach::give_back(
        &n.bridge,
        &n.name,
        n.address,
        !n.ports.is_empty(),
        owner,
        None,
    )
}
