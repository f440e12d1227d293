//! The test image, made without a network: a busybox-static rootfs (busybox and its applet
//! links), as a directory (for `ctr run --config`), a tar (for `podman import`) and a docker
//! archive (for `ctr image import`, written by `podman save`). Built once per test process
//! into one fixed place in the target directory, so nothing accumulates.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::podman::Podman;
use super::{COMMAND_LIMIT, run};

/// The image's name in both clients.
pub(crate) const IMAGE: &str = "localhost/lp-test-busybox:latest";

/// The built image in its three forms.
pub(crate) struct Image {
    /// The rootfs directory (read-only for containers that use it directly).
    pub(crate) rootfs: PathBuf,
    /// `tar` of the rootfs, for `podman import`.
    pub(crate) rootfs_tar: PathBuf,
    /// A docker archive of [`IMAGE`], for `ctr image import`.
    pub(crate) docker_archive: PathBuf,
}

/// The image, built on first use in this process.
pub(crate) fn image() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(build)
}

fn build() -> Image {
    let base = crate::example_bin::profile_dir().join("lp-test-oci-image");
    let _ = std::fs::remove_dir_all(&base);
    let rootfs = base.join("rootfs");
    busybox_rootfs(&rootfs, &[]);

    let rootfs_tar = base.join("rootfs.tar");
    let tar = run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&rootfs_tar)
            .arg("."),
        COMMAND_LIMIT,
    )
    .unwrap();
    tar.expect_code(0).unwrap();

    // A throwaway podman store turns the tar into an image and saves it as a docker archive.
    let docker_archive = base.join("image.docker.tar");
    let podman = Podman::new("image", &[]);
    podman.import(&rootfs_tar).unwrap();
    let saved = podman
        .podman(&[
            "save",
            "--format",
            "docker-archive",
            "-o",
            docker_archive.to_str().unwrap(),
            IMAGE,
        ])
        .unwrap();
    saved.expect_code(0).unwrap();
    Image {
        rootfs,
        rootfs_tar,
        docker_archive,
    }
}

/// Writes a busybox-static root filesystem into `rootfs` (which must not exist): busybox and
/// its applet links in /bin, a one-line /etc/passwd and /etc/group, the usual top-level
/// directories and `extra_dirs` (mount points a read-only rootfs needs: a runtime creates a
/// missing one in the rootfs directory itself, which is shared).
pub(crate) fn busybox_rootfs(rootfs: &Path, extra_dirs: &[&str]) {
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "data", "run"]
        .iter()
        .chain(extra_dirs)
    {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox (apt-get install busybox-static; .ci/run installs it)");
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let list = run(Command::new(busybox).arg("--list"), COMMAND_LIMIT).unwrap();
    list.expect_code(0).unwrap();
    for applet in list
        .stdout
        .lines()
        .filter(|a| *a != "busybox" && !a.contains('/'))
    {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
}
