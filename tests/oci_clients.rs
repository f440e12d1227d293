//! Issue 17's client-side proof: podman and containerd, unchanged, run containers through an
//! OCI runtime, and every scenario runs once per runtime in the list (tests/oci_support/
//! runtimes.rs: runc and crun today; the project's own runtime joins with one entry). Run as
//! root, one suite at a time: `flock /tmp/lp-test.lock cargo test --test oci_clients`.
//! `LP_OCI_RUNTIMES=runc,NAME=/path` and `LP_OCI_SCENARIOS=tty,...` narrow a run by hand;
//! `-- --nocapture` prints the table of scenarios, runtimes and times.

mod example_bin;
mod oci_support;

use oci_support::containerd::Containerd;
use oci_support::image::image;
use oci_support::podman::Podman;
use oci_support::runtimes::{Runtime, runtimes};
use oci_support::{Check, Out, Scenario, TestDir, ensure, run_matrix, serial};

/// The script each detached container runs: it answers SIGTERM with exit 42 (a shell as PID 1
/// has no default action for it), so a stop that returns 42 quickly was a SIGTERM, not the
/// SIGKILL that follows the grace period.
const TERM_42: &str =
    "trap 'echo got-term; exit 42' TERM; echo started; while :; do sleep 0.1; done";

/// Output on both streams and an exit code of its own.
const OUT_AND_ERR: &[&str] = &["sh", "-c", "echo out; echo err >&2; exit 3"];

fn expect_out_and_err(o: &Out) -> Check {
    o.expect_code(3)?;
    ensure!(o.stdout == "out\n", "stdout\n{}", o.describe());
    ensure!(o.stderr.contains("err"), "stderr\n{}", o.describe());
    Ok(())
}

/// Allocates enough memory in the shell itself (PID 1) to pass a 32 MiB limit.
const EAT_MEMORY: &[&str] = &[
    "sh",
    "-c",
    "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
];

fn expect_oom_killed(o: &Out) -> Check {
    o.expect_code(137)?;
    ensure!(
        !o.stdout.contains("survived"),
        "the limit held\n{}",
        o.describe()
    );
    Ok(())
}

/// Reports whether stdin and stdout are a terminal, and which.
const TTY_CHECK: &[&str] = &[
    "sh",
    "-c",
    "tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 3",
];

fn expect_tty(o: &Out) -> Check {
    o.expect_code(3)?;
    // A terminal's line discipline turns \n into \r\n (ctr under script(1) adds a second \r).
    ensure!(
        o.stdout.contains("/dev/pts/0\r") && o.stdout.contains("both-tty\r"),
        "a pty on stdin and stdout\n{}",
        o.describe()
    );
    Ok(())
}

/// A directory with one file, the source of the bind mounts.
fn bind_source(dir: std::path::PathBuf) -> std::path::PathBuf {
    std::fs::write(dir.join("f"), "from-the-host\n").unwrap();
    dir
}

// ---------------------------------------------------------------------------------------
// podman

const PODMAN: &[Scenario<Podman>] = &[
    ("output-and-exit-codes", p_output_and_exit_codes),
    ("pid1-hostname-env", p_pid1_hostname_env),
    ("read-only-bind-mount", p_read_only_bind_mount),
    ("memory-limit-oom-kill", p_memory_limit_oom_kill),
    ("tty", p_tty),
    ("detached-exec-ps-stop", p_detached_exec_ps_stop),
    ("create-start-remove", p_create_start_remove),
];

#[test]
fn podman_runs_containers_through_each_runtime() {
    let _serial = serial();
    let img = image();
    let wrappers = TestDir::new("runtimes-podman");
    let rts = runtimes(&wrappers);
    let podman = Podman::new("main", &rts);
    podman.import(&img.rootfs_tar).unwrap();
    run_matrix(&podman, &rts, PODMAN);
}

fn p_output_and_exit_codes(p: &Podman, rt: &Runtime) -> Check {
    expect_out_and_err(&p.container("run", rt, &["--rm"], OUT_AND_ERR)?)?;
    p.container("run", rt, &["--rm"], &["true"])?
        .expect_code(0)?;
    // podman turns the runtime's error into 127 (no such command) and 126 (not executable):
    // the runtime's message, on stderr or in --log, has to say which.
    let o = p.container("run", rt, &["--rm"], &["/bin/lp-test-missing"])?;
    o.expect_code(127)?;
    ensure!(
        o.stderr.contains("lp-test-missing"),
        "error names the command\n{}",
        o.describe()
    );
    p.container("run", rt, &["--rm"], &["/etc"])?
        .expect_code(126)?;
    Ok(())
}

