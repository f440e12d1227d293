//! httpd's deadlines and back-pressure: slowloris and idle connections are closed, a slow
//! reader of a large file gets all of it without holding up anyone else, and SIGTERM
//! finishes in-flight responses before exiting 0.

mod httpd_support;

use std::io::{BufReader, Read, Write};
use std::time::{Duration, Instant};

use httpd_support::*;

#[test]
fn slowloris_and_idle_connections_are_closed() {
    let d = TempDir::new("timeouts");
    d.write("index.html", b"hi");
    let s = Server::start(
        d.path(),
        &["--header-timeout", "0.5", "--keepalive-timeout", "0.8"],
    );

    // A head trickling in a byte at a time: closed at the header deadline, although bytes
    // keep arriving.
    let mut c = s.connect();
    let start = Instant::now();
    let msg = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed_at = None;
    for b in msg.iter().cycle().take(400) {
        if c.write_all(&[*b]).is_err() {
            closed_at = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let closed_at = closed_at.unwrap_or_else(|| {
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert!(closed_by_server(&mut c), "slow head was not cut off");
        start.elapsed()
    });
    assert!(closed_at >= Duration::from_millis(450), "{closed_at:?}");
    assert!(closed_at < Duration::from_secs(4), "{closed_at:?}");

    // A connection that never sends anything is closed by the header timeout too.
    let mut c = s.connect();
    let start = Instant::now();
    assert!(closed_by_server(&mut c));
    assert!(
        start.elapsed() >= Duration::from_millis(450) && start.elapsed() < Duration::from_secs(4)
    );

    // Idle after a response: the keep-alive timeout.
    let mut c = s.connect();
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut r = BufReader::new(c);
    assert_eq!(read_response(&mut r, false).unwrap().body, b"hi");
    let start = Instant::now();
    assert!(closed_by_server(&mut r));
    let idle = start.elapsed();
    assert!(
        idle >= Duration::from_millis(700) && idle < Duration::from_secs(4),
        "{idle:?}"
    );
}

#[test]
fn a_slow_reader_gets_the_whole_file_and_blocks_nobody() {
    let d = TempDir::new("slow");
    let big = pattern(8 * 1024 * 1024);
    d.write("big.bin", &big);
    d.write("small.txt", b"small");
    // One worker: the slow reader and the others share the same event loop.
    let s = Server::start(d.path(), &["--workers", "1", "--send-timeout", "10"]);
    let mut slow = s.connect();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::with_capacity(big.len() + 512);
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut others = 0;
    while got.len() < big.len() + 200 && start.elapsed() < Duration::from_secs(30) {
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
        let head_end = got.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(h) = head_end {
            if got.len() - (h + 4) >= big.len() {
                break;
            }
        }
    }
    let h = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - h, big.len());
    assert!(got[h..] == big[..], "slowly read body is intact");
    assert_eq!(others, 20);
}

#[test]
fn sigterm_finishes_in_flight_responses_and_exits_zero() {
    let d = TempDir::new("shutdown");
    let big = pattern(16 * 1024 * 1024);
    d.write("big.bin", &big);
    let mut s = Server::start(d.path(), &["--workers", "1"]);
    let port = s.port;
    let idle = s.connect();
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Read a little so the response is in flight, then signal.
    let mut first = vec![0u8; 4096];
    let n = c.read(&mut first).unwrap();
    assert!(n > 0);
    rawsys::process::kill(s.pid(), 15).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // New connections are refused once the listener is closed.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
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
