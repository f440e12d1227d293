//! The command line: one clap definition is both the parser and the help text, so a flag and
//! its one-line description cannot drift apart.
//!
//! Every boolean flag (`--init`, `--privileged`, `--userns`, `--stats`) takes an optional
//! value after `=`: `--init` and `--init=true` mean true, `--init=false` false, any other value
//! is an error. The value must follow `=` so that `--init true` still runs the command `true`.

use std::ffi::OsString;

use clap::builder::BoolValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use isolate::security::{IdMap, Seccomp, SystemPaths};
use isolate::{BridgeConfig, ByteSize, Ipv4Net, Millicpus, PortMapping};

/// Exit codes and the no-argument form, shown below the flags of `container --help`.
const TOP_AFTER_HELP: &str = "\
With no command: an interactive /bin/sh as PID 1 in a fresh container with a 100M memory limit
(`container run -it --memory 100M -- /bin/sh` when stdin is a terminal, TERM passed in).

Run 'container COMMAND --help' for the flags of a command.";

/// Exit codes and the environment, shown below the flags of `container run --help`.
const RUN_AFTER_HELP: &str = "\
IMAGE is an image `container import` made (NAME[:TAG] or ID); the image's Entrypoint, Cmd,
Env, WorkingDir and User apply as in docker, and the container writes to an overlay of its
own, removed when it ends. Without an image, or after `--`, the words are the command.

Environment:
  CONTAINER_NET      the network when --net is not given: bridge, none or host
  CONTAINER_IMAGES   the image store [default: /var/lib/isolate/images]
  CONTAINER_ROOT     the state root of detached containers, shared with isorun [default: /run/isorun]
  CONTAINER_LOG_SIZE a detached container's log file limit in bytes (two are kept) [default: 1048576]

Detached (-d): the same networks; on the bridge the address, its DNAT rules for -p and the
lease live as long as the container (`container inspect` shows them, `ps` the ports).

Exit status: the command's; 128+N when it is killed by signal N; 137 after an OOM kill;
125 for a bad invocation or a failed setup; 126/127 when the command cannot run / is not found.";

/// A tiny `docker run`: Linux containers from raw system calls (the isolate crate).
#[derive(Parser, Debug)]
#[command(name = "container", after_help = TOP_AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a command in a new container
    #[command(
        args_override_self = true,
        override_usage = "container run [OPTIONS] IMAGE [CMD [ARG]...]\n       \
                          container run [OPTIONS] [--] CMD [ARG]...",
        after_help = RUN_AFTER_HELP
    )]
    Run(Box<RunArgs>),
    /// Remove what crashed `container` processes left: cgroups, address leases, DNAT rules, veths, writable layers, detached containers whose supervisor was killed
    Cleanup(CleanupArgs),
    /// Import a root filesystem tarball, an OCI layout or archive, or a docker-archive
    #[command(after_help = IMAGES_AFTER_HELP)]
    Import(ImportArgs),
    /// List the imported images
    #[command(after_help = IMAGES_AFTER_HELP)]
    Images,
    /// Remove images (never one a running container uses)
    #[command(after_help = IMAGES_AFTER_HELP)]
    Rmi(RmiArgs),
    /// List containers (detached ones, and isorun's on the same state root)
    #[command(after_help = STATE_AFTER_HELP)]
    Ps(crate::manage::PsArgs),
    /// Run a command in a running container
    #[command(after_help = STATE_AFTER_HELP)]
    Exec(crate::exec::ExecArgs),
    /// Stop containers: SIGTERM, then SIGKILL after a grace period
    #[command(after_help = STATE_AFTER_HELP)]
    Stop(crate::manage::StopArgs),
    /// Send a signal to containers (default SIGKILL)
    #[command(after_help = STATE_AFTER_HELP)]
    Kill(crate::manage::KillArgs),
    /// Print a detached container's output (stdout and stderr)
    #[command(after_help = STATE_AFTER_HELP)]
    Logs(crate::manage::LogsArgs),
    /// Remove stopped containers (-f: running ones too)
    #[command(after_help = STATE_AFTER_HELP)]
    Rm(crate::manage::RmArgs),
    /// Print containers' details as JSON
    #[command(after_help = STATE_AFTER_HELP)]
    Inspect(crate::manage::NamesArgs),
    /// Wait for containers to stop and print their exit codes
    #[command(after_help = STATE_AFTER_HELP)]
    Wait(crate::manage::NamesArgs),
}

