//! A detached container's output, kept by its supervisor in a bounded file, and `logs [-f]`.
//!
//! The file is a sequence of frames, `[stream: 1 byte][length: u32 LE][bytes]`, each written
//! with one `write` to a file opened with `O_APPEND` (so a reader sees whole frames, or the
//! start of the last one). When `log` would pass the size limit it is renamed to `log.1`
//! (replacing the older one) and a new `log` begins: at most twice the limit is kept.
//! `logs` reads `log.1` then `log`, stdout frames to its stdout and stderr frames to its
//! stderr; with `-f` it follows `log` (across a rotation) until the supervisor has recorded
//! the exit.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::state::{Info, Root};

/// The default size limit of one log file.
pub(crate) const DEFAULT_LOG_SIZE: u64 = 1 << 20;

const HEADER: usize = 5;

/// The writing side (the supervisor's).
pub(crate) struct LogWriter {
    dir: PathBuf,
    file: File,
    size: u64,
    limit: u64,
}

fn open_append(p: &Path) -> std::io::Result<File> {
    File::options().create(true).append(true).open(p)
}

impl LogWriter {
    pub(crate) fn create(dir: &Path, limit: u64) -> Result<LogWriter, String> {
        let p = dir.join("log");
        let file = open_append(&p).map_err(|e| format!("create {}: {e}", p.display()))?;
        Ok(LogWriter {
            dir: dir.to_path_buf(),
            file,
            size: 0,
            limit: limit.max(64),
        })
    }

    /// Appends `data` of `stream` (1 stdout, 2 stderr) as frames, rotating when the file is
    /// full.
    pub(crate) fn write(&mut self, stream: u8, data: &[u8]) -> std::io::Result<()> {
        let max_chunk = (self.limit / 2).clamp(1, 64 << 10) as usize;
        for chunk in data.chunks(max_chunk) {
            let len = (HEADER + chunk.len()) as u64;
            if self.size + len > self.limit && self.size > 0 {
                std::fs::rename(self.dir.join("log"), self.dir.join("log.1"))?;
                self.file = open_append(&self.dir.join("log"))?;
                self.size = 0;
            }
            let mut frame = Vec::with_capacity(HEADER + chunk.len());
            frame.push(stream);
            frame.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
            frame.extend_from_slice(chunk);
            self.file.write_all(&frame)?;
            self.size += len;
        }
        Ok(())
    }
}

/// A reader of one log file: whole frames, keeping a partial one for the next read.
struct FrameReader {
    file: File,
    buf: Vec<u8>,
}

impl FrameReader {
    /// Reads what is there and writes every whole frame out.
    fn pump(&mut self, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<()> {
        self.file.read_to_end(&mut self.buf)?;
        let mut at = 0;
        while self.buf.len() - at >= HEADER {
            let len = u32::from_le_bytes([
                self.buf[at + 1],
                self.buf[at + 2],
                self.buf[at + 3],
                self.buf[at + 4],
            ]) as usize;
            if self.buf.len() - at - HEADER < len {
                break;
            }
            let data = &self.buf[at + HEADER..at + HEADER + len];
            if self.buf[at] == 2 {
                err.write_all(data)?;
            } else {
                out.write_all(data)?;
            }
            at += HEADER + len;
        }
        self.buf.drain(..at);
        out.flush()?;
        err.flush()
    }
}

/// `container logs [-f] NAME`.
pub(crate) fn logs(root: &Root, what: &str, follow: bool) -> Result<(), String> {
    let st = root.resolve(what)?;
    let dir = root.extra(&st.id);
    let log = dir.join("log");
    if !dir.is_dir() {
        return Err(format!(
            "{what}: no logs (not a detached container of `container`)"
        ));
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let io = |e: std::io::Error| format!("logs of {what}: {e}");
    if let Ok(old) = File::open(dir.join("log.1")) {
        let mut r = FrameReader {
            file: old,
            buf: Vec::new(),
        };
        r.pump(&mut out, &mut err).map_err(io)?;
    }
    let Ok(file) = File::open(&log) else {
        return Ok(());
    };
    let mut r = FrameReader {
        file,
        buf: Vec::new(),
    };
    r.pump(&mut out, &mut err).map_err(io)?;
    if !follow {
        return Ok(());
    }
    loop {
        // Ended: the supervisor wrote the exit after its last frame (or is gone, or the
        // container was removed).
        let done = match Info::read(&dir) {
            Some(i) => i.exit_code.is_some() || !i.supervisor_alive(),
            None => !dir.is_dir(),
        };
        r.pump(&mut out, &mut err).map_err(io)?;
        // Rotated: the rest of the open file was read above; go on with the new one.
        let ino = r.file.metadata().map(|m| m.ino()).ok();
        if let Ok(m) = std::fs::metadata(&log)
            && Some(m.ino()) != ino
            && let Ok(f) = File::open(&log)
        {
            r = FrameReader {
                file: f,
                buf: Vec::new(),
            };
            continue;
        }
        if done {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_the_files_stay_bounded() {
        let dir = std::env::temp_dir().join(format!("lp-test-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = LogWriter::create(&dir, 1000).unwrap();
        for i in 0..200 {
            w.write(1 + (i % 2) as u8, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let size = |n: &str| std::fs::metadata(dir.join(n)).unwrap().len();
        assert!(size("log") <= 1000 && size("log.1") <= 1000);
        let mut out = Vec::new();
        let mut err = Vec::new();
        for f in ["log.1", "log"] {
            let mut r = FrameReader {
                file: File::open(dir.join(f)).unwrap(),
                buf: Vec::new(),
            };
            r.pump(&mut out, &mut err).unwrap();
        }
        let out = String::from_utf8(out).unwrap();
        let err = String::from_utf8(err).unwrap();
        // The newest lines are kept, each on its stream.
        assert!(
            out.ends_with("line 198\n") && err.ends_with("line 199\n"),
            "{out}"
        );
        assert!(!out.contains("line 0\n"));
        assert!(
            out.lines()
                .all(|l| l.trim_start_matches("line ").parse::<u32>().unwrap() % 2 == 0)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
