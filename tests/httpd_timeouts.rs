//! httpd's deadlines and back-pressure: slowloris and idle connections are closed, a slow
//! reader of a large file gets all of it without holding up anyone else, and SIGTERM
//! finishes in-flight responses before exiting 0.

mod httpd_support;

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
    let closed_at = trickle_until_closed(&mut Stream::Plain(s.connect()), SLOW_HEAD);
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
    let idle = idle_after_a_response(&s, b"hi");
    assert!(
        idle >= Duration::from_millis(700) && idle < Duration::from_secs(4),
        "{idle:?}"
    );
}

#[test]
fn a_slow_reader_gets_the_whole_file_and_blocks_nobody() {
    slow_reader_gets_everything_and_blocks_nobody(
        "slow",
        None,
        &["--workers", "1", "--send-timeout", "10"],
    );
}

#[test]
fn a_late_reader_of_a_pipelined_burst_gets_every_byte_in_order() {
    late_reader_of_a_pipelined_burst_gets_every_byte("late", None, &["--workers", "1"]);
}

#[test]
fn a_request_with_the_clients_fin_is_answered_then_closed_at_once() {
    a_request_with_the_clients_fin_is_answered_then_closed("fin", None, &["--workers", "1"]);
}

#[test]
fn sigterm_finishes_in_flight_responses_and_exits_zero() {
    sigterm_finishes_in_flight_responses("shutdown", None, &["--workers", "1"]);
}