/// Where detached containers are kept, shown below the help of the lifecycle commands.
const STATE_AFTER_HELP: &str = "\
Environment:
  CONTAINER_ROOT   the state root, shared with isorun [default: /run/isorun]";

/// Where images are kept, shown below the help of the image commands.
const IMAGES_AFTER_HELP: &str = "\
Environment:
  CONTAINER_IMAGES   the image store [default: /var/lib/isolate/images]";

/// `container import`.
#[derive(clap::Args, Debug)]
pub(crate) struct ImportArgs {
    /// A rootfs tarball (plain or gzip), an OCI archive or layout directory, or a docker-archive
    #[arg(value_name = "FILE|DIR")]
    pub(crate) source: String,
    /// The image's name [tag: latest]
    #[arg(value_name = "NAME[:TAG]")]
    pub(crate) reference: String,
}

/// `container rmi`.
#[derive(clap::Args, Debug)]
pub(crate) struct RmiArgs {
    /// Images by NAME[:TAG] or ID
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

/// The flags of `container cleanup`: which bridge network to clean (the run's defaults).
#[derive(clap::Args, Debug)]
pub(crate) struct CleanupArgs {
    #[command(flatten)]
    pub(crate) bridge: BridgeArgs,
}

/// The flags and command of `container run`.
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// Root filesystem, under an overlay of the run's own [default: host /usr, /bin, /lib*, /sbin read-only on a tmpfs]
    #[arg(long, value_name = "DIR")]
    pub(crate) rootfs: Option<String>,
    /// Let the container write into the --rootfs directory itself (no overlay)
    #[arg(long)]
    pub(crate) rootfs_write: bool,
    /// Mount the root filesystem read-only (--tmpfs and -v mounts stay writable)
    #[arg(long)]
    pub(crate) read_only: bool,
    /// Run in the background: print the container's id and return (see `container ps`)
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// With -d: remove the container when it ends (a foreground run always is)
    #[arg(long)]
    pub(crate) rm: bool,
    /// Keep stdin open (with -t: the terminal in raw mode, every key to the container)
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// A pseudo-terminal of the container's own as stdin, stdout, stderr and controlling terminal
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Run this program instead of the image's Entrypoint (and drop its Cmd)
    #[arg(long, value_name = "CMD")]
    pub(crate) entrypoint: Option<String>,
    /// Hostname inside [default: isolate]
    #[arg(long, value_name = "H")]
    pub(crate) hostname: Option<String>,
    /// Container and cgroup name [default: isolate-<pid>-<n>]
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Memory limit, e.g. 100M
    #[arg(short, long, value_name = "SIZE")]
    pub(crate) memory: Option<ByteSize>,
    /// Process limit, e.g. 64
    #[arg(long, value_name = "N", value_parser = parse_pids)]
    pub(crate) pids: Option<u64>,
    /// CPU limit in cores, e.g. 0.5
    #[arg(long, value_name = "X")]
    pub(crate) cpus: Option<Millicpus>,
    /// Environment variable (repeatable)
    #[arg(short, long = "env", value_name = "K=V")]
    pub(crate) env: Vec<String>,
    /// Bind mount, read-only with :ro (repeatable)
    #[arg(short, long = "volume", value_name = "SRC:DST[:ro]", value_parser = parse_volume)]
    pub(crate) volumes: Vec<Volume>,
    /// tmpfs mount (repeatable)
    #[arg(long, value_name = "DST")]
    pub(crate) tmpfs: Vec<String>,
    /// Working directory inside
    #[arg(short, long, value_name = "DIR")]
    pub(crate) workdir: Option<String>,
    /// Run as this user (names from the container's /etc/passwd and /etc/group)
    #[arg(short, long, value_name = "USER[:GROUP]", value_parser = parse_user)]
    pub(crate) user: Option<User>,
    /// Minimal init as PID 1 (reaps zombies, forwards signals)
    #[arg(long)]
    pub(crate) init: bool,
    /// Create the cgroup below P (absolute, per hierarchy) instead of our own
    #[arg(long, value_name = "P")]
    pub(crate) cgroup_parent: Option<String>,
    /// Print exit status, peak memory and CPU time to stderr
    #[arg(long)]
    pub(crate) stats: bool,
    /// The image and/or the command to run and its arguments
    #[arg(value_name = "IMAGE|CMD", required = true, trailing_var_arg = true)]
    pub(crate) command: Vec<String>,
    /// The words came after `--`: a command, never an image (set by [`parse`]).
    #[arg(skip)]
    pub(crate) command_after_dash_dash: bool,
    #[command(flatten)]
    pub(crate) net: NetArgs,
    #[command(flatten)]
    pub(crate) security: SecurityArgs,
}

