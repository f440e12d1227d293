//! `create`: claiming the container's directory, launching its process up to the start gate,
//! handing its network over to it, and writing its state.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use rawsys::fs::{self, CWD, FlockOp, Mode, OFlags};
use rawsys::io;
use rawsys::process;
use rawsys::time::{self, ClockId};
use rawsys::{Errno, OwnedFd};

use super::record::{self, Record};
use super::{
    ContainerState, Locked, StateRoot, Status, destroy, freezer, host, mkdir_p, proc, remove_files,
    write_state,
};
use crate::child::{MAX_PASSED_FDS, StartGate};
use crate::config::Container;
use crate::error::{ConfigError, Error};
use crate::fsutil::cjoin;
use crate::runtime::Launch;

/// What [`StateRoot::create_with_handles`] gives the creator besides the state: the
/// descriptors only it receives, which are lost if it does not keep them.
#[derive(Debug)]
pub struct Created {
    /// The container's state, as [`StateRoot::create`] returns it.
    pub state: ContainerState,
    /// With [`Builder::terminal`](crate::Builder::terminal): the master of the pty that is
    /// the process's stdin, stdout, stderr and controlling terminal.
    pub terminal: Option<OwnedFd>,
    /// On a bridge network with published ports: one socket bound to each host port (on
    /// every address, never listening). While they are open no host program can bind those
    /// ports, as docker's proxy holds them; a creator that stays as long as the container
    /// (a supervisor, as conmon) keeps them, and closes them once the container has ended.
    /// Closing them earlier leaves the container's DNAT rules and lease in place.
    pub port_holds: Vec<OwnedFd>,
}

/// What `stage` made: the record and the creator's descriptors.
type Staged = (Record, Option<OwnedFd>, Vec<OwnedFd>);

impl StateRoot {
    /// Creates container `id` from `c`: namespaces, cgroup, mounts, network and security
    /// exactly as [`Container::spawn`] sets them up (the cgroup is named as the builder's
    /// [`name`](crate::Builder::name), else `id`), with the process left
    /// waiting before `execve` until [`StateRoot::start`]. `annotations` are kept in the
    /// state for the caller (keys: one word each).
    ///
    /// The process is a child of the caller with no parent-death signal: when the caller
    /// exits it is re-parented to the nearest subreaper; a caller that stays must reap it.
    /// Fails with [`Error::Exists`] if the id is taken; on any failure nothing is left.
    ///
    /// On a bridge network ([`crate::Network::Bridge`]) the container's address lease is
    /// owned by its own process, and its state records what it holds
    /// ([`ContainerState::network`]); see the [module docs](crate::lifecycle) for who gives it back.
    /// The published host ports are not held once `create` returns (their DNAT rules are in
    /// place): [`StateRoot::create_with_handles`] returns the sockets that hold them.
    ///
    /// A container with a terminal ([`Builder::terminal`](crate::Builder::terminal)) is
    /// refused here: its pty master must not be lost, use
    /// [`StateRoot::create_with_terminal`].
    pub fn create(
        &self,
        c: &Container,
        id: &str,
        annotations: &[(&str, &str)],
    ) -> Result<ContainerState, Error> {
        if c.opts.terminal {
            return Err(ConfigError::BadOption(
                "a container with a terminal is created with StateRoot::create_with_terminal"
                    .into(),
            )
            .into());
        }
        self.create_with_handles(c, id, annotations)
            .map(|created| created.state)
    }

