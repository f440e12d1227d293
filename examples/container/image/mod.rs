//! Images without a registry: `container import` of a root filesystem tarball, an OCI image
//! layout or archive, or a docker-archive; `images`, `rmi`; and `run IMAGE`, which gives every
//! container an overlay of the image's layers with an upper directory of its own.
//!
//! The store (`$CONTAINER_IMAGES`, default [`DEFAULT_STORE`]) holds:
//! - `layers/sha256/HEX/`: each layer unpacked once into its own directory, named by its
//!   `diff_id` (the sha256 of its uncompressed tar), so images sharing a layer share it;
//! - `images/HEX.json`: one record per image (named by the sha256 of its config, as docker's
//!   image ID): its layers, size, creation time and the image config JSON as imported;
//! - `tags.json`: `NAME:TAG` -> image ID;
//! - `rw/ID`: a running container's record (`PID START IMAGE`), removed when it ends
//!   (`container cleanup` removes those of a crashed `container`, found by their owner's pid
//!   and start time); its writable layer is a tmpfs in its mount namespace, never here;
//! - `lock`: taken exclusively by `import`, `rmi` and cleanup, shared while a run sets up.

mod import;
mod launch;
mod unpack;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use import::import;
pub(crate) use launch::{Launch, Root, prepare, remove_stale};

/// Where images live unless `$CONTAINER_IMAGES` says otherwise.
pub(crate) const DEFAULT_STORE: &str = "/var/lib/isolate/images";

/// The environment variable naming another store (tests use a temporary one).
pub(crate) const STORE_ENV: &str = "CONTAINER_IMAGES";

/// One imported image.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct Record {
    /// `sha256:HEX` of the config JSON.
    pub(crate) id: String,
    /// The layers' `diff_id`s, the bottom one first.
    pub(crate) layers: Vec<String>,
    /// The unpacked size of all layers, in bytes.
    pub(crate) size: u64,
    /// When the image was created (its config's `created`), or imported.
    pub(crate) created: String,
    /// The OCI image config as imported.
    pub(crate) config: serde_json::Value,
}

/// An image's name and tag.
pub(crate) type NameTag = (String, String);

/// The image store.
pub(crate) struct Store {
    pub(crate) root: PathBuf,
}

/// `NAME[:TAG]` split into name and tag (`latest` by default). The tag follows the last `:`
/// that comes after the last `/` (a registry's `host:port/` is part of the name).
pub(crate) fn parse_reference(s: &str) -> Result<(String, String), String> {
    let bad = |why: &str| format!("bad image name {s:?}: {why}");
    let (name, tag) = match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => (&s[..i], &s[i + 1..]),
        _ => (s, "latest"),
    };
    if name.is_empty() || name.starts_with(['/', '.', '-']) || name.ends_with('/') {
        return Err(bad("want NAME[:TAG]"));
    }
    let name_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b));
    if !name_ok {
        return Err(bad(
            "a name has lower-case letters, digits and . _ - / only",
        ));
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !tag_ok {
        return Err(bad(
            "a tag has letters, digits and . _ - only (at most 128)",
        ));
    }
    Ok((name.to_string(), tag.to_string()))
}

/// The hex part of `sha256:HEX`, checked to be a sha256 (it becomes a file name).
pub(crate) fn digest_hex(d: &str) -> Result<&str, String> {
    match d.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(h),
        _ => Err(format!(
            "unsupported or malformed digest {d:?} (want sha256:<64 hex>)"
        )),
    }
}

/// Writes `data` to `path` atomically (a temporary file renamed over it).
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let r = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    r.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("write {}: {e}", path.display())
    })
}

