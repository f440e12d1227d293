//! Addresses: IPv4 networks ([`Ipv4Net`]) and published ports ([`PortMapping`]).

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::error::ConfigError;

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
                Ok(v) if v != 0 => Ok(v),
                _ => Err(ConfigError::Network(format!(
                    "bad port mapping {s:?}: port {p} is out of range (want 1 to 65535)"
                ))),
            }
        };
        Ok(PortMapping {
            host_port: port(h)?,
            container_port: port(c)?,
            proto,
        })
    }
}

/// `a.b.c.d`.
pub(crate) fn show_ip(ip: [u8; 4]) -> String {
    let [a, b, c, d] = ip;
    format!("{a}.{b}.{c}.{d}")
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
        assert_eq!(
            alloc::format!("{}", PortMapping::parse("70000:80").unwrap_err()),
            "network: bad port mapping \"70000:80\": port 70000 is out of range (want 1 to 65535)"
        );
    }
}
