//! Black-box tests of the reactor against the real kernel: edge-triggered readiness,
//! explicit (re/de)registration, the waker, timers, and back-pressure on a real TCP socket.

use std::time::{Duration, Instant};

use rawsys::net::{self, AddressFamily, Protocol, SocketAddr, SocketFlags, SocketType};
use rawsys::{Errno, OwnedFd, io};
use reactor::{Events, Interest, Poll, Timer, Token, Waker};

const NB: SocketFlags = SocketFlags::NONBLOCK.union(SocketFlags::CLOEXEC);

fn pair() -> (OwnedFd, OwnedFd) {
    net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        NB,
        Protocol::DEFAULT,
    )
    .unwrap()
}

fn tokens(poll: &mut Poll, events: &mut Events, ms: u64) -> Vec<(Token, bool, bool)> {
    poll.poll(events, Some(Duration::from_millis(ms))).unwrap();
    events
        .iter()
        .map(|e| (e.token(), e.is_readable(), e.is_writable()))
        .collect()
}

#[test]
fn readiness_is_reported_once_per_edge() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    let (a, b) = pair();
    poll.registry()
        .register(&a, Token(1), Interest::READABLE)
        .unwrap();
    assert!(
        tokens(&mut poll, &mut events, 0).is_empty(),
        "nothing to read yet"
    );

    io::write(&b, b"one").unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(1), true, false)]
    );
    // Not drained, but edge-triggered: no second event for the same data.
    assert!(tokens(&mut poll, &mut events, 20).is_empty());

    io::write(&b, b"two").unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(1), true, false)]
    );
    let mut buf = [0u8; 16];
    assert_eq!(io::read(&a, &mut buf).unwrap(), 6);
    assert_eq!(io::read(&a, &mut buf), Err(Errno::EAGAIN));

    drop(b);
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    let ev = events.iter().next().expect("hang-up is reported");
    assert!(ev.is_readable() && ev.is_read_closed());
}

#[test]
fn register_reregister_deregister_are_explicit() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    let (a, b) = pair();
    let reg = poll.registry();
    reg.register(&a, Token(1), Interest::READABLE).unwrap();
    assert_eq!(
        reg.register(&a, Token(2), Interest::READABLE),
        Err(Errno::EEXIST)
    );

    // Writable interest on an empty send buffer: ready at once.
    reg.reregister(&a, Token(7), Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(7), false, true)]
    );

    poll.registry().deregister(&a).unwrap();
    io::write(&b, b"x").unwrap();
    assert!(
        tokens(&mut poll, &mut events, 20).is_empty(),
        "deregistered"
    );
    assert_eq!(poll.registry().deregister(&a), Err(Errno::ENOENT));
    assert_eq!(
        poll.registry().reregister(&a, Token(1), Interest::READABLE),
        Err(Errno::ENOENT)
    );

    // A cloned registry adds to the same instance.
    let clone = poll.registry().try_clone().unwrap();
    clone.register(&a, Token(9), Interest::READABLE).unwrap();
    io::write(&b, b"y").unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(9), true, false)]
    );
}

#[test]
fn events_capacity_bounds_one_poll() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(2);
    let mut keep = Vec::new();
    for i in 0..5 {
        let (a, b) = pair();
        poll.registry()
            .register(&a, Token(i), Interest::READABLE)
            .unwrap();
        io::write(&b, b"!").unwrap();
        keep.push((a, b));
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        assert!(events.len() <= 2);
        seen.extend(events.iter().map(|e| e.token().0));
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

#[test]
fn waker_wakes_a_blocked_poll_from_another_thread() {
    let mut poll = Poll::new().unwrap();
    let waker = std::sync::Arc::new(Waker::new(poll.registry(), Token(42)).unwrap());
    let w = waker.clone();
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        w.wake().unwrap();
    });
    let mut events = Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::from_secs(10)))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        events.iter().map(|e| e.token()).collect::<Vec<_>>(),
        [Token(42)]
    );
    t.join().unwrap();

    // Each wake is a new edge, even before the counter is read.
    waker.wake().unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(42), true, false)]
    );
    waker.wake().unwrap();
    assert_eq!(waker.reset().unwrap(), 3);
    assert_eq!(waker.reset().unwrap(), 0);
}

#[test]
fn timer_one_shot_interval_and_cancel() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4);
    let timer = Timer::new(poll.registry(), Token(5)).unwrap();
    let start = Instant::now();
    timer.set_after(Duration::from_millis(30)).unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 2000),
        [(Token(5), true, false)]
    );
    assert!(start.elapsed() >= Duration::from_millis(29));
    assert_eq!(timer.read().unwrap(), 1);
    assert_eq!(timer.read().unwrap(), 0);

    timer.set_interval(Duration::from_millis(10)).unwrap();
    std::thread::sleep(Duration::from_millis(55));
    let n = timer.read().unwrap();
    assert!((3..=6).contains(&n), "{n} expirations in 55 ms at 10 ms");
    timer.cancel().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(timer.read().unwrap(), 0, "cancelled");
}

