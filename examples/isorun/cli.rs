//! The command line: runc's, as its callers (conmon, containerd's shim, podman, ctr) use it.
//! Global flags come before the command; each command's flags after it.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

/// The default state root (the harness and podman-as-root expect `/run/NAME`).
pub(crate) const DEFAULT_ROOT: &str = "/run/isorun";

/// An OCI runtime (runc's command line) on the isolate crate.
#[derive(Debug, Parser)]
#[command(
    name = "isorun",
    version,
    disable_version_flag = true,
    after_help = "Needs root. State is kept in --root (default /run/isorun), one directory per \
                  container. Errors: one line on stderr (and in --log), exit status 1."
)]
pub(crate) struct Cli {
    /// Where the containers' state directories are.
    #[arg(long, global = true, default_value = DEFAULT_ROOT, value_name = "DIR")]
    pub(crate) root: PathBuf,
    /// Also write errors (and with --debug, steps) to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    /// The format of the --log file.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// Accepted for runc compatibility: a cgroupsPath of the form `slice:prefix:name` is
    /// refused (no systemd cgroup manager here); plain paths work as without the flag.
    #[arg(long, global = true)]
    pub(crate) systemd_cgroup: bool,
    /// Log the steps to --log (or stderr), not only errors.
    #[arg(long, global = true)]
    pub(crate) debug: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub(crate) version: Option<bool>,
    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// `time="..." level=error msg="..."` (logrus' text format, as runc writes it).
    Text,
    /// `{"level":"error","msg":"...","time":"..."}` per line.
    Json,
}

/// `--format` of `list` and `ps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Columns for people.
    Table,
    /// JSON for programs.
    Json,
}

/// The flags `create` and `run` share.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The bundle: the directory with config.json (default: the current directory).
    #[arg(short, long, value_name = "DIR")]
    pub(crate) bundle: Option<PathBuf>,
    /// Write the container's pid (as the host sees it) here, atomically.
    #[arg(long, value_name = "FILE")]
    pub(crate) pid_file: Option<PathBuf>,
    /// A unix socket to send a terminal's master to (process.terminal).
    #[arg(long, value_name = "PATH")]
    pub(crate) console_socket: Option<PathBuf>,
    /// Pass descriptors 3 .. 3+N-1 to the container's process.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) preserve_fds: u32,
    /// Accepted: the root is always entered with pivot_root (never chroot).
    #[arg(long)]
    pub(crate) no_pivot: bool,
    /// Accepted: no session keyring is made (keyctl is not used).
    #[arg(long)]
    pub(crate) no_new_keyring: bool,
    /// The container's id.
    pub(crate) id: String,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container's process.
    Start {
        /// The container's id.
        id: String,
    },
    /// Print a container's state as runtime-spec JSON.
    State {
        /// The container's id.
        id: String,
    },
    /// Send a signal (default SIGTERM; a name with or without SIG, or a number).
    Kill {
        /// Signal every process of the container's cgroup, not only its first.
        #[arg(short, long)]
        all: bool,
        /// The container's id.
        id: String,
        /// The signal.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped container (with --force: kill it first; an unknown id is no error).
    Delete {
        /// Kill a container that is not stopped, and accept an unknown id.
        #[arg(short, long)]
        force: bool,
        /// The container's id.
        id: String,
    },
    /// Create and start a container; without --detach wait and exit with its status.
    Run {
        /// The create flags.
        #[command(flatten)]
        create: CreateArgs,
        /// Return once it started.
        #[arg(short, long)]
        detach: bool,
    },
    /// Run a process in a running container.
    Exec(crate::exec::ExecArgs),
    /// The processes in a container's cgroup.
    Ps {
        /// table or json (a list of pids).
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The container's id.
        id: String,
        /// ps(1) options (accepted with the table format; pids only are printed).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause {
        /// The container's id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// The container's id.
        id: String,
    },
    /// List the containers.
    List {
        /// Ids only.
        #[arg(short, long)]
        quiet: bool,
        /// table or json.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// What this runtime supports (runtime-spec features.md JSON).
    Features,
    /// Write a default config.json into the bundle (never over an existing one).
    Spec {
        /// The bundle directory (default: the current directory).
        #[arg(short, long, value_name = "DIR")]
        bundle: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("isorun").chain(args.iter().copied()))
    }

    #[test]
    fn runc_command_lines_of_the_real_callers_parse() {
        // containerd's shim.
        let c = parse(&[
            "--root",
            "/run/containerd/runc/default",
            "--log",
            "/x/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "id1",
        ])
        .unwrap();
        assert_eq!(c.root, PathBuf::from("/run/containerd/runc/default"));
        assert_eq!(c.log_format, LogFormat::Json);
        let Command::Create(a) = c.command else {
            panic!("create")
        };
        assert_eq!(a.id, "id1");
        assert_eq!(a.bundle, Some(PathBuf::from("/b")));
        // conmon: --log-format=json style and flags after the command.
        let c = parse(&[
            "--systemd-cgroup",
            "create",
            "--bundle=/b",
            "--pid-file=/p",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "x",
        ])
        .unwrap();
        assert!(c.systemd_cgroup);
        assert_eq!(c.root, PathBuf::from(DEFAULT_ROOT));
        let Command::Create(a) = c.command else {
            panic!("create")
        };
        assert_eq!((a.preserve_fds, a.no_new_keyring), (2, true));
        let c = parse(&["kill", "--all", "x", "KILL"]).unwrap();
        assert!(
            matches!(c.command, Command::Kill { all: true, ref signal, .. } if signal == "KILL")
        );
        let c = parse(&["kill", "x"]).unwrap();
        assert!(matches!(c.command, Command::Kill { ref signal, .. } if signal == "SIGTERM"));
        let c = parse(&["delete", "--force", "x"]).unwrap();
        assert!(matches!(c.command, Command::Delete { force: true, .. }));
        let c = parse(&["ps", "--format", "json", "x"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Ps {
                format: Format::Json,
                ..
            }
        ));
        let c = parse(&["run", "-d", "--bundle", "/b", "x"]).unwrap();
        assert!(matches!(c.command, Command::Run { detach: true, .. }));
        let c = parse(&["exec", "--process", "/p.json", "-d", "x"]).unwrap();
        assert!(matches!(c.command, Command::Exec(ref e) if e.detach && e.id == "x"));
        let c = parse(&["exec", "-t", "--console-socket", "/s", "x", "sh", "-c", "y"]).unwrap();
        assert!(matches!(c.command, Command::Exec(ref e) if e.tty && e.command.len() == 3));
        assert!(parse(&["--log-format", "xml", "list"]).is_err());
        assert!(parse(&["create"]).is_err());
        assert_eq!(
            parse(&["-v"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayVersion
        );
    }
}
