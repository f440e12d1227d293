//! isolate: Linux containers through a typed builder.
//!
//! [`Container::builder`] describes a container; the root filesystem and the command are
//! required by the builder's type, everything else has a default. [`Container::run`] starts
//! it in new PID, mount, UTS, IPC and network namespaces under `pivot_root`, with a cgroup for
//! its limits, waits, and removes everything again:
//!
//! ```no_run
//! use isolate::{Container, ExitStatus};
//!
//! let c = Container::builder()
//!     .host_rootfs()
//!     .command("/bin/sh", ["-c", "exit 3"])?
//!     .memory_limit(100 << 20)?
//!     .pids_limit(64)?
//!     .build()?;
//! let out = c.run()?;
//! assert_eq!(out.status, ExitStatus::Exited(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it works
//! The parent prepares the child's whole setup as data (`plan`): every path, argument and
//! environment entry NUL-terminated, `PATH` candidates expanded. It creates the cgroup, opens
//! its `cgroup.procs` files, and calls `clone3` (fork-like, with a pidfd). The child walks the
//! plan issuing raw system calls only (no allocation, no locks): join the cgroup by writing
//! `0`, make mounts private, build the root (bind or tmpfs), `/proc`, `/dev`, `/sys`,
//! `/etc/hostname`, `/etc/resolv.conf`, the caller's mounts (every path below the new root
//! resolved inside it), `pivot_root` and detach the old root, mask kernel paths, set the
//! hostname, drop capabilities, switch user, set `no_new_privs`, mark descriptors
//! close-on-exec, install the seccomp filter, `execve` (see [`security`]). The plan is written
//! by one planner per area (root filesystem, `/etc`, `/dev`, `/sys`, the caller's mounts,
//! hardening, ...), each appending its steps. A failing step is sent to the parent over a
//! close-on-exec pipe as (step, the system call within it, errno) and becomes
//! [`Error::Child`], e.g. `pivot_root into /x: EINVAL`.
//!
//! # Network
//! [`Network::None`] (the default) leaves the container only `lo`, set up; [`Network::Host`]
//! shares the host's stack; [`Network::Bridge`] gives it `eth0` on a host bridge with an
//! address, a default route, NAT and published ports, all over netlink: see [`net`].
//!
//! # Cleanup
//! Mounts live only in the container's mount namespace and vanish with it. The container's
//! processes die with its PID 1 (the PID namespace) and PID 1 carries a parent-death signal,
//! so a crashed parent takes the container with it. What can remain after a crash of the
//! parent is an empty cgroup directory named after the container: [`cgroup::remove_stale`]
//! removes such leftovers (the `container` example does so for its own names on start).
//!
//! # A lifecycle beyond the caller
//! [`StateRoot`] keeps containers by id under a state directory: `create` leaves the
//! container's process waiting before `execve` (without the parent-death signal, so that it
//! outlives its creator), and `start`, `state`, `kill`, `pause`, `resume`, `delete` act on
//! it from later processes; see [`lifecycle`].
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that they cannot fall out of date.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod cgroup;
mod child;
mod config;
pub mod error;
mod fsutil;
pub mod hooks;
pub mod lifecycle;
pub mod net;
mod plan;
mod runtime;
pub mod security;
pub mod spec;
mod units;

pub use cgroup::{CgroupParent, CgroupStats, CpuQuota, Limits};
pub use config::{
    Builder, Command, Container, DEFAULT_PATH, HOST_SYSTEM_DIRS, HOST_SYSTEM_GROUP,
    HOST_SYSTEM_PASSWD, MountSpec, Network, NoCommand, NoRootfs, Rootfs, Stdio,
};
pub use error::{ConfigError, Error, Stage};
pub use lifecycle::{ContainerState, DEFAULT_STATE_ROOT, StateRoot, Status};
pub use net::{BridgeConfig, Ipv4Net, PortMapping, Proto};
pub use rawsys::signal::Signal;
pub use runtime::{ExitStatus, Outcome, Running};
pub use units::{ByteSize, Millicpus};
