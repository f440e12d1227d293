//! `container import`, `images`, `rmi` and `run IMAGE` against the real kernel and a real
//! podman: images built locally without a network (a busybox-static rootfs tarball; an OCI
//! archive and a docker-archive written by `podman save`; a two-layer OCI layout made here),
//! each test with an image store of its own (`CONTAINER_IMAGES` below
//! `/var/tmp/lp-test-oci-PID-*`), removed afterwards.
//!
//! Run under `flock /tmp/lp-test.lock` (they create containers).

mod example_bin;
mod oci_support;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use oci_support::TestDir;
// The macro is re-exported for the OCI client tests; naming it keeps the shared module quiet.
#[allow(unused_imports)]
use oci_support::ensure;
use oci_support::image::image;
use oci_support::podman::Podman;

/// A private image store and the `container` commands that use it.
struct Store {
    dir: TestDir,
}

impl Store {
    fn new(tag: &str) -> Store {
        Store {
            dir: TestDir::new(&format!("images-{tag}")),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path("store")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(example_bin::example_binary("container"));
        c.env("CONTAINER_IMAGES", self.path())
            .env("CONTAINER_NET", "none")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `args`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    }

    /// `args`, which must fail with one clear line containing `needle`.
    fn fails(&self, args: &[&str], needle: &str) {
        let o = self.run(args);
        let err = text(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{args:?} succeeded");
        assert!(
            err.starts_with("container: ") && err.contains(needle) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }

    /// Starts `args` (stdout piped, stdin as given) and waits for its first line, `up`.
    fn spawn_up(&self, args: &[&str], stdin: Stdio) -> std::process::Child {
        let mut child = self
            .cmd(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "up\n");
        child
    }

    /// The entries of a store subdirectory.
    fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join(sub))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Nothing of any run is left: no writable layer, no scratch directory, no mount.
    fn assert_no_run_leftovers(&self) {
        assert_eq!(self.entries("rw"), Vec::<String>::new());
        assert_eq!(self.entries("tmp"), Vec::<String>::new());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let p = self.path().display().to_string();
        assert!(!mounts.contains(&p), "{mounts}");
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every path below `dir` with its type, size, mode and owner (a fingerprint of a tree).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            out.push(format!(
                "{} {:o} {} {}:{}",
                e.path().display(),
                m.mode(),
                m.len(),
                m.uid(),
                m.gid()
            ));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn sha256(data: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A tar of `entries`: (path, body) files, `path/` directories, (path, "->target") symlinks,
/// (path, "=>target") hard links; names are written raw (so `..` can be tested).
fn tar_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, body) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        let data: &[u8] = if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            b""
        } else if let Some(t) = body.strip_prefix("->") {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_link_name(t).unwrap();
            b""
        } else if let Some(t) = body.strip_prefix("=>") {
            h.set_entry_type(tar::EntryType::Link);
            h.set_link_name(t).unwrap();
            b""
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            body.as_bytes()
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// The busybox rootfs tarball (the same the OCI client tests use).
fn busybox_tar() -> PathBuf {
    image().rootfs_tar.clone()
}

#[test]
fn a_rootfs_tarball_image_runs_twice_without_seeing_earlier_writes() {
    let s = Store::new("tarball");
    let tar = busybox_tar();
    // Gzipped, as debootstrap or `tar czf` gives it.
    let gz = s.dir.path("rootfs.tar.gz");
    let st = Command::new("gzip")
        .arg("-c")
        .arg(&tar)
        .stdout(std::fs::File::create(&gz).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let id = s.ok(&["import", gz.to_str().unwrap(), "lp-test-bb:1"]);
    assert!(id.starts_with("sha256:"), "{id}");
    let layers = s.entries("layers/sha256");
    let layer = s.path().join("layers/sha256").join(&layers[0]);
    let before = tree(&layer);

    let out = s.ok(&[
        "run",
        "lp-test-bb:1",
        "sh",
        "-c",
        "echo first > /data/mark; rm /bin/cat; ls /data; id -u",
    ]);
    assert_eq!(out, "mark\n0\n");
    let out = s.ok(&[
        "run",
        "lp-test-bb:1",
        "sh",
        "-c",
        "ls /data; test -e /bin/cat && echo cat-is-back",
    ]);
    assert_eq!(out, "cat-is-back\n");
    // The image's layer is as imported, and the runs left nothing behind.
    assert_eq!(tree(&layer), before);
    s.assert_no_run_leftovers();

    // images: a table with the name, tag, id, size and date.
    let table = s.ok(&["images"]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "TAG", "ID", "SIZE", "CREATED"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["lp-test-bb", "1", &id.trim()[7..19]]);
    assert!(row[3].ends_with("MB"), "{table}");
    // No tag: latest, which this image does not have.
    s.fails(&["run", "lp-test-bb", "true"], "command not found");
    s.fails(
        &["run", "lp-test-bb:2", "true"],
        "unknown image \"lp-test-bb:2\"",
    );
    // Without a command and without a Cmd in the image.
    s.fails(&["run", "lp-test-bb:1"], "neither Entrypoint nor Cmd");

    // rmi removes the tag, the record and the layer no image uses any more.
    let out = s.ok(&["rmi", "lp-test-bb:1"]);
    assert!(
        out.contains("Untagged: lp-test-bb:1") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    assert_eq!(s.entries("layers/sha256"), Vec::<String>::new());
    assert_eq!(s.entries("images"), Vec::<String>::new());
    s.fails(&["rmi", "lp-test-bb:1"], "unknown image");
    assert_eq!(s.ok(&["images"]).lines().count(), 1);
}

#[test]
fn an_oci_archive_from_podman_brings_its_cmd_env_and_workdir() {
    let s = Store::new("oci");
    let podman = Podman::new("images", &[]);
    let name = "localhost/lp-test-cfg:1";
    podman
        .podman(&[
            "import",
            "--change",
            r#"CMD ["/bin/sh", "-c", "echo cmd-ran; echo $GREETING $OTHER; pwd; id -u"]"#,
            "--change",
            "ENV GREETING=hello",
            "--change",
            "ENV OTHER=image",
            "--change",
            "WORKDIR /srv/app",
            "--change",
            "USER 65534",
            busybox_tar().to_str().unwrap(),
            name,
        ])
        .unwrap()
        .expect_code(0)
        .unwrap();
    let oci = s.dir.path("image.oci.tar");
    let docker = s.dir.path("image.docker.tar");
    for (format, path) in [("oci-archive", &oci), ("docker-archive", &docker)] {
        podman
            .podman(&[
                "save",
                "--format",
                format,
                "-o",
                path.to_str().unwrap(),
                name,
            ])
            .unwrap()
            .expect_code(0)
            .unwrap();
    }
    let id = s.ok(&["import", oci.to_str().unwrap(), "lp-test-cfg"]);
    // The image ID is podman's (the digest of the same config).
    let podman_id = podman
        .podman(&["image", "inspect", "--format", "{{.Id}}", name])
        .unwrap();
    assert_eq!(id.trim(), format!("sha256:{}", podman_id.stdout.trim()));

    // Cmd, Env, WorkingDir (missing in the rootfs: created) and User apply.
    let out = s.ok(&["run", "lp-test-cfg"]);
    assert_eq!(out, "cmd-ran\nhello image\n/srv/app\n65534\n");
    // -e overrides one variable and keeps the other; -w, --user and a command replace theirs.
    let out = s.ok(&[
        "run",
        "-e",
        "OTHER=flag",
        "-w",
        "/tmp",
        "--user",
        "root",
        "lp-test-cfg",
        "sh",
        "-c",
        "echo $GREETING $OTHER; pwd; id -u",
    ]);
    assert_eq!(out, "hello flag\n/tmp\n0\n");
    // --entrypoint replaces the program and drops the image's Cmd.
    let out = s.ok(&[
        "run",
        "--entrypoint",
        "/bin/echo",
        "lp-test-cfg",
        "via-entrypoint",
    ]);
    assert_eq!(out, "via-entrypoint\n");

    // The docker-archive of the same image shares its layer.
    let id2 = s.ok(&["import", docker.to_str().unwrap(), "lp-test-cfg-docker:v1"]);
    assert_eq!(id2, id);
    assert_eq!(
        s.entries("layers/sha256").len(),
        2,
        "one layer and its size file"
    );
    assert_eq!(s.ok(&["run", "lp-test-cfg-docker:v1"]), out_of_first_run());
    // The image's own ID runs it too.
    assert_eq!(s.ok(&["run", &id.trim()[7..19]]), out_of_first_run());
    s.assert_no_run_leftovers();
    // One image under two names: the first rmi only untags.
    let out = s.ok(&["rmi", "lp-test-cfg"]);
    assert_eq!(out, "Untagged: lp-test-cfg:latest\n");
    assert_eq!(s.entries("images").len(), 1);
    s.ok(&["rmi", "lp-test-cfg-docker:v1"]);
    assert_eq!(s.entries("layers/sha256"), Vec::<String>::new());
}

fn out_of_first_run() -> String {
    "cmd-ran\nhello image\n/srv/app\n65534\n".to_string()
}

/// An OCI image layout made here: `layers` (bottom first) as uncompressed or gzip blobs.
fn oci_layout(dir: &Path, layers: &[Vec<u8>], config_extra: serde_json::Value) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let d = sha256(data);
        std::fs::write(blobs.join(&d[7..]), data).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        diff_ids.push(sha256(l));
        // The second layer gzip-compressed, the others plain.
        let (blob, mt) = if i == 1 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (l.clone(), "application/vnd.oci.image.layer.v1.tar")
        };
        let d = put(&blob);
        descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": blob.len()}));
    }
    let mut config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    config["config"] = config_extra;
    let config = serde_json::to_vec(&config).unwrap();
    let cd = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = put(&manifest);
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len()}],
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn whiteouts_of_an_upper_layer_hide_lower_files() {
    let s = Store::new("whiteout");
    let base = std::fs::read(busybox_tar()).unwrap();
    let l2 = tar_of(&[
        ("etc/", ""),
        ("etc/a", "a\n"),
        ("etc/b", "b\n"),
        ("d/", ""),
        ("d/old", "old\n"),
        ("d/sub/", ""),
        ("d/sub/deep", "deep\n"),
        ("etc/link-to-b", "=>etc/b"),
        ("etc/sym", "->b"),
    ]);
    let l3 = tar_of(&[
        ("etc/", ""),
        ("etc/.wh.a", ""),
        ("d/", ""),
        ("d/.wh..wh..opq", ""),
        ("d/new", "new\n"),
    ]);
    let layout = s.dir.path("layout");
    oci_layout(
        &layout,
        &[base, l2, l3],
        serde_json::json!({"Cmd": ["ls", "/d", "/etc"]}),
    );
    s.ok(&["import", layout.to_str().unwrap(), "lp-test-wh"]);
    let out = s.ok(&["run", "lp-test-wh"]);
    // /etc/a is whited out, /d is opaque (only the top layer's new), b and its links stay.
    // (hostname, hosts and resolv.conf: the mount targets every container gets.)
    assert_eq!(
        out,
        "/d:\nnew\n\n/etc:\nb\ngroup\nhostname\nhosts\nlink-to-b\npasswd\nresolv.conf\nsym\n"
    );
    let out = s.ok(&[
        "run",
        "lp-test-wh",
        "sh",
        "-c",
        "cat /etc/sym /etc/link-to-b",
    ]);
    assert_eq!(out, "b\nb\n");
    // In the store: the whiteout is overlay's char device 0/0, the opaque dir has its xattr.
    let layers = s.entries("layers/sha256");
    let dirs: Vec<PathBuf> = layers
        .iter()
        .filter(|l| !l.ends_with(".size"))
        .map(|l| s.path().join("layers/sha256").join(l))
        .collect();
    assert_eq!(dirs.len(), 3);
    let top = dirs
        .iter()
        .find(|d| d.join("d/new").exists())
        .expect("the top layer");
    let wh = std::fs::symlink_metadata(top.join("etc/a")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    let opq = Command::new("python3")
        .args([
            "-c",
            "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.overlay.opaque').decode())",
        ])
        .arg(top.join("d"))
        .output()
        .unwrap();
    assert_eq!(text(&opq.stdout), "y\n", "{}", text(&opq.stderr));
    // The hard link is one file in the middle layer.
    let mid = dirs.iter().find(|d| d.join("etc/b").exists()).unwrap();
    assert_eq!(
        std::fs::metadata(mid.join("etc/b")).unwrap().ino(),
        std::fs::metadata(mid.join("etc/link-to-b")).unwrap().ino()
    );
    s.assert_no_run_leftovers();
}

#[test]
fn unpacking_never_leaves_the_layer() {
    let s = Store::new("traversal");
    let outside = s.dir.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            tar_of(&[("bin/", ""), ("../../lp-test-escaped", "x")]),
            "contains '..'",
        ),
        (
            "symlink",
            tar_of(&[
                ("bin/", ""),
                ("evil", &format!("->{}", outside.display())),
                ("evil/lp-test-escaped", "x"),
            ]),
            "leads out of the root",
        ),
        (
            "hardlink",
            tar_of(&[("bin/", ""), ("passwd", "=>../../../etc/passwd")]),
            "contains '..'",
        ),
    ];
    for (tag, data, needle) in cases {
        // As a rootfs tarball and as a layer of an OCI layout.
        let file = s.dir.path(&format!("{tag}.tar"));
        std::fs::write(&file, &data).unwrap();
        s.fails(&["import", file.to_str().unwrap(), "lp-test-evil"], needle);
        let layout = s.dir.path(&format!("{tag}-layout"));
        oci_layout(&layout, &[data], serde_json::json!({}));
        s.fails(
            &["import", layout.to_str().unwrap(), "lp-test-evil"],
            needle,
        );
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!s.path().parent().unwrap().join("lp-test-escaped").exists());
    assert_eq!(s.entries("layers/sha256"), Vec::<String>::new());
    assert_eq!(s.entries("tmp"), Vec::<String>::new());
    assert_eq!(s.ok(&["images"]).lines().count(), 1);

    // Bad input: not a tar, an archive without a manifest, a zstd stream, a corrupt blob.
    let junk = s.dir.path("junk.tar");
    std::fs::write(&junk, vec![0x55u8; 4096]).unwrap();
    s.fails(
        &["import", junk.to_str().unwrap(), "lp-test-x"],
        "tar archive",
    );
    let nomanifest = s.dir.path("nomanifest.tar");
    std::fs::write(
        &nomanifest,
        tar_of(&[("blobs/", ""), ("blobs/sha256/", "")]),
    )
    .unwrap();
    s.fails(
        &["import", nomanifest.to_str().unwrap(), "lp-test-x"],
        "without a manifest",
    );
    let zst = s.dir.path("x.tar.zst");
    std::fs::write(&zst, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap();
    s.fails(&["import", zst.to_str().unwrap(), "lp-test-x"], "zstd");
    let layout = s.dir.path("corrupt-layout");
    oci_layout(&layout, &[tar_of(&[("bin/", "")])], serde_json::json!({}));
    for e in std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let mut b = std::fs::read(e.path()).unwrap();
        if b.len() > 1000 {
            b[600] ^= 1;
            std::fs::write(e.path(), b).unwrap();
        }
    }
    s.fails(
        &["import", layout.to_str().unwrap(), "lp-test-x"],
        "corrupt",
    );
    s.fails(
        &["import", "/nonexistent-lp-test", "lp-test-x"],
        "/nonexistent-lp-test",
    );
    s.fails(
        &["import", junk.to_str().unwrap(), "Bad Name"],
        "bad image name",
    );
    assert_eq!(s.entries("tmp"), Vec::<String>::new());
}

#[test]
fn read_only_roots_and_rootfs_directories() {
    let s = Store::new("modes");
    s.ok(&["import", busybox_tar().to_str().unwrap(), "lp-test-bb"]);
    // --read-only: the root refuses writes, a --tmpfs takes them.
    let out = s.ok(&[
        "run",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "lp-test-bb",
        "sh",
        "-c",
        "touch /data/x 2>&1; echo ok > /scratch/f && cat /scratch/f",
    ]);
    assert!(
        out.contains("Read-only file system") && out.ends_with("ok\n"),
        "{out}"
    );

    // --rootfs DIR: an overlay by default (DIR untouched), in place with --rootfs-write.
    let rootfs = &image().rootfs;
    let before = tree(rootfs);
    let r = rootfs.to_str().unwrap();
    let out = s.ok(&[
        "run",
        "--rootfs",
        r,
        "--",
        "sh",
        "-c",
        "echo w > /data/w; cat /data/w",
    ]);
    assert_eq!(out, "w\n");
    assert_eq!(tree(rootfs), before);
    // A copy written in place.
    let copy = s.dir.path("copy");
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    let c = copy.to_str().unwrap();
    s.ok(&[
        "run",
        "--rootfs",
        c,
        "--rootfs-write",
        "--",
        "sh",
        "-c",
        "echo w > /data/w",
    ]);
    assert_eq!(std::fs::read_to_string(copy.join("data/w")).unwrap(), "w\n");
    // --user by name, from the rootfs's /etc/passwd; an unknown name is one clear error.
    let out = s.ok(&["run", "--rootfs", r, "--user", "root", "--", "id", "-u"]);
    assert_eq!(out, "0\n");
    s.fails(
        &["run", "--rootfs", r, "--user", "lp-test-nobody", "--", "id"],
        "no such user",
    );
    s.assert_no_run_leftovers();
}

#[test]
fn rmi_spares_a_running_container_and_cleanup_removes_a_crashed_one() {
    let s = Store::new("running");
    s.ok(&["import", busybox_tar().to_str().unwrap(), "lp-test-bb"]);
    let mut child = s.spawn_up(
        &["run", "lp-test-bb", "sh", "-c", "echo up; exec sleep 30"],
        Stdio::null(),
    );
    assert_eq!(s.entries("rw").len(), 1);
    s.fails(&["rmi", "lp-test-bb"], "used by running container");
    // A crash of `container` (SIGKILL): its container dies with it, its layer stays...
    let st = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    child.wait().unwrap();
    assert_eq!(s.entries("rw").len(), 1);
    // ... until cleanup, which finds it by its dead owner.
    let out = s.ok(&["cleanup"]);
    assert!(out.contains("removed 1 stale writable layers"), "{out}");
    s.assert_no_run_leftovers();
    s.ok(&["rmi", "lp-test-bb"]);
}

#[test]
fn the_writable_layer_is_in_memory_and_runs_leave_the_store_as_it_was() {
    let s = Store::new("tmpfs-layer");
    s.ok(&["import", busybox_tar().to_str().unwrap(), "lp-test-bb"]);
    let before = tree(&s.path());
    for i in 0..5 {
        // Each run writes (a file, a 4 MiB one, a delete of an image file) and sees none of
        // the earlier runs' writes; afterwards the store is as it was, entry for entry.
        let out = s.ok(&[
            "run",
            "lp-test-bb",
            "sh",
            "-c",
            "test -e /data/mark && echo saw; echo x > /data/mark; rm /bin/cat; \
             head -c 4194304 /dev/zero > /big; echo ok",
        ]);
        assert_eq!(out, "ok\n", "run {i}");
        assert_eq!(tree(&s.path()), before, "run {i}");
        s.assert_no_run_leftovers();
    }
    // While a run is up, its writes are nowhere in the store (nor mounted on the host): only
    // its record is, in rw/.
    let mut child = s.spawn_up(
        &[
            "run",
            "lp-test-bb",
            "sh",
            "-c",
            "echo m > /lp-test-marker; echo up; read x; true",
        ],
        Stdio::piped(),
    );
    let during = tree(&s.path());
    assert!(
        during.iter().all(|e| !e.contains("lp-test-marker")),
        "{during:?}"
    );
    let rw = s.entries("rw");
    assert_eq!(rw.len(), 1);
    assert!(s.path().join("rw").join(&rw[0]).is_file());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("isolate-upper"), "{mounts}");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    s.assert_no_run_leftovers();
    // An older version's writable layer (rw/ID/{upper,work,owner}) left by a crashed run is
    // still removed by cleanup (its owner, a pid above the kernel's limit, is gone).
    let old = s.path().join("rw/4194304-0");
    for d in ["upper/etc", "work/work"] {
        std::fs::create_dir_all(old.join(d)).unwrap();
    }
    std::fs::write(old.join("owner"), "4194304 1 -\n").unwrap();
    let out = s.ok(&["cleanup"]);
    assert!(out.contains("removed 1 stale writable layers"), "{out}");
    s.assert_no_run_leftovers();
    assert_eq!(tree(&s.path()), before);
}