/// The network flags of `run`.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Network")]
pub(crate) struct NetArgs {
    /// bridge (veth into a bridge, NAT), none (only lo) or host [default: $CONTAINER_NET or bridge]
    #[arg(
        long,
        alias = "network",
        value_name = "NET",
        hide_possible_values = true
    )]
    pub(crate) net: Option<Net>,
    /// Publish a port (bridge only; repeatable)
    #[arg(short, long = "publish", value_name = "HOST:CTR[/tcp|/udp]", value_parser = PortMapping::parse)]
    pub(crate) ports: Vec<PortMapping>,
    #[command(flatten)]
    pub(crate) bridge: BridgeArgs,
}

/// The bridge network's settings (`run` and `cleanup`).
#[derive(clap::Args, Debug)]
pub(crate) struct BridgeArgs {
    /// Bridge of the bridge network [default: lp0]
    #[arg(long, value_name = "NAME", value_parser = |s: &str| checked(s, BridgeConfig::with_name))]
    pub(crate) bridge: Option<String>,
    /// Subnet of the bridge network [default: 172.29.0.0/16]
    #[arg(long, value_name = "CIDR", value_parser = Ipv4Net::parse)]
    pub(crate) subnet: Option<Ipv4Net>,
    /// nftables table of the bridge network's NAT rules [default: lp_nat]
    #[arg(long, value_name = "T", value_parser = |s: &str| checked(s, BridgeConfig::with_table))]
    pub(crate) nft_table: Option<String>,
    /// Prefix of the host-side veth names [default: lpv]
    #[arg(long, value_name = "P", value_parser = |s: &str| checked(s, BridgeConfig::with_veth_prefix))]
    pub(crate) veth_prefix: Option<String>,
    /// Directory of the bridge network's address leases [default: /run/linux-primitives/net]
    #[arg(long, value_name = "DIR", value_parser = |s: &str| checked(s, BridgeConfig::with_lease_dir))]
    pub(crate) lease_dir: Option<String>,
}