impl Store {
    /// The store `$CONTAINER_IMAGES` names, or the default.
    pub(crate) fn open() -> Store {
        let root = std::env::var_os(STORE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));
        Store { root }
    }

    fn ensure(&self) -> Result<(), String> {
        for d in ["layers/sha256", "images", "rw", "tmp"] {
            let p = self.root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| format!("create {}: {e}", p.display()))?;
        }
        Ok(())
    }

    /// Takes the store's lock (created with the store if missing).
    pub(crate) fn lock(&self, exclusive: bool) -> Result<File, String> {
        self.ensure()?;
        let p = self.root.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| format!("open {}: {e}", p.display()))?;
        let r = if exclusive { f.lock() } else { f.lock_shared() };
        r.map_err(|e| format!("lock {}: {e}", p.display()))?;
        Ok(f)
    }

    /// The directory of the layer with this `diff_id`.
    pub(crate) fn layer_dir(&self, diff_id: &str) -> Result<PathBuf, String> {
        Ok(self.root.join("layers/sha256").join(digest_hex(diff_id)?))
    }

    /// A fresh scratch directory below the store (same filesystem as the layers, so that a
    /// finished layer is renamed into place).
    pub(crate) fn scratch(&self, what: &str) -> Result<PathBuf, String> {
        self.ensure()?;
        for n in 0..1000 {
            let p = self
                .root
                .join("tmp")
                .join(format!("{what}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(p),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("create {}: {e}", p.display())),
            }
        }
        Err("no free scratch directory name".into())
    }

    fn record_path(&self, id: &str) -> Result<PathBuf, String> {
        Ok(self
            .root
            .join("images")
            .join(format!("{}.json", digest_hex(id)?)))
    }

    pub(crate) fn tags(&self) -> Result<BTreeMap<String, String>, String> {
        let p = self.root.join("tags.json");
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(format!("read {}: {e}", p.display())),
        }
    }

    fn save_tags(&self, tags: &BTreeMap<String, String>) -> Result<(), String> {
        let data = serde_json::to_vec_pretty(tags).map_err(|e| e.to_string())?;
        write_atomic(&self.root.join("tags.json"), &data)
    }

    pub(crate) fn record(&self, id: &str) -> Result<Record, String> {
        let p = self.record_path(id)?;
        let b = std::fs::read(&p).map_err(|e| format!("read {}: {e}", p.display()))?;
        serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", p.display()))
    }

    pub(crate) fn save_record(&self, r: &Record) -> Result<(), String> {
        let data = serde_json::to_vec_pretty(r).map_err(|e| e.to_string())?;
        write_atomic(&self.record_path(&r.id)?, &data)
    }

    /// Points `NAME:TAG` at image `id` (moving the tag from another image, as docker).
    pub(crate) fn tag(&self, name: &str, tag: &str, id: &str) -> Result<(), String> {
        let mut tags = self.tags()?;
        tags.insert(format!("{name}:{tag}"), id.to_string());
        self.save_tags(&tags)
    }

    /// The image a reference names: `NAME[:TAG]`, or an image ID (`sha256:HEX`, or at least
    /// 6 hex digits of it). `None` when there is no such image.
    pub(crate) fn find(&self, reference: &str) -> Result<Option<Record>, String> {
        let tags = self.tags()?;
        if let Ok((name, tag)) = parse_reference(reference)
            && let Some(id) = tags.get(&format!("{name}:{tag}"))
        {
            return self.record(id).map(Some);
        }
        let hexpart = reference.strip_prefix("sha256:").unwrap_or(reference);
        if hexpart.len() < 6 || !hexpart.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut found = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.root.join("images")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(h) = n.strip_suffix(".json")
                    && h.starts_with(hexpart)
                {
                    found.push(format!("sha256:{h}"));
                }
            }
        }
        match found.as_slice() {
            [] => Ok(None),
            [one] => self.record(one).map(Some),
            _ => Err(format!("image ID {reference:?} is ambiguous")),
        }
    }

    /// Every image with its tags (an untagged image once, with no tag).
    pub(crate) fn list(&self) -> Result<Vec<(Option<NameTag>, Record)>, String> {
        let tags = self.tags()?;
        let mut out = Vec::new();
        let mut tagged = std::collections::BTreeSet::new();
        for (nt, id) in &tags {
            let Ok(r) = self.record(id) else { continue };
            let (n, t) = nt.rsplit_once(':').unwrap_or((nt.as_str(), ""));
            out.push((Some((n.to_string(), t.to_string())), r));
            tagged.insert(id.clone());
        }
        if let Ok(rd) = std::fs::read_dir(self.root.join("images")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let Some(h) = n.strip_suffix(".json") else {
                    continue;
                };
                let id = format!("sha256:{h}");
                if !tagged.contains(&id)
                    && let Ok(r) = self.record(&id)
                {
                    out.push((None, r));
                }
            }
        }
        Ok(out)
    }

    /// `rmi`: removes the tag (or, for an ID, every tag of that image), then the image when no
    /// tag is left and no running container uses it, then the layers no image uses.
    pub(crate) fn remove(&self, reference: &str) -> Result<String, String> {
        let _lock = self.lock(true)?;
        let rec = self
            .find(reference)?
            .ok_or_else(|| unknown_image(reference))?;
        let users = launch::running_users(self, &rec.id);
        if !users.is_empty() {
            return Err(format!(
                "image {reference} is used by running container(s) {}: stop them first",
                users.join(", ")
            ));
        }
        let mut tags = self.tags()?;
        let by_tag = parse_reference(reference)
            .ok()
            .map(|(n, t)| format!("{n}:{t}"))
            .filter(|nt| tags.get(nt) == Some(&rec.id));
        match &by_tag {
            Some(nt) => {
                tags.remove(nt);
            }
            None => tags.retain(|_, id| *id != rec.id),
        }
        self.save_tags(&tags)?;
        let mut said = by_tag
            .map(|t| format!("Untagged: {t}\n"))
            .unwrap_or_default();
        if tags.values().any(|id| *id == rec.id) {
            return Ok(said);
        }
        std::fs::remove_file(self.record_path(&rec.id)?)
            .map_err(|e| format!("remove image record: {e}"))?;
        said.push_str(&format!("Deleted: {}\n", rec.id));
        // Layers no remaining image uses.
        let used: std::collections::BTreeSet<String> = self
            .list()?
            .into_iter()
            .flat_map(|(_, r)| r.layers)
            .collect();
        for l in &rec.layers {
            if !used.contains(l) {
                let d = self.layer_dir(l)?;
                std::fs::remove_dir_all(&d).map_err(|e| format!("remove {}: {e}", d.display()))?;
                import::remove_layer_size(self, l);
            }
        }
        Ok(said)
    }
}

