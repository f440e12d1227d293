//! `container import FILE|DIR NAME[:TAG]`: a root filesystem tarball (plain or gzip, what
//! `tar -C rootfs -c .` or debootstrap gives), an OCI image layout directory or OCI archive
//! (`podman save --format oci-archive`, `skopeo copy ... oci:`, umoci), or a docker-archive
//! (`podman save --format docker-archive`, `docker save`), as a file or unpacked.
//!
//! A file is unpacked once, safely (see [`super::unpack`]), into a scratch directory: an
//! archive's files are then read from there; a root filesystem is already its single layer.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::unpack::{self, Hashing, Unpacked, hex};
use super::{Record, Store, digest_hex, now_rfc3339, parse_reference};

/// A scratch directory removed when dropped (on success its contents were moved away).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An OCI content descriptor (the fields used).
#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// One entry of a docker-archive's `manifest.json`.
#[derive(Deserialize)]
struct DockerManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The part of an image config read here.
#[derive(Deserialize, Default)]
struct ConfigHead {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    rootfs: Option<RootfsHead>,
}

#[derive(Deserialize, Default)]
struct RootfsHead {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// The OCI name of this machine's architecture.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Imports `source` as `reference`; returns the image ID.
pub(crate) fn import(store: &Store, source: &str, reference: &str) -> Result<String, String> {
    let (name, tag) = parse_reference(reference)?;
    let src = Path::new(source);
    let meta = std::fs::metadata(src).map_err(|e| format!("{source}: {e}"))?;
    let _lock = store.lock(true)?;
    let id = if meta.is_dir() {
        from_directory(store, src, source)?
    } else {
        from_file(store, src, source)?
    };
    store.tag(&name, &tag, &id)?;
    Ok(id)
}

/// An unpacked OCI layout or docker-archive.
fn from_directory(store: &Store, dir: &Path, what: &str) -> Result<String, String> {
    if dir.join("oci-layout").is_file() {
        return oci_layout(store, dir, what);
    }
    if dir.join("manifest.json").is_file() {
        return docker_archive(store, dir, what);
    }
    Err(format!(
        "{what}: no manifest: neither an OCI image layout (oci-layout, index.json) nor a \
         docker-archive (manifest.json)"
    ))
}

/// A tarball: unpacked (plainly, no whiteouts) into scratch; an archive is imported from
/// there, anything else is a root filesystem and becomes the image's one layer.
fn from_file(store: &Store, file: &Path, what: &str) -> Result<String, String> {
    let f = File::open(file).map_err(|e| format!("{what}: {e}"))?;
    let scratch = Scratch(store.scratch("import")?);
    let r = unpack::decompressed(f).map_err(|e| format!("{what}: {e}"))?;
    let Unpacked { diff_id, size } = unpack::unpack(r, &scratch.0, false, what)?;
    let top: Vec<String> = std::fs::read_dir(&scratch.0)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let has = |n: &str| top.iter().any(|t| t == n);
    if has("oci-layout") || has("index.json") {
        return oci_layout(store, &scratch.0, what);
    }
    if has("manifest.json") && !has("etc") && !has("bin") && !has("usr") {
        return docker_archive(store, &scratch.0, what);
    }
    if has("blobs") && !has("etc") && !has("bin") && !has("usr") {
        return Err(format!(
            "{what}: an image archive without a manifest (no index.json or manifest.json)"
        ));
    }
    // A root filesystem: the unpacked tree is the layer.
    let layer = store.layer_dir(&diff_id)?;
    if !layer.exists() {
        std::fs::rename(&scratch.0, &layer).map_err(|e| format!("store the layer: {e}"))?;
    }
    write_layer_size(store, &diff_id, size)?;
    let config = serde_json::json!({
        "architecture": oci_arch(),
        "os": "linux",
        "created": now_rfc3339(),
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": now_rfc3339(), "created_by": format!("container import {what}") }],
    });
    let bytes = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
    save(store, &bytes, vec![diff_id], size)
}

/// Reads a blob of an OCI layout, checking its digest.
fn read_blob(dir: &Path, digest: &str, what: &str) -> Result<Vec<u8>, String> {
    let p = dir.join("blobs/sha256").join(digest_hex(digest)?);
    let data = std::fs::read(&p).map_err(|e| format!("{what}: blob {digest}: {e}"))?;
    let got = format!(
        "sha256:{}",
        hex(ring::digest::digest(&ring::digest::SHA256, &data).as_ref())
    );
    if got != digest {
        return Err(format!("{what}: blob {digest} has digest {got} (corrupt)"));
    }
    Ok(data)
}

fn oci_layout(store: &Store, dir: &Path, what: &str) -> Result<String, String> {
    let index = std::fs::read(dir.join("index.json"))
        .map_err(|_| format!("{what}: no manifest: the OCI layout has no index.json"))?;
    let mut index: Index =
        serde_json::from_slice(&index).map_err(|e| format!("{what}: index.json: {e}"))?;
    // Follow nested indexes (multi-platform images) down to one image manifest.
    for _ in 0..4 {
        let pick = pick_manifest(&index.manifests)
            .ok_or_else(|| format!("{what}: no manifest: index.json lists no image"))?;
        let data = read_blob(dir, &pick.digest, what)?;
        if pick.media_type.contains("index") || pick.media_type.contains("manifest.list") {
            index = serde_json::from_slice(&data)
                .map_err(|e| format!("{what}: index {}: {e}", pick.digest))?;
            continue;
        }
        let m: Manifest = serde_json::from_slice(&data)
            .map_err(|e| format!("{what}: manifest {}: {e}", pick.digest))?;
        let config = read_blob(dir, &m.config.digest, what)?;
        let blobs: Vec<(PathBuf, Option<String>)> = m
            .layers
            .iter()
            .map(|l| {
                let p = dir.join("blobs/sha256").join(digest_hex(&l.digest)?);
                Ok((p, Some(l.digest.clone())))
            })
            .collect::<Result<_, String>>()?;
        return import_layers(store, &config, &blobs, what);
    }
    Err(format!("{what}: indexes nested too deep"))
}

/// The manifest for this machine: the one whose platform matches, else the first.
fn pick_manifest(list: &[Descriptor]) -> Option<&Descriptor> {
    list.iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == oci_arch())
        })
        .or_else(|| list.first())
}