    /// [`StateRoot::create`] of a container built with
    /// [`Builder::terminal(true)`](crate::Builder::terminal): also returns the master of the
    /// pty that is its process's stdin, stdout, stderr and controlling terminal (what an OCI
    /// runtime sends over `--console-socket`).
    ///
    /// ```no_run
    /// use isolate::{Container, StateRoot};
    /// let root = StateRoot::new("/run/isolate")?;
    /// let c = Container::builder().host_rootfs().command("/bin/sh", [""; 0])?
    ///     .terminal(true).build()?;
    /// let (_state, master) = root.create_with_terminal(&c, "shell", &[])?;
    /// root.start("shell")?;
    /// rawsys::io::write(&master, b"echo hi; exit\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with_terminal(
        &self,
        c: &Container,
        id: &str,
        annotations: &[(&str, &str)],
    ) -> Result<(ContainerState, OwnedFd), Error> {
        if !c.opts.terminal {
            return Err(ConfigError::BadOption(
                "create_with_terminal needs a container built with terminal(true)".into(),
            )
            .into());
        }
        let created = self.create_with_handles(c, id, annotations)?;
        match created.terminal {
            Some(m) => Ok((created.state, m)),
            None => Err(Error::Unexpected("no pty master from the container".into())),
        }
    }

    /// [`StateRoot::create`] of any container, with or without a terminal, returning every
    /// descriptor the creator may keep ([`Created`]): the pty master, and the sockets holding
    /// the published host ports. What a supervisor that lives as long as the container
    /// calls (`container run -d`).
    ///
    /// ```no_run
    /// use isolate::{BridgeConfig, Container, Network, PortMapping, StateRoot};
    /// let root = StateRoot::new("/run/isolate")?;
    /// let c = Container::builder().host_rootfs()
    ///     .command("busybox", ["httpd", "-f", "-p", "80"])?
    ///     .network(Network::Bridge(BridgeConfig::default()))
    ///     .publish(PortMapping::parse("8080:80")?)?
    ///     .build()?;
    /// let created = root.create_with_handles(&c, "web", &[])?;
    /// root.start("web")?;
    /// // ... reap it; then give its network back and let the ports go:
    /// root.release_network("web")?;
    /// drop(created.port_holds);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with_handles(
        &self,
        c: &Container,
        id: &str,
        annotations: &[(&str, &str)],
    ) -> Result<Created, Error> {
        let dir = self.container_dir(id)?;
        if let Some((k, _)) = annotations.iter().find(|(k, _)| !record::valid_key(k)) {
            return Err(ConfigError::BadAnnotation(k.to_string()).into());
        }
        mkdir_p(self.dir())?;
        let _locked = self.claim(id, &dir)?;
        let (rec, terminal, port_holds) = match self.stage(c, id, &dir, annotations) {
            Ok(r) => r,
            Err(e) => {
                let _ = remove_files(&dir);
                return Err(e);
            }
        };
        let state = ContainerState {
            id: rec.id.clone(),
            // What stage made: the process waits on the FIFO (its start time was read just
            // now), which nobody but `start` under this lock removes.
            status: Status::Created,
            pid: rec.pid,
            created: rec.created,
            annotations: rec.annotations,
            cgroup_paths: rec.cgroups,
            network: rec.network,
        };
        Ok(Created {
            state,
            terminal,
            port_holds,
        })
    }

    /// Makes `dir` with its lock file held by us: the lock is made and taken in a temporary
    /// directory that is then renamed to `dir`, which fails when `dir` exists (the id is
    /// taken). Nobody else can see the directory before it is locked.
    fn claim(&self, id: &str, dir: &str) -> Result<Locked, Error> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = format!("{}/.{id}.{}.{n}.tmp", self.dir(), process::getpid());
        fs::mkdirat(CWD, &cjoin(&[&tmp])?, Mode::RWXU).map_err(host(format!("mkdir {tmp}")))?;
        let flags = OFlags::RDWR | OFlags::CREAT | OFlags::EXCL | OFlags::CLOEXEC;
        let lock = fs::openat(
            CWD,
            &cjoin(&[&tmp, "/lock"])?,
            flags,
            Mode::RUSR | Mode::WUSR,
        )
        .map_err(host(format!("create {tmp}/lock")))
        .and_then(|fd| {
            fs::flock(&fd, FlockOp::EXCLUSIVE)
                .map(|()| fd)
                .map_err(host(format!("flock {tmp}/lock")))
        });
        let renamed =
            lock.and_then(
                |fd| match fs::renameat(CWD, &cjoin(&[&tmp])?, CWD, &cjoin(&[dir])?) {
                    Ok(()) => Ok(fd),
                    Err(Errno::EEXIST | Errno::ENOTEMPTY) => Err(Error::Exists(id.into())),
                    Err(e) => Err(Error::host(format!("rename {tmp} to {dir}"), e)),
                },
            );
        match renamed {
            Ok(fd) => Ok(Locked {
                dir: dir.into(),
                _lock: fd,
            }),
            Err(e) => {
                let _ = remove_files(&tmp);
                Err(e)
            }
        }
    }

    /// The rest of `create` in the claimed directory `dir`: FIFO, the process, the freezer,
    /// the network handed over to the process, the state file.
    fn stage(
        &self,
        c: &Container,
        id: &str,
        tmp: &str,
        annotations: &[(&str, &str)],
    ) -> Result<Staged, Error> {
        let credentials = crate::plan::container_credentials(&c.opts)?;
        let fifo_path = cjoin(&[tmp, "/start.fifo"])?;
        fs::mknodat(CWD, &fifo_path, Mode::IFIFO | Mode::RUSR | Mode::WUSR, 0)
            .map_err(host(format!("mkfifo {tmp}/start.fifo")))?;
        let fifo = fs::openat(
            CWD,
            &fifo_path,
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(host(format!("open {tmp}/start.fifo")))?;
        // Above every descriptor the child's steps place (stdio, passed descriptors).
        let fifo = io::fcntl_dupfd_cloexec(&fifo, 3 + MAX_PASSED_FDS as i32)
            .map_err(host("move the start FIFO's descriptor"))?;
        let cgroup_name = c.opts.name.as_deref().unwrap_or(id);
        let mut running = c.launch(Launch::Gated {
            name: cgroup_name,
            gate: StartGate {
                fifo: fifo.as_raw(),
            },
        })?;
        drop(fifo);
        let master = running.take_terminal();
        let pid = running.pid();
        let mut detached = running.detach();
        // Until `keep` below, dropping the attachment gives the network back.
        let mut net = detached.net.take();
        let freezer = freezer::of(&detached);
        let created = time::clock_gettime(ClockId::Realtime).map_or(0, |t| t.tv_sec);
        let mut rec = Record {
            id: id.into(),
            pid,
            start_time: 0,
            created,
            cgroups: detached.cgroups,
            freezer,
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            network: None,
            process: Some(record::ProcessRecord {
                hostname: c.opts.hostname.clone(),
                cwd: c.opts.workdir.clone(),
                env: c.opts.env.clone(),
                user: c.opts.user,
                groups: c.opts.spec.additional_gids.clone(),
                credentials,
            }),
        };
        let setup = proc::ProcStat::read(pid)
            .ok_or(Error::ChildVanished)
            .and_then(|st| {
                rec.start_time = st.start_time;
                // The lease now lives as long as the container's process, not as ours.
                if let Some(a) = net.as_mut() {
                    a.hand_over(pid, st.start_time)?;
                    rec.network = Some(a.settings());
                }
                write_state(tmp, &rec)
            });
        if let Err(e) = setup {
            // The process first (its end frees the veth), then the network (on drop).
            rec.network = None;
            let _ = destroy(&rec, true);
            drop(net);
            return Err(e);
        }
        let port_holds = net.map(|a| a.keep()).unwrap_or_default();
        Ok((rec, master, port_holds))
    }
}