/// The hardening flags of `run` (the defaults match a docker/runc default container).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Hardening (defaults as a docker/runc default container)")]
pub(crate) struct SecurityArgs {
    /// All capabilities, no seccomp filter, no masked paths (as docker)
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Keep CAP too (NET_ADMIN, CAP_NET_ADMIN or ALL; repeatable)
    #[arg(long, value_name = "CAP")]
    pub(crate) cap_add: Vec<String>,
    /// Drop CAP from the default set (or ALL; repeatable); drops apply before adds
    #[arg(long, value_name = "CAP")]
    pub(crate) cap_drop: Vec<String>,
    /// The default syscall filter, or none
    #[arg(long, value_name = "PROFILE", default_value = "default")]
    pub(crate) seccomp: SeccompArg,
    /// Mask /proc/kcore & co. and make /proc/sys read-only, or not
    #[arg(long, value_name = "MODE", default_value = "masked")]
    pub(crate) system_paths: SystemPathsArg,
    /// Pass the caller's descriptors 3..3+N-1 (every other one is closed)
    #[arg(long, value_name = "N", default_value = "0", value_parser = parse_preserve_fds)]
    pub(crate) preserve_fds: u32,
    /// New user namespace, root inside = the caller outside (rootless; no limits then)
    #[arg(long)]
    pub(crate) userns: bool,
    /// uid map line (repeatable; implies a user namespace; needs root)
    #[arg(long, value_name = "IN:OUT:N", value_parser = IdMap::parse)]
    pub(crate) uidmap: Vec<IdMap>,
    /// gid map line (repeatable)
    #[arg(long, value_name = "IN:OUT:N", value_parser = IdMap::parse)]
    pub(crate) gidmap: Vec<IdMap>,
}

/// `--net`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Net {
    // A veth pair into the bridge, with NAT (no doc comment: help stays one line a flag).
    Bridge,
    // Only the loopback device.
    None,
    // The host's network.
    Host,
}

impl Net {
    /// `CONTAINER_NET` when it is set and not empty (a value it does not name is an error),
    /// otherwise bridge, as docker.
    pub(crate) fn from_env() -> Result<Net, String> {
        match std::env::var_os("CONTAINER_NET") {
            Some(v) if !v.is_empty() => v
                .to_str()
                .and_then(|s| Net::from_str(s, false).ok())
                .ok_or_else(|| {
                    format!(
                        "bad CONTAINER_NET {v:?} (want {})",
                        one_of(Net::value_variants())
                    )
                }),
            _ => Ok(Net::Bridge),
        }
    }
}

/// `--seccomp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SeccompArg {
    // The default filter.
    Default,
    // No filter.
    Unconfined,
}

impl From<SeccompArg> for Seccomp {
    fn from(s: SeccompArg) -> Seccomp {
        match s {
            SeccompArg::Default => Seccomp::Default,
            SeccompArg::Unconfined => Seccomp::Unconfined,
        }
    }
}

/// `--system-paths`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SystemPathsArg {
    // Masked and read-only paths.
    Masked,
    // As mounted.
    Unconfined,
}

impl From<SystemPathsArg> for SystemPaths {
    fn from(s: SystemPathsArg) -> SystemPaths {
        match s {
            SystemPathsArg::Masked => SystemPaths::Masked,
            SystemPathsArg::Unconfined => SystemPaths::Unconfined,
        }
    }
}

/// `-v SRC:DST[:ro]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Volume {
    pub(crate) source: String,
    pub(crate) target: String,
    pub(crate) read_only: bool,
}

/// `--user USER[:GROUP]`: names or numbers, resolved in the container's files at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) user: String,
    pub(crate) group: Option<String>,
}

/// A user or group: a number, or a name as useradd takes them.
fn is_account(s: &str) -> bool {
    s.parse::<u32>().is_ok()
        || (!s.is_empty()
            && s.len() <= 32
            && !s.starts_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-$".contains(&b)))
}

pub(crate) fn parse_user(s: &str) -> Result<User, String> {
    let bad = || format!("bad --user {s:?} (want UID[:GID] or NAME[:GROUP])");
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    if !is_account(u) || g.is_some_and(|g| !is_account(g)) {
        return Err(bad());
    }
    Ok(User {
        user: u.to_string(),
        group: g.map(String::from),
    })
}

fn parse_volume(s: &str) -> Result<Volume, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let read_only = match parts.as_slice() {
        [src, dst] | [src, dst, "rw"] if !src.is_empty() && !dst.is_empty() => false,
        [src, dst, "ro"] if !src.is_empty() && !dst.is_empty() => true,
        _ => return Err(format!("bad -v {s:?} (want SRC:DST or SRC:DST:ro)")),
    };
    Ok(Volume {
        source: parts[0].to_string(),
        target: parts[1].to_string(),
        read_only,
    })
}

