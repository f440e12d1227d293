//! `httpd`: a static file server on the `reactor` crate, one edge-triggered epoll reactor per
//! core (`worker`), or with `--design pool` one epoll thread handing ready connections to a
//! worker pool through a queue (`pool`). Both run the same event-loop pieces (`event_loop`)
//! and serve connections with the same code (`conn`, `respond`, `files`).
//!
//! `cargo run --release --example httpd -- --help`
//!
//! With no arguments it does what the seed's server did: creates `./public_html` with an
//! `index.html` and a `style.css` if missing, listens on port 8080 on every address, and
//! serves the directory with one worker per CPU. See `--help` for the options and the
//! README for the design and the measurements behind it.

#[path = "../common/civil.rs"]
mod civil;
mod conditional;
mod config;
mod conn;
mod dates;
mod event_loop;
mod files;
mod negotiate;
mod paths;
mod pool;
mod respond;
mod tls;
mod worker;

use std::ffi::CString;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use rawsys::epoll::{self, SignalfdFlags, SignalfdSiginfo};
use rawsys::net::{
    self, AddressFamily, Protocol, SocketAddrV4, SocketAddrV6, SocketFlags, SocketType,
};
use rawsys::process::{self, Resource, Rlimit};
use rawsys::signal::{self, SigSet, SigmaskHow, Signal};
use rawsys::{Errno, OwnedFd};

use config::{AcceptMode, Command, Config, Design, SchedPolicy};
use event_loop::{Listener, MAX_LISTENERS};
use worker::Worker;

/// alloc-core's thread-caching allocator, unless built with `--features system-alloc`.
#[cfg(all(feature = "global-heap", not(feature = "system-alloc")))]
#[global_allocator]
static GLOBAL: alloc_core::GlobalHeap = alloc_core::GlobalHeap::new();

const INDEX_HTML: &str = "<!DOCTYPE html>
<html>
<head>
  <meta charset=\"utf-8\">
  <title>httpd</title>
  <link rel=\"stylesheet\" href=\"style.css\">
</head>
<body>
  <h1>Hello from httpd!</h1>
  <p>A static file server on an edge-triggered epoll reactor, written from the syscall up.</p>
</body>
</html>
";

const STYLE_CSS: &str =
    "body { font-family: sans-serif; max-width: 40em; margin: 4em auto; color: #222; }
h1 { color: #0b5394; }
";

enum Addr {
    V4(SocketAddrV4),
    V6(SocketAddrV6),
}

impl Addr {
    fn new(ip: std::net::IpAddr, port: u16) -> Addr {
        match ip {
            std::net::IpAddr::V4(a) => Addr::V4(SocketAddrV4::new(a.octets(), port)),
            std::net::IpAddr::V6(a) => Addr::V6(SocketAddrV6::new(a.segments(), port)),
        }
    }
}

fn parse_bind(bind: &str, port: u16) -> Result<std::net::SocketAddr, String> {
    let s = bind.trim_start_matches('[').trim_end_matches(']');
    match s.parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(std::net::SocketAddr::new(ip, port)),
        Err(_) => Err(format!("--bind: not an IP address: {bind}")),
    }
}

/// Where to listen, and whether with TLS: `--listen` and `--tls-listen`, or else `--bind`
/// and `--port` (with TLS when a certificate is given).
fn listen_specs(cfg: &Config) -> Result<Vec<(std::net::SocketAddr, bool)>, String> {
    let mut specs: Vec<_> = cfg.listen.iter().map(|a| (*a, false)).collect();
    specs.extend(cfg.tls_listen.iter().map(|a| (*a, true)));
    if specs.is_empty() {
        specs.push((parse_bind(&cfg.bind, cfg.port)?, cfg.tls_cert.is_some()));
    }
    if specs.len() > MAX_LISTENERS {
        return Err(format!(
            "at most {MAX_LISTENERS} --listen and --tls-listen addresses"
        ));
    }
    Ok(specs)
}

/// State shared by the main thread and every serving thread.
pub(crate) struct ServerState {
    pub(crate) cfg: Config,
    pub(crate) root_path: CString,
    pub(crate) root_canon: Vec<u8>,
    /// Open connections, against `max_conns`.
    conns: AtomicUsize,
    pub(crate) max_conns: usize,
    pub(crate) shutdown: AtomicBool,
    pub(crate) log_dropped: AtomicU64,
    /// HTTPS: every connection is served over TLS with this configuration.
    pub(crate) tls: Option<tls::Tls>,
}

