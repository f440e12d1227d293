//! Bridge networking against the real kernel (run as root): addresses, routes, reachability,
//! published ports, NAT, leases and cleanup.
//!
//! Every test builds its own network: bridge `lp-test-<pid><k>`, a free `10.213.x.0/24`,
//! nftables table `lp_test_<pid>_<k>`, veth prefix `lp-test-<letter>` and a lease directory
//! under /tmp; a guard removes all of it at the end, also on failure. Traffic goes only to
//! addresses inside namespaces the tests create, or to loopback.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use isolate::{
    BridgeConfig, ConfigError, Container, Error, ExitStatus, Ipv4Net, Network, PortMapping, Signal,
    Stdio,
};

mod common;
use common::{pipe, run_capture, sh};

fn ip_str(ip: [u8; 4]) -> String {
    Ipv4Addr::from(ip).to_string()
}

fn cmd(args: &[&str]) -> String {
    let o = Proc::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The host's IPv4 routes as networks (from `ip -4 route`; tests may use `ip` to look).
fn host_routes() -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    for l in cmd(&["ip", "-4", "route", "show", "table", "all"]).lines() {
        let Some(dst) = l.split_whitespace().next() else {
            continue;
        };
        let dst = if dst == "default" || dst == "local" || dst == "broadcast" {
            l.split_whitespace().nth(1).unwrap_or("")
        } else {
            dst
        };
        let (a, p) = dst.split_once('/').unwrap_or((dst, "32"));
        if let (Ok(a), Ok(p)) = (a.parse::<Ipv4Addr>(), p.parse::<u8>()) {
            let p = p.min(30);
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            let net = u32::from(a) & mask;
            if p >= 8 {
                out.push(Ipv4Net::new(net.to_be_bytes(), p).unwrap());
            }
        }
    }
    out
}

/// A /24 (or /30 with `small`) in 10.213.0.0/16 overlapping no host route, chosen from the
/// process id and `k` so parallel tests do not pick the same one.
fn free_subnet(k: u32, small: bool) -> Ipv4Net {
    let routes = host_routes();
    let start = (std::process::id() % 40) * 6 + k;
    for i in 0..250 {
        let x = ((start + i * 7) % 250) as u8;
        let n = if small {
            Ipv4Net::new([10, 213, 250 + (x % 5), (k as u8 % 60) * 4], 30).unwrap()
        } else {
            Ipv4Net::new([10, 213, x, 0], 24).unwrap()
        };
        if !routes.iter().any(|r| r.overlaps(&n)) {
            return n;
        }
    }
    panic!("no free subnet in 10.213.0.0/16");
}

/// A private bridge network, removed on drop.
struct TestNet {
    cfg: BridgeConfig,
    prefix: String,
    lease_dir: String,
}

impl TestNet {
    fn new(k: u32) -> TestNet {
        let pid = std::process::id();
        let letter = (b'a' + k as u8) as char;
        let prefix = format!("lp-test-{letter}");
        let lease_dir = format!("/tmp/lp-test-net-{pid}-{k}");
        let cfg = BridgeConfig::default()
            .with_name(&format!("lp-test-{:05}{k}", pid % 100_000))
            .unwrap()
            .with_subnet(free_subnet(k, false))
            .with_table(&format!("lp_test_{pid}_{k}"))
            .unwrap()
            .with_veth_prefix(&prefix)
            .unwrap()
            .with_lease_dir(&lease_dir)
            .unwrap();
        TestNet {
            cfg,
            prefix,
            lease_dir,
        }
    }

    fn net(&self) -> Network {
        Network::Bridge(self.cfg.clone())
    }

    fn gw(&self) -> String {
        ip_str(self.cfg.subnet().gateway())
    }

