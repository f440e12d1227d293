//! The runtime-spec state (`state`, `list --format json`, the hooks' stdin) from isolate's
//! record, and what isorun keeps in the record's annotations: the bundle, the rootfs, the
//! config's annotations (`oci:KEY`) and the hooks still to run (`isorun.hooks`, JSON).

use std::collections::BTreeMap;

use isolate::{ContainerState, Error, StateRoot, Status};
use serde::Serialize;

use crate::spec::Hooks;

/// The runtime-spec version the state says.
pub(crate) const OCI_VERSION: &str = "1.1.0";

const BUNDLE: &str = "bundle";
const ROOTFS: &str = "rootfs";
const HOOKS: &str = "isorun.hooks";
const USER_PREFIX: &str = "oci:";

/// The runtime-spec state, with runc's extra fields (`rootfs`, `created`, `owner`) that
/// containerd's go-runc reads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OciState {
    /// The spec version.
    pub(crate) oci_version: String,
    /// The id.
    pub(crate) id: String,
    /// creating, created, running, stopped, paused.
    pub(crate) status: String,
    /// The process as the host sees it (0 once stopped, as runc says).
    pub(crate) pid: i32,
    /// The bundle directory.
    pub(crate) bundle: String,
    /// The root filesystem.
    pub(crate) rootfs: String,
    /// When it was created (RFC 3339).
    pub(crate) created: String,
    /// The owner (always empty: root's).
    pub(crate) owner: String,
    /// The config's annotations.
    pub(crate) annotations: BTreeMap<String, String>,
}

/// isorun's annotations for isolate's record; a config annotation key isolate cannot keep
/// (a space, `%`, over 252 bytes) is refused.
pub(crate) fn record_annotations(
    bundle: &str,
    rootfs: &str,
    hooks: &Hooks,
    user: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let mut v = vec![
        (BUNDLE.to_string(), bundle.to_string()),
        (ROOTFS.to_string(), rootfs.to_string()),
    ];
    let later = Hooks {
        poststart: hooks.poststart.clone(),
        poststop: hooks.poststop.clone(),
        ..Hooks::default()
    };
    if later != Hooks::default() {
        let json = serde_json::to_string(&later).map_err(|e| format!("hooks: {e}"))?;
        v.push((HOOKS.to_string(), json));
    }
    for (k, val) in user {
        let ok =
            !k.is_empty() && k.len() <= 252 && k.bytes().all(|b| b.is_ascii_graphic() && b != b'%');
        if !ok {
            return Err(format!(
                "annotation key {k:?}: only printable ASCII without spaces or %"
            ));
        }
        v.push((format!("{USER_PREFIX}{k}"), val.clone()));
    }
    Ok(v)
}

fn get<'a>(s: &'a ContainerState, key: &str) -> Option<&'a str> {
    s.annotations
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The hooks `start` and `delete` still have to run.
pub(crate) fn later_hooks(s: &ContainerState) -> Hooks {
    get(s, HOOKS)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// The runtime-spec state of `s`, as it is now or with `status` forced (hooks see the
/// status of the moment they run at).
pub(crate) fn oci_state(s: &ContainerState, status: Option<&str>) -> OciState {
    let status = status.unwrap_or(s.status.as_str()).to_string();
    OciState {
        oci_version: OCI_VERSION.into(),
        id: s.id.clone(),
        // A poststart hook gets the pid even if the process has ended already.
        pid: if status == Status::Stopped.as_str() {
            0
        } else {
            s.pid
        },
        status,
        bundle: get(s, BUNDLE).unwrap_or("").into(),
        rootfs: get(s, ROOTFS).unwrap_or("").into(),
        created: crate::log::rfc3339_secs(s.created, 0),
        owner: String::new(),
        annotations: s
            .annotations
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(USER_PREFIX)?.to_string(), v.clone())))
            .collect(),
    }
}

/// The state as JSON bytes (for hooks).
pub(crate) fn state_json(s: &ContainerState, status: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&oci_state(s, status)).unwrap_or_default()
}

/// An isolate error in runc's words where callers look for them ("container does not exist",
/// "container not running"), else isolate's own message.
pub(crate) fn describe(e: &Error) -> String {
    match e {
        Error::NotFound(_) => "container does not exist".into(),
        Error::Exists(id) => format!("container with id exists: {id}"),
        Error::WrongStatus { id, op, status } => match (*op, status) {
            ("kill", Status::Stopped) => "container not running".into(),
            ("start", Status::Running | Status::Paused) => {
                format!("cannot start an already running container ({id} is {status})")
            }
            ("start", Status::Stopped) => {
                format!("cannot start a container that has stopped ({id})")
            }
            ("delete", Status::Created) => format!(
                "cannot delete container {id} that is not stopped: created (it was never \
                 started; delete --force kills and deletes it)"
            ),
            ("delete", s) => format!(
                "cannot delete container {id} that is not stopped: {s} (delete --force kills it)"
            ),
            (op, s) => format!("cannot {op} container {id}: it is {s}"),
        },
        other => {
            // Go's wording of the errno ("no such file or directory", "permission denied"):
            // podman maps those words to exit codes 127 and 126.
            let m = other.to_string();
            match other.errno().and_then(|e| e.message()) {
                Some(words) => format!("{m}: {}", words.to_lowercase()),
                None => m,
            }
        }
    }
}

/// The state root at `dir` (absolute).
pub(crate) fn root(dir: &std::path::Path) -> Result<StateRoot, String> {
    let abs = std::path::absolute(dir).map_err(|e| format!("--root {}: {e}", dir.display()))?;
    let s = abs
        .to_str()
        .ok_or_else(|| format!("--root {} is not UTF-8", abs.display()))?;
    StateRoot::new(s).map_err(|e| format!("--root {s}: {e}"))
}