/// The message for a reference that names no image.
pub(crate) fn unknown_image(reference: &str) -> String {
    format!("unknown image {reference:?} (container images lists them; container import adds one)")
}

/// `container images`: the table.
pub(crate) fn images_table(store: &Store) -> Result<String, String> {
    let mut rows = vec![[
        "NAME".to_string(),
        "TAG".into(),
        "ID".into(),
        "SIZE".into(),
        "CREATED".into(),
    ]];
    let mut list = store.list()?;
    list.sort_by(|a, b| b.1.created.cmp(&a.1.created).then(a.0.cmp(&b.0)));
    for (nt, r) in list {
        let (n, t) = nt.unwrap_or_else(|| ("<none>".into(), "<none>".into()));
        let id = r.id.strip_prefix("sha256:").unwrap_or(&r.id);
        rows.push([
            n,
            t,
            id.chars().take(12).collect(),
            human_size(r.size),
            r.created
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " "),
        ]);
    }
    let mut w = [0usize; 5];
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line = format!(
            "{:w0$}   {:w1$}   {:w2$}   {:w3$}   {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// Sizes as docker prints them: 4.26MB (decimal units).
fn human_size(b: u64) -> String {
    let f = b as f64;
    if f >= 1e9 {
        format!("{:.3}GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.3}MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.3}kB", f / 1e3)
    } else {
        format!("{b}B")
    }
}

/// Now as RFC 3339 UTC (`2026-12-07T19:20:00Z`).
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::rfc3339::rfc3339(secs as i64, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_docker_s() {
        let p = |s| parse_reference(s);
        assert_eq!(p("busybox").unwrap(), ("busybox".into(), "latest".into()));
        assert_eq!(p("lp/bb:1.36").unwrap(), ("lp/bb".into(), "1.36".into()));
        assert_eq!(
            p("localhost:5000/bb").unwrap(),
            ("localhost:5000/bb".into(), "latest".into())
        );
        for bad in ["", ":x", "Busy", "a:", "a:b c", "/abs", "a:.x"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(digest_hex("sha256:../../etc").is_err());
        assert!(digest_hex(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn dates_are_rfc3339() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 20);
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