    /// Host interfaces with this network's veth prefix.
    fn veths(&self) -> Vec<String> {
        cmd(&["ip", "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .filter(|n| n.starts_with(&self.prefix))
            .collect()
    }

    /// The lease lines (without the `next` line).
    fn leases(&self) -> String {
        std::fs::read_to_string(format!("{}/{}.leases", self.lease_dir, self.cfg.name()))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("next "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The nftables rules of this network's table (one per line, as `nft` prints them).
    fn rules(&self) -> Vec<String> {
        cmd(&["nft", "list", "table", "ip", self.cfg.table()])
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("masquerade") || l.contains("dnat"))
            .map(String::from)
            .collect()
    }

    /// No lease and no DNAT rule left at once; no veth left once the kernel has torn down the
    /// containers' network namespaces (it does so in the background: allow 10 s).
    fn assert_clean(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.veths().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(self.veths(), Vec::<String>::new(), "veths left");
        assert_eq!(self.leases(), "", "leases left");
        let dnat: Vec<_> = self
            .rules()
            .into_iter()
            .filter(|r| r.contains("dnat"))
            .collect();
        assert_eq!(dnat, Vec::<String>::new(), "DNAT rules left");
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let r = isolate::net::remove_bridge_network(&self.cfg);
        let _ = std::fs::remove_dir_all(&self.lease_dir);
        if !std::thread::panicking() {
            r.unwrap();
        }
    }
}

#[test]
fn container_sees_eth0_its_address_a_default_route_and_reaches_the_bridge() {
    let t = TestNet::new(0);
    let script = "busybox ip -4 -o addr show dev eth0; busybox ip route; \
                  busybox ip -o link show lo; busybox ping -c 1 -W 2 \"$GW\" >/dev/null \
                  && echo PING-OK; cat /etc/resolv.conf";
    let (res, out, err) = run_capture(sh(script).env("GW", &t.gw()).unwrap().network(t.net()));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{out}\n{err}");
    let mut want_addr = t.cfg.subnet().addr();
    want_addr[3] += 2;
    assert!(
        out.contains(&format!(
            "inet {}/{}",
            ip_str(want_addr),
            t.cfg.subnet().prefix()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("default via {} dev eth0", t.gw())),
        "{out}"
    );
    assert!(out.contains("lo: <LOOPBACK,UP"), "{out}");
    assert!(
        out.contains("PING-OK"),
        "bridge address unreachable: {out}\n{err}"
    );
    // The host's resolver here is not on loopback, so it is passed through.
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if !host_resolv.contains("nameserver 127.") && host_resolv.contains("nameserver") {
        assert!(out.ends_with(&host_resolv), "{out}");
    }
    t.assert_clean();
    // The bridge and the masquerade stay for the next container.
    assert_eq!(t.rules().len(), 2, "{:?}", t.rules());
    assert!(cmd(&["ip", "-o", "link", "show", t.cfg.name()]).contains(t.cfg.name()));
}

#[test]
fn none_keeps_only_loopback_and_brings_it_up() {
    let (res, out, err) = run_capture(
        sh("busybox ip -o link; busybox ping -c 1 -W 2 127.0.0.1 >/dev/null && echo PING-OK")
            .network(Network::None),
    );
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{out}\n{err}");
    let links: Vec<&str> = out.lines().filter(|l| l.contains(": <")).collect();
    assert_eq!(links.len(), 1, "{out}");
    assert!(links[0].contains("lo: <LOOPBACK,UP"), "{out}");
    assert!(out.contains("PING-OK"), "{out}");
}

#[test]
fn two_containers_on_the_bridge_reach_each_other() {
    let t = TestNet::new(1);
    let (mut r_out, w_out) = pipe();
    // nc's stdin is a FIFO held open by the shell: busybox nc may end the session on stdin EOF
    // before it has read what the client sent, so it must never see one; it ends when the client
    // closes the connection.
    let server = sh(
        "mkfifo /dev/shm/in && { busybox nc -l -p 7000 </dev/shm/in & \
                     exec 3>/dev/shm/in; wait $!; }",
    )
    .network(t.net())
    .stdout(Stdio::Fd(w_out))
    .build()
    .unwrap();
    let mut srv = server.spawn().unwrap();
    drop(server);
    let addr = ip_str(srv.address().unwrap());
    let client = "for i in $(seq 100); do echo hello-from-b | busybox nc \"$A\" 7000 && exit 0; \
                  sleep 0.05; done; exit 1";
    let (res, out, err) = run_capture(sh(client).env("A", &addr).unwrap().network(t.net()));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{out}\n{err}");
    let o = srv.wait().unwrap();
    assert_eq!(o.status, ExitStatus::Exited(0));
    let mut got = String::new();
    r_out.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello-from-b\n");
    t.assert_clean();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// HTTP GET of `/` at `addr`, retried until the server answers (bounded).
fn http_get(addr: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut v = String::new();
            s.read_to_string(&mut v)?;
            Ok(v)
        })();
        match attempt {
            Ok(v) if !v.is_empty() => return Ok(v),
            Ok(_) | Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(v) => return Err(format!("empty answer {v:?}")),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn published_port_reaches_a_server_inside_from_the_host_and_goes_when_killed() {
    let t = TestNet::new(2);
    let www = format!("/tmp/lp-test-www-{}", std::process::id());
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(format!("{www}/index.html"), "hello through dnat\n").unwrap();
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(www.clone());
    let port = free_port();
    let c = Container::builder()
        .host_rootfs()
        .command("busybox", ["httpd", "-f", "-p", "80", "-h", "/www"])
        .unwrap()
        .bind_mount(&www, "/www", true)
        .unwrap()
        .network(t.net())
        .publish(PortMapping::parse(&format!("{port}:80")).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut running = c.spawn().unwrap();
    let rules = t.rules();
    assert_eq!(
        rules.iter().filter(|r| r.contains("dnat")).count(),
        2,
        "{rules:?}"
    );
    for host in ["127.0.0.1".to_string(), t.gw()] {
        let answer = http_get(&format!("{host}:{port}")).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{host}: {answer}");
        assert!(answer.ends_with("hello through dnat\n"), "{host}: {answer}");
    }
    // A second container cannot publish the same host port.
    let dup = sh("true")
        .network(t.net())
        .publish(PortMapping::parse(&format!("{port}:81")).unwrap())
        .unwrap()
        .build()
        .unwrap();
    match dup.spawn() {
        Err(Error::Config(ConfigError::Network(m))) => assert!(m.contains("already published")),
        other => panic!("{other:?}"),
    }
    running.kill(Signal::SIGKILL).unwrap();
    assert_eq!(
        running.wait().unwrap().status,
        ExitStatus::Signaled(Signal::SIGKILL)
    );
    t.assert_clean();
    assert!(
        TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_secs(1)
        )
        .is_err()
    );
}

#[test]
fn fifty_parallel_containers_get_distinct_addresses_and_leave_nothing() {
    let t = TestNet::new(3);
    // Below the ephemeral range (32768-60999 here): isolate reserves a published port by
    // binding 0.0.0.0:PORT without SO_REUSEADDR, which an outgoing connection's local port in
    // TIME_WAIT would refuse (one flaky run on a machine busy with other clients).
    let base = 20000 + (std::process::id() % 12000) as u16;
    let results: Vec<(Option<[u8; 4]>, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50u16)
            .map(|i| {
                let net = t.net();
                s.spawn(move || {
                    let (mut r, w) = pipe();
                    let c = sh("busybox ip -4 -o addr show dev eth0")
                        .network(net)
                        .publish(PortMapping::parse(&format!("{}:80", base + i)).unwrap())
                        .unwrap()
                        .stdout(Stdio::Fd(w))
                        .build()
                        .unwrap();
                    let mut running = c.spawn().unwrap();
                    drop(c);
                    let addr = running.address();
                    assert_eq!(running.wait().unwrap().status, ExitStatus::Exited(0));
                    let mut out = String::new();
                    r.read_to_string(&mut out).unwrap();
                    (addr, out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut addrs: Vec<[u8; 4]> = results.iter().map(|(a, _)| a.unwrap()).collect();
    for (a, out) in &results {
        assert!(
            out.contains(&format!("inet {}/", ip_str(a.unwrap()))),
            "{out}"
        );
    }
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 50, "distinct addresses");
    assert!(addrs.iter().all(|a| t.cfg.subnet().contains(*a)));
    t.assert_clean();
}

#[test]
fn overlapping_subnet_is_refused_before_anything_is_created() {
    let pid = std::process::id();
    // A bridge (no dummy driver here), named outside every TestNet veth prefix (`lp-test-a`..`f`):
    // `fifty_parallel_…` (prefix `lp-test-d`) runs beside this test and counts its links.
    let dummy = format!("lp-test-x{}", pid % 1_000_000);
    let net = free_subnet(4, false);
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Proc::new("ip").args(["link", "del", &self.0]).status();
        }
    }
    assert!(
        Proc::new("ip")
            .args(["link", "add", &dummy, "type", "bridge"])
            .status()
            .unwrap()
            .success()
    );
    let _del = Del(dummy.clone());
    let mut a = net.addr();
    a[3] = 1;
    let addr = format!("{}/{}", ip_str(a), net.prefix());
    assert!(
        Proc::new("ip")
            .args(["addr", "add", &addr, "dev", &dummy])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Proc::new("ip")
            .args(["link", "set", &dummy, "up"])
            .status()
            .unwrap()
            .success()
    );
    let mut t = TestNet::new(4);
    let narrower = Ipv4Net::new(net.addr(), 25).unwrap();
    t.cfg = t.cfg.clone().with_subnet(narrower);
    let c = sh("true").network(t.net()).build().unwrap();
    match c.spawn() {
        Err(Error::Config(ConfigError::Network(m))) => {
            assert!(
                m.contains("overlaps") && m.contains(&net.to_string()),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!cmd(&["ip", "-o", "link", "show"]).contains(t.cfg.name()));
}

/// Runs `f` on a thread inside network namespace `/run/netns/<ns>`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        // SAFETY: the descriptor is open for the duration of the borrow.
        let b = unsafe { rawsys::BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(&fd)) };
        rawsys::ns::setns(b, rawsys::process::CloneFlags::NEWNET).unwrap();
        f()
    })
}

#[test]
fn nat_makes_container_traffic_leave_with_the_host_address() {
    let t = TestNet::new(5);
    let pid = std::process::id();
    let ns = format!("lp-test-out{pid}");
    let host_if = format!("lp-test-o{}", pid % 1_000_000);
    let out = free_subnet(5, true);
    let a = out.addr();
    let (host_ip, far_ip) = ([a[0], a[1], a[2], a[3] + 1], [a[0], a[1], a[2], a[3] + 2]);
    struct Outside(String, String);
    impl Drop for Outside {
        fn drop(&mut self) {
            let _ = Proc::new("ip").args(["link", "del", &self.1]).status();
            let _ = Proc::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let run = |args: &[&str]| {
        let st = Proc::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    run(&["netns", "add", &ns]);
    let _outside = Outside(ns.clone(), host_if.clone());
    run(&[
        "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns,
    ]);
    run(&[
        "addr",
        "add",
        &format!("{}/30", ip_str(host_ip)),
        "dev",
        &host_if,
    ]);
    run(&["link", "set", &host_if, "up"]);
    run(&[
        "-n",
        &ns,
        "addr",
        "add",
        &format!("{}/30", ip_str(far_ip)),
        "dev",
        "eth0",
    ]);
    run(&["-n", &ns, "link", "set", "eth0", "up"]);
    run(&["-n", &ns, "link", "set", "lo", "up"]);
    // The outside namespace has no route to the container subnet: only NAT makes replies work.

    let far = ip_str(far_ip);
    let (tx, rx) = std::sync::mpsc::channel();
    let server = in_netns(&ns, move || {
        let l = TcpListener::bind((far.parse::<Ipv4Addr>().unwrap(), 0)).unwrap();
        tx.send(l.local_addr().unwrap().port()).unwrap();
        l.set_nonblocking(false).unwrap();
        let (mut s, peer) = l.accept().unwrap();
        let mut got = String::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read_to_string(&mut got);
        (peer.ip().to_string(), got)
    });
    let port = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    // Forwarding off (as on a fresh host): starting a bridge container turns it back on.
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "0").unwrap();
    let c = sh("echo from-container | busybox nc -w 5 \"$FAR\" \"$PORT\"")
        .env("FAR", &ip_str(far_ip))
        .unwrap()
        .env("PORT", &port.to_string())
        .unwrap()
        .network(t.net())
        .build()
        .unwrap();
    let mut running = c.spawn().unwrap();
    let container_ip = ip_str(running.address().unwrap());
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        "1\n"
    );
    let o = running.wait().unwrap();
    assert_eq!(o.status, ExitStatus::Exited(0));
    let (peer, got) = server.join().unwrap();
    assert_eq!(got, "from-container\n");
    assert_ne!(peer, container_ip, "the container's own address got out");
    assert_eq!(peer, ip_str(host_ip), "masqueraded to the host's address");
    t.assert_clean();
}

/// Reaps our child `pid` (a created container's process is the creator's child).
fn reap(pid: i32) {
    let _ = rawsys::process::waitid(
        rawsys::process::WaitId::Pid(pid),
        rawsys::process::WaitOptions::EXITED,
    );
}

#[test]
fn a_created_container_owns_its_lease_and_release_or_delete_gives_the_network_back() {
    let t = TestNet::new(6);
    let root =
        isolate::StateRoot::new(&format!("/run/lp-test-netlc-{}", std::process::id())).unwrap();
    struct RmRoot(isolate::StateRoot);
    impl Drop for RmRoot {
        fn drop(&mut self) {
            for id in self.0.list().unwrap_or_default() {
                if let Ok(s) = self.0.state(&id) {
                    let _ = self.0.delete(&id, true);
                    reap(s.pid);
                }
            }
            let _ = std::fs::remove_dir(self.0.dir());
        }
    }
    let root = RmRoot(root);
    let port = free_port();
    let build = |port: u16| {
        sh("exec sleep 100")
            .network(t.net())
            .publish(PortMapping::parse(&format!("{port}:80")).unwrap())
            .unwrap()
            .build()
            .unwrap()
    };
    let created = root
        .0
        .create_with_handles(&build(port), "lp-test-netlc-a", &[])
        .unwrap();
    let st = created.state;
    let n = st.network.clone().expect("the state records the network");
    assert!(t.cfg.subnet().contains(n.address()));
    assert_eq!(n.gateway(), t.cfg.subnet().gateway());
    assert_eq!(n.prefix_len(), t.cfg.subnet().prefix());
    assert_eq!(
        n.ports(),
        &[PortMapping::parse(&format!("{port}:80")).unwrap()]
    );
    assert!(n.mac_address().is_some_and(|m| m != [0; 6]));
    // The lease names the container's process, not us.
    let ip = ip_str(n.address());
    assert_eq!(
        t.leases(),
        format!(
            "{ip} {} {} lp-test-netlc-a tcp:{port}:80\n",
            st.pid,
            std::fs::read_to_string(format!("/proc/{}/stat", st.pid))
                .unwrap()
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .nth(19)
                .unwrap()
        )
    );
    assert_eq!(t.rules().iter().filter(|r| r.contains("dnat")).count(), 2);
    // The creator holds the port while it keeps the sockets.
    assert_eq!(created.port_holds.len(), 1);
    assert!(TcpListener::bind(("0.0.0.0", port)).is_err());
    root.0.start("lp-test-netlc-a").unwrap();
    match root.0.release_network("lp-test-netlc-a") {
        Err(Error::WrongStatus { .. }) => {}
        other => panic!("release of a running container: {other:?}"),
    }
    root.0
        .kill("lp-test-netlc-a", Signal::SIGKILL, false)
        .unwrap();
    reap(st.pid);
    // Stopped: its lease is stale now (the next container would reclaim it); released at
    // once by whoever reaped it, the state says so, and again is no error.
    root.0.release_network("lp-test-netlc-a").unwrap();
    assert_eq!(root.0.state("lp-test-netlc-a").unwrap().network, None);
    root.0.release_network("lp-test-netlc-a").unwrap();
    t.assert_clean();
    drop(created.port_holds);
    TcpListener::bind(("0.0.0.0", port)).expect("the port is free once the holds are closed");
    root.0.delete("lp-test-netlc-a", false).unwrap();
    // delete -f of a running one gives its network back too.
    let st = root.0.create(&build(port), "lp-test-netlc-b", &[]).unwrap();
    root.0.start("lp-test-netlc-b").unwrap();
    assert_eq!(t.leases().lines().count(), 1);
    root.0.delete("lp-test-netlc-b", true).unwrap();
    reap(st.pid);
    t.assert_clean();
    // A create that fails (no such command) leaves no lease, rule or state.
    let bad = Container::builder()
        .host_rootfs()
        .command("/no/such/command", [""; 0])
        .unwrap()
        .network(t.net())
        .publish(PortMapping::parse(&format!("{port}:80")).unwrap())
        .unwrap()
        .build()
        .unwrap();
    assert!(root.0.create(&bad, "lp-test-netlc-c", &[]).is_err());
    assert_eq!(root.0.list().unwrap(), Vec::<String>::new());
    t.assert_clean();
}