fn p_pid1_hostname_env(p: &Podman, rt: &Runtime) -> Check {
    let o = p.container(
        "run",
        rt,
        &[
            "--rm",
            "--hostname",
            "lp-test-host",
            "-e",
            "LP_TEST_VAR=hello oci",
            "-w",
            "/tmp",
        ],
        &[
            "sh",
            "-c",
            "echo $$; hostname; echo \"$LP_TEST_VAR\"; pwd; ps -o pid= | wc -l",
        ],
    )?;
    o.expect_code(0)?;
    let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
    ensure!(
        lines.len() == 5 && lines[..4] == ["1", "lp-test-host", "hello oci", "/tmp"],
        "PID 1, hostname, env, cwd\n{}",
        o.describe()
    );
    // Only the container's own processes are visible: sh and ps (and wc in the pipe).
    let n: u32 = lines[4].parse().unwrap_or(99);
    ensure!(n <= 3, "a fresh PID namespace\n{}", o.describe());
    Ok(())
}

fn p_read_only_bind_mount(p: &Podman, rt: &Runtime) -> Check {
    let ro = bind_source(p.scratch("ro"));
    let rw = bind_source(p.scratch("rw"));
    let o = p.container(
        "run",
        rt,
        &[
            "--rm",
            "-v",
            &format!("{}:/data:ro", ro.display()),
            "-v",
            &format!("{}:/rw", rw.display()),
        ],
        &[
            "sh",
            "-c",
            "cat /data/f; touch /data/new && echo ro-writable; echo w > /rw/new && echo rw-ok",
        ],
    )?;
    o.expect_code(0)?;
    ensure!(
        o.stdout == "from-the-host\nrw-ok\n",
        "ro bind readable, rw bind writable\n{}",
        o.describe()
    );
    ensure!(
        o.stderr.contains("Read-only file system"),
        "write to ro bind refused\n{}",
        o.describe()
    );
    ensure!(
        !ro.join("new").exists(),
        "nothing written through the ro bind"
    );
    ensure!(rw.join("new").exists(), "the rw bind reached the host");
    Ok(())
}

fn p_memory_limit_oom_kill(p: &Podman, rt: &Runtime) -> Check {
    let opts = ["--rm", "--memory", "32m", "--memory-swap", "32m"];
    let oom_file = p.workdir().join("oom");
    let _ = std::fs::remove_file(&oom_file);
    expect_oom_killed(&p.container("run", rt, &opts, EAT_MEMORY)?)?;
    // conmon watches the memory cgroup the runtime put the container in.
    ensure!(
        oom_file.exists(),
        "conmon saw no OOM event (no `oom` file in its directory)"
    );
    let _ = std::fs::remove_file(&oom_file);
    Ok(())
}

fn p_tty(p: &Podman, rt: &Runtime) -> Check {
    expect_tty(&p.container("run", rt, &["--rm", "-t"], TTY_CHECK)?)
}

fn p_detached_exec_ps_stop(p: &Podman, rt: &Runtime) -> Check {
    let name = format!("lp-test-{}-detached", rt.name);
    let o = p.container("run", rt, &["-d", "--name", &name], &["sh", "-c", TERM_42])?;
    o.expect_code(0)?;
    let id = o.stdout.trim().to_string();
    ensure!(id.len() == 64, "run -d prints the id\n{}", o.describe());
    let result = detached_checks(p, &name);
    // Whatever happened, remove it (the leftover check reports what this could not).
    let _ = p.podman(&["rm", "-f", "-t", "0", &name]);
    result
}

