//! Shared helpers of the httpd integration tests: build and start the real example binary
//! on a free loopback port, speak raw TCP to it, stop it.

#![allow(dead_code, unreachable_pub)]

#[path = "../example_bin/mod.rs"]
mod example_bin;
pub mod tls;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use tls::{Stream, TlsSetup};

/// The httpd example binary of this build profile, built if out of date.
pub fn binary() -> PathBuf {
    example_bin::example_binary("httpd")
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory (`lp-test-httpd-*`), removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = DIRS.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("lp-test-httpd-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.0.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, data).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server. Dropping it kills the process (the one this test started).
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub stderr_path: PathBuf,
    /// The client side of a server started over TLS ([`Server::start_tls`]): what
    /// [`Server::open`] speaks.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Server {
    /// Starts httpd on 127.0.0.1 with a free port, serving `root`, with extra `args`.
    pub fn start(root: &Path, args: &[&str]) -> Server {
        Server::start_in(None, root, args)
    }

    /// [`Server::start`] serving HTTPS with `tls`'s certificate; [`Server::open`] then
    /// connects with TLS.
    pub fn start_tls(root: &Path, tls: &TlsSetup, args: &[&str]) -> Server {
        let mut all = tls.args().to_vec();
        all.extend_from_slice(args);
        let mut s = Server::start(root, &all);
        s.tls = Some(Arc::clone(&tls.client));
        s
    }

    /// [`Server::start`] over TLS with `tls`, plain without.
    pub fn start_maybe_tls(root: &Path, tls: Option<&TlsSetup>, args: &[&str]) -> Server {
        match tls {
            Some(tls) => Server::start_tls(root, tls, args),
            None => Server::start(root, args),
        }
    }

    /// [`Server::start`] in the working directory `cwd` (a relative `root` is under it).
    pub fn start_in(cwd: Option<&Path>, root: &Path, args: &[&str]) -> Server {
        let log = std::env::temp_dir().join(format!(
            "lp-test-httpd-stderr-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        let mut command = Command::new(binary());
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let mut child = command
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--workers",
                "2",
                "--root",
            ])
            .arg(root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn httpd");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "httpd did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        assert!(
            line.starts_with("Server listening on port "),
            "banner: {line}"
        );
        let port: u16 = line["Server listening on port ".len()..]
            .split(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in banner");
        assert!(
            line.contains("workers, serving files from"),
            "banner: {line}"
        );
        Server {
            child,
            port,
            stderr_path: log,
            tls: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// A connection in the server's protocol: [`Server::connect`], with the TLS handshake
    /// done if the server was started over TLS.
    pub fn open(&self) -> Stream {
        let tcp = self.connect();
        match &self.tls {
            Some(config) => tls::handshake(config, tcp),
            None => Stream::Plain(tcp),
        }
    }

    /// The number of open descriptors of the server process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        rawsys::process::kill_process(self.pid(), rawsys::signal::Signal::SIGTERM)
            .expect("kill SIGTERM");
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The value of the field `name` in a response head as text (`curl -D -` output), trimmed;
/// the exact spelling of the name, as httpd writes it.
pub fn head_field<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
            .map(str::trim)
    })
}

/// Reads one response from `r` (a HEAD or 304 has no body whatever its Content-Length).
/// `None` if the connection closed before a status line.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> Option<Response> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        let l = l.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request || status == 304 {
        return Some(resp);
    }
    let len: usize = resp.header("content-length")?.parse().ok()?;
    resp.body = vec![0; len];
    r.read_exact(&mut resp.body).ok()?;
    Some(resp)
}

/// Sends `raw` on a new connection ([`Server::open`]) and reads one response.
pub fn exchange(server: &Server, raw: &[u8]) -> Response {
    let mut s = server.open();
    s.write_all(raw).unwrap();
    let head = raw.starts_with(b"HEAD ");
    let mut r = BufReader::new(s);
    read_response(&mut r, head).expect("a response")
}

/// `GET path` with extra header lines, on a new connection.
pub fn get(server: &Server, path: &str, extra: &str) -> Response {
    exchange(
        server,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes(),
    )
}

/// Whether the server closed the connection (EOF or reset within the read timeout, with no
/// further bytes; over TLS also the end of the TCP stream without a `close_notify`, which
/// rustls reports as `UnexpectedEof`).
pub fn closed_by_server(r: &mut impl Read) -> bool {
    let mut b = [0u8; 64];
    match r.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it); returns
/// the limit now in force.
pub fn raise_nofile() -> u64 {
    use rawsys::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile).unwrap();
    let _ = setrlimit(
        Resource::Nofile,
        &Rlimit {
            cur: lim.max,
            max: lim.max,
        },
    );
    getrlimit(Resource::Nofile).unwrap().cur
}

