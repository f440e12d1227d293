//! Command-line options.

use std::time::Duration;

/// How the workers share the listening port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptMode {
    /// One listening socket per worker bound with `SO_REUSEPORT`: the kernel spreads new
    /// connections over the sockets (the default: measured fastest, see the README).
    ReusePort,
    /// One shared listening socket registered by every worker with `EPOLLEXCLUSIVE`.
    Exclusive,
}

/// How the work is spread over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Design {
    /// One reactor per worker thread, each accepting and serving its own connections (the
    /// default: measured fastest, see the README).
    Reactor,
    /// The seed's design: one epoll thread accepts and polls, a pool of worker threads serves
    /// the ready connections handed over through a queue.
    Pool,
}

/// Everything the server is told on its command line.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) port: u16,
    pub(crate) bind: String,
    pub(crate) root: String,
    pub(crate) workers: usize,
    pub(crate) access_log: Option<String>,
    pub(crate) accept: AcceptMode,
    pub(crate) design: Design,
    /// Run the server's threads with `SCHED_BATCH` (see the README).
    pub(crate) sched_batch: bool,
    pub(crate) max_conns: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) max_body: u64,
}

pub(crate) const USAGE: &str = "\
httpd: a static file server on an edge-triggered epoll reactor

USAGE: httpd [OPTIONS]

OPTIONS:
  --port N                 TCP port (default 8080; 0 picks a free one, printed at start)
  --bind ADDR              IPv4 or IPv6 address to listen on (default 0.0.0.0)
  --root DIR               directory to serve (default ./public_html, created with an
                           index.html and a style.css if missing)
  --workers N              reactor threads (default: the CPU count)
  --access-log PATH|-      write an access log (common log format) to PATH or stdout;
                           off by default; written by a separate thread, never blocking
                           the event loops (lines are dropped if it falls behind)
  --accept reuseport|exclusive
                           one SO_REUSEPORT listener per worker (default), or one shared
                           listener registered with EPOLLEXCLUSIVE
  --design reactor|pool     one reactor per worker thread (default), or the seed's design:
                           one epoll thread handing ready connections to a pool of
                           --workers threads through a queue (--accept does not apply)
  --sched batch|normal     scheduling policy of the server's threads: SCHED_BATCH
                           (default: a woken worker does not preempt the running thread,
                           fewer context switches under load, a little latency when the
                           CPUs are contended), or the system's default SCHED_OTHER
  --max-conns N            connection cap; above it new connections get 503 and are closed
                           (default: the open-file limit minus 128)
  --header-timeout SECS    time to receive a complete request head (default 10)
  --keepalive-timeout SECS idle time allowed between requests (default 15)
  --send-timeout SECS      time a response may make no progress (default 30)
  --max-body BYTES         largest request body accepted and discarded (default 1048576)
  --help                   print this help
";

fn secs(v: &str) -> Result<Duration, String> {
    let f: f64 = v
        .parse()
        .map_err(|_| format!("not a number of seconds: {v}"))?;
    if !(0.0..=86_400.0).contains(&f) {
        return Err(format!("out of range: {v}"));
    }
    Ok(Duration::from_secs_f64(f))
}

impl Config {
    /// Parses the arguments after the program name. `Ok(None)` means `--help` was asked.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
        let mut cfg = Config {
            port: 8080,
            bind: "0.0.0.0".into(),
            root: "./public_html".into(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            access_log: None,
            accept: AcceptMode::ReusePort,
            design: Design::Reactor,
            sched_batch: true,
            max_conns: 0,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(15),
            send_timeout: Duration::from_secs(30),
            max_body: 1 << 20,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            if name == "--help" || name == "-h" {
                return Ok(None);
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name.as_str() {
                "--port" => cfg.port = value()?.parse().map_err(|_| "--port: not a port number")?,
                "--bind" => cfg.bind = value()?,
                "--root" => cfg.root = value()?,
                "--workers" => {
                    cfg.workers = value()?.parse().map_err(|_| "--workers: not a number")?;
                    if cfg.workers == 0 || cfg.workers > 1024 {
                        return Err("--workers: between 1 and 1024".into());
                    }
                }
                "--access-log" => cfg.access_log = Some(value()?),
                "--accept" => {
                    cfg.accept = match value()?.as_str() {
                        "reuseport" => AcceptMode::ReusePort,
                        "exclusive" => AcceptMode::Exclusive,
                        other => return Err(format!("--accept: unknown mode {other}")),
                    }
                }
                "--design" => {
                    cfg.design = match value()?.as_str() {
                        "reactor" => Design::Reactor,
                        "pool" => Design::Pool,
                        other => return Err(format!("--design: unknown design {other}")),
                    }
                }
                "--sched" => {
                    cfg.sched_batch = match value()?.as_str() {
                        "batch" => true,
                        "normal" => false,
                        other => return Err(format!("--sched: unknown policy {other}")),
                    }
                }
                "--max-conns" => {
                    cfg.max_conns = value()?.parse().map_err(|_| "--max-conns: not a number")?
                }
                "--header-timeout" => cfg.header_timeout = secs(&value()?)?,
                "--keepalive-timeout" => cfg.keepalive_timeout = secs(&value()?)?,
                "--send-timeout" => cfg.send_timeout = secs(&value()?)?,
                "--max-body" => {
                    cfg.max_body = value()?.parse().map_err(|_| "--max-body: not a number")?
                }
                other => return Err(format!("unknown option {other} (try --help)")),
            }
        }
        Ok(Some(cfg))
    }
}