impl ServerState {
    /// Counts a new connection in, unless the cap is reached.
    pub(crate) fn admit(&self) -> bool {
        if self.conns.fetch_add(1, Ordering::AcqRel) >= self.max_conns {
            self.conns.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Counts `n` closed connections out.
    pub(crate) fn release_conns(&self, n: usize) {
        self.conns.fetch_sub(n, Ordering::AcqRel);
    }
}

/// `TCP_QUICKACK` (linux/tcp.h).
const TCP_QUICKACK: i32 = 12;

fn listener(addr: &Addr, reuseport: bool) -> Result<OwnedFd, Errno> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let family = match addr {
        Addr::V4(_) => AddressFamily::INET,
        Addr::V6(_) => AddressFamily::INET6,
    };
    let fd = net::socket(family, SocketType::STREAM, flags, Protocol::TCP)?;
    net::set_reuseaddr(&fd, true)?;
    if reuseport {
        net::set_reuseport(&fd, true)?;
    }
    match addr {
        Addr::V4(a) => net::bind(&fd, a)?,
        Addr::V6(a) => net::bind(&fd, a)?,
    }
    net::listen(&fd, 4096)?;
    // Delayed-ACK mode from the start, inherited by accepted connections: a new connection
    // otherwise acknowledges its first request with a packet of its own just before the
    // response (which carries the acknowledgement anyway). Measured: see the README ("Fewer
    // packets per short connection"). Best effort: the kernel may refuse it.
    let _ = net::setsockopt(&fd, net::IPPROTO_TCP, TCP_QUICKACK, &0i32.to_ne_bytes());
    Ok(fd)
}

/// The first listening address another socket already holds, unless `--reuse-port` asks to
/// share it. The workers' listeners carry `SO_REUSEPORT`, so a second server of the same user
/// would bind beside the first one silently and take half of its connections; a probe bound
/// without `SO_REUSEPORT` (but with `SO_REUSEADDR`, so a previous run's `TIME_WAIT`
/// connections do not count) fails on a port that anyone listens on. Port 0 is always free.
fn address_in_use(cfg: &Config) -> Option<std::net::SocketAddr> {
    if cfg.reuse_port {
        return None;
    }
    // A bad address is reported by `run` as before.
    let specs = listen_specs(cfg).ok()?;
    specs.into_iter().map(|(a, _)| a).find(|a| {
        a.port() != 0
            && matches!(
                listener(&Addr::new(a.ip(), a.port()), false),
                Err(Errno::EADDRINUSE)
            )
    })
}

fn bound_port(fd: &OwnedFd) -> u16 {
    match net::getsockname(fd) {
        Ok(net::SocketAddr::V4(a)) => a.port(),
        Ok(net::SocketAddr::V6(a)) => a.port(),
        _ => 0,
    }
}

/// Creates the default site if it is missing. An explicit `--root` must exist: a typo must
/// not become a new directory with the demo site in it.
fn prepare_root(cfg: &Config) -> std::io::Result<()> {
    let root = std::path::Path::new(&cfg.root);
    let existed = root.exists();
    let default = cfg.root == "./public_html" || cfg.root == "public_html";
    if !default {
        return Ok(());
    }
    if !existed {
        std::fs::create_dir_all(root)?;
    }
    for (name, body) in [("index.html", INDEX_HTML), ("style.css", STYLE_CSS)] {
        let p = root.join(name);
        if !p.exists() {
            std::fs::write(p, body)?;
        }
    }
    Ok(())
}

fn open_log(path: &str) -> std::io::Result<Box<dyn std::io::Write + Send>> {
    Ok(if path == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )
    })
}

/// The access log's writer thread. When `reopen` is set (SIGUSR1, after logrotate renamed
/// the file) the next batch goes to a file opened afresh at `path`; if that fails, the old
/// file is kept and the failure said once.
fn spawn_logger(
    path: &str,
    reopen: Arc<AtomicBool>,
) -> std::io::Result<(
    std::sync::mpsc::SyncSender<Vec<u8>>,
    std::thread::JoinHandle<()>,
)> {
    let mut sink = open_log(path)?;
    let path = path.to_owned();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(1024);
    let handle = std::thread::Builder::new()
        .name("httpd-log".into())
        .spawn(move || {
            for batch in rx {
                if reopen.swap(false, Ordering::AcqRel) {
                    let _ = sink.flush();
                    match open_log(&path) {
                        Ok(new) => sink = new,
                        Err(e) => eprintln!("httpd: SIGUSR1: cannot reopen {path}: {e}"),
                    }
                }
                if sink.write_all(&batch).is_err() {
                    break;
                }
                let _ = sink.flush();
            }
            let _ = sink.flush();
        })?;
    Ok((tx, handle))
}