fn parse_pids(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("bad --pids {s:?}"))
}

/// At most 64, and every descriptor passed must be open now (so that a typo is caught before
/// anything is set up).
fn parse_preserve_fds(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .ok()
        .filter(|n| *n <= 64)
        .ok_or_else(|| format!("bad --preserve-fds {s:?} (want 0 to 64)"))?;
    for fd in 3..3 + n as i32 {
        // SAFETY: fcntl(F_GETFD) on a number we do not own only reads its flags.
        let b = unsafe { rawsys::BorrowedFd::borrow_raw(fd) };
        if rawsys::io::fcntl_getfd(b).is_err() {
            return Err(format!("--preserve-fds: descriptor {fd} is not open"));
        }
    }
    Ok(n)
}

/// `s` if `set` accepts it on a default bridge network (the bridge flags are applied to the
/// real one when the container is built; checking them here reports them as flag errors).
fn checked(
    s: &str,
    set: fn(BridgeConfig, &str) -> Result<BridgeConfig, isolate::ConfigError>,
) -> Result<String, isolate::ConfigError> {
    set(BridgeConfig::default(), s).map(|_| s.to_string())
}

/// "a, b or c" of the values of a typed flag.
fn one_of<E: ValueEnum>(variants: &[E]) -> String {
    let names: Vec<String> = variants
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect();
    join_or(&names)
}

