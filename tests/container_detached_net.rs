//! Detached containers on the bridge network (run as root): `run -d -p` serves on the
//! published port, `inspect` and `ps` show the network, the network lives exactly as long as
//! the container (supervisor, `stop`, `kill`, `rm -f`, `--rm`, and `cleanup` after a `kill -9`
//! of everything), refused runs create nothing, and two detached containers reach each other.
//!
//! Each test has its own state root and image store (`detached_support::Env`) and its own
//! network (`bridge_support::Net`: bridge, free `10.213.x.0/24`, nftables table, veth prefix
//! and lease directory, all `lp-test-` names), all removed at the end, also on failure.
//! Traffic goes only to 127.0.0.1 and to the containers' addresses on these bridges.

mod bridge_support;
mod detached_support;
mod example_bin;

use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use bridge_support::{Net, free_port, http_get};
use detached_support::{Env, eventually, text};

/// `run -d`, the network's flags (with `--net bridge`), then `args`.
fn run_d(env: &Env, net: &Net, args: &[&str]) -> Output {
    let mut a: Vec<String> = vec!["run".into(), "-d".into()];
    a.extend(net.flags());
    a.extend(args.iter().map(|s| s.to_string()));
    env.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

/// [`run_d`], checked to succeed.
fn run_d_ok(env: &Env, net: &Net, args: &[&str]) {
    let o = run_d(env, net, args);
    assert!(
        o.status.success(),
        "run -d {args:?}: {} {}",
        o.status,
        text(&o.stderr)
    );
}

/// A directory with `index.html` saying `body`, for busybox httpd.
fn www(env: &Env, body: &str) -> String {
    let d = env.dir.join("www");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("index.html"), body).unwrap();
    format!("{}:/www:ro", d.display())
}

/// The arguments that serve the `www` directory on port 80.
const HTTPD: [&str; 8] = ["--", "busybox", "httpd", "-f", "-p", "80", "-h", "/www"];

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(
            s[s.rfind(')').unwrap() + 1..].split_whitespace().next(),
            Some("Z")
        )
    })
}

fn kill9(pid: i64) {
    rawsys::process::kill_process(pid as i32, rawsys::signal::Signal::SIGKILL).unwrap();
}

