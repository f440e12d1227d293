//! Command-line options, parsed with clap's derive API: each flag's help line is its doc
//! comment, and a bad flag ends the program with one line on stderr and exit code 2.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// How the workers share the listening port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptMode {
    /// One listening socket per worker bound with `SO_REUSEPORT`: the kernel spreads new
    /// connections over the sockets (the default: measured fastest, see the README).
    ReusePort,
    /// One shared listening socket registered by every worker with `EPOLLEXCLUSIVE`.
    Exclusive,
}

/// What an access log line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// The common log format: client, date, request line, status, body bytes.
    Common,
    /// The common one with the `Referer` and `User-Agent` of the request (nginx's `combined`).
    Combined,
}

/// How the work is spread over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Design {
    /// One reactor per worker thread, each accepting and serving its own connections (the
    /// default: measured fastest, see the README).
    Reactor,
    /// One epoll thread accepts and polls, a pool of worker threads serves the ready
    /// connections handed over through a queue.
    Pool,
}

/// The scheduling policy of the server's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchedPolicy {
    /// `SCHED_BATCH`: a woken worker does not preempt the running thread (the default; see
    /// the README).
    Batch,
    /// The system's default, `SCHED_OTHER`.
    Normal,
}

/// httpd: a static file server on an edge-triggered epoll reactor
#[derive(Parser, Clone, Debug)]
#[command(name = "httpd", disable_version_flag = true, args_override_self = true)]
pub(crate) struct Config {
    /// TCP port (0 picks a free one, printed at start)
    #[arg(long, value_name = "N", default_value_t = 8080, value_parser = port)]
    pub(crate) port: u16,
    /// IPv4 or IPv6 address to listen on
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub(crate) bind: String,
    /// Directory to serve (the default one is created with an index.html and a style.css)
    #[arg(long, value_name = "DIR", default_value = "./public_html")]
    pub(crate) root: String,
    /// Worker threads [default: the CPU count]
    #[arg(long, value_name = "N", value_parser = workers, default_value_t = cpu_count(), hide_default_value = true)]
    pub(crate) workers: usize,
    /// Access log (common log format) to PATH or stdout; written by its own thread, lines dropped if it falls behind
    #[arg(long, value_name = "PATH|-")]
    pub(crate) access_log: Option<String>,
    /// Access log lines in the common log format, or combined (adds the Referer and User-Agent)
    #[arg(long, value_name = "common|combined", default_value = "common", value_parser = log_format)]
    pub(crate) log_format: LogFormat,
    /// One SO_REUSEPORT listener per worker, or one shared listener with EPOLLEXCLUSIVE
    #[arg(long, value_name = "reuseport|exclusive", default_value = "reuseport", value_parser = accept_mode)]
    pub(crate) accept: AcceptMode,
    /// Share the port with another server already listening on it (SO_REUSEPORT; the kernel splits the connections); without it such a port is refused as in use
    #[arg(long)]
    pub(crate) reuse_port: bool,
    /// One reactor per worker thread, or one epoll thread feeding a pool of --workers threads
    #[arg(long, value_name = "reactor|pool", default_value = "reactor", value_parser = design)]
    pub(crate) design: Design,
    /// Scheduling policy of the server's threads: SCHED_BATCH, or the system's SCHED_OTHER
    #[arg(long, value_name = "batch|normal", default_value = "batch", value_parser = sched_policy)]
    pub(crate) sched: SchedPolicy,
    /// Pace files: at most BYTES of a file wait unsent in a connection's socket (TCP_NOTSENT_LOWAT; less kernel memory per slow client, more wake-ups); 0 leaves the socket's own limit
    #[arg(long, value_name = "BYTES", default_value_t = 0, value_parser = count::<u32>)]
    pub(crate) notsent_lowat: u32,
    /// Connection cap; above it new connections get 503 [default: the open-file limit minus 128]
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true, value_parser = count::<usize>)]
    pub(crate) max_conns: usize,
    /// Seconds to receive a complete request head
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = secs)]
    pub(crate) header_timeout: Duration,
    /// Idle seconds allowed between requests
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = secs)]
    pub(crate) keepalive_timeout: Duration,
    /// Seconds a response may make no progress
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = secs)]
    pub(crate) send_timeout: Duration,
    /// Listen on ADDR:PORT for plain HTTP (repeatable; with --listen or --tls-listen, --bind and --port are not used)
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_addr)]
    pub(crate) listen: Vec<std::net::SocketAddr>,
    /// Listen on ADDR:PORT for HTTPS (repeatable; needs --tls-cert)
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_addr, requires = "tls_cert")]
    pub(crate) tls_listen: Vec<std::net::SocketAddr>,
    /// Serve HTTPS: the certificate chain, PEM (the server's certificate first); needs --tls-key. Reloaded on SIGHUP
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<String>,
    /// The private key of --tls-cert, PEM (RSA, ECDSA or Ed25519; PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<String>,
    /// Largest request body accepted and discarded, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = count::<u64>)]
    pub(crate) max_body: u64,
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn port(v: &str) -> Result<u16, String> {
    v.parse().map_err(|_| "not a port number".to_string())
}