fn detached_checks(p: &Podman, name: &str) -> Check {
    let o = p.podman(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])?;
    ensure!(o.stdout.starts_with("Up"), "running\n{}", o.describe());
    let o = p.podman(&[
        "exec",
        name,
        "sh",
        "-c",
        "echo exec $$; tr '\\0' ' ' < /proc/1/cmdline; exit 7",
    ])?;
    o.expect_code(7)?;
    ensure!(
        o.stdout.starts_with("exec ")
            && !o.stdout.starts_with("exec 1\n")
            && o.stdout.contains("trap"),
        "exec joins the container beside PID 1\n{}",
        o.describe()
    );
    let o = p.podman(&[
        "exec",
        "-e",
        "LP_EXEC=yes",
        "-w",
        "/tmp",
        name,
        "sh",
        "-c",
        "echo $LP_EXEC; pwd",
    ])?;
    o.expect_code(0)?;
    ensure!(
        o.stdout == "yes\n/tmp\n",
        "exec env and cwd\n{}",
        o.describe()
    );
    let o = p.podman(&["top", name, "pid", "args"])?;
    o.expect_code(0)?;
    ensure!(
        o.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("trap"))
            && o.stdout.contains("sleep"),
        "top lists PID 1 and its child\n{}",
        o.describe()
    );
    let t = std::time::Instant::now();
    let o = p.podman(&["stop", "-t", "20", name])?;
    o.expect_code(0)?;
    let took = t.elapsed();
    let o = p.podman(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}} {{.State.Status}}",
        name,
    ])?;
    ensure!(
        o.stdout.trim() == "42 exited",
        "stopped by SIGTERM (the trap's exit code)\n{}",
        o.describe()
    );
    ensure!(
        took.as_secs() < 15,
        "stop took {took:?}: SIGTERM was not delivered"
    );
    let o = p.podman(&["logs", name])?;
    ensure!(o.stdout == "started\ngot-term\n", "logs\n{}", o.describe());
    p.podman(&["rm", name])?.expect_code(0)?;
    let o = p.podman(&["ps", "-a", "--filter", &format!("name={name}"), "-q"])?;
    ensure!(o.stdout.trim().is_empty(), "removed\n{}", o.describe());
    Ok(())
}

fn p_create_start_remove(p: &Podman, rt: &Runtime) -> Check {
    // create + start -a: the two halves of the lifecycle as separate client commands.
    let name = format!("lp-test-{}-created", rt.name);
    p.container(
        "create",
        rt,
        &["--name", &name],
        &["sh", "-c", "echo hi; exit 5"],
    )?
    .expect_code(0)?;
    let o = p.podman(&["start", "-a", &name])?;
    let started = o.expect_code(5).and_then(|_| {
        ensure!(o.stdout == "hi\n", "start -a output\n{}", o.describe());
        Ok(())
    });
    let removed = p.podman(&["rm", &name]).and_then(|o| o.expect_code(0));
    started.and(removed)?;
    // rm -f of a running container: kill and delete through the runtime.
    let name = format!("lp-test-{}-removed", rt.name);
    p.container("run", rt, &["-d", "--name", &name], &["sleep", "1000"])?
        .expect_code(0)?;
    let t = std::time::Instant::now();
    p.podman(&["rm", "-f", "-t", "0", &name])?.expect_code(0)?;
    ensure!(t.elapsed().as_secs() < 15, "rm -f took {:?}", t.elapsed());
    let o = p.podman(&["ps", "-a", "-q"])?;
    ensure!(
        o.stdout.trim().is_empty(),
        "nothing listed\n{}",
        o.describe()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// containerd

const CONTAINERD: &[Scenario<Containerd>] = &[
    ("output-and-exit-codes", c_output_and_exit_codes),
    ("pid1-hostname-env-config", c_pid1_hostname_env_config),
    ("read-only-bind-mount", c_read_only_bind_mount),
    ("memory-limit-oom-kill", c_memory_limit_oom_kill),
    ("tty", c_tty),
    ("detached-exec-ps-stop", c_detached_exec_ps_stop),
    ("remove-running", c_remove_running),
];

#[test]
fn containerd_runs_containers_through_each_runtime() {
    let _serial = serial();
    let img = image();
    let wrappers = TestDir::new("runtimes-containerd");
    let rts = runtimes(&wrappers);
    let ctrd = Containerd::start();
    ctrd.import(&img.docker_archive).unwrap();
    run_matrix(&ctrd, &rts, CONTAINERD);
}

fn cid(rt: &Runtime, what: &str) -> String {
    format!("lp-test-{}-{what}", rt.name)
}

fn c_output_and_exit_codes(c: &Containerd, rt: &Runtime) -> Check {
    expect_out_and_err(&c.run_image(rt, &["--rm"], &cid(rt, "out"), OUT_AND_ERR)?)?;
    c.run_image(rt, &["--rm"], &cid(rt, "true"), &["true"])?
        .expect_code(0)?;
    // The shim reads the runtime's last JSON error line from --log and ctr prints it.
    let o = c.run_image(
        rt,
        &["--rm"],
        &cid(rt, "missing"),
        &["/bin/lp-test-missing"],
    )?;
    ensure!(
        o.code != Some(0) && o.stderr.contains("lp-test-missing"),
        "a missing command fails with the runtime's message\n{}",
        o.describe()
    );
    // A failed create must leave no container behind in containerd either.
    let _ = c.ctr(&["containers", "delete", &cid(rt, "missing")]);
    Ok(())
}

/// A full runtime-spec config (ctr has no --hostname): the image's rootfs read-only, the
/// default mounts, a read-only bind, hostname and env.
fn spec(c: &Containerd, id: &str, ro_src: &std::path::Path, args: &str) -> String {
    format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{
    "user": {{"uid": 0, "gid": 0}},
    "args": ["sh", "-c", {args}],
    "env": ["PATH=/bin", "LP_TEST_VAR=hello oci"],
    "cwd": "/tmp",
    "noNewPrivileges": true,
    "capabilities": {{
      "bounding": ["CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
      "effective": ["CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
      "permitted": ["CAP_KILL", "CAP_SETUID", "CAP_SETGID"]
    }},
    "rlimits": [{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}}]
  }},
  "root": {{"path": "{root}", "readonly": true}},
  "hostname": "lp-test-host",
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}},
    {{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}},
    {{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}},
    {{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}},
    {{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}},
    {{"destination": "/data", "type": "bind", "source": "{ro}", "options": ["rbind", "ro"]}}
  ],
  "linux": {{
    "cgroupsPath": "/{ns}/{id}",
    "namespaces": [{{"type": "pid"}}, {{"type": "ipc"}}, {{"type": "uts"}}, {{"type": "mount"}}, {{"type": "network"}}],
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }}
}}
"#,
        args = json_string(args),
        root = image().rootfs.display(),
        ro = ro_src.display(),
        ns = c.ns,
    )
}

fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn c_pid1_hostname_env_config(c: &Containerd, rt: &Runtime) -> Check {
    let id = cid(rt, "config");
    let ro = bind_source(c.scratch("config-ro"));
    let spec_path = c.scratch("config-spec").join("config.json");
    let script = "echo $$; hostname; echo \"$LP_TEST_VAR\"; pwd; cat /data/f; \
                  touch /data/new 2>/dev/null || echo data-ro; touch /lp-test 2>/dev/null || echo root-ro";
    std::fs::write(&spec_path, spec(c, &id, &ro, script)).unwrap();
    let mut cmd = c.cmd();
    cmd.arg("run")
        .args(c.run_flags(rt))
        .args(["--rm", "--config"])
        .arg(&spec_path)
        .arg(&id);
    let o = oci_support::run(&mut cmd, oci_support::COMMAND_LIMIT)?;
    o.expect_code(0)?;
    ensure!(
        o.stdout == "1\nlp-test-host\nhello oci\n/tmp\nfrom-the-host\ndata-ro\nroot-ro\n",
        "PID 1, hostname, env, cwd, ro bind, ro root\n{}",
        o.describe()
    );
    ensure!(
        !ro.join("new").exists(),
        "nothing written through the ro bind"
    );
    Ok(())
}

fn c_read_only_bind_mount(c: &Containerd, rt: &Runtime) -> Check {
    let ro = bind_source(c.scratch("ro"));
    let o = c.run_image(
        rt,
        &[
            "--rm",
            "--env",
            "LP_TEST_VAR=from-ctr",
            "--mount",
            &format!("type=bind,src={},dst=/data,options=rbind:ro", ro.display()),
        ],
        &cid(rt, "bind"),
        &[
            "sh",
            "-c",
            "echo $$ $LP_TEST_VAR; cat /data/f; touch /data/new",
        ],
    )?;
    o.expect_code(1)?;
    ensure!(
        o.stdout == "1 from-ctr\nfrom-the-host\n",
        "PID 1, env, ro bind\n{}",
        o.describe()
    );
    ensure!(
        o.stderr.contains("Read-only file system"),
        "write refused\n{}",
        o.describe()
    );
    ensure!(
        !ro.join("new").exists(),
        "nothing written through the ro bind"
    );
    Ok(())
}

fn c_memory_limit_oom_kill(c: &Containerd, rt: &Runtime) -> Check {
    let opts = ["--rm", "--memory-limit", "33554432"];
    expect_oom_killed(&c.run_image(rt, &opts, &cid(rt, "oom"), EAT_MEMORY)?)
}