fn tcp_pair() -> (OwnedFd, OwnedFd) {
    let listener = net::socket(AddressFamily::INET, SocketType::STREAM, NB, Protocol::TCP).unwrap();
    net::bind(&listener, &net::SocketAddrV4::new([127, 0, 0, 1], 0)).unwrap();
    net::listen(&listener, 8).unwrap();
    let SocketAddr::V4(addr) = net::getsockname(&listener).unwrap() else {
        panic!()
    };
    let client = net::socket(AddressFamily::INET, SocketType::STREAM, NB, Protocol::TCP).unwrap();
    match net::connect(&client, &addr) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => panic!("connect: {e}"),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match net::accept4(&listener, NB) {
            Ok((server, _)) => return (server, client),
            Err(Errno::EAGAIN) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn writable_edge_after_back_pressure() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4);
    let (server, client) = tcp_pair();
    poll.registry()
        .register(&server, Token(1), Interest::WRITABLE)
        .unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(1), false, true)]
    );

    // Fill the send buffer until the kernel says EAGAIN.
    let chunk = vec![7u8; 64 * 1024];
    let mut sent = 0usize;
    loop {
        match net::send(&server, &chunk, net::SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => break,
            Err(e) => panic!("send: {e}"),
        }
    }
    assert!(sent > 0);
    assert!(
        tokens(&mut poll, &mut events, 50).is_empty(),
        "no room: no writable event"
    );

    // The peer drains: a writable edge arrives.
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0usize;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut writable = false;
    while got < sent && Instant::now() < deadline {
        match io::read(&client, &mut buf) {
            Ok(n) => got += n,
            Err(Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("read: {e}"),
        }
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        writable |= events
            .iter()
            .any(|e| e.token() == Token(1) && e.is_writable());
    }
    assert_eq!(got, sent);
    poll.poll(&mut events, Some(Duration::from_millis(200)))
        .unwrap();
    writable |= events
        .iter()
        .any(|e| e.token() == Token(1) && e.is_writable());
    assert!(writable, "drained send buffer reported writable");
}

#[test]
fn exclusive_registration_of_a_shared_listener() {
    let listener = net::socket(AddressFamily::INET, SocketType::STREAM, NB, Protocol::TCP).unwrap();
    net::bind(&listener, &net::SocketAddrV4::new([127, 0, 0, 1], 0)).unwrap();
    net::listen(&listener, 8).unwrap();
    let SocketAddr::V4(addr) = net::getsockname(&listener).unwrap() else {
        panic!()
    };
    let mut p1 = Poll::new().unwrap();
    let mut p2 = Poll::new().unwrap();
    p1.registry()
        .register_exclusive(&listener, Token(0), Interest::READABLE)
        .unwrap();
    p2.registry()
        .register_exclusive(&listener, Token(0), Interest::READABLE)
        .unwrap();
    // The kernel refuses to modify an exclusive registration.
    assert_eq!(
        p1.registry()
            .reregister(&listener, Token(1), Interest::READABLE),
        Err(Errno::EINVAL)
    );
    let _c = std::net::TcpStream::connect(("127.0.0.1", addr.port())).unwrap();
    let mut events = Events::with_capacity(4);
    let mut woken = 0;
    for p in [&mut p1, &mut p2] {
        p.poll(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        woken += events.len();
    }
    assert!(
        woken >= 1,
        "a pending connection wakes at least one instance"
    );
    assert!(net::accept4(&listener, NB).is_ok());
}

#[test]
fn oneshot_reports_once_until_rearmed_and_rearming_reports_pending_data() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    let (a, b) = pair();
    poll.registry()
        .register_oneshot(&a, Token(4), Interest::READABLE)
        .unwrap();
    io::write(&b, b"one").unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(4), true, false)]
    );
    // Disabled after its event: new data raises nothing until it is re-armed.
    io::write(&b, b"two").unwrap();
    assert!(tokens(&mut poll, &mut events, 20).is_empty());
    // Re-arming (with a new token) reports the data that arrived meanwhile.
    poll.registry()
        .reregister_oneshot(&a, Token(5), Interest::READABLE)
        .unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(5), true, false)]
    );
    assert!(tokens(&mut poll, &mut events, 20).is_empty());
    let mut buf = [0u8; 16];
    assert_eq!(io::read(&a, &mut buf).unwrap(), 6);
    // Re-armed on a drained socket: silent until new data comes.
    poll.registry()
        .reregister_oneshot(&a, Token(5), Interest::READABLE)
        .unwrap();
    assert!(tokens(&mut poll, &mut events, 20).is_empty());
    io::write(&b, b"x").unwrap();
    assert_eq!(
        tokens(&mut poll, &mut events, 1000),
        [(Token(5), true, false)]
    );
    // A second registration of the same descriptor is refused.
    assert_eq!(
        poll.registry()
            .register_oneshot(&a, Token(6), Interest::READABLE),
        Err(Errno::EEXIST)
    );
}