fn workers(v: &str) -> Result<usize, String> {
    match v.parse() {
        Ok(n @ 1..=1024) => Ok(n),
        Ok(_) => Err("between 1 and 1024".into()),
        Err(_) => Err("not a number".into()),
    }
}

fn count<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| "not a number".to_string())
}

fn accept_mode(v: &str) -> Result<AcceptMode, String> {
    match v {
        "reuseport" => Ok(AcceptMode::ReusePort),
        "exclusive" => Ok(AcceptMode::Exclusive),
        other => Err(format!("unknown mode {other}")),
    }
}

fn log_format(v: &str) -> Result<LogFormat, String> {
    match v {
        "common" => Ok(LogFormat::Common),
        "combined" => Ok(LogFormat::Combined),
        other => Err(format!("unknown format {other}")),
    }
}

fn design(v: &str) -> Result<Design, String> {
    match v {
        "reactor" => Ok(Design::Reactor),
        "pool" => Ok(Design::Pool),
        other => Err(format!("unknown design {other}")),
    }
}

fn sched_policy(v: &str) -> Result<SchedPolicy, String> {
    match v {
        "batch" => Ok(SchedPolicy::Batch),
        "normal" => Ok(SchedPolicy::Normal),
        other => Err(format!("unknown policy {other}")),
    }
}

fn listen_addr(v: &str) -> Result<std::net::SocketAddr, String> {
    v.parse()
        .map_err(|_| format!("not an address and port (127.0.0.1:8080, [::1]:8443): {v}"))
}

fn secs(v: &str) -> Result<Duration, String> {
    let f: f64 = v
        .parse()
        .map_err(|_| format!("not a number of seconds: {v}"))?;
    if !(0.0..=86_400.0).contains(&f) {
        return Err(format!("out of range: {v}"));
    }
    Ok(Duration::from_secs_f64(f))
}

/// What the command line asked for.
pub(crate) enum Command {
    /// Serve with this configuration.
    Serve(Box<Config>),
    /// Print this text on stdout and exit 0 (`--help`).
    Help(String),
}

impl Config {
    /// Parses the arguments after the program name. An error is one line, naming the flag.
    pub(crate) fn parse_args<T: Into<OsString>>(
        args: impl IntoIterator<Item = T>,
    ) -> Result<Command, String> {
        let argv = std::iter::once(OsString::from("httpd")).chain(args.into_iter().map(Into::into));
        match Config::try_parse_from(argv) {
            Ok(cfg) => Ok(Command::Serve(Box::new(cfg))),
            Err(e) if e.kind() == ErrorKind::DisplayHelp => Ok(Command::Help(e.to_string())),
            Err(e) => Err(one_line(&e)),
        }
    }
}