#[test]
fn a_published_port_answers_inspect_and_ps_show_the_network_and_stop_gives_it_back() {
    let env = Env::new("dnet-serve");
    let net = Net::new(0);
    let name = "lp-test-dweb";
    let port = free_port();
    let p = format!("{port}:80");
    let vol = www(&env, "detached dnat ok\n");
    // No --net and no CONTAINER_NET: the bridge is the default for -d too, as docker's.
    let mut args: Vec<String> = ["run", "-d", "--name", name, "-p", &p, "-v", &vol]
        .map(String::from)
        .to_vec();
    args.extend(net.flags().into_iter().skip(2));
    args.extend(HTTPD.map(String::from));
    let o = env
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env_remove("CONTAINER_NET")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let answer = http_get(port);
    assert!(answer.ends_with("detached dnat ok\n"), "{answer}");
    // inspect: docker's NetworkSettings and HostConfig.
    let v = env.inspect(name);
    let ns = &v["NetworkSettings"];
    let ip = ns["IPAddress"].as_str().unwrap().to_string();
    assert!(ip.starts_with(net.prefix()), "{ns}");
    assert_eq!(ns["Gateway"], net.gw.as_str());
    assert_eq!(ns["IPPrefixLen"], 24);
    assert_eq!(ns["Bridge"], net.bridge.as_str());
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostIp"], "0.0.0.0", "{ns}");
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostPort"], port.to_string());
    assert_eq!(ns["Networks"]["bridge"]["IPAddress"], ip.as_str());
    assert_eq!(v["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(
        v["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    // The MAC address is eth0's, the address is eth0's, /etc/hosts names the container.
    let mac = env.ok(&["exec", name, "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(ns["MacAddress"], mac.trim(), "{ns}");
    let addr = env.ok(&[
        "exec", name, "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
    ]);
    assert!(addr.contains(&format!("inet {ip}/24")), "{addr}");
    let hosts = env.ok(&["exec", name, "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&format!("{ip}\t")) && l.ends_with(name)),
        "{hosts}"
    );
    // ps: docker's PORTS column.
    let ps = env.ok(&["ps"]);
    assert!(ps.lines().next().unwrap().contains("PORTS"), "{ps}");
    let row = ps.lines().find(|l| l.ends_with(name)).unwrap();
    assert!(row.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    // The lease is the container's process's (not the supervisor's), with the port.
    let pid = v["State"]["Pid"].as_i64().unwrap();
    let leases = net.leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert!(
        leases[0].starts_with(&format!("{ip} {pid} "))
            && leases[0].ends_with(&format!("tcp:{port}:80")),
        "{leases:?}"
    );
    assert_eq!(net.dnat_rules(), 2, "{:?}", net.dnat_rules());
    // The port is held: no host program can take it while the container publishes it.
    let e = TcpListener::bind(("0.0.0.0", port)).expect_err("the published port is held");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // stop: the network goes with the container (httpd as PID 1 ignores SIGTERM).
    let t = env.traces(name);
    env.ok(&["stop", "-t", "1", name]);
    net.assert_clean();
    let v = env.inspect(name);
    assert_eq!(v["NetworkSettings"]["IPAddress"], "");
    assert_eq!(v["NetworkSettings"]["Ports"], serde_json::json!({}));
    let ps = env.ok(&["ps", "-a"]);
    assert!(!ps.contains("->"), "{ps}");
    TcpListener::bind(("0.0.0.0", port)).expect("the port is free once the container stopped");
    env.ok(&["rm", name]);
    t.assert_gone();
    env.assert_empty();
}

#[test]
fn kill_9_leaves_the_network_to_the_live_container_and_cleanup_removes_a_dead_run() {
    let env = Env::new("dnet-kill9");
    let net = Net::new(1);
    // A supervisor killed: the container keeps serving on its port; `stop` then gives its
    // network back itself.
    let port = free_port();
    let vol = www(&env, "unsupervised\n");
    let mut a = vec!["--name", "lp-test-dorphan", "-p"];
    let p = format!("{port}:80");
    a.extend([p.as_str(), "-v", vol.as_str()]);
    a.extend(HTTPD);
    run_d_ok(&env, &net, &a);
    let t = env.traces("lp-test-dorphan");
    kill9(i64::from(t.supervisor.0));
    eventually("the supervisor to die", || !t.supervisor_alive());
    assert!(http_get(port).ends_with("unsupervised\n"));
    assert_eq!(net.lease_lines(), 1);
    env.ok(&["stop", "-t", "0", "lp-test-dorphan"]);
    net.assert_clean();
    env.ok(&["rm", "lp-test-dorphan"]);
    t.assert_gone();
    // The supervisor and then the container killed: nobody gives anything back...
    let port = free_port();
    let p = format!("{port}:80");
    run_d_ok(
        &env,
        &net,
        &["--name", "lp-test-ddead", "-p", &p, "--", "sleep", "100"],
    );
    let t = env.traces("lp-test-ddead");
    let pid = env.inspect("lp-test-ddead")["State"]["Pid"]
        .as_i64()
        .unwrap();
    kill9(i64::from(t.supervisor.0));
    eventually("the supervisor to die", || !t.supervisor_alive());
    kill9(pid);
    eventually("the container to die", || !alive(pid));
    assert_eq!(net.lease_lines(), 1, "the lease is still there");
    assert_eq!(net.dnat_rules(), 2, "and so are its rules");
    // ...until `container cleanup` with the network's flags.
    let mut a = vec!["cleanup".to_string()];
    a.extend(net.flags().into_iter().skip(2));
    let o = env.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains(" and 1 stale network leases"), "{out}");
    assert!(
        out.contains("removed 1 stale detached-container directories"),
        "{out}"
    );
    net.assert_clean();
    t.assert_gone();
    env.assert_empty();
    // Nothing left for a second cleanup.
    let o = env.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(text(&o.stdout).contains(" and 0 stale network leases"));
}

#[test]
fn refused_runs_name_the_reason_in_one_line_and_create_nothing() {
    let env = Env::new("dnet-refused");
    let net = Net::new(2);
    // A container publishing a port, to be refused by.
    let held = free_port();
    let h = format!("{held}:80");
    run_d_ok(
        &env,
        &net,
        &["--name", "lp-test-dholder", "-p", &h, "--", "sleep", "100"],
    );
    // A refused run's cgroups would be made beside the holder's (one parent: our cgroup).
    let holder = env.traces("lp-test-dholder");
    let before_leases = net.leases();
    let before_rules = net.dnat_rules();
    // A host program's port.
    let host = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = host.local_addr().unwrap().port();
    let other = Net::new(3);
    let mut overlapping = vec!["--bridge".to_string(), other.bridge.clone()];
    overlapping.extend(["--subnet".into(), net.subnet.clone()]);
    overlapping.extend(["--", "true"].map(String::from));
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["-p".into(), format!("{busy}:80"), "true".into()],
            format!("host port {busy}/tcp is already in use"),
        ),
        (
            vec!["-p".into(), format!("{held}:81"), "true".into()],
            format!("port {held}/tcp is already published by container lp-test-dholder"),
        ),
        (
            vec!["-p".into(), "70000:80".into(), "true".into()],
            "port 70000 is out of range".into(),
        ),
        (
            vec![
                "--net".into(),
                "none".into(),
                "-p".into(),
                "8080:80".into(),
                "true".into(),
            ],
            "publishing ports needs the bridge network".into(),
        ),
        (
            overlapping,
            format!("overlaps the host's route to {}", net.subnet),
        ),
    ];
    for (args, needle) in cases {
        let name = "lp-test-drefused";
        let mut a = vec!["--name", name];
        a.extend(args.iter().map(String::as_str));
        let o = run_d(&env, &net, &a);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.starts_with("container: ") && err.contains(&needle) && err.lines().count() <= 2,
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        // Nothing of the refused run: no state, no directory, no cgroup, no lease or rule.
        let ps = env.ok(&["ps", "-a", "-q"]);
        assert_eq!(ps.lines().count(), 1, "{args:?}: {ps}");
        assert!(!env.root().join(name).exists(), "{args:?}: state left");
        assert!(!env.root().join(".container").join(name).exists());
        for c in &holder.cgroups {
            let beside = c.with_file_name(name);
            assert!(
                !beside.exists(),
                "{args:?}: cgroup {} left",
                beside.display()
            );
        }
        assert_eq!(net.leases(), before_leases, "{args:?}");
        assert_eq!(net.dnat_rules(), before_rules, "{args:?}");
        assert!(
            !other.bridge_exists(),
            "{args:?}: bridge {} made",
            other.bridge
        );
    }
    drop(host);
    env.ok(&["rm", "-f", "lp-test-dholder"]);
    holder.assert_gone();
    net.assert_clean();
    env.assert_empty();
}

#[test]
fn two_detached_containers_reach_each_other_and_kill_rm_f_and_rm_flag_give_the_network_back() {
    let env = Env::new("dnet-pair");
    let net = Net::new(4);
    let vol = www(&env, "from the neighbour\n");
    let mut a = vec!["--name", "lp-test-dsrv", "-v", vol.as_str()];
    a.extend(HTTPD);
    run_d_ok(&env, &net, &a);
    run_d_ok(
        &env,
        &net,
        &["--name", "lp-test-dcli", "--", "sleep", "100"],
    );
    let ip = |n: &str| {
        env.inspect(n)["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (srv, cli) = (ip("lp-test-dsrv"), ip("lp-test-dcli"));
    assert!(srv.starts_with(net.prefix()) && cli.starts_with(net.prefix()) && srv != cli);
    // busybox nc (this busybox's wget crashes): a request, the answer to its end.
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {srv} 80");
    let end = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let o = env.run(&["exec", "lp-test-dcli", "sh", "-c", &get]);
        if text(&o.stdout).contains("200 OK") || Instant::now() > end {
            break o;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let answer = text(&got.stdout);
    assert!(
        answer.starts_with("HTTP/1.") && answer.ends_with("\r\n\r\nfrom the neighbour\n"),
        "{answer}{}",
        text(&got.stderr)
    );
    let o = env.run(&[
        "exec",
        "lp-test-dsrv",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        &cli,
    ]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(net.lease_lines(), 2);
    // kill: the supervisor reaps it and gives its lease back before it records the code.
    let t_srv = env.traces("lp-test-dsrv");
    env.ok(&["kill", "lp-test-dsrv"]);
    assert_eq!(env.ok(&["wait", "lp-test-dsrv"]), "137\n");
    let left = net.leases();
    assert!(
        left.len() == 1 && left[0].starts_with(&format!("{cli} ")),
        "{left:?}"
    );
    // rm -f of a running one.
    let t_cli = env.traces("lp-test-dcli");
    env.ok(&["rm", "-f", "lp-test-dcli"]);
    t_cli.assert_gone();
    assert_eq!(net.lease_lines(), 0);
    env.ok(&["rm", "lp-test-dsrv"]);
    t_srv.assert_gone();
    // --rm: the container, its network and its state go when it ends by itself.
    let port = free_port();
    let p = format!("{port}:80");
    run_d_ok(
        &env,
        &net,
        &[
            "--rm",
            "--name",
            "lp-test-drm",
            "-p",
            &p,
            "--",
            "sh",
            "-c",
            "sleep 0.5; exit 3",
        ],
    );
    assert_eq!(net.dnat_rules(), 2);
    assert_eq!(env.ok(&["wait", "lp-test-drm"]), "3\n");
    eventually("--rm to remove it", || {
        env.ok(&["ps", "-a", "-q"]).is_empty()
    });
    net.assert_clean();
    env.assert_empty();
}