fn join_or(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Every flag the derive made a plain switch (a `bool` field) also takes `=true` or `=false`,
/// and nothing else: `--privileged=false` must not mean privileged.
fn with_bool_values(a: Arg) -> Arg {
    if !matches!(a.get_action(), ArgAction::SetTrue) {
        return a;
    }
    a.action(ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .value_parser(BoolValueParser::new())
        .value_name("BOOL")
        .hide_default_value(true)
        .hide_possible_values(true)
}

/// The parser: the derived one, with valued boolean flags.
pub(crate) fn command() -> clap::Command {
    Cli::command().mut_subcommand("run", |run| run.mut_args(with_bool_values))
}

/// Parses a whole command line (`argv[0]` first).
pub(crate) fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(argv.clone())?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    if let Some(Command::Run(a)) = &mut cli.command {
        // The words follow a `--` when what comes after the first `--` is exactly them.
        let after = argv
            .iter()
            .position(|w| w == "--")
            .map(|i| &argv[i + 1..])
            .unwrap_or_default();
        a.command_after_dash_dash = after.len() == a.command.len()
            && after.iter().zip(&a.command).all(|(w, c)| w == c.as_str());
    }
    Ok(cli)
}

/// A parse error in the tool's own words, on one line: `unknown option --bogus`,
/// `bad --net "x" (want bridge, none or host)`.
pub(crate) fn describe(e: &clap::Error) -> String {
    let text = |k| match e.get(k) {
        Some(ContextValue::String(s)) => s.as_str(),
        _ => "",
    };
    // "--memory <SIZE>" -> "--memory"
    let flag = text(ContextKind::InvalidArg)
        .split([' ', '['])
        .next()
        .unwrap_or_default();
    let value = text(ContextKind::InvalidValue);
    let suggestion = |k| match e.get(k) {
        Some(ContextValue::String(s)) => format!(" (did you mean {s}?)"),
        Some(ContextValue::Strings(v)) if !v.is_empty() => format!(" (did you mean {}?)", v[0]),
        _ => String::new(),
    };
    match e.kind() {
        ErrorKind::UnknownArgument if flag.starts_with('-') => format!(
            "unknown option {flag}{}",
            suggestion(ContextKind::SuggestedArg)
        ),
        ErrorKind::UnknownArgument => format!("unexpected argument {flag:?}"),
        ErrorKind::InvalidSubcommand => format!(
            "unknown command {:?}{}",
            text(ContextKind::InvalidSubcommand),
            suggestion(ContextKind::SuggestedSubcommand)
        ),
        ErrorKind::InvalidValue if value.is_empty() => format!("{flag} needs a value"),
        ErrorKind::InvalidValue => {
            let want = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => format!(" (want {})", join_or(v)),
                _ => String::new(),
            };
            format!("bad {flag} {value:?}{want}")
        }
        // The message of the flag's own parser, which names what it wanted.
        ErrorKind::ValueValidation => match std::error::Error::source(e) {
            Some(why) => why.to_string(),
            None => format!("bad {flag} {value:?}"),
        },
        ErrorKind::MissingRequiredArgument => "no command given".into(),
        ErrorKind::NoEquals => format!("{flag} takes a value only after '=' ({flag}=VALUE)"),
        _ => {
            // Any other kind: clap's own first line, without its "error: ".
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<RunArgs, String> {
        let argv = ["container", "run"].iter().chain(args);
        match parse(argv.copied()) {
            Ok(Cli {
                command: Some(Command::Run(a)),
            }) => Ok(*a),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(describe(&e)),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn boolean_flags_take_true_false_or_nothing() {
        let a = run(&["true"]).unwrap();
        assert!(!a.init && !a.stats && !a.security.privileged && !a.security.userns);
        let a = run(&["--init", "--stats", "--privileged", "--userns", "true"]).unwrap();
        assert!(a.init && a.stats && a.security.privileged && a.security.userns);
        for flag in ["--init", "--stats", "--privileged", "--userns"] {
            let t = run(&[&format!("{flag}=true"), "true"]).unwrap();
            let f = run(&[&format!("{flag}=false"), "true"]).unwrap();
            let get = |a: &RunArgs| match flag {
                "--init" => a.init,
                "--stats" => a.stats,
                "--privileged" => a.security.privileged,
                _ => a.security.userns,
            };
            assert!(get(&t) && !get(&f), "{flag}");
            // The last one given counts, as before.
            assert!(!get(
                &run(&[flag, &format!("{flag}=false"), "true"]).unwrap()
            ));
            assert_eq!(
                run(&[&format!("{flag}=yes"), "true"]).unwrap_err(),
                format!("bad {flag} \"yes\" (want true or false)")
            );
            // A separate word is the command, not the flag's value.
            let a = run(&[flag, "true"]).unwrap();
            assert!(get(&a), "{flag}");
            assert_eq!(a.command, ["true"]);
        }
    }

    #[test]
    fn the_command_keeps_its_own_flags() {
        let a = run(&["--net", "none", "sh", "-c", "exit 5", "--init"]).unwrap();
        assert_eq!(a.command, ["sh", "-c", "exit 5", "--init"]);
        assert!(!a.init);
        let a = run(&["-m", "1M", "--", "--weird", "-x"]).unwrap();
        assert_eq!(a.command, ["--weird", "-x"]);
        assert_eq!(a.memory.map(ByteSize::get), Some(1 << 20));
    }

    #[test]
    fn words_after_dash_dash_are_a_command_never_an_image() {
        let a = run(&["--net", "none", "--", "busybox", "true"]).unwrap();
        assert!(a.command_after_dash_dash);
        assert_eq!(a.command, ["busybox", "true"]);
        let a = run(&["busybox", "sh", "-c", "x"]).unwrap();
        assert!(!a.command_after_dash_dash);
        // A `--` inside the command does not count.
        let a = run(&["busybox", "--", "x"]).unwrap();
        assert!(!a.command_after_dash_dash);
        assert_eq!(a.command, ["busybox", "--", "x"]);
        // -e with the value "--", then an image.
        let a = run(&["-e", "--", "img"]);
        assert!(a.is_err() || !a.unwrap().command_after_dash_dash);
        let a = run(&[
            "--read-only",
            "--rootfs-write",
            "--entrypoint",
            "/bin/echo",
            "img",
        ])
        .unwrap();
        assert!(a.read_only && a.rootfs_write);
        assert_eq!(a.entrypoint.as_deref(), Some("/bin/echo"));
        assert_eq!(
            run(&["--user", "www-data:adm", "img"]).unwrap().user,
            Some(User {
                user: "www-data".into(),
                group: Some("adm".into())
            })
        );
    }

    #[test]
    fn values_parse_into_their_types() {
        let a = run(&[
            "--memory=64M",
            "--cpus",
            "1.5",
            "--pids",
            "32",
            "-e",
            "A=1",
            "--env=B=2",
            "-v",
            "/a:/b:ro",
            "--volume",
            "/c:/d",
            "-u",
            "1:2",
            "--network",
            "host",
            "--seccomp=unconfined",
            "--system-paths",
            "unconfined",
            "--uidmap",
            "0:1000:1",
            "true",
        ])
        .unwrap();
        assert_eq!(a.memory.map(ByteSize::get), Some(64 << 20));
        assert_eq!(a.cpus.map(Millicpus::get), Some(1500));
        assert_eq!(a.pids, Some(32));
        assert_eq!(a.env, ["A=1", "B=2"]);
        assert_eq!(a.volumes.len(), 2);
        assert!(a.volumes[0].read_only && !a.volumes[1].read_only);
        assert_eq!(
            a.user,
            Some(User {
                user: "1".into(),
                group: Some("2".into())
            })
        );
        assert_eq!(a.net.net, Some(Net::Host));
        assert_eq!(a.security.seccomp, SeccompArg::Unconfined);
        assert_eq!(a.security.system_paths, SystemPathsArg::Unconfined);
        assert_eq!(a.security.uidmap.len(), 1);
        let a = run(&["true"]).unwrap();
        assert_eq!(a.security.seccomp, SeccompArg::Default);
        assert_eq!(a.security.system_paths, SystemPathsArg::Masked);
        assert_eq!(a.security.preserve_fds, 0);
        assert_eq!(a.net.net, None);
    }

    #[test]
    fn errors_are_one_line_in_our_words() {
        for (args, want) in [
            (&["--bogus", "true"][..], "unknown option --bogus"),
            (
                &["--privilegd", "true"][..],
                "unknown option --privilegd (did you mean --privileged?)",
            ),
            (
                &["--net", "bogus", "true"][..],
                "bad --net \"bogus\" (want bridge, none or host)",
            ),
            (
                &["--seccomp", "maybe", "true"][..],
                "bad --seccomp \"maybe\" (want default or unconfined)",
            ),
            (&["--rootfs"][..], "--rootfs needs a value"),
            (&[][..], "no command given"),
            (
                &["--user", "x:y:z", "true"][..],
                "bad --user \"x:y:z\" (want UID[:GID] or NAME[:GROUP])",
            ),
            (
                &["--memory", "lots", "true"][..],
                "bad size: \"lots\" (want e.g. 100M, 1G, 65536)",
            ),
            (
                &["--preserve-fds", "65", "true"][..],
                "bad --preserve-fds \"65\" (want 0 to 64)",
            ),
        ] {
            assert_eq!(run(args).unwrap_err(), want, "{args:?}");
        }
        let e = parse(["container", "frobnicate"]).unwrap_err();
        assert_eq!(describe(&e), "unknown command \"frobnicate\"");
        let e = parse(["container", "cleanup", "now"]).unwrap_err();
        assert_eq!(describe(&e), "unexpected argument \"now\"");
    }
}