/// A clap error as one line: `--flag: what is wrong` where a flag is to blame.
fn one_line(e: &clap::Error) -> String {
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    // "--sched <batch|normal>" -> "--sched"
    let flag = text(ContextKind::InvalidArg).map(|a| a.split([' ', '=']).next().unwrap_or(a));
    let value = text(ContextKind::InvalidValue);
    if e.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg)
    {
        let names: Vec<&str> = missing
            .iter()
            .map(|a| a.split([' ', '=']).next().unwrap_or(a))
            .collect();
        return format!("{} is needed too", names.join(", "));
    }
    match (e.kind(), flag) {
        (ErrorKind::UnknownArgument, Some(f)) => format!("unknown option {f} (try --help)"),
        (ErrorKind::InvalidValue, Some(f)) if value.is_none_or(str::is_empty) => {
            format!("{f} needs a value")
        }
        (ErrorKind::ValueValidation, Some(f)) => match std::error::Error::source(e) {
            Some(why) => format!("{f}: {why}"),
            None => format!("{f}: invalid value {}", value.unwrap_or("")),
        },
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("bad arguments");
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        Config::parse_args(args.iter().copied())
    }

    fn config(args: &[&str]) -> Config {
        match parse(args) {
            Ok(Command::Serve(c)) => *c,
            Ok(Command::Help(_)) => panic!("help for {args:?}"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn defaults() {
        let c = config(&[]);
        assert_eq!(c.port, 8080);
        assert_eq!(c.bind, "0.0.0.0");
        assert_eq!(c.root, "./public_html");
        assert_eq!(c.workers, cpu_count());
        assert_eq!(c.access_log, None);
        assert_eq!(c.accept, AcceptMode::ReusePort);
        assert_eq!(c.design, Design::Reactor);
        assert_eq!(c.sched, SchedPolicy::Batch);
        assert_eq!(c.max_conns, 0);
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(15));
        assert_eq!(c.send_timeout, Duration::from_secs(30));
        assert_eq!(c.max_body, 1 << 20);
        assert_eq!(c.log_format, LogFormat::Common);
        assert!(!c.reuse_port);
    }

    #[test]
    fn a_value_may_follow_the_flag_or_an_equals_sign() {
        for args in [
            &["--port", "0", "--design", "pool", "--sched", "normal"][..],
            &["--port=0", "--design=pool", "--sched=normal"],
        ] {
            let c = config(args);
            assert_eq!(
                (c.port, c.design, c.sched),
                (0, Design::Pool, SchedPolicy::Normal)
            );
        }
        let c = config(&["--header-timeout=0.5", "--workers=3", "--accept=exclusive"]);
        assert_eq!(c.header_timeout, Duration::from_millis(500));
        assert_eq!((c.workers, c.accept), (3, AcceptMode::Exclusive));
        assert_eq!(config(&["--access-log=-"]).access_log.as_deref(), Some("-"));
        // A flag given again overrides the earlier value.
        assert_eq!(config(&["--workers", "2", "--workers=1"]).workers, 1);
    }

    /// The only flag without a value is `--help`: given one, it is refused, not ignored.
    #[test]
    fn the_boolean_flag_refuses_a_value() {
        assert!(matches!(parse(&["--help"]), Ok(Command::Help(_))));
        assert!(matches!(parse(&["-h"]), Ok(Command::Help(_))));
        for bad in ["--help=yes", "--help=false", "--help="] {
            let e = parse(&[bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains("--help"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_flags_are_one_line_naming_the_flag() {
        let err = |args: &[&str]| {
            parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} accepted"))
        };
        assert_eq!(err(&["--sched", "fifo"]), "--sched: unknown policy fifo");
        assert_eq!(
            err(&["--design", "threads"]),
            "--design: unknown design threads"
        );
        assert_eq!(err(&["--design"]), "--design needs a value");
        assert_eq!(err(&["--accept=x"]), "--accept: unknown mode x");
        assert_eq!(err(&["--bogus"]), "unknown option --bogus (try --help)");
        assert_eq!(err(&["--workers", "0"]), "--workers: between 1 and 1024");
        assert_eq!(err(&["--workers", "1025"]), "--workers: between 1 and 1024");
        assert_eq!(err(&["--port", "65536"]), "--port: not a port number");
        assert_eq!(err(&["--max-body=-1"]), "--max-body: not a number");
        assert_eq!(
            err(&["--send-timeout", "90000"]),
            "--send-timeout: out of range: 90000"
        );
        assert_eq!(
            err(&["--keepalive-timeout", "soon"]),
            "--keepalive-timeout: not a number of seconds: soon"
        );
        let not_utf8: OsString = std::os::unix::ffi::OsStringExt::from_vec(vec![0xff]);
        let e = Config::parse_args([OsString::from("--root"), not_utf8]).err();
        assert!(e.is_some_and(|e| !e.contains('\n')));
        for args in [
            &["--sched", "fifo"][..],
            &["--bogus"],
            &["--port"],
            &["stray"],
        ] {
            assert!(!err(args).contains('\n'), "{args:?}");
        }
    }

    #[test]
    fn help_has_one_line_per_flag() {
        let Ok(Command::Help(text)) = parse(&["--help"]) else {
            panic!("no help");
        };
        assert!(!text.contains("seed"), "{text}");
        // Twenty flags and --help, each on one line of its own.
        let flags = text
            .lines()
            .filter(|l| l.trim_start().starts_with('-'))
            .count();
        assert_eq!(flags, 21, "{text}");
        assert_eq!(text.lines().count(), 5 + 21, "{text}");
        assert!(text.contains("--design <reactor|pool>"), "{text}");
        <Config as clap::CommandFactory>::command().debug_assert();
    }
}