/// A path an archive names, kept below its directory.
fn inside(dir: &Path, rel: &str, what: &str) -> Result<PathBuf, String> {
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(format!(
            "{what}: manifest path {rel:?} leaves the archive (refused)"
        ));
    }
    Ok(dir.join(rel))
}

fn docker_archive(store: &Store, dir: &Path, what: &str) -> Result<String, String> {
    let m = std::fs::read(dir.join("manifest.json")).map_err(|e| format!("{what}: {e}"))?;
    let list: Vec<DockerManifest> =
        serde_json::from_slice(&m).map_err(|e| format!("{what}: manifest.json: {e}"))?;
    let first = list
        .first()
        .ok_or_else(|| format!("{what}: no manifest: manifest.json lists no image"))?;
    let config = std::fs::read(inside(dir, &first.config, what)?)
        .map_err(|e| format!("{what}: config {}: {e}", first.config))?;
    let blobs = first
        .layers
        .iter()
        .map(|l| Ok((inside(dir, l, what)?, None)))
        .collect::<Result<Vec<_>, String>>()?;
    import_layers(store, &config, &blobs, what)
}

/// Unpacks each layer blob not stored yet (checking its digest and `diff_id`), then saves the
/// image.
fn import_layers(
    store: &Store,
    config: &[u8],
    blobs: &[(PathBuf, Option<String>)],
    what: &str,
) -> Result<String, String> {
    let head: ConfigHead =
        serde_json::from_slice(config).map_err(|e| format!("{what}: image config: {e}"))?;
    let expected = head.rootfs.unwrap_or_default().diff_ids;
    if expected.len() != blobs.len() {
        return Err(format!(
            "{what}: the config lists {} layers, the manifest {}",
            expected.len(),
            blobs.len()
        ));
    }
    let mut layers = Vec::new();
    let mut total = 0;
    for (i, ((path, digest), want)) in blobs.iter().zip(&expected).enumerate() {
        let layer_what = format!("{what}: layer {}", i + 1);
        let dest = store.layer_dir(want)?;
        if dest.is_dir() {
            total += read_layer_size(store, want);
            layers.push(want.clone());
            continue;
        }
        let f = File::open(path).map_err(|e| format!("{layer_what}: {}: {e}", path.display()))?;
        let scratch = Scratch(store.scratch("layer")?);
        let mut outer = Hashing::new(f);
        let Unpacked { diff_id, size } = {
            let r = unpack::decompressed(&mut outer).map_err(|e| format!("{layer_what}: {e}"))?;
            unpack::unpack(r, &scratch.0, true, &layer_what)?
        };
        let (blob_digest, _) = outer.finish().map_err(|e| format!("{layer_what}: {e}"))?;
        if let Some(d) = digest
            && *d != blob_digest
        {
            return Err(format!(
                "{layer_what}: blob {d} has digest {blob_digest} (corrupt)"
            ));
        }
        if diff_id != *want {
            return Err(format!(
                "{layer_what}: content is {diff_id}, the config says {want} (corrupt)"
            ));
        }
        std::fs::rename(&scratch.0, &dest).map_err(|e| format!("store the layer: {e}"))?;
        write_layer_size(store, &diff_id, size)?;
        total += size;
        layers.push(diff_id);
    }
    save(store, config, layers, total)
}

fn size_file(store: &Store, diff_id: &str) -> Result<PathBuf, String> {
    let d = store.layer_dir(diff_id)?;
    Ok(d.with_extension("size"))
}

fn write_layer_size(store: &Store, diff_id: &str, size: u64) -> Result<(), String> {
    let p = size_file(store, diff_id)?;
    std::fs::write(&p, size.to_string()).map_err(|e| format!("write {}: {e}", p.display()))
}

fn read_layer_size(store: &Store, diff_id: &str) -> u64 {
    size_file(store, diff_id)
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Removes a layer's size file (with the layer, by `rmi`).
pub(super) fn remove_layer_size(store: &Store, diff_id: &str) {
    if let Ok(p) = size_file(store, diff_id) {
        let _ = std::fs::remove_file(p);
    }
}

/// Saves the image record (named by the sha256 of its config).
fn save(store: &Store, config: &[u8], layers: Vec<String>, size: u64) -> Result<String, String> {
    let id = format!(
        "sha256:{}",
        hex(ring::digest::digest(&ring::digest::SHA256, config).as_ref())
    );
    let value: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| format!("image config: {e}"))?;
    let head: ConfigHead = serde_json::from_value(value.clone()).unwrap_or_default();
    let rec = Record {
        id: id.clone(),
        layers,
        size,
        created: head.created.unwrap_or_else(now_rfc3339),
        config: value,
    };
    store.save_record(&rec)?;
    Ok(id)
}