fn c_tty(c: &Containerd, rt: &Runtime) -> Check {
    // ctr -t needs a terminal of its own: script(1) gives it one.
    let mut cmd = c.cmd();
    cmd.arg("run")
        .args(c.run_flags(rt))
        .args(["--rm", "-t", oci_support::image::IMAGE, &cid(rt, "tty")])
        .args(TTY_CHECK);
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| oci_support::shell_quote(&a.to_string_lossy()))
        .collect();
    expect_tty(&oci_support::run(
        std::process::Command::new("script").args(["-qec", &line.join(" "), "/dev/null"]),
        oci_support::COMMAND_LIMIT,
    )?)
}

fn c_detached_exec_ps_stop(c: &Containerd, rt: &Runtime) -> Check {
    let id = cid(rt, "detached");
    let log = c.scratch("detached-log").join("out.log");
    let o = c.run_image(
        rt,
        &["-d", "--log-uri", &format!("file://{}", log.display())],
        &id,
        &["sh", "-c", TERM_42],
    )?;
    o.expect_code(0)?;
    let result = c_detached_checks(c, &id, &log);
    let _ = c.ctr(&["tasks", "delete", "--force", &id]);
    let _ = c.ctr(&["containers", "delete", &id]);
    result
}

fn task_status(c: &Containerd, id: &str) -> Result<(String, String), String> {
    let o = c.ctr(&["tasks", "ls"])?;
    o.stdout
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == id).then(|| (f[1].to_string(), f[2].to_string()))
        })
        .ok_or_else(|| format!("task {id} not listed\n{}", o.describe()))
}

fn c_detached_checks(c: &Containerd, id: &str, log: &std::path::Path) -> Check {
    let (pid, status) = task_status(c, id)?;
    ensure!(status == "RUNNING", "task running: {status}");
    let fifo = c.fifo_dir();
    let o = c.ctr(&[
        "tasks",
        "exec",
        "--fifo-dir",
        &fifo,
        "--exec-id",
        "lp-test-exec",
        id,
        "sh",
        "-c",
        "echo exec $$; tr '\\0' ' ' < /proc/1/cmdline; exit 7",
    ])?;
    o.expect_code(7)?;
    ensure!(
        o.stdout.starts_with("exec ")
            && !o.stdout.starts_with("exec 1\n")
            && o.stdout.contains("trap"),
        "exec joins the container beside PID 1\n{}",
        o.describe()
    );
    // A second exec leaves a process behind in the container for ps to find. (Not with
    // `exec --detach`: ctr never removes a detached exec's FIFOs, with any runtime.)
    c.ctr(&[
        "tasks",
        "exec",
        "--fifo-dir",
        &fifo,
        "--exec-id",
        "lp-test-exec-bg",
        id,
        "sh",
        "-c",
        "sleep 1000 </dev/null >/dev/null 2>&1 &",
    ])?
    .expect_code(0)?;
    let o = c.ctr(&["tasks", "ps", id])?;
    o.expect_code(0)?;
    let pids: Vec<&str> = o
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    ensure!(
        pids.contains(&pid.as_str()) && pids.len() >= 3,
        "ps (the runtime's `ps --format json`) lists PID 1 {pid}, its sleep and the exec'd sleep\n{}",
        o.describe()
    );
    c.ctr(&["tasks", "kill", "--signal", "SIGTERM", id])?
        .expect_code(0)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, status) = task_status(c, id)?;
        if status == "STOPPED" {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "still {status} 15 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = c.ctr(&["tasks", "delete", id])?;
    o.expect_code(0)?;
    ensure!(
        o.stderr.contains("exit code 42"),
        "the trap's exit code\n{}",
        o.describe()
    );
    let out = std::fs::read_to_string(log).unwrap_or_default();
    ensure!(out == "started\ngot-term\n", "the log: {out:?}");
    c.ctr(&["containers", "delete", id])?.expect_code(0)?;
    Ok(())
}

fn c_remove_running(c: &Containerd, rt: &Runtime) -> Check {
    let id = cid(rt, "removed");
    c.run_image(rt, &["-d"], &id, &["sleep", "1000"])?
        .expect_code(0)?;
    let (_, status) = task_status(c, &id)?;
    ensure!(status == "RUNNING", "task running: {status}");
    // delete --force of a running task: the runtime kills it and deletes its state.
    c.ctr(&["tasks", "delete", "--force", &id])?
        .expect_code(0)?;
    c.ctr(&["containers", "delete", &id])?.expect_code(0)?;
    let o = c.ctr(&["containers", "ls", "-q"])?;
    ensure!(
        o.stdout.trim().is_empty(),
        "nothing listed\n{}",
        o.describe()
    );
    Ok(())
}