fn run(cfg: Config, tls: Option<tls::Tls>) -> Result<(), String> {
    prepare_root(&cfg).map_err(|e| format!("cannot prepare {}: {e}", cfg.root))?;
    let canon = std::fs::canonicalize(&cfg.root).map_err(|e| format!("{}: {e}", cfg.root))?;
    if !canon.is_dir() {
        return Err(format!("{} is not a directory", cfg.root));
    }
    let root_path =
        CString::new(canon.as_os_str().as_bytes()).map_err(|_| "root path holds NUL")?;

    // As many descriptors as allowed: every connection is one.
    let mut nofile = process::getrlimit(Resource::Nofile).map_err(|e| e.to_string())?;
    if nofile.cur < nofile.max {
        nofile.cur = nofile.max;
        let _ = process::setrlimit(
            Resource::Nofile,
            &Rlimit {
                cur: nofile.max,
                max: nofile.max,
            },
        );
    }
    let fd_budget = nofile.cur.min(1 << 24) as usize;
    let max_conns = match cfg.max_conns {
        0 => fd_budget.saturating_sub(128).max(16),
        n => n,
    };

    // SIGINT, SIGTERM, SIGHUP and SIGUSR1 are read from a signalfd; block them before any thread
    // starts so every thread inherits the mask. SIGPIPE is ignored (sendfile could raise it).
    let sigs = SigSet::from_signals(&[
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ]);
    signal::rt_sigprocmask(SigmaskHow::Block, Some(&sigs)).map_err(|e| e.to_string())?;
    let _ = signal::rt_sigaction(Signal::SIGPIPE, Some(signal::Disposition::Ignore));
    let sfd = epoll::signalfd4(&sigs, SignalfdFlags::CLOEXEC).map_err(|e| e.to_string())?;

    let mut specs = listen_specs(&cfg)?;
    let reuseport =
        cfg.reuse_port || (cfg.design == Design::Reactor && cfg.accept == AcceptMode::ReusePort);
    // The first worker's sockets; a port 0 becomes the port bound, for the other workers.
    let mut first = Vec::new();
    for (addr, tls) in &mut specs {
        let fd = listener(&Addr::new(addr.ip(), addr.port()), reuseport)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        addr.set_port(bound_port(&fd));
        first.push(Listener {
            fd: Arc::new(fd),
            tls: *tls,
        });
    }
    let port = specs[0].0.port();
    let mut listeners = vec![first];
    let per_worker = if cfg.design == Design::Reactor {
        cfg.workers
    } else {
        1
    };
    for _ in 1..per_worker {
        match cfg.accept {
            AcceptMode::ReusePort => {
                let mut set = Vec::new();
                for (addr, tls) in &specs {
                    let fd = listener(&Addr::new(addr.ip(), addr.port()), true)
                        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                    set.push(Listener {
                        fd: Arc::new(fd),
                        tls: *tls,
                    });
                }
                listeners.push(set);
            }
            AcceptMode::Exclusive => listeners.push(listeners[0].clone()),
        }
    }

    // SCHED_BATCH before any thread starts, so every thread inherits it: a worker woken by
    // a client's data waits for the running thread's slice to end instead of preempting it,
    // and then finds more ready. Measured: see the README ("Threads run SCHED_BATCH").
    // Where the policy cannot be set (a seccomp profile refusing sched_setscheduler), the
    // server runs on with the default and says so.
    if cfg.sched == SchedPolicy::Batch
        && let Err(e) = process::set_sched_policy(0, process::SchedPolicy::Batch)
    {
        eprintln!("httpd: cannot set SCHED_BATCH ({e}); running with the default policy");
    }

    let reopen_log = Arc::new(AtomicBool::new(false));
    let (log_tx, log_thread) = match &cfg.access_log {
        Some(p) => {
            let (tx, h) = spawn_logger(p, reopen_log.clone())
                .map_err(|e| format!("--access-log {p}: {e}"))?;
            (Some(tx), Some(h))
        }
        None => (None, None),
    };

    let workers_n = cfg.workers;
    let server = Arc::new(ServerState {
        cfg: cfg.clone(),
        root_path,
        root_canon: canon.as_os_str().as_bytes().to_vec(),
        conns: AtomicUsize::new(0),
        max_conns,
        shutdown: AtomicBool::new(false),
        log_dropped: AtomicU64::new(0),
        tls,
    });
    let mut wakers = Vec::new();
    let mut threads = Vec::new();
    if cfg.design == Design::Pool {
        let Some(l) = listeners.pop() else {
            return Err("no listener".into());
        };
        let (w, t) = pool::start(Arc::clone(&server), l, workers_n, log_tx.clone())?;
        wakers.push(w);
        threads = t;
    }
    for (i, l) in listeners.into_iter().enumerate() {
        // A worker holds non-Send state (its file cache), so it is built on its own thread;
        // the waker comes back over a channel.
        let (tx, rx) = std::sync::mpsc::channel();
        let sh = Arc::clone(&server);
        let log = log_tx.clone();
        let t = std::thread::Builder::new()
            .name(format!("httpd-{i}"))
            .spawn(move || match Worker::new(sh, l, log) {
                Ok(w) => {
                    let _ = tx.send(Ok(w.waker()));
                    w.run();
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(|e| format!("spawn: {e}"))?;
        match rx.recv() {
            Ok(Ok(w)) => wakers.push(w),
            Ok(Err(e)) => return Err(format!("worker {i}: {e}")),
            Err(_) => return Err(format!("worker {i} died")),
        }
        threads.push(t);
    }
    drop(log_tx);

    println!(
        "Server listening on port {port} with {workers_n} workers, serving files from {}...",
        cfg.root
    );
    if !cfg.listen.is_empty() || !cfg.tls_listen.is_empty() {
        let urls: Vec<String> = specs
            .iter()
            .map(|(a, tls)| format!("{}://{a}", if *tls { "https" } else { "http" }))
            .collect();
        println!("Listening on {}", urls.join(" "));
    }
    let _ = std::io::stdout().flush();

    // Wait for SIGINT or SIGTERM; SIGHUP reloads the certificate and key, SIGUSR1 reopens
    // the access log (logrotate).
    let mut info = [SignalfdSiginfo::default(); 1];
    loop {
        match epoll::signalfd_read(&sfd, &mut info) {
            Ok(n) if n > 0 && info[0].signal() == Some(Signal::SIGHUP) => reload(&server),
            Ok(n) if n > 0 && info[0].signal() == Some(Signal::SIGUSR1) => {
                reopen_log.store(true, Ordering::Release);
            }
            Ok(n) if n > 0 => break,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(format!("signalfd: {e}")),
        }
    }
    eprintln!("httpd: shutting down: finishing in-flight responses");
    server.shutdown.store(true, Ordering::Release);
    for w in &wakers {
        let _ = w.wake();
    }
    for t in threads {
        let _ = t.join();
    }
    if let Some(h) = log_thread {
        let _ = h.join();
    }
    let dropped = server.log_dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        eprintln!("httpd: {dropped} access log lines dropped (the log could not keep up)");
    }
    Ok(())
}

/// Reloads the certificate and key (SIGHUP): new handshakes get the new ones, open
/// connections go on; a failure keeps the old ones and says why.
fn reload(server: &ServerState) {
    let Some(tls) = &server.tls else {
        return;
    };
    match tls.certs.reload() {
        Ok(()) => eprintln!("httpd: SIGHUP: certificate and key reloaded"),
        Err(e) => eprintln!("httpd: SIGHUP: reload failed, keeping the old certificate: {e}"),
    }
}

fn main() {
    let cfg = match Config::parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(cfg)) => *cfg,
        Ok(Command::Help(text)) => {
            print!("{text}");
            return;
        }
        Err(e) => {
            eprintln!("httpd: {e}");
            std::process::exit(2);
        }
    };
    // A missing --root is a bad argument too (only the default one is created).
    let default_root = cfg.root == "./public_html" || cfg.root == "public_html";
    if !default_root && !std::path::Path::new(&cfg.root).is_dir() {
        eprintln!(
            "httpd: --root {}: no such directory (only the default ./public_html is created)",
            cfg.root
        );
        std::process::exit(2);
    }
    // A bad certificate or key is a bad argument: one line, exit 2, before anything starts.
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => match tls::Tls::load(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("httpd: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    // A port another server already listens on is a bad argument too (unless shared on purpose).
    if let Some(addr) = address_in_use(&cfg) {
        eprintln!("httpd: {addr}: address in use (--reuse-port shares it)");
        std::process::exit(2);
    }
    if let Err(e) = run(cfg, tls) {
        eprintln!("httpd: {e}");
        std::process::exit(1);
    }
}
