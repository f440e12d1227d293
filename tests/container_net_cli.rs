//! The `container` example on a private bridge network (run as root): eth0 inside, a
//! published port reached from the host, clean teardown on a forwarded signal, and one clear
//! line for bad network flags. Each test has its own bridge `lp-test-c<pid><k>`, table
//! `lp_test_c<pid>_<k>`, veth prefix `lp-test-z`/`y`/`x` and lease directory under /tmp, all
//! removed at the end, also on failure.

mod bridge_support;
mod example_bin;

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bridge_support::{Net, free_port, http_get, text};

fn bin() -> PathBuf {
    example_bin::example_binary("container")
}

#[test]
fn bridge_gives_eth0_a_default_route_and_the_bridge_answers() {
    let n = Net::new(0);
    let o = n.run(&[
        "--",
        "sh",
        "-c",
        "busybox ip -4 -o addr show dev eth0 && busybox ip route && busybox ping -c 1 -W 2 \"$0\"",
        &n.gw,
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    let prefix = n.subnet.trim_end_matches("0/24");
    assert!(out.contains(&format!("inet {prefix}")), "{out}");
    assert!(
        out.contains(&format!("default via {} dev eth0", n.gw)),
        "{out}"
    );
    assert_eq!(n.lease_lines(), 0);
}

#[test]
fn published_port_answers_on_localhost_and_goes_with_the_container() {
    let n = Net::new(1);
    let www = format!("/tmp/lp-test-netcli-www-{}", std::process::id());
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(format!("{www}/index.html"), "cli dnat ok\n").unwrap();
    let port = free_port();
    let a = n.run_args(&[
        "--init",
        "-p",
        &format!("{port}:80/tcp"),
        "-v",
        &format!("{www}:/www:ro"),
        "--",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    struct Kill(std::process::Child, String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let mut guard = Kill(
        Command::new(bin())
            .args(&a)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        www,
    );
    let answer = http_get(port);
    assert!(answer.ends_with("cli dnat ok\n"), "{answer}");
    assert_eq!(n.dnat_rules(), 2);
    assert_eq!(n.lease_lines(), 1);
    // SIGTERM to `container` is forwarded to init, which forwards it to httpd.
    let pid = guard.0.id() as i32;
    rawsys::process::kill_process(pid, rawsys::signal::Signal::SIGTERM).unwrap();
    let st = guard.0.wait().unwrap();
    let mut err = String::new();
    guard
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(st.code(), Some(128 + 15), "{err}");
    assert_eq!(n.dnat_rules(), 0, "DNAT rules left");
    assert_eq!(n.lease_lines(), 0, "lease left");
    let deadline = Instant::now() + Duration::from_secs(10);
    while n.veths() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(n.veths(), 0, "veth left");
}

#[test]
fn bad_network_flags_give_one_clear_line() {
    let n = Net::new(2);
    for (args, needle) in [
        (vec!["-p", "0:80", "true"], "bad port mapping"),
        (vec!["-p", "80", "true"], "bad port mapping"),
        (vec!["--subnet", "10.213.0.1/24", "true"], "bad subnet"),
        (
            vec!["--bridge", "much-too-long-name", "true"],
            "bad bridge name",
        ),
        (
            vec!["--net", "none", "-p", "8080:80", "true"],
            "needs the bridge",
        ),
        (
            vec!["-p", "8080:80", "-p", "8080:81", "true"],
            "published twice",
        ),
    ] {
        let o = n.run(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.starts_with("container: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(n.lease_lines(), 0);
}

#[test]
fn a_crashed_owner_leaves_nothing_the_next_container_does_not_clean() {
    let n = Net::new(3);
    // Its two DNAT rules are checked by start_publishing.
    let mut owner = n.start_publishing(free_port());
    assert_eq!(n.lease_lines(), 1);
    // SIGKILL: `container` cannot clean up; the container dies with it (parent-death signal).
    owner.0.kill().unwrap();
    owner.0.wait().unwrap();
    assert_eq!(n.lease_lines(), 1, "the stale lease is still there");
    assert_eq!(n.dnat_rules(), 2, "and so are its rules");
    // The next container on the network reclaims both.
    let o = n.run(&["true"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(n.lease_lines(), 0, "stale lease reclaimed");
    assert_eq!(n.dnat_rules(), 0, "stale DNAT rules removed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while n.veths() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(n.veths(), 0, "veth left");
}

/// The owner of a run, killed when the test is done with it (also on failure).
struct Owner(std::process::Child);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Net {
    /// Starts `container run` with this network, port `port` published, running `sleep 60`,
    /// and waits for its two DNAT rules.
    fn start_publishing(&self, port: u16) -> Owner {
        let a = self.run_args(&["-p", &format!("{port}:80"), "--", "sleep", "60"]);
        let owner = Owner(
            Command::new(bin())
                .args(&a)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.dnat_rules() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(self.dnat_rules(), 2);
        owner
    }
}

#[test]
fn cleanup_removes_the_leases_rules_and_veths_of_a_killed_run() {
    let n = Net::new(4);
    let mut owner = n.start_publishing(free_port());
    assert_eq!(n.lease_lines(), 1);
    owner.0.kill().unwrap();
    owner.0.wait().unwrap();
    assert_eq!(n.lease_lines(), 1, "the stale lease is still there");
    // `container cleanup` with the same bridge settings (not `--net`: it has no network).
    let o = Command::new(bin())
        .arg("cleanup")
        .args(&n.flags()[2..])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.contains(" and 1 stale network leases"), "{out}");
    assert_eq!(n.lease_lines(), 0, "stale lease removed");
    assert_eq!(n.dnat_rules(), 0, "stale DNAT rules removed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while n.veths() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(n.veths(), 0, "veth left");
    // Nothing more to remove the second time.
    let o = Command::new(bin())
        .arg("cleanup")
        .args(&n.flags()[2..])
        .output()
        .unwrap();
    assert!(text(&o.stdout).contains(" and 0 stale network leases"));
}

#[test]
fn a_host_port_in_use_is_refused_and_a_published_one_is_held() {
    let n = Net::new(5);
    // A host program serving a port (bound on every address; no traffic is sent).
    let host = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let o = n.run(&["-p", &format!("{port}:80"), "true"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        err.starts_with("container: ")
            && err.contains(&format!("host port {port}/tcp is already in use")),
        "{err}"
    );
    assert_eq!(n.lease_lines(), 0, "no lease kept by a refused run");
    assert_eq!(n.dnat_rules(), 0, "no rule added by a refused run");
    drop(host);
    // While a container publishes a port, a host program cannot take it...
    let mut owner = n.start_publishing(port);
    let e = TcpListener::bind(("0.0.0.0", port)).expect_err("the published port is held");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // ...and once the container has ended it can.
    owner.0.kill().unwrap();
    owner.0.wait().unwrap();
    TcpListener::bind(("0.0.0.0", port)).expect("the port is free after the run");
}