/// Waits (at most `within`) until the server holds at most `want` descriptors; returns how
/// many it holds.
pub fn wait_for_fds(s: &Server, want: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let n = s.fd_count();
        if n <= want || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a request on a new connection ([`Server::open`]), checks its answer is `body`, and
/// returns how long the server then kept the idle connection open (it must close it).
pub fn idle_after_a_response(s: &Server, body: &[u8]) -> Duration {
    let mut c = s.open();
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut r = BufReader::new(c);
    assert_eq!(read_response(&mut r, false).unwrap().body, body);
    let start = Instant::now();
    assert!(closed_by_server(&mut r));
    start.elapsed()
}

/// A request head that never ends, for [`trickle_until_closed`].
pub const SLOW_HEAD: &[u8] =
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Sends `bytes` (cycled, 400 at most) one at a time every 20 ms for at most 5 s; returns
/// when the server closed the connection (a write failed, or a read after the trickle saw
/// the close within 3 s), measured from the first byte.
pub fn trickle_until_closed(c: &mut Stream, bytes: &[u8]) -> Duration {
    let start = Instant::now();
    for b in bytes.iter().cycle().take(400) {
        if c.write_all(&[*b]).is_err() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    c.tcp()
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert!(closed_by_server(c), "slow head was not cut off");
    start.elapsed()
}

/// The current time as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), computed here
/// independently of the server's code.
pub fn now_http_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let wday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{wday}, {day:02} {mon} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

// ---- scenarios shared by the tests of both designs (`--design reactor` and `pool`) ------

/// Sends `n` requests in one write, cycling through `paths` (every 7th, from the 4th, a
/// HEAD), and checks the answers arrive in order: 404 for paths starting with `/nope`, 200
/// otherwise, and for GETs the body `bodies` names for the path, if any.
pub fn pipelined_burst(
    c: &mut TcpStream,
    r: &mut impl BufRead,
    paths: &[&str],
    n: usize,
    bodies: &[(&str, &[u8])],
) {
    pipelined_burst_write(c, paths, n);
    pipelined_burst_read(r, paths, n, bodies);
}

/// The requests of [`pipelined_burst`], in one write.
pub fn pipelined_burst_write(c: &mut impl Write, paths: &[&str], n: usize) {
    let mut burst = Vec::new();
    for i in 0..n {
        let p = paths[i % paths.len()];
        let m = if i % 7 == 3 { "HEAD" } else { "GET" };
        burst.extend_from_slice(format!("{m} {p} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.write_all(&burst).unwrap();
}

/// Reads and checks the answers to [`pipelined_burst_write`].
pub fn pipelined_burst_read(
    r: &mut impl BufRead,
    paths: &[&str],
    n: usize,
    bodies: &[(&str, &[u8])],
) {
    for i in 0..n {
        let p = paths[i % paths.len()];
        let m = if i % 7 == 3 { "HEAD" } else { "GET" };
        let resp = read_response(r, m == "HEAD").unwrap_or_else(|| panic!("no answer #{i}"));
        let want = if p.starts_with("/nope") { 404 } else { 200 };
        assert_eq!(resp.status, want, "#{i}: {m} {p}");
        assert_eq!(resp.header("date").map(str::len), Some(29), "#{i}: Date");
        if m == "GET"
            && let Some((_, body)) = bodies.iter().find(|(q, _)| *q == p)
        {
            assert!(resp.body == *body, "#{i}: GET {p}: body differs");
        }
    }
}

/// Pipelines 900 requests for three small (cached) files, one up to the 64 KiB limit, in one
/// write, and reads nothing for half a second, so the server's socket fills and the rest of
/// its batches wait in its queue; then checks every answer, in order, byte for byte. Over
/// TLS with `tls`; `args` start the server.
pub fn late_reader_of_a_pipelined_burst_gets_every_byte(
    tag: &str,
    tls: Option<&TlsSetup>,
    args: &[&str],
) {
    let d = TempDir::new(tag);
    let big = pattern(64 * 1024);
    let mid = pattern(3000);
    d.write("a.bin", &big);
    d.write("b.txt", b"bee");
    d.write("c.bin", &mid);
    let s = Server::start_maybe_tls(d.path(), tls, args);
    let paths = ["/a.bin", "/b.txt", "/c.bin", "/b.txt", "/a.bin"];
    let bodies: [(&str, &[u8]); 3] = [("/a.bin", &big), ("/b.txt", b"bee"), ("/c.bin", &mid)];
    match s.open() {
        Stream::Plain(mut c) => {
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut r = BufReader::new(c.try_clone().unwrap());
            let writer = std::thread::spawn(move || {
                pipelined_burst_write(&mut c, &paths, 900);
                c
            });
            std::thread::sleep(Duration::from_millis(500));
            pipelined_burst_read(&mut r, &paths, 900, &bodies);
            let _c = writer.join().unwrap();
        }
        // A TLS session is not written and read from two threads: the burst (31 KB) goes
        // whole first, which the two sockets' buffers hold while the server's answers back up.
        mut c => {
            c.tcp()
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            pipelined_burst_write(&mut c, &paths, 900);
            std::thread::sleep(Duration::from_millis(500));
            pipelined_burst_read(&mut BufReader::new(c), &paths, 900, &bodies);
        }
    }
}

/// Serves an 8 MiB file to a client that reads it slowly while 20 other requests for
/// `/small.txt` (which must hold `small`) are answered promptly; checks the slow client gets
/// every byte. Over TLS with `tls` (the others too); `args` start the server (one worker, so
/// everyone shares one event loop).
pub fn slow_reader_gets_everything_and_blocks_nobody(
    tag: &str,
    tls: Option<&TlsSetup>,
    args: &[&str],
) {
    let d = TempDir::new(tag);
    let big = pattern(8 * 1024 * 1024);
    d.write("big.bin", &big);
    d.write("small.txt", b"small");
    // With files paced (`--notsent-lowat`; off by default).
    let mut paced = args.to_vec();
    paced.extend(["--notsent-lowat", "131072"]);
    let s = Server::start_maybe_tls(d.path(), tls, &paced);
    let mut slow = s.open();
    slow.tcp()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // While the client reads nothing, the server keeps little of the file waiting unsent
    // in its socket (--notsent-lowat 128 KiB, plus what one pass of sendfile adds):
    // without the limit it would fill the send buffer, megabytes.
    std::thread::sleep(Duration::from_millis(300));
    let waiting = unsent_in_server_socket(s.port, slow.tcp().local_addr().unwrap().port());
    assert!(waiting <= 256 * 1024, "{waiting} bytes wait unsent");
    let mut got = Vec::with_capacity(big.len() + 512);
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut others = 0;
    loop {
        assert!(start.elapsed() < Duration::from_secs(30), "too slow");
        let n = slow.read(&mut buf).unwrap();
        assert!(n > 0, "closed early after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        // Meanwhile another client is answered promptly.
        if others < 20 {
            let t = Instant::now();
            assert_eq!(get(&s, "/small.txt", "").body, b"small");
            assert!(t.elapsed() < Duration::from_secs(2));
            others += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
        if let Some(h) = got.windows(4).position(|w| w == b"\r\n\r\n")
            && got.len() - (h + 4) >= big.len()
        {
            break;
        }
    }
    let h = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - h, big.len());
    assert!(got[h..] == big[..], "slowly read body is intact");
    assert_eq!(others, 20);
}

/// The bytes queued but not yet sent in the server's socket of the connection from local
/// port `client` to `port` (`ss -ti`'s `notsent`, absent when nothing waits).
fn unsent_in_server_socket(port: u16, client: u16) -> u64 {
    let filter = format!("( sport = :{port} and dport = :{client} )");
    let out = Command::new("ss")
        .args(["-tinH", "state", "established", &filter])
        .output()
        .expect("run ss (iproute2)");
    assert!(out.status.success(), "ss failed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(":{client}")),
        "socket not listed: {text}"
    );
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("notsent:"))
        .map_or(0, |v| v.parse().expect("notsent value"))
}

/// SIGTERM while a 16 MiB response is in flight and another connection idles: the listener
/// closes at once, the response completes, and the server exits 0. Over TLS with `tls` (the
/// response then ends with the server's `close_notify`); `args` start the server.
pub fn sigterm_finishes_in_flight_responses(tag: &str, tls: Option<&TlsSetup>, args: &[&str]) {
    let d = TempDir::new(tag);
    let big = pattern(16 * 1024 * 1024);
    d.write("big.bin", &big);
    let mut s = Server::start_maybe_tls(d.path(), tls, args);
    let port = s.port;
    let idle = s.open();
    let mut c = s.open();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Read a little so the response is in flight, then signal.
    let mut first = vec![0u8; 4096];
    let n = c.read(&mut first).unwrap();
    assert!(n > 0);
    rawsys::process::kill_process(s.pid(), rawsys::signal::Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // New connections are refused once the listener is closed.
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting"
    );
    // The in-flight response completes.
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let mut all = first[..n].to_vec();
    all.extend_from_slice(&rest);
    let h = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        all.len() - h,
        big.len(),
        "whole body delivered during shutdown"
    );
    drop(idle);
    let code = s.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", s.stderr());
}

/// A client that sends its last request and its FIN together (a write, then a shutdown of
/// its sending side) on a connection that is already registered and idle gets the answer
/// and then the server's close at once, not when a timeout fires: both may arrive before
/// the server looks, in one readiness event (`EPOLLIN | EPOLLRDHUP`), after which an
/// edge-triggered socket never signals again, so a short read must not end the reading
/// then. Repeated, since what the event holds is a matter of timing. Over TLS with `tls`
/// (the client's `close_notify`, then its FIN); `args` start the server (with long timeouts
/// added, which a missed FIN would wait for).
pub fn a_request_with_the_clients_fin_is_answered_then_closed(
    tag: &str,
    tls: Option<&TlsSetup>,
    args: &[&str],
) {
    let d = TempDir::new(tag);
    d.write("index.html", b"hello");
    let mut all = vec!["--keepalive-timeout", "60", "--header-timeout", "60"];
    all.extend_from_slice(args);
    let s = Server::start_maybe_tls(d.path(), tls, &all);
    let fds = s.fd_count();
    let req = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
    for round in 0..50 {
        let c = s.open();
        c.tcp()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Written through the reader: each response is read whole before the next request.
        let mut r = BufReader::new(c);
        // A first exchange, so that the second request finds the connection registered and
        // waiting.
        r.get_mut().write_all(req).unwrap();
        assert_eq!(
            read_response(&mut r, false).expect("first response").status,
            200
        );
        r.get_mut().write_all(req).unwrap();
        r.get_mut().shutdown_write();
        let start = Instant::now();
        let second = read_response(&mut r, false).expect("second response");
        assert_eq!(second.body, b"hello");
        assert!(
            closed_by_server(&mut r),
            "round {round}: not closed after the client's FIN"
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "round {round}: closed only after {:?} (a timeout), not when the FIN came",
            start.elapsed()
        );
    }
    // Every connection is gone on the server's side too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.fd_count() > fds && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.fd_count(), fds, "descriptors left open");
}
